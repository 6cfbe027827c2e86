"""The removal guard's rule: compare what this run saw with what the last successful run saw.

A count limit (``max_adobe_only_users``) cannot tell a broken filter from real leavers. So, like
Microsoft Entra provisioning's accidental-deletion threshold, which quarantines a job instead of
deleting, a run whose picture shrank too much since the last successful run holds back its
removals (the Adobe-only actions and the removal of mapped groups from matched users) and says
what shrank, unless the change is accepted for that one run. Pure: the pipeline reads and writes
the history (``pipeline.history``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

DEFAULT_MAX_SHRINK = 0.2
"""``limits.max_shrink`` when not set: a side that lost more than a fifth of its users since the
last successful run holds back the removals."""


@dataclass(frozen=True)
class RunPicture:
    """What one run read: users on each side, and members read per mapped directory group."""

    directory_users: int
    adobe_users: int
    group_members: Mapping[str, int] = field(default_factory=dict)
    """Mapped directory group (as the config spells it) -> directory users read in it."""


@dataclass(frozen=True)
class RemovalGuard:
    """The run's part of the guard: the last successful picture (None: no history, nothing is
    held), ``max_shrink`` as a share (0.2 for 20 %) and whether this run accepts a shrink."""

    previous: RunPicture | None
    max_shrink: float = DEFAULT_MAX_SHRINK
    accept: bool = False

    def shrinkage(self, current: RunPicture) -> list[str]:
        """One sentence per thing that shrank too much since ``previous``: a mapped group that had
        members and has none (whatever ``max_shrink``), or a side that lost more than ``max_shrink``
        of its users. Groups no longer mapped are not compared. Empty when nothing did."""
        previous = self.previous
        if previous is None:
            return []
        found = [f"the mapped directory group '{name}' had {count} member(s) in the last successful run and has none now"
                 for name, count in previous.group_members.items() if count and current.group_members.get(name) == 0]
        for side, before, now in (("directory users read", previous.directory_users, current.directory_users),
                                  ("Adobe users read", previous.adobe_users, current.adobe_users)):
            if before and (before - now) / before > self.max_shrink:
                found.append(f"{side} shrank from {before} to {now} (-{(before - now) / before:.0%}), more than "
                             f"limits.max_shrink ({self.max_shrink:.0%}) since the last successful run")
        return found
