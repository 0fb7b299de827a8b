"""Terminal side of ``verl-crpo study``: progress, the result tables, the documented findings."""

from __future__ import annotations

import argparse

__all__ = ["add_study_command"]


def _study(args: argparse.Namespace) -> int:
    import dataclasses

    from rich.console import Console
    from rich.markdown import Markdown
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from verl_crpo.files import refuse_existing
    from verl_crpo.study import ARMS, FAST, FULL, check_findings, run_study, study_markdown, sweep_arms, write_study
    from verl_crpo.study.report import output_paths

    console = Console(width=max(Console().width, 120))
    settings = FAST if args.fast else FULL
    if args.seeds is not None:
        settings = dataclasses.replace(settings, seeds=args.seeds)
    if args.json is None and args.out is None:
        console.print("no --json or --out given: results are printed only")
    try:
        # Refused before the study runs, not after a minute of it (write_study checks again).
        refuse_existing(output_paths(args.out, args.json, sweep=settings.sweep_seeds > 0), args.overwrite)
        total = len(ARMS) + (len(sweep_arms()) if settings.sweep_seeds else 0)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("score the candidate pools", total=total)

            started = []

            def advance(name: str) -> None:
                progress.update(task, description=f"train {name}", completed=len(started))
                started.append(name)

            result = run_study(settings, progress=advance)
            progress.update(task, completed=total)
        written = write_study(result, out_dir=args.out, json_path=args.json, overwrite=args.overwrite)
    except ValueError as error:
        console.print(f"[bold red]verl-crpo study:[/] {error}")
        return 2
    console.print(Markdown(study_markdown(result)))
    broken = check_findings(result)
    for line in broken:
        console.print(f"[bold red]finding broken:[/] {line}")
    if not broken:
        console.print("[green]the documented ordering of the arms holds[/] (README, 'What CRPO teaches')")
    for path in written:
        console.print(f"wrote {path}")
    return 1 if broken else 0


def add_study_command(commands: argparse._SubParsersAction) -> None:
    """Add ``study`` to the ``verl-crpo`` subcommands."""
    study = commands.add_parser(
        "study",
        help="learning-signal study: what GRPO and CRPO teach one policy from the same scored candidates",
        description="Trains a softmax policy over fixed pools of 40 scored candidate responses per synthetic case "
        "with verl's grpo (accuracy only; weighted total) and our crpo, same seeds and steps, then sweeps crpo's "
        "settings. Prints the final value of every objective, steps to threshold and the sweep; exit 1 if the "
        "ordering documented in README no longer holds. The full study takes well under 5 minutes on 2 cores.",
    )
    study.add_argument("--fast", action="store_true", help="fewer cases, seeds and steps, no sweep (the CI check)")
    study.add_argument(
        "--seeds", type=int, default=None, metavar="N", help="training seeds per arm (default 5; 4 with --fast)"
    )
    study.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON to PATH")
    study.add_argument(
        "--out", default=None, metavar="DIR", help="write study.json, study.md, trajectories.png (and sweep.png) to DIR"
    )
    study.add_argument("--overwrite", action="store_true", help="replace existing output files")
    study.set_defaults(run=_study)
