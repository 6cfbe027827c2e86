"""The Action Summary block, character for character (reference 1.7)."""

from __future__ import annotations

from async_usersync.engine import AdobeOnlyAction, Strategy, render_action_summary

from tests.engine.helpers import adobe_user, directory_user, rules, run


def test_sync_summary_with_adobe_only_removals() -> None:
    directory = [directory_user("stay@example.com", ["Sales"]), directory_user("new@example.com"),
                 directory_user("same@example.com")]
    adobe = [adobe_user("stay@example.com"), adobe_user("same@example.com"), adobe_user("gone@example.com"),
             adobe_user("gone2@example.com")]
    result = run(rules(process_groups=True, adobe_only_action=AdobeOnlyAction.REMOVE), directory, adobe)
    result.planner.counters.user_groups_created = 2
    assert render_action_summary(result.planner.counters, (4, 3, 1, 0, 0)) == [
        "---------------------------------- Action Summary ----------------------------------",
        "                        Number of directory users read: 3",
        "          Number of directory users selected for input: 3",
        "                            Number of Adobe users read: 4",
        "           Number of Adobe users excluded from updates: 0",
        "    Number of non-excluded Adobe users with no changes: 1",
        "                       Number of new Adobe users added: 1",
        "                Number of matching Adobe users updated: 1",
        "                   Number of Adobe user-groups created: 2",
        "                    Number of Adobe-only users removed: 2",
        "  Number of UMAPI actions sent (total, success, error): (4, 3, 1)",
        "------------------------------------------------------------------------------------",
    ]


def test_sync_summary_in_test_mode_without_adobe_only_processing() -> None:
    result = run(rules(), [directory_user("new@example.com")], [adobe_user("gone@example.com")])
    lines = render_action_summary(result.planner.counters, (1, 1, 0, 0, 0), test_mode=True)
    assert lines[0] == "---------------------------- Action Summary (TEST MODE) ----------------------------"
    assert len(lines[0]) == 84 and lines[-1] == "-" * 84
    assert not any("Adobe-only" in line for line in lines)
    assert "    Number of non-excluded Adobe users with no changes: 1" in lines


def test_push_summary() -> None:
    result = run(rules(strategy=Strategy.PUSH), [directory_user("a@example.com"), directory_user("b@example.com")], [])
    assert render_action_summary(result.planner.counters, (2, 2, 0, 0, 0)) == [
        "---------------------------------- Action Summary ----------------------------------",
        "                        Number of directory users read: 2",
        "          Number of directory users selected for input: 2",
        "             Number of directory users pushed to Adobe: 2",
        "  Number of UMAPI actions sent (total, success, error): (2, 2, 0)",
        "------------------------------------------------------------------------------------",
    ]


def test_commands_not_sent_get_their_own_line() -> None:
    result = run(rules(strategy=Strategy.PUSH), [directory_user("a@example.com"), directory_user("b@example.com")], [])
    lines = render_action_summary(result.planner.counters, (5, 2, 1, 2, 0))
    assert lines[-3:-1] == ["  Number of UMAPI actions sent (total, success, error): (5, 2, 1)",
                            "                      Number of UMAPI actions not sent: 2"]


def test_sync_summary_with_secondary_orgs_has_user_syncs_lines_per_org() -> None:
    """Issue 16: User Sync's "added to secondaries" line (summed over them) and one actions line per org."""
    primary = run(rules(process_groups=True, adobe_only_action=AdobeOnlyAction.REMOVE),
                  [directory_user("new@example.com", ["Sales"])], [adobe_user("gone@example.com")])
    org2 = run(rules(secondary=True, process_groups=True), [directory_user("new@example.com", ["Sales"])], [])
    org3 = run(rules(secondary=True, process_groups=True), [directory_user("new@example.com", ["Sales"])], [])
    org3.planner.counters.user_groups_created = 1
    assert render_action_summary(primary.planner.counters, (2, 2, 0, 0, 0), secondaries={
        "org2": (org2.planner.counters, (1, 1, 0, 0, 0)), "org3": (org3.planner.counters, (3, 1, 1, 1, 0))})[1:] == [
        "                                Number of directory users read: 1",
        "                  Number of directory users selected for input: 1",
        "                                    Number of Adobe users read: 1",
        "                   Number of Adobe users excluded from updates: 0",
        "            Number of non-excluded Adobe users with no changes: 0",
        "                               Number of new Adobe users added: 1",
        "                        Number of matching Adobe users updated: 0",
        "                           Number of Adobe user-groups created: 1",
        "                    Number of Adobe users added to secondaries: 2",
        "                            Number of Adobe-only users removed: 1",
        "  Number of primary UMAPI actions sent (total, success, error): (2, 2, 0)",
        "     Number of org2 UMAPI actions sent (total, success, error): (1, 1, 0)",
        "     Number of org3 UMAPI actions sent (total, success, error): (3, 1, 1)",
        "                              Number of UMAPI actions not sent: 1",
        "------------------------------------------------------------------------------------",
    ]


def test_commands_without_an_answer_get_their_own_line() -> None:
    """Sent, no answer before the run stopped: neither success nor error in User Sync's line."""
    result = run(rules(strategy=Strategy.PUSH), [directory_user("a@example.com")], [])
    lines = render_action_summary(result.planner.counters, (6, 2, 1, 2, 1))
    assert lines[-4:-1] == ["  Number of UMAPI actions sent (total, success, error): (6, 2, 1)",
                            "                      Number of UMAPI actions not sent: 2",
                            "  Number of UMAPI actions unanswered (may have landed): 1"]
