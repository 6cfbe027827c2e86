"""User Sync's Action Summary: the counters the planner keeps and the block of log lines that
cron mail filters grep for (``Number of ...``), with the same labels, order and alignment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from async_usersync.engine.rules import AdobeOnlyAction, Strategy

SUMMARY_WIDTH = 84

ADOBE_ONLY_LABELS: dict[AdobeOnlyAction, str] = {
    AdobeOnlyAction.DELETE: "Number of Adobe-only users deleted",
    AdobeOnlyAction.REMOVE: "Number of Adobe-only users removed",
    AdobeOnlyAction.REMOVE_ADOBE_GROUPS: "Number of Adobe-only users removed from all groups",
}
GROUPS_PROCESSED_LABEL = "Number of Adobe-only users with groups processed"
ACTIONS_LABEL = "Number of UMAPI actions sent (total, success, error)"
ORG_ACTIONS_LABEL = "Number of {org} UMAPI actions sent (total, success, error)"
"""With secondary orgs, one line per org (``primary`` first), as User Sync writes them."""
SECONDARY_CREATED_LABELS = {Strategy.SYNC: "Number of Adobe users added to secondaries",
                            Strategy.PUSH: "Number of Adobe users pushed to secondaries"}
NOT_SENT_LABEL = "Number of UMAPI actions not sent"
UNANSWERED_LABEL = "Number of UMAPI actions unanswered (may have landed)"


@dataclass
class SummaryCounters:
    """What the Action Summary counts, kept by the planner as it plans (users, not requests; the
    requests' outcome comes from the client's sink). Labels and order as User Sync's."""

    strategy: Strategy = Strategy.SYNC
    directory_users_read: int = 0
    directory_users_selected: int = 0
    adobe_users_read: int = 0
    adobe_users_excluded: int = 0
    adobe_users_created: int = 0
    """Creates planned: new users (sync) or users pushed (push)."""
    adobe_users_updated: int = 0
    user_groups_created: int = 0
    """Set by the pipeline, which creates the groups."""
    adobe_only_label: str | None = None
    """The Adobe-only line's label, or None when Adobe-only users are not processed."""
    adobe_only_processed: int = 0

    @property
    def adobe_users_unchanged(self) -> int:
        """Adobe users read that are neither excluded, updated nor processed as Adobe-only; 0 when
        no Adobe user was read (``--adobe-only-user-list``), as User Sync has it."""
        if not self.adobe_users_read:
            return 0
        return self.adobe_users_read - self.adobe_users_excluded - self.adobe_users_updated - self.adobe_only_processed


Actions = tuple[int, int, int, int, int]
"""What an org's sink did with its commands: (total, landed, failed, not sent, unanswered)."""


def render_action_summary(counters: SummaryCounters, actions: Actions, test_mode: bool = False,
                          secondaries: Mapping[str, tuple[SummaryCounters, Actions]] | None = None) -> list[str]:
    """The summary block, one string per log line: header, counters right-aligned to the
    longest label, closing dashes. ``actions`` is (total, landed, failed, not sent, unanswered):
    User Sync's line, then ours for the commands an interrupted or given-up run never sent and for
    those sent that got no answer before it stopped, each shown only when there are any (so a
    complete run's block stays User Sync's, line for line).

    ``secondaries`` (name -> its counters and actions) adds User Sync's lines for secondary orgs:
    the users added (or pushed) to them, summed over the orgs, and one actions line per org; the
    user-groups created count every org's. The other lines are the primary's, as in User Sync."""
    title = " Action Summary (TEST MODE) " if test_mode else " Action Summary "
    orgs = dict(secondaries or {})
    if orgs:
        counters = replace(counters, user_groups_created=counters.user_groups_created + sum(
            org.user_groups_created for org, _ in orgs.values()))
    rows = _rows(counters)
    every = {"primary": actions} | {name: org_actions for name, (_, org_actions) in orgs.items()}
    if orgs:
        rows.insert(len(rows) - (counters.adobe_only_label is not None), (
            SECONDARY_CREATED_LABELS[counters.strategy], sum(org.adobe_users_created for org, _ in orgs.values())))
        rows += [(ORG_ACTIONS_LABEL.format(org=name), f"({sent}, {landed}, {failed})")
                 for name, (sent, landed, failed, _, _) in every.items()]
    else:
        rows.append((ACTIONS_LABEL, f"({actions[0]}, {actions[1]}, {actions[2]})"))
    not_sent, unanswered = (sum(org_actions[index] for org_actions in every.values()) for index in (3, 4))
    rows += [(label, count) for label, count in ((NOT_SENT_LABEL, not_sent), (UNANSWERED_LABEL, unanswered)) if count]
    width = max(len(label) for label, _ in rows)
    return [title.center(SUMMARY_WIDTH, "-"),
            *(f"  {label.rjust(width)}: {value}" for label, value in rows),
            "-" * SUMMARY_WIDTH]


def _rows(counters: SummaryCounters) -> list[tuple[str, object]]:
    read: list[tuple[str, object]] = [("Number of directory users read", counters.directory_users_read),
            ("Number of directory users selected for input", counters.directory_users_selected)]
    if counters.strategy is Strategy.PUSH:
        return read + [("Number of directory users pushed to Adobe", counters.adobe_users_created)]
    rows: list[tuple[str, object]] = read + [
        ("Number of Adobe users read", counters.adobe_users_read),
        ("Number of Adobe users excluded from updates", counters.adobe_users_excluded),
        ("Number of non-excluded Adobe users with no changes", counters.adobe_users_unchanged),
        ("Number of new Adobe users added", counters.adobe_users_created),
        ("Number of matching Adobe users updated", counters.adobe_users_updated),
        ("Number of Adobe user-groups created", counters.user_groups_created),
    ]
    if counters.adobe_only_label is not None:
        rows.append((counters.adobe_only_label, counters.adobe_only_processed))
    return rows
