"""Draws the benchmarks' figures as small PNGs in docs/figures/ (matplotlib, no display needed).

  scale-time.png    wall and CPU time per user against N, from benchmarks/scale.py's JSON
  scale-memory.png  peak RSS against N, with the 1.5 GB target, from the same file
  push-rate.png     accepted action requests per second over a push, against the sandbox's limit,
                    from benchmarks/push.py --json

    .venv/bin/python benchmarks/plot.py [--scale benchmarks/results/scale.json]
                                        [--push benchmarks/results/push.json] [--out docs/figures]

A missing input file skips its figures with a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RSS_TARGET_MB = 1.5 * 1024
FIGURE_SIZE = (6.4, 3.8)
DPI = 110


def users_axis(axes: Axes, sizes: list[int]) -> None:
    axes.set_xscale("log")
    axes.set_xlim(sizes[0] / 1.6, sizes[-1] * 1.6)
    axes.set_xticks(sizes)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:,.0f}k" if value < 1e6 else f"{value / 1e6:g}M"))
    axes.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    axes.set_xlabel("users on each side (N)")
    axes.grid(True, which="major", alpha=0.3)


def plot_scale_time(summary: list[dict[str, Any]], target: Path) -> None:
    sizes = [row["users"] for row in summary]
    per_user = {
        "whole sync, wall": [row["sync_wall_s"] / row["users"] * 1e6 for row in summary],
        "directory read alone (LDAP), wall": [row["directory_alone_s"] / row["users"] * 1e6 for row in summary],
        "Adobe read alone, wall": [row["adobe_alone_s"] / row["users"] * 1e6 for row in summary],
        "engine CPU (matching, planning)": [row["engine_cpu_s"] / row["users"] * 1e6 for row in summary],
    }
    if all(row.get("ldap_reader") == "child process" for row in summary):
        per_user = {name.replace("(LDAP)", "(LDAP child)"): values for name, values in per_user.items()}
    figure, axes = plt.subplots(figsize=FIGURE_SIZE, dpi=DPI)
    for (label, values), marker in zip(per_user.items(), "osD^"):
        axes.plot(sizes, values, marker=marker, label=label)
    users_axis(axes, sizes)
    axes.set_ylim(0, max(max(values) for values in per_user.values()) * 1.5)
    axes.set_ylabel("microseconds per user")
    axes.set_title("Time per user against the org's size")
    axes.legend(fontsize="small", loc="upper center", ncol=2)
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)


def plot_scale_memory(summary: list[dict[str, Any]], target: Path) -> None:
    sizes = [row["users"] for row in summary]
    # With the LDAP reader in a child process, the footprint is the sync's peak plus the child's
    # (an upper bound: the two need not peak together); before, the child's peak is 0.
    totals = [row.get("peak_rss_total_mb", row["peak_rss_mb"]) for row in summary]
    figure, axes = plt.subplots(figsize=FIGURE_SIZE, dpi=DPI)
    axes.plot(sizes, [row["peak_rss_mb"] for row in summary], marker="o", label="sync process, peak RSS")
    if any(row.get("child_peak_rss_mb") for row in summary):
        axes.plot(sizes, totals, marker="s", label="sync + LDAP reader child, sum of peaks")
    axes.axhline(RSS_TARGET_MB, color="tab:red", linestyle="--", label="target at 1M: 1.5 GB")
    for row, total in zip(summary, totals):
        axes.annotate(f"{total:,.0f} MB\n{total * 1024 * 1024 / row['users']:,.0f} B/user",
                      (row["users"], total), textcoords="offset points", xytext=(0, 8),
                      ha="center", fontsize="x-small")
    users_axis(axes, sizes)
    axes.set_ylim(0, max(RSS_TARGET_MB, *totals) * 1.25)
    axes.set_ylabel("peak RSS (MB, from the OS)")
    axes.set_title("Memory of one sync")
    axes.legend(fontsize="small", loc="upper left")
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)


def plot_push_rate(outcomes: list[dict[str, Any]], target: Path) -> None:
    ours = [outcome for outcome in outcomes if outcome["tool"] == "async-usersync" and outcome["accepted_per_second"]]
    figure, panels = plt.subplots(len(ours), 1, figsize=(FIGURE_SIZE[0], 1.9 * len(ours) + 0.6), dpi=DPI,
                                  sharex=True, squeeze=False)
    for axes, outcome in zip(panels[:, 0], ours):
        counts = outcome["accepted_per_second"]
        axes.bar(range(len(counts)), counts, width=1.0, color="tab:blue", alpha=0.75, label="accepted requests")
        axes.axhline(outcome["limit_per_second"], color="tab:red", linestyle="--", label="sandbox limit")
        axes.set_ylim(0, outcome["limit_per_second"] * 1.4)
        axes.set_ylabel("requests/s")
        axes.set_title(f"{outcome['scenario']}: {outcome['rate_ratio']:.3f} of the limit, "
                       f"{outcome['throttled']} x 429", fontsize="small")
    panels[-1, 0].set_xlabel("second of the push (sandbox at time scale 60: 1 s is one API minute)")
    panels[0, 0].legend(fontsize="x-small", loc="upper right", ncol=2)
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--push", type=Path, default=RESULTS / "push.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    written = []
    if options.scale.is_file():
        summary = json.loads(options.scale.read_text())["summary"]
        plot_scale_time(summary, options.out / "scale-time.png")
        plot_scale_memory(summary, options.out / "scale-memory.png")
        written += ["scale-time.png", "scale-memory.png"]
    else:
        print(f"no {options.scale}: run benchmarks/scale.py first; scale figures skipped", file=sys.stderr)
    if options.push.is_file():
        plot_push_rate(json.loads(options.push.read_text()), options.out / "push-rate.png")
        written.append("push-rate.png")
    else:
        print(f"no {options.push}: run benchmarks/push.py --json {options.push}; push figure skipped", file=sys.stderr)
    for name in written:
        print(f"wrote {options.out / name}")


if __name__ == "__main__":
    main()
