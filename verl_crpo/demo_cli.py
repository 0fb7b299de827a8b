"""Terminal side of ``verl-crpo demo``: progress bars, the per-step table, where the files are."""

from __future__ import annotations

import argparse
import dataclasses

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verl_crpo.coldstart import ColdStartConfig
from verl_crpo.demo import DEMO_OBJECTIVES, DemoConfig, run_demo

__all__ = ["render_summary", "run_demo_command"]

_STAGES = {
    "model": "build tiny model + tokenizer",
    "cold start": "cold start (SFT steps)",
    "rl": "main_ppo (RL steps)",
}


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_summary(summary: dict, console: Console) -> None:
    """Print one row per step: validation objectives, training reward, |advantage|, timings."""
    table = Table(
        title=f"{summary['estimator']} on the tiny model: greedy validation after each step",
        caption="objectives: validation means in [0, 1]; reward: training batch mean (weighted total); "
        "adv: mean |advantage|; adv s: advantage step",
    )
    table.add_column("step", justify="right")
    for name in DEMO_OBJECTIVES:
        table.add_column(name, justify="right")
    table.add_column("reward", justify="right")
    table.add_column("adv", justify="right")
    table.add_column("adv s", justify="right")
    table.add_column("step s", justify="right")
    before = summary.get("before")
    if before:
        table.add_row("0", *(_fmt(before[name]) for name in DEMO_OBJECTIVES), "-", "-", "-", "-")
    for step in summary["steps"]:
        table.add_row(
            str(step["step"]),
            *(_fmt(step["objectives"][name]) for name in DEMO_OBJECTIVES),
            _fmt(step["reward_mean"], 2),
            _fmt(step["adv_abs_mean"]),
            _fmt(step["timing_adv_s"], 4),
            _fmt(step["step_s"], 1),
        )
    console.print(table)
    constant = [s["constant_group_frac"] for s in summary["steps"] if "constant_group_frac" in s]
    if constant:
        means = {name: sum(c.get(name, 0.0) for c in constant) / len(constant) for name in constant[0]}
        text = ", ".join(f"{name} {value:.0%}" for name, value in means.items())
        console.print(f"training groups in which an objective gave no signal (mean over steps): {text}")


def run_demo_command(args: argparse.Namespace, console: Console) -> int:
    """Run :func:`verl_crpo.demo.run_demo` with progress bars; print the table and the file locations."""
    config = DemoConfig(estimator=args.estimator, out_dir=args.out, overrides=tuple(args.override))
    changes = {}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.sft_steps is not None:
        changes["cold_start"] = ColdStartConfig(**{**dataclasses.asdict(config.cold_start), "steps": args.sft_steps})
    if args.timeout is not None:
        changes["timeout_s"] = args.timeout
    try:
        config = dataclasses.replace(config, **changes)
    except ValueError as error:
        raise SystemExit(f"verl-crpo demo: {error}") from None

    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our bars own the terminal
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tasks = {}

        def on_event(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(_STAGES.get(stage, stage), total=total)
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
    files = summary["files"]
    console.print(
        f"summary: {args.out}/summary.json; curves: {', '.join(files['curves'])}; main_ppo log: {files['log']}",
        soft_wrap=True,
    )
    if files.get("model"):
        console.print(f"trained model (Hugging Face format, for verl-crpo generate): {files['model']}", soft_wrap=True)
    return 0
