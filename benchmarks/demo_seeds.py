"""The demo's effect over seeds: each arm's validation objectives at the end, mean and spread.

Reads the ``summary.json`` of demo runs that differ only in ``--seed`` and prints, per arm and
objective, the value after the last step and the mean of the last three steps (greedy validation on
the demo's 32 cases, so one case is 0.03 of accuracy), as mean [min, max] over the runs, and the
CRPO-minus-baseline difference of each run.

Usage:
    for seed in 0 1 2; do verl-crpo demo --seed $seed --out demo_s$seed; done
    python benchmarks/demo_seeds.py demo_s0 demo_s1 demo_s2
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

OBJECTIVES = ("accuracy", "faithfulness", "comprehensiveness", "format")


def _figures(run: dict) -> dict[str, dict[str, float]]:
    steps = run["steps"]
    return {
        name: {
            "before": run["before"][name],
            "last": steps[-1]["objectives"][name],
            "last3": statistics.mean(s["objectives"][name] for s in steps[-3:]),
        }
        for name in OBJECTIVES
    }


def _spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="demo output folders (each holding summary.json)")
    args = parser.parse_args()
    summaries = [json.loads((Path(d) / "summary.json").read_text()) for d in args.runs]
    arms = list(summaries[0]["arms"])
    figures = [{arm: _figures(s["arms"][arm]) for arm in arms} for s in summaries]
    print(f"{len(summaries)} runs, seeds {[s['seed'] for s in summaries]}, {summaries[0]['steps']} steps per arm")
    print(f"wall per run (s): {[s['wall_s'] for s in summaries]}; peak GB: {[s['peak_rss_gb'] for s in summaries]}")
    print("| objective | arm | before | after the last step | mean of the last 3 steps |")
    print("|---|---|---|---|---|")
    for name in OBJECTIVES:
        for arm in arms:
            cells = [[f[arm][name][k] for f in figures] for k in ("before", "last", "last3")]
            print(f"| {name} | {arm} | {cells[0][0]:.3f} | {_spread(cells[1])} | {_spread(cells[2])} |")
    if "crpo" in arms and len(arms) > 1:
        base = next(arm for arm in arms if arm != "crpo")
        print(f"\nper run, crpo - {base} (last step; mean of the last 3):")
        for s, f in zip(summaries, figures, strict=True):
            diffs = ", ".join(
                f"{name} {f['crpo'][name]['last'] - f[base][name]['last']:+.3f} "
                f"({f['crpo'][name]['last3'] - f[base][name]['last3']:+.3f})"
                for name in OBJECTIVES[:3]
            )
            print(f"  seed {s['seed']}: {diffs}")


if __name__ == "__main__":
    main()
