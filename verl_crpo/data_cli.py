"""The data subcommands of ``verl-crpo``: ``prepare`` (benchmark releases to verl RL parquet; ``prepare verl``:
existing verl RL parquet completed from its prompts) and ``sft-data`` (teacher responses to cold-start SFT data).

:func:`add_data_commands` adds both to the CLI's subparsers; the work happens in
:mod:`verl_crpo.data.prepare`, :mod:`verl_crpo.data.from_prompt` and :mod:`verl_crpo.data.sft`, this module
owns the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

__all__ = ["add_data_commands"]

_console = Console(width=max(Console().width, 110))


@contextlib.contextmanager
def _progress() -> Iterator[Any]:
    """A ``track(records, total, label)`` that shows one progress bar per source (hidden off a terminal)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=_console, transient=False, disable=not _console.is_terminal) as progress:

        def track(records: Iterable[Any], total: int, label: str) -> Iterator[Any]:
            task = progress.add_task(label, total=total)
            for record in records:
                yield record
                progress.advance(task)

        yield track


def _prepare_verl(args: argparse.Namespace) -> int:
    from verl_crpo.data.from_prompt import prepare_verl

    flags = {"--hf": args.hf, "--hf-config": args.hf_config, "--split": args.split, "--cop-base": args.cop_base}
    given = [flag for flag, value in flags.items() if value is not None]
    try:
        if given:
            raise ValueError(f"{', '.join(given)} does not apply to verl rows; pass --input PARQUET... only")
        with _progress() as track:
            result = prepare_verl(
                args.input, args.out, overwrite=args.overwrite, skip_invalid=args.skip_invalid, track=track
            )
    except ValueError as error:
        raise SystemExit(f"verl-crpo prepare verl: {error}") from None
    table = Table(title=f"verl RL rows with extra_info.question and extra_info.options, in {args.out}")
    for column in ("input", "rows", "option layouts found", "skipped", "file"):
        table.add_column(column, justify="right" if column in ("rows", "skipped") else "left")
    for source, summary in result.files.items():
        layouts = "\n".join(f"{layout}: {n}" for layout, n in summary.layouts.most_common())
        table.add_row(source, str(summary.rows), layouts, str(summary.skipped), summary.path)
    _console.print(table)
    _print_skips(result.skips)
    return 0


def _print_skips(skips: list[str], shown: int = 10) -> None:
    for message in skips[:shown]:
        _console.print(f"  skipped {message}", markup=False, highlight=False)
    if len(skips) > shown:
        _console.print(f"  ... and {len(skips) - shown} more skipped")


def _prepare(args: argparse.Namespace) -> int:
    from verl_crpo.data.prepare import prepare

    if args.dataset == "verl":
        return _prepare_verl(args)
    try:
        with _progress() as track:
            result = prepare(
                args.dataset,
                args.out,
                args.input or (),
                hf=args.hf,
                hf_config=args.hf_config,
                split=args.split,
                overwrite=args.overwrite,
                skip_invalid=args.skip_invalid,
                cop_base=args.cop_base,
                seed=args.seed,
                track=track,
            )
    except ValueError as error:
        raise SystemExit(f"verl-crpo prepare: {error}") from None
    for source, (base, why) in result.cop_bases.items():
        _console.print(f"{source}: cop counts from {base} ({why})")
    table = Table(title=f"{args.dataset}: verl RL parquet in {args.out}")
    for column in ("split", "rows", "options per row", "skipped", "file"):
        table.add_column(column, justify="right" if column in ("rows", "skipped") else "left")
    for name, summary in result.splits.items():
        options = ", ".join(f"{k}: {v}" for k, v in sorted(summary.options.items()))
        table.add_row(name, str(summary.rows), options, str(summary.skipped), summary.path)
    _console.print(table)
    _print_skips(result.skips)
    return 0


def _sft_data(args: argparse.Namespace) -> int:
    from verl_crpo.data.sft import DROP_REASONS, sft_data

    try:
        with _progress() as track:
            result = sft_data(args.dataset, args.responses, args.out, overwrite=args.overwrite, track=track)
    except ValueError as error:
        raise SystemExit(f"verl-crpo sft-data: {error}") from None
    total = result.kept + sum(result.dropped.values())
    _console.print(f"kept {result.kept} of {total} responses (correct and well-formed) -> {result.path}")
    if result.dropped:
        table = Table(title="dropped responses")
        table.add_column("reason")
        table.add_column("count", justify="right")
        table.add_column("meaning")
        table.add_column("first ones")
        for reason, count in result.dropped.most_common():
            table.add_row(reason, str(count), DROP_REASONS[reason], ", ".join(result.examples[reason]))
        _console.print(table)
    return 0


def add_data_commands(commands: Any) -> None:
    """Add ``prepare`` and ``sft-data`` to ``commands`` (the ``verl-crpo`` argparse subparsers)."""
    prepare = commands.add_parser(
        "prepare",
        help="convert MedQA / MedMCQA / MedXpertQA release files into verl RL parquet (one file per split), "
        "or complete existing verl RL parquet whose prompts hold the options (prepare verl)",
        description="Reads the original JSON-lines releases (or a Hugging Face dataset with --hf), validates every "
        "record, and writes DIR/<split>.parquet in verl's RL layout with our prompt; for MedQA train also the "
        "paper's two disjoint halves, train_coldstart.parquet (SFT cold start) and train_rl.parquet (RL). "
        "Writes are atomic; existing outputs are kept unless --overwrite.",
    )
    prepare.add_argument(
        "dataset",
        choices=("medqa", "medmcqa", "medxpertqa", "verl"),
        help="which benchmark the files hold; verl: existing verl RL parquet whose prompts hold the case and "
        "options as text (fills in extra_info.question and extra_info.options, keeps everything else)",
    )
    source = prepare.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--input",
        nargs="+",
        metavar="PATH",
        help="release files, JSON lines; the split comes from each name (train, dev/validation, test); "
        "for verl: RL parquet files, each written to DIR under its own name",
    )
    source.add_argument(
        "--hf",
        metavar="NAME",
        help="a Hugging Face dataset name or local dataset folder, read with datasets.load_dataset (all its splits)",
    )
    prepare.add_argument(
        "--hf-config", metavar="CONFIG", default=None, help="the dataset configuration for --hf, e.g. Text"
    )
    prepare.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    prepare.add_argument("--overwrite", action="store_true", help="replace existing output files")
    prepare.add_argument(
        "--split",
        choices=("train", "dev", "validation", "test"),
        default=None,
        help="the split of every input, instead of reading it from the file names (validation = dev)",
    )
    prepare.add_argument(
        "--skip-invalid", action="store_true", help="skip and count invalid records instead of stopping at the first"
    )
    prepare.add_argument(
        "--cop-base",
        type=int,
        choices=(0, 1),
        default=None,
        help="medmcqa: 'cop' counts from 0 or from 1 (default: established from the data; an error if it cannot be)",
    )
    prepare.add_argument("--seed", type=int, default=0, help="seed of MedQA train's cold-start / RL halves (default 0)")
    prepare.set_defaults(run=_prepare)

    sft = commands.add_parser(
        "sft-data",
        help="turn teacher responses into cold-start SFT data, keeping those our reward scores correct and well-formed",
        description='Matches JSON lines {"index": ..., "response": ...} to the rows of an RL parquet by '
        "extra_info.index, scores each response with verl_crpo.rewards.compute_score, keeps those with accuracy 1 "
        "and format 1 as chats (a `messages` column, verl's multi-turn SFT layout) and reports every drop by reason.",
    )
    sft.add_argument("--dataset", required=True, metavar="PARQUET", help="RL parquet, e.g. DIR/train_coldstart.parquet")
    sft.add_argument("--responses", required=True, metavar="FILE", help="teacher responses, JSON lines")
    sft.add_argument("--out", required=True, metavar="PARQUET", help="the SFT parquet to write")
    sft.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    sft.set_defaults(run=_sft_data)
