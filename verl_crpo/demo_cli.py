"""Terminal side of ``verl-crpo demo``: progress bars, the side-by-side table per step, where the files are."""

from __future__ import annotations

import argparse
import dataclasses

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verl_crpo.demo import DEMO_OBJECTIVES, DemoConfig, run_demo

__all__ = ["ARM_LABELS", "render_summary", "run_demo_command"]

_STAGES = {
    "model": "build tiny model + tokenizer",
    "cold start": "cold start (SFT steps)",
}
# Short column labels for the side-by-side table.
ARM_LABELS = {"grpo_accuracy_only": "GRPO acc", "crpo": "CRPO", "grpo_total": "GRPO tot"}


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _stage_name(stage: str) -> str:
    if stage.startswith("rl:"):
        return f"main_ppo, {stage[3:]} (RL steps)"
    return _STAGES.get(stage, stage)


def render_summary(summary: dict, console: Console) -> None:
    """Print one row per step with every arm side by side on every objective, then each arm's change."""
    arms = summary["arms"]
    labels = " | ".join(ARM_LABELS.get(arm, arm) for arm in arms)
    table = Table(
        title=f"greedy validation after each step ({labels}); step 0 is the cold start",
        caption="objectives: validation means in [0, 1]; reward: each arm's own training reward (batch mean)",
    )
    table.add_column("step", justify="right")
    for name in (*DEMO_OBJECTIVES, "reward"):
        table.add_column(f"{name}\n{labels}", justify="center")
    rows = {0: {arm: (run.get("before") or {}, None) for arm, run in arms.items()}}
    for arm, run in arms.items():
        for step in run["steps"]:
            rows.setdefault(step["step"], {})[arm] = (step["objectives"], step["reward_mean"])
    for number in sorted(rows):
        cells = {arm: rows[number].get(arm, ({}, None)) for arm in arms}
        values = [" | ".join(_fmt(cells[arm][0].get(name), 2) for arm in arms) for name in DEMO_OBJECTIVES]
        values.append(" | ".join(_fmt(cells[arm][1], 2) for arm in arms))
        table.add_row(str(number), *values)
    console.print(table)
    for arm, run in arms.items():
        last = run["steps"][-1]["objectives"] if run["steps"] else {}
        before = run.get("before") or {}
        change = ", ".join(
            f"{name} {_fmt(before.get(name), 2)} -> {_fmt(last.get(name), 2)}" for name in DEMO_OBJECTIVES[:3]
        )
        console.print(
            f"[bold]{arm}[/] ({run['description']}): {change}; {run['wall_s']:.0f} s, mean step {_mean_step(run):.1f} s"
        )
        constant = [s["constant_group_frac"] for s in run["steps"] if "constant_group_frac" in s]
        if constant:
            means = {name: sum(c.get(name, 0.0) for c in constant) / len(constant) for name in constant[0]}
            text = ", ".join(f"{name} {value:.0%}" for name, value in means.items())
            console.print(f"  training groups in which an objective gave no signal (mean over steps): {text}")


def _mean_step(run: dict) -> float:
    times = [s["step_s"] for s in run["steps"] if s.get("step_s") is not None]
    return sum(times) / len(times) if times else float("nan")


def run_demo_command(args: argparse.Namespace, console: Console) -> int:
    """Run :func:`verl_crpo.demo.run_demo` with progress bars; print the table and the file locations."""
    changes = {}
    if args.arms is not None:
        changes["arms"] = tuple(args.arms)
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.sft_steps is not None:
        changes["cold_start"] = dataclasses.replace(DemoConfig().cold_start, steps=args.sft_steps)
    if args.timeout is not None:
        changes["timeout_s"] = args.timeout
    try:
        config = DemoConfig(out_dir=args.out, overrides=tuple(args.override), **changes)
    except ValueError as error:
        raise SystemExit(f"verl-crpo demo: {error}") from None

    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our bars own the terminal
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tasks = {}

        def on_event(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(_stage_name(stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            summary = run_demo(config, on_event)
        except (RuntimeError, ValueError) as error:
            progress.stop()
            console.print(f"[bold red]demo failed:[/] {error}")
            return 1
    render_summary(summary, console)
    console.print(
        f"wall time {summary['wall_s']:.0f} s, peak memory {summary['peak_rss_gb']:.2f} GB (RSS summed over the "
        "demo's processes, Ray's included)"
    )
    console.print(f"summary: {args.out}/summary.json; curves: {', '.join(summary['files']['curves'])}", soft_wrap=True)
    for arm, run in summary["arms"].items():
        files = run["files"]
        model = f"; trained model (for verl-crpo generate): {files['model']}" if files.get("model") else ""
        console.print(f"{arm}: main_ppo log {files['log']}{model}", soft_wrap=True)
    return 0
