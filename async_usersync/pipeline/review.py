"""Reviewable changes (issue 18): ``plan`` reads both sides as a sync does and writes what it would
send, with the reason of every step and a fingerprint of each user's records, sending nothing;
``apply`` re-reads, refuses when a planned user changed since (or the plan is too old) and otherwise
sends exactly the plan's commands through the sync's own run (lock, client, Action Summary,
reports); ``explain`` says why one user's groups and attributes would be kept, added or removed.

The reads are the sync's (``stages.run_stages``) with each org's planner an
``engine.reasons.ReviewPlanner`` and each org's client a ``PlanningClient``, whose sink keeps the
commands instead of sending them and which creates no user group.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping

from async_usersync.config import RunSettings, load_run_settings
from async_usersync.config.settings import LdapSettings, UmapiSettings, template_fields
from async_usersync.engine.planner import SyncPlanner, match_keys
from async_usersync.engine.reasons import ReviewPlanner, explain_user, lookup_key, selected
from async_usersync.engine.rules import fold
from async_usersync.errors import ConfigError, ExitCode, PlanRefused, UsersyncError
from async_usersync.files import write_atomically
from async_usersync.pipeline.extension import in_org
from async_usersync.pipeline.job import SyncJob, build_job
from async_usersync.pipeline.main import SyncInvocation, print_error, sync_main
from async_usersync.pipeline.outputs import OutputPath, WriteKind, check_writable
from async_usersync.pipeline.stages import (CommandSender, OrgReport, ProgressFactory, RunResult,
                                            create_missing_user_groups, run_stages)
from async_usersync.records import (AdobeUser, CommandResult, DirectoryRecord, DirectoryUser, UserCommand,
                                    command_from_json, command_to_json)
from async_usersync.sources.base import DirectorySource
from async_usersync.sources.ldap import LdapSource
from async_usersync.sources.ldap_values import escape_filter_value
from async_usersync.umapi import ActionTotals, GroupResult, UmapiClient

logger = logging.getLogger("async_usersync.review")
PLAN_FORMAT = 1
DEFAULT_MAX_PLAN_AGE = timedelta(hours=24)


class KeepingSink:
    """An action sink that keeps the commands it is given, in order, and sends none."""

    def __init__(self, kept: list[UserCommand]) -> None:
        self.kept = kept
        self.totals = ActionTotals()

    async def __aenter__(self) -> KeepingSink:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        return None

    async def send(self, command: UserCommand) -> None:
        """Keeps ``command``."""
        self.kept.append(command)
        self.totals.sent += 1


class PlanningClient(UmapiClient):
    """The real client for the reads; its action sink keeps the commands, and the user groups
    ``auto_create`` would create are kept in ``groups_to_create`` instead."""

    def __init__(self, settings: UmapiSettings, *, test_mode: bool = False) -> None:
        super().__init__(settings, test_mode=test_mode)
        self.kept: list[UserCommand] = []
        self.groups_to_create: list[str] = []

    async def __aenter__(self) -> PlanningClient:
        await super().__aenter__()
        return self

    def action_sink(self, on_result: Callable[[CommandResult], None] | None = None,  # type: ignore[override]
                    linger: float = 0.5) -> KeepingSink:
        """A sink keeping the commands in ``kept``; nothing is reported to ``on_result``, as nothing is sent."""
        return KeepingSink(self.kept)

    async def create_user_groups(self, names: Iterable[str]) -> list[GroupResult]:
        """Keeps the names in ``groups_to_create`` and creates nothing (so no result either)."""
        self.groups_to_create.extend(names)
        return []


@dataclass
class PlanningClients:
    """``run_stages``' ``client_type``: one ``PlanningClient`` per org, found again by its settings."""
    made: dict[int, PlanningClient] = field(default_factory=dict)

    def __call__(self, settings: UmapiSettings, *, test_mode: bool = False) -> PlanningClient:
        client = self.made[id(settings)] = PlanningClient(settings, test_mode=test_mode)
        return client


@dataclass
class OrgReview:
    """One org's part of a review: its planner (what it read, its counters) and what it would do."""
    name: str | None
    planner: ReviewPlanner
    commands: list[UserCommand]
    groups_to_create: list[str]


async def review_run(job: SyncJob) -> list[OrgReview]:
    """Reads both sides as a sync does and plans, sending nothing and writing no file (no
    ``write-file`` list), without the run history guard. ``job`` must have been built with
    ``ReviewPlanner``. Raises the read's error (exit 3, or 2) when any read failed: a plan of a
    partial picture would remove people."""
    clients = PlanningClients()
    job = replace(job, write_file=None, removal_guard=None, review=True)  # no Adobe-only list, nothing held back
    result = await run_stages(job, client_type=clients)
    failure = result.read_failure or next((org.read_failure for org in result.secondaries.values() if org.read_failure),
                                          None)
    if failure is not None:
        failure.error.args = (str(failure),)
        raise failure.error
    reviews = []
    for name, planner, umapi in [(None, job.planner, job.umapi),
                                 *((org.name, org.planner, org.umapi) for org in job.secondaries)]:
        assert isinstance(planner, ReviewPlanner)
        client = clients.made[id(umapi)]
        reviews.append(OrgReview(name, planner, client.kept, client.groups_to_create))
    return reviews


# --- the plan file ---------------------------------------------------------------------------------

def plan_document(config_file: Path, encoding: str, options: Mapping[str, Any], reviews: list[OrgReview],
                  created: datetime) -> dict[str, Any]:
    """The plan file's content: when and from what it was made, and per org every command with its
    steps' reasons and its user's fingerprints on both sides."""
    orgs = []
    for review in reviews:
        planner = review.planner
        entries = [{"command": command_to_json(command),
                    "adobe_only": lookup_key(command) in planner.adobe_only_roots,
                    "changes": [asdict(change) for change in planner.explain(command)],
                    "fingerprints": planner.fingerprints(command)} for command in review.commands]
        notes = [f"max_adobe_only_users ({planner.rules.limit}) holds back every Adobe-only action"] \
            if planner.adobe_only_over_limit else []
        orgs.append({"org": review.name, "commands": entries, "user_groups_to_create": review.groups_to_create,
                     "notes": notes})
    return {"format": PLAN_FORMAT, "created": created.isoformat(), "config_file": str(config_file.resolve()),
            "config_file_encoding": encoding, "options": dict(options), "orgs": orgs}


def read_plan(path: Path) -> dict[str, Any]:
    """A plan file, checked for its shape. Raises ConfigError naming the file."""
    try:
        document = json.loads(path.read_text(encoding="utf8"))
        if document.get("format") != PLAN_FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {PLAN_FORMAT}")
        if datetime.fromisoformat(document["created"]).tzinfo is None:
            raise ValueError(f"created {document['created']!r} has no time zone")
        for org in document["orgs"]:
            for entry in org["commands"]:
                command_from_json(entry["command"])
                entry["fingerprints"]["directory"], entry["fingerprints"]["adobe"]
    except OSError as error:
        raise ConfigError(f"cannot read the plan: {error.strerror or error}", file=path) from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"not a plan written by 'async-usersync plan' ({type(error).__name__}: {error})",
                          file=path) from None
    return document


# --- what a plan prints ----------------------------------------------------------------------------

def diff_lines(document: Mapping[str, Any]) -> list[str]:
    """One ``Would ...`` line per step, in the plan's order, each with its reason after `` # ``; a
    secondary org's lines end with ``in <org>`` before the reason."""
    lines = []
    for org in document["orgs"]:
        where = f" in {org['org']}" if org["org"] else ""
        for group in org["user_groups_to_create"]:
            lines.append(f'Would create user group "{group}"{where}  # auto_create: a mapped group the org lacks')
        for entry in org["commands"]:
            user = entry["command"]["user"]
            for change in entry["changes"]:
                lines.append(f"{_would(change, user)}{where}  # {change['reason']}")
    return lines


_WOULD = {
    "create": "Would create {value} user {user}",
    "update": "Would update {target} of user {user} from {was!r} to {value!r}",
    "add": 'Would add user {user} to group "{target}"',
    "remove": 'Would remove user {user} from group "{target}"',
    "remove-all-groups": "Would remove user {user} from all groups",
    "remove-from-org": "Would remove user {user} from the org",
    "delete": "Would delete user {user} (removed from the org, account deleted)",
}
"""The ``--diff`` line of each kind of step (``engine.reasons.Change.op``)."""


def _would(change: Mapping[str, Any], user: str) -> str:
    return _WOULD[change["op"]].format(user=user, target=change["target"], value=change["value"], was=change["was"])


def summary_lines(document: Mapping[str, Any], most_groups: int = 5) -> list[str]:
    """A short summary: per org the users and the steps by kind, and the groups most affected."""
    lines = []
    for org in document["orgs"]:
        kinds: Counter[str] = Counter(change["op"] for entry in org["commands"] for change in entry["changes"])
        groups: Counter[str] = Counter(change["target"] for entry in org["commands"] for change in entry["changes"]
                                       if change["op"] in ("add", "remove"))
        name = org["org"] or "primary"
        counts = ", ".join(f"{count} {op}" for op, count in sorted(kinds.items())) or "nothing to do"
        lines.append(f"Plan for {name}: {len(org['commands'])} users to change: {counts}")
        if org["user_groups_to_create"]:
            lines.append(f"  user groups to create: {', '.join(org['user_groups_to_create'])}")
        if groups:
            lines.append("  groups most affected: " + ", ".join(
                f'"{group}" ({count})' for group, count in sorted(groups.items(), key=lambda item: (-item[1], item[0]))
                [:most_groups]))
        lines.extend(f"  note: {note}" for note in org["notes"])
    return lines


def has_changes(document: Mapping[str, Any]) -> bool:
    """Whether the plan would change anything in any org."""
    return any(org["commands"] or org["user_groups_to_create"] for org in document["orgs"])


def plan_main(config_file: Path, encoding: str, options: Mapping[str, Any], out: Path | None, diff: bool,
              print_line: Callable[[str], None] = print) -> ExitCode:
    """``async-usersync plan``: 0 when nothing is to be done, 7 when the plan holds changes, else the
    error's code (2 configuration or an ``out`` that cannot be written, checked before the reads; 3 a
    read failed), printed as one line on stderr."""
    try:
        settings = load_run_settings(config_file, options, encoding)
        if settings.options.adobe_only_user_list is not None:
            raise ConfigError("plan does not take --adobe-only-user-list (it reads neither side); run sync -t instead")
        if out is not None:
            check_writable([OutputPath(out, "option --out", WriteKind.REPLACED)])
        reviews = asyncio.run(review_run(build_job(settings, ReviewPlanner)))
    except UsersyncError as error:
        print_error(error)
        return error.exit_code
    document = plan_document(settings.config.file, encoding, options, reviews, datetime.now(timezone.utc))
    for line in summary_lines(document):
        print_line(line)
    if diff:
        for line in diff_lines(document):
            print_line(line)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(out, json.dumps(document, indent=1, ensure_ascii=False).encode("utf8"))
        except OSError as error:
            print_error(ConfigError(f"option --out: cannot write {out}: {error.strerror or error}"))
            return ExitCode.CONFIG_ERROR
        print_line(f"Wrote the plan to {out}")
    return ExitCode.CHANGES_PLANNED if has_changes(document) else ExitCode.OK


# --- apply -----------------------------------------------------------------------------------------

def check_plan_age(document: Mapping[str, Any], max_age: timedelta, now: datetime | None = None) -> None:
    """Raises PlanRefused when the plan was made more than ``max_age`` ago (or in the future)."""
    created = datetime.fromisoformat(document["created"])
    age = (now or datetime.now(timezone.utc)) - created
    if age > max_age or age < -timedelta(minutes=5):
        raise PlanRefused(f"the plan was made at {created.isoformat()}, {_hours(age)} ago, more than --max-plan-age "
                          f"{_hours(max_age)}: make a new plan")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


TARGETED_CHECK_MAX = 100
"""``apply`` reads only the plan's users (one directory search, one UMAPI lookup per user and org)
when the plan has at most this many; a larger plan is checked with a full read of both sides."""


def applying_stages(document: Mapping[str, Any], max_age: timedelta, full_check: bool = False
                    ) -> Callable[[SyncJob, ProgressFactory], Awaitable[RunResult]]:
    """The stages of ``apply`` (``SyncInvocation.stages``): the plan's age checked, both sides read
    again (only the plan's users, or in full: ``TARGETED_CHECK_MAX``, ``full_check``), a refusal naming every planned
    user whose records changed on either side since the plan, else exactly the plan's commands sent
    through each org's client, the secondaries' before the primary's Adobe-only actions."""

    async def stages(job: SyncJob, progress: ProgressFactory) -> RunResult:
        """Raises PlanRefused before sending anything when the plan is too old or out of date."""
        check_plan_age(document, max_age)
        started = time.monotonic()
        settings = load_run_settings(Path(document["config_file"]), document["options"], document["config_file_encoding"])
        planned = {org["org"]: org for org in document["orgs"]}
        users = sum(len(org["commands"]) for org in planned.values())
        targeted = not full_check and users <= TARGETED_CHECK_MAX and set(planned) == {None, *(org.name for org in job.secondaries)} and (
            not isinstance(settings.directory, LdapSettings) or user_search_filter(settings.directory, ()) is not None)
        logger.info("Checking the plan of %s: reading %s again", document["created"],
                    f"its {users} users on both sides" if targeted else "both sides")
        reviews = (await _read_planned_users(settings, job, planned) if targeted
                   else {review.name: review for review in await review_run(job)})
        if set(planned) != set(reviews):
            raise PlanRefused(f"the plan's orgs ({_names(planned)}) are not the config's ({_names(reviews)})")
        changed = [f"{entry['command']['key'] or entry['command']['user']}{f' in {name}' if name else ''}"
                   for name, org in planned.items() for entry in org["commands"]
                   if reviews[name].planner.fingerprints(command_from_json(entry["command"]))
                   != entry["fingerprints"]]
        if changed:
            raise PlanRefused(f"{len(changed)} user(s) of the plan changed since it was made, in the directory or "
                              f"the Adobe org: {', '.join(changed)}; nothing was sent: make a new plan")
        logger.info("The plan's %d users are as they were on both sides: sending its commands",
                    sum(len(org["commands"]) for org in planned.values()))
        return await _send_plan(job, planned, reviews, progress, started)

    return stages


async def _read_planned_users(settings: RunSettings, job: SyncJob, planned: Mapping[str | None, Mapping[str, Any]]
                              ) -> dict[str | None, OrgReview]:
    """Each org's planner fed only the plan's users, as they are now: each org's Adobe users by one
    lookup each, then their directory entries by one search, kept as a full read would keep them
    (``--users mapped`` or ``group``: only entries in a selected group). The Adobe-only limit was the
    plan's to judge, over the whole org: this partial picture's verdict and messages are dropped."""
    orgs: dict[str | None, tuple[SyncPlanner, UmapiSettings]] = {None: (job.planner, job.umapi)}
    orgs.update((org.name, (org.planner, org.umapi)) for org in job.secondaries)
    adobe_users: dict[str | None, list[AdobeUser]] = {}
    values: set[str] = set()
    for name, org in planned.items():
        found = adobe_users[name] = []
        async with UmapiClient(orgs[name][1], test_mode=job.test_mode) as client:
            for entry in org["commands"]:
                command = command_from_json(entry["command"])
                values.add(command.user)
                user = await client.user(command.user, command.domain)
                if user is not None:
                    found.append(user)
                    values.update((user.email, user.username))
    entries = [entry for entry in await directory_entries(settings, job, values)
               if job.selection.kind == "all" or type(entry) is not DirectoryUser or entry.groups]
    reviews: dict[str | None, OrgReview] = {}
    excluded_in_primary: set[str] = set()
    for name in planned:
        planner = orgs[name][0]
        assert isinstance(planner, ReviewPlanner)
        for user in adobe_users[name]:
            planner.add_adobe_user(user)
        for record in entries:
            planner.add_directory_user(in_org(record, name) if job.secondaries else record)
        planner.adobe_done()
        for _ in planner.directory_done():
            pass
        planner.finish(excluded_in_primary if name is not None else frozenset())
        if name is None:
            excluded_in_primary = planner.excluded_keys
        planner.take_messages()
        planner.adobe_only_over_limit = False
        reviews[name] = OrgReview(name, planner, [], [])
    return reviews


def _names(orgs: Iterable[str | None]) -> str:
    return ", ".join(name or "primary" for name in orgs)


async def _send_plan(job: SyncJob, planned: Mapping[str | None, Mapping[str, Any]], reviews: Mapping[str | None, OrgReview],
                     progress: ProgressFactory, started: float) -> RunResult:
    """Sends each org's planned commands, counted in its planner's counters as planned."""
    senders: dict[str | None, CommandSender] = {}
    clients: dict[str | None, UmapiClient] = {}
    umapi = {None: job.umapi} | {org.name: org.umapi for org in job.secondaries}
    batches: dict[str | None, tuple[list[UserCommand], list[UserCommand]]] = {}
    for name, org in planned.items():
        review = reviews[name].planner
        # each command with the Adobe user as the re-read found it, for the journal (``undo``)
        commands = [(replace(command, before=review.records_of(command)[1]), entry["adobe_only"])
                    for entry in org["commands"] for command in (command_from_json(entry["command"]),)]
        regular = [command for command, adobe_only in commands if not adobe_only]
        adobe_only = [command for command, adobe_only in commands if adobe_only]
        counters = reviews[name].planner.counters
        counters.adobe_users_created = sum(1 for command in regular if command.create)
        counters.adobe_users_updated = len(regular) - counters.adobe_users_created
        counters.adobe_only_processed = len(adobe_only)
        batches[name] = (regular, adobe_only)
    interrupted = False
    async with AsyncExitStack() as stack:
        for name in planned:
            client = clients[name] = await stack.enter_async_context(UmapiClient(umapi[name], test_mode=job.test_mode))
            planner = reviews[name].planner
            planner.counters.user_groups_created = await create_missing_user_groups(
                client, planned[name]["user_groups_to_create"], name) if planned[name]["user_groups_to_create"] else 0
            sender = senders[name] = CommandSender(planner, progress, name, job.journal)
        try:
            async with clients[None].action_sink(senders[None].on_result) as primary_sink:
                senders[None].sink = primary_sink
                async with AsyncExitStack() as secondary_sinks:
                    await senders[None].send(batches[None][0])
                    for name, sender in senders.items():
                        if name is not None:
                            sender.sink = await secondary_sinks.enter_async_context(
                                clients[name].action_sink(sender.on_result))
                            await sender.send(batches[name][0])
                            await sender.send_adobe_only(batches[name][1])
                            sender.planning_done()
                await senders[None].send_adobe_only(batches[None][1])
                senders[None].planning_done()
        except asyncio.CancelledError:
            interrupted = True
        for sender in senders.values():
            sender.applied.finish()
        throttle = {name: client.throttle_report() for name, client in clients.items()}
    totals = {name: sender.sink.totals if sender.sink is not None else ActionTotals() for name, sender in senders.items()}
    reports = {name: OrgReport(reviews[name].planner.counters, totals[name], throttle[name], {}, None, False)
               for name in senders if name is not None}
    return RunResult(totals[None], None, {"actions_sent": time.monotonic() - started}, throttle[None], None, (),
                     interrupted, reports)


def apply_main(plan_file: Path, max_age: timedelta, invocation_fields: Mapping[str, Any],
               full_check: bool = False) -> ExitCode:
    """``async-usersync apply PLAN``: the plan's config file and options, run as a sync whose stages
    are ``applying_stages``; ``invocation_fields`` are the apply command line's ``SyncInvocation``
    fields (``summary_json``, ``metrics_file``, ``lock_file``, ``arguments``; ``state_dir`` goes
    into the options)."""
    try:
        document = read_plan(plan_file)
    except UsersyncError as error:
        print_error(error)
        return error.exit_code
    fields = dict(invocation_fields)
    options = dict(document["options"])
    state_dir = fields.pop("state_dir", None)
    if state_dir is not None:
        options["state_dir"] = str(state_dir)
    return sync_main(SyncInvocation(config_file=Path(document["config_file"]), encoding=document["config_file_encoding"],
                                    options=options, stages=applying_stages(document, max_age, full_check),
                                    planner_type=ReviewPlanner, **fields))


# --- explain ---------------------------------------------------------------------------------------

def user_search_filter(settings: LdapSettings, users: Iterable[str]) -> str | None:
    """The LDAP filter that finds some users by email or username: ``all_users_filter`` ANDed with
    equality tests of each value on each attribute ``user_email_format`` and ``user_username_format``
    take whole (``{mail}``); None when neither is a bare attribute (users cannot be searched for by value)."""
    attributes = []
    for text in (settings.user_email_format, settings.user_username_format):
        names = template_fields(text) if text is not None else []
        if len(names) == 1 and text == "{" + names[0] + "}":
            attributes.append(names[0])
    if not attributes:
        return None
    tests = [f"({attribute}={escape_filter_value(user)})" for user in dict.fromkeys(users)
             for attribute in dict.fromkeys(attributes)]
    return f"(&{settings.all_users_filter}(|{''.join(tests)}))"


async def directory_entries(settings: RunSettings, job: SyncJob, users: Iterable[str]) -> list[DirectoryRecord]:
    """The directory's entries of some users (by email or username), through the hook: for LDAP one
    search for them (the selected groups' memberships looked up as a sync does), for a CSV file the
    file's rows. Each entry whatever ``--users`` selects. Raises ConfigError when LDAP users cannot be
    searched for by value (``user_search_filter``), the read's error when it fails."""
    wanted = {fold(user) for user in users}
    source: DirectorySource | None = job.directory
    if isinstance(settings.directory, LdapSettings):
        search = user_search_filter(settings.directory, sorted(wanted))
        if search is None:
            raise ConfigError("the directory is searched by email or username, which needs user_email_format or "
                              "user_username_format to be one attribute (such as {mail})",
                              file=settings.config.directory.connector_files.get("ldap"), key="user_email_format")
        source = LdapSource(replace(settings.directory, all_users_filter=search), settings.config.directory.user_identity_type,
                            extra_attributes=settings.config.directory.extension.extended_attributes
                            if settings.config.directory.extension is not None else ())
    if source is None:
        return []
    selection = replace(job.selection, kind="all")
    entries = []
    try:
        async for entry in source.users(selection):
            if not wanted.isdisjoint((*match_keys(entry), fold(entry.email), fold(entry.username))):
                entries.append(job.hook.apply(entry) if job.hook is not None else entry)
    except UsersyncError as error:
        error.args = (f"reading the directory failed: {error}",)
        raise
    return entries


async def explain_run(settings: RunSettings, job: SyncJob, user: str) -> list[tuple[str | None, list[str]]]:
    """``explain``'s reads and plan: the user's directory entries, one UMAPI user lookup per org, and
    each org's planner fed only these (the Adobe-only limit, which depends on the whole run, is not
    judged). Per org (None: the primary), the explanation's lines."""
    entries = await directory_entries(settings, job, [user])
    orgs = [(None, job.planner, job.umapi), *((org.name, org.planner, org.umapi) for org in job.secondaries)]
    found = []
    excluded_in_primary: set[str] = set()
    for name, base_planner, umapi in orgs:
        rules = replace(base_planner.rules, limit=replace(base_planner.rules.limit, count=sys.maxsize, percent=None))
        planner = SyncPlanner(rules)
        async with UmapiClient(umapi) as client:
            adobe_user = await client.user(user)
        org_entries = [in_org(entry, name) for entry in entries] if orgs[1:] else entries
        commands = [*(planner.add_adobe_user(adobe_user) if adobe_user is not None else [])]
        for entry in org_entries:
            commands += planner.add_directory_user(entry)
        commands += planner.adobe_done()
        commands += planner.directory_done()
        commands += planner.finish(excluded_in_primary if name is not None else frozenset())
        if name is None:
            excluded_in_primary = planner.excluded_keys
        adobe_only = adobe_user is not None and not any(
            selected(rules, entry) for entry in org_entries if type(entry) is DirectoryUser)
        excluded = adobe_user is not None and not planner.excluded_keys.isdisjoint(match_keys(adobe_user))
        found.append((name, explain_user(rules, org_entries, adobe_user, commands, excluded, adobe_only, False)))
    return found


def explain_main(user: str, config_file: Path, encoding: str, options: Mapping[str, Any],
                 print_line: Callable[[str], None] = print) -> ExitCode:
    """``async-usersync explain USER``: prints, per org, why each of the user's groups and attributes
    would be kept, added or removed. 0, or the error's code (2 configuration, 3 a read failed)."""
    try:
        settings = load_run_settings(config_file, options, encoding)
        if settings.directory is None:
            raise ConfigError("explain does not take --adobe-only-user-list")
        explained = asyncio.run(explain_run(settings, build_job(settings), user))
    except UsersyncError as error:
        print_error(error)
        return error.exit_code
    for name, lines in explained:
        print_line(f"{user} in {name or 'the primary org'}:")
        for line in lines:
            print_line(f"  {line}")
    return ExitCode.OK
