"""The retry policy: what each kind of answer means for the request and for its whole family.

* 2xx: done. A 404 is handed back too (the reads turn it into a named failure).
* 401: the token is renewed once and the request goes again.
* 429: the family pauses for the Retry-After (or an exponential backoff when it has none).
* No answer (a dropped or refused connection, a timeout), 502, 503, 504: the first such failure
  since a request of the family was accepted is that request's own (the server was up a moment
  ago): it alone backs off and goes again, and the family goes on. A second one with nothing
  accepted in between is an outage: the family pauses with exponential backoff and jitter, then
  sends one probe at a time until one is accepted. The pause grows by one step only when a request
  sent after the last pause fails too, so a burst of requests that were all on the wire when the
  server went away counts once. A request failing when no other is left to be accepted cannot be
  told from an outage, so it waits like one, up to ``server.max_outage``.
* Anything else (500, the other 4xx): final at once, for that request alone.

Waiting in a pause or an outage does not spend a request's attempts: an attempt counts only when
other requests of the family were accepted since this one's previous failure, so ``server.retries``
stops a request that fails on its own, not one that waited out an outage. The family gives up when
an outage has lasted ``server.max_outage`` seconds, or when one Retry-After is longer than
``server.max_retry_after``: the rest of its requests are not sent.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

RETRYABLE_STATUS = frozenset({502, 503, 504})
"""Gateway and availability answers: the server did not act; the family waits for it."""
ALREADY_IN_PLACE = frozenset({
    "error.user.already_exists",  # a create without ignoreIfAlreadyExists, repeated
    "error.user.already_in_org",  # addAdobeID repeated
    "error.usergroup.already_exists",
    "plc.admin.already_added",
})
"""Error codes that say the change an entry asks for is there already (see ``already_in_place``)."""
USER_GONE = frozenset({
    "error.user.nonexistent",  # a step on a user who does not exist
    "error.user.not_found",  # a group step on such a user (User Sync's issue 462)
})
"""Error codes that say the user an entry names does not exist (see ``already_in_place``)."""


def already_in_place(code: str, entry: Mapping[str, Any] | None) -> bool:
    """Whether an error ``code`` about ``entry`` (None: about no entry in particular), in the answer
    to a request retried after an attempt that got no answer, says that attempt landed, so the
    entry counts as landed, not failed. It does when the change is there already
    (``ALREADY_IN_PLACE``: the user or group exists, the admin was added), or when the user the
    entry names is gone (``USER_GONE``) and the entry itself takes them away from that name: it
    renames them (an update of the username, or of the email of a user named by email, who has no
    ``domain``) or removes them from the org."""
    if code in ALREADY_IN_PLACE:
        return True
    if code not in USER_GONE or entry is None:
        return False
    for step in entry.get("do", ()):
        for name, arguments in step.items():
            if name == "removeFromOrg":
                return True
            if name == "update" and isinstance(arguments, dict) and (
                    "username" in arguments or ("email" in arguments and "domain" not in entry)):
                return True
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait, from delta-seconds or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class Backoff:
    """``base * 2 ** (step - 1)`` seconds, at most ``ceiling``, plus up to ``jitter`` seconds at random
    (so that many clients do not come back in step)."""

    base: float
    jitter: float
    ceiling: float

    def __call__(self, step: int) -> float:
        return min(self.ceiling, self.base * 2.0 ** (min(max(1, step), 64) - 1)) + random.uniform(0, self.jitter)


@dataclass(slots=True)
class Outage:
    """One family's run of failures without a request accepted in between (``time.monotonic()`` times)."""

    since: float | None = None
    """When the first failure of the run arrived; ``None`` while the server answers."""
    step: int = 0
    """Backoff step of the latest pause."""
    paused_at: float = field(default=float("-inf"))
    """When the latest pause began."""

    def failed(self, sent_at: float, now: float) -> int:
        """A request sent at ``sent_at`` got no usable answer at ``now``: the backoff step to pause the
        family for, or 0 for the first failure since a request was accepted, which is taken as that
        request's own and pauses nothing. The step grows only for a request sent after the latest
        pause began (a probe, or later)."""
        if self.since is None:
            self.since = now
            return 0
        if self.step == 0 or sent_at >= self.paused_at:
            self.step += 1
        self.paused_at = now
        return self.step

    def lasted(self, now: float) -> float:
        """Seconds since the first failure of this outage (0.0 while the server answers)."""
        return 0.0 if self.since is None else now - self.since

    def recovered(self) -> None:
        """A request was accepted: the outage is over and the next one starts from step 1."""
        self.since, self.step = None, 0
