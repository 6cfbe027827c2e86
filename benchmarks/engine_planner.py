"""CPU and peak memory of the rule engine on a large org: N directory users and N Adobe users.

Each case runs in its own process (so peak RSS is its own), side by side: feeding the users to a
stub that does nothing (the cost of making the records, as the readers would) and to the real
``SyncPlanner``. The planner's cost is the difference; the machine is shared, so compare the
columns of one run rather than seconds across runs. Each is measured twice: with Python's full
garbage collections deferred, as a sync runs the planner (``pipeline.stages``), and with the
interpreter's defaults, where every full collection walks what the planner holds (the commands
held back until the directory read is done, the users matched so far).

Cases:
* ``interleaved, busy``: the Adobe read trails the directory by 5% of N; most pairs need group
  changes, 5% are new, 4% are Adobe-only (removed), so about a million commands come out;
* ``interleaved, settled``: a second run, every pair matches with nothing to change;
* ``directory first``: the whole directory arrives before any Adobe user (the most memory the
  planner can need: every directory user waits);
* ``busy, with history``: the busy case in a run that has a run history, so every command that
  removes mapped groups (92% of the pairs here) waits for the removal guard until both reads end;
* ``busy, additional_groups``: the busy case with half the groups mapped by an ``additional_groups``
  rule instead of ``groups`` (the same commands), so the removals that touch its targets wait for the
  whole directory and are narrowed to the targets the selected users produced;
* ``busy, plan``: the busy case planned by ``async-usersync plan``'s ``ReviewPlanner``, which also
  keeps every record it is given (to explain each command and fingerprint each user afterwards): what
  a plan costs beside a sync, whose planner keeps none.

Run: ``.venv/bin/python benchmarks/engine_planner.py [N]`` (default 1,000,000).
"""

from __future__ import annotations

import random
import re
import resource
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from async_usersync.engine import (  # noqa: E402
    AdditionalGroupRule, AdobeOnlyAction, AdobeOnlyLimit, GroupMapping, SyncPlanner, SyncRules,
)
from async_usersync.engine.reasons import ReviewPlanner  # noqa: E402
from async_usersync.pipeline.stages import full_collections_deferred  # noqa: E402
from async_usersync.records import AdobeUser, DirectoryUser, IdentityType  # noqa: E402

CASES = {"interleaved, busy": (0.05, True, False, False, False),
         "interleaved, settled": (0.05, False, False, False, False),
         "directory first": (1.0, True, False, False, False), "busy, with history": (0.05, True, True, False, False),
         "busy, additional_groups": (0.05, True, False, True, False), "busy, plan": (0.05, True, False, False, True)}
GROUP_COUNT = 20
GROUP_SETS = 200


class Stub:
    """Takes the users and does nothing: the baseline."""

    def add_directory_user(self, user: DirectoryUser) -> list:
        return []

    def add_adobe_user(self, user: AdobeUser) -> list:
        return []

    def directory_done(self) -> list:
        return []

    def adobe_done(self) -> list:
        return []

    def finish(self) -> list:
        return []

    def defer_group_removals(self) -> None:
        pass

    def release_group_removals(self) -> list:
        return []


def measure(count: int, lag_share: float, busy: bool, history: bool, additional: bool, real: bool,
            review: bool = False) -> tuple[float, float, int]:
    """(CPU seconds, peak RSS in MB, commands) of one run in this process (under the garbage
    collection settings it has); ``review``: the plan's ``ReviewPlanner`` instead of ``SyncPlanner``."""
    directory_groups = [sys.intern(f"Group {index}") for index in range(GROUP_COUNT)]
    adobe_groups = [sys.intern(f"Profile {index}") for index in range(GROUP_COUNT)]
    if additional:  # Group 10-19 -> Profile 10-19 by a rule, the others by groups
        mapping = GroupMapping.from_pairs([(group, [adobe_groups[index]]) for index, group in enumerate(directory_groups[:10])],
                                          [AdditionalGroupRule(re.compile(r"Group 1(\d)"), r"Profile 1\1")])
    else:
        mapping = GroupMapping.from_pairs([(group, [adobe_groups[index]]) for index, group in enumerate(directory_groups)])
    rng = random.Random(1)
    directory_sets = [frozenset(rng.sample(directory_groups, 2)) for _ in range(GROUP_SETS)]
    profile_of = dict(zip(directory_groups, adobe_groups))
    adobe_sets = ([frozenset(rng.sample(adobe_groups, 2)) for _ in range(GROUP_SETS)] if busy
                  else [frozenset(profile_of[group] for group in groups) for groups in directory_sets])
    federated = IdentityType.FEDERATED_ID

    def directory_user(number: int) -> DirectoryUser:
        email = f"user{number}@example.com"
        return DirectoryUser(federated, email, "example.com", email, f"First{number}", f"Last{number}", "US",
                             directory_sets[number % GROUP_SETS])

    def adobe_user(number: int) -> AdobeUser:
        email = f"user{number}@example.com"
        return AdobeUser(federated, email, "example.com", email, f"First{number}", f"Last{number}", "US",
                         adobe_sets[number % GROUP_SETS])

    rules = SyncRules(mapping=mapping, process_groups=True, update_user_info=True,
                      adobe_only_action=AdobeOnlyAction.REMOVE, limit=AdobeOnlyLimit(count=None, percent=20))
    planner = (ReviewPlanner if review else SyncPlanner)(rules) if real else Stub()
    if history:
        planner.defer_group_removals()
    lag = int(count * lag_share)
    commands = 0
    started = time.process_time()
    for step in range(count + lag):
        if step < count:
            number = step + 10 * count if busy and step % 20 == 0 else step  # 5% only in the directory
            commands += len(planner.add_directory_user(directory_user(number)))
        adobe_step = step - lag
        if adobe_step >= 0:
            number = adobe_step + 20 * count if busy and adobe_step % 25 == 0 else adobe_step  # 4% Adobe-only
            commands += len(planner.add_adobe_user(adobe_user(number)))
        if step == count - 1:
            commands += sum(1 for _ in planner.directory_done())  # a generator: commands one at a time
    commands += len(planner.adobe_done()) + sum(1 for _ in planner.release_group_removals()) + len(planner.finish())
    cpu = time.process_time() - started
    return cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, commands


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(f"{count:,} directory users and {count:,} Adobe users; CPU seconds and peak RSS per process")
    for deferred in (True, False):
        print("full collections deferred, as in a sync:" if deferred else "the interpreter's garbage collection defaults:")
        print(f"{'case':<25} {'records only':>22} {'planner':>22} {'planner CPU':>12} {'ratio':>6} {'commands':>10}")
        for name, (lag_share, busy, history, additional, review) in CASES.items():
            figures = []
            for real in (False, True):
                arguments = [str(count), str(lag_share), str(int(busy)), str(int(history)), str(int(additional)),
                             str(int(real)), str(int(deferred)), str(int(review))]
                output = subprocess.run([sys.executable, __file__, "--one", *arguments],
                                        check=True, capture_output=True, text=True).stdout.split()
                figures.append((float(output[0]), float(output[1]), int(output[2])))
            (stub_cpu, stub_rss, _), (cpu, rss, commands) = figures
            print(f"{name:<25} {stub_cpu:>9.1f} s {stub_rss:>7.0f} MB {cpu:>9.1f} s {rss:>7.0f} MB "
                  f"{cpu - stub_cpu:>10.1f} s {cpu / stub_cpu:>5.1f}x {commands:>10,}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        with full_collections_deferred() if sys.argv[8] == "1" else nullcontext():
            cpu, rss, commands = measure(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1",
                                         sys.argv[6] == "1", sys.argv[7] == "1", sys.argv[9] == "1")
        print(cpu, rss, commands)
    else:
        main()
