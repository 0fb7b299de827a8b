"""Terminal side of ``verl-crpo generate`` and ``verl-crpo evaluate``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console

__all__ = ["add_evaluation_commands"]

_console = Console(width=max(Console().width, 110))


def _logging() -> None:
    # The library logs what a user should see (resume decisions, missing judge scores) at INFO/WARNING.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _generate(args: argparse.Namespace) -> int:
    from verl_crpo.evaluation.generate import generate

    _logging()
    try:
        summary = generate(
            args.data,
            args.model,
            args.out,
            backend=args.backend,
            n=args.n,
            temperature=args.temperature,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except ValueError as error:
        _console.print(f"[bold red]verl-crpo generate:[/] {error}", soft_wrap=True)
        return 2
    _console.print(
        f"{summary.path}: {summary.rows} rows, {summary.written} responses generated now, "
        f"{summary.skipped} already answered",
        soft_wrap=True,
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from verl_crpo.evaluation.judge import JudgeConfig, JudgeError, judge_records
    from verl_crpo.evaluation.report import REPORT_FILES, evaluate_runs
    from verl_crpo.evaluation.runs import read_run, run_name
    from verl_crpo.files import refuse_existing

    _logging()
    names = args.names or [run_name(path) for path in args.files]
    try:
        if len(names) != len(args.files):
            raise ValueError(f"--names gives {len(names)} names for {len(args.files)} files; give one per file")
        if len(set(names)) != len(names):
            raise ValueError(f"run names must differ, got {names}; rename the files or pass --names")
        if bool(args.judge_url) != bool(args.judge_model):
            raise ValueError("the LLM judge needs both --judge-url and --judge-model")
        # Before any judge call is paid for.
        refuse_existing([Path(args.out) / name for name in REPORT_FILES], args.overwrite)
        runs = {name: read_run(path) for name, path in zip(names, args.files, strict=True)}
        extra = None
        if args.judge_url:
            config = JudgeConfig(
                url=args.judge_url,
                model=args.judge_model,
                api_key_env=args.judge_key_env,
                concurrency=args.judge_concurrency,
                timeout_s=args.judge_timeout,
            )
            extra = {name: judge_records(records, config) for name, records in runs.items()}
        report = evaluate_runs(runs, args.out, overwrite=args.overwrite, extra_metrics=extra, seed=args.seed)
    except (ValueError, JudgeError) as error:
        _console.print(f"[bold red]verl-crpo evaluate:[/] {error}", soft_wrap=True)
        return 2
    _print_summary(report)
    _console.print(f"wrote {', '.join(str(Path(args.out) / name) for name in REPORT_FILES)}", soft_wrap=True)
    return 0


def _print_summary(report: dict) -> None:
    from rich.table import Table

    shown = ("accuracy", "format", "faithfulness", "comprehensiveness")
    table = Table(title="mean [95% bootstrap interval] over items")
    table.add_column("run")
    table.add_column("n", justify="right")
    for name in shown:
        table.add_column(name, justify="right")
    for run, entry in report["runs"].items():
        cells = []
        for name in shown:
            m = entry["metrics"][name]
            cells.append("-" if m["mean"] is None else f"{m['mean']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]")
        table.add_row(run, str(entry["n"]), *cells)
    _console.print(table)
    for pair in report["paired"]:
        parts = []
        for name in shown:
            m = pair["metrics"][name]
            if m["mean"] is not None:
                parts.append(f"{name} {m['mean']:+.3f} [{m['ci_low']:+.3f}, {m['ci_high']:+.3f}]")
        _console.print(
            f"{pair['b']} - {pair['a']} on {pair['common_items']} common items: " + "; ".join(parts), soft_wrap=True
        )


def add_evaluation_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``generate`` and ``evaluate`` to the ``verl-crpo`` subcommands."""
    gen = commands.add_parser(
        "generate",
        help="answer every row of a verl RL parquet with a model (JSON lines, resumable)",
        description="Applies the model's chat template to each row's prompt, generates --n responses per row and "
        "writes one JSON line per response (the row's data_source, reward_model, extra_info, plus response, sample "
        "and row). Rerunning with the same --out resumes: rows already answered are skipped. An existing output "
        "made with other settings is never replaced without --overwrite.",
    )
    gen.add_argument("--data", required=True, metavar="PARQUET", help="verl RL parquet (from `verl-crpo prepare`)")
    gen.add_argument("--model", required=True, metavar="PATH", help="local model folder or hub id")
    gen.add_argument("--out", required=True, metavar="FILE", help="output JSON lines file (.jsonl)")
    gen.add_argument(
        "--backend",
        choices=("hf", "vllm"),
        default="hf",
        help="hf: transformers generate (CPU or GPU); vllm: the optional extra verl-crpo[vllm] (default hf)",
    )
    gen.add_argument("--n", type=int, default=1, metavar="N", help="responses per row (default 1; > 1 needs sampling)")
    gen.add_argument("--temperature", type=float, default=0.0, metavar="T", help="0 is greedy (default 0)")
    gen.add_argument("--max-new-tokens", type=int, default=1024, metavar="N", help="per response (default 1024)")
    gen.add_argument(
        "--batch-size", type=int, default=None, metavar="N", help="responses per backend call (default: 8 hf, 256 vllm)"
    )
    gen.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    gen.add_argument("--overwrite", action="store_true", help="discard an existing output and start again")
    gen.set_defaults(run=_generate)

    ev = commands.add_parser(
        "evaluate",
        help="score runs on every objective with bootstrap intervals and compare them side by side",
        description="Each FILE (JSON lines from `verl-crpo generate`, or parquet with the same columns) is one run. "
        "Writes DIR/report.md, DIR/report.png and DIR/report.json: accuracy, every objective of the clinical reward "
        "and rule-based proxies of the paper's judged metrics, overall and per data_source, each with a seeded "
        "95% bootstrap interval over items, and paired differences between runs on their common items.",
    )
    ev.add_argument("files", nargs="+", metavar="FILE", help="one run per file")
    ev.add_argument("--out", required=True, metavar="DIR", help="report folder")
    ev.add_argument("--names", nargs="+", default=None, metavar="NAME", help="run names (default: the file stems)")
    ev.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    ev.add_argument("--overwrite", action="store_true", help="replace existing report files")
    judge = ev.add_argument_group("optional LLM judge (any OpenAI-compatible endpoint, e.g. a vLLM server)")
    judge.add_argument("--judge-url", default=None, metavar="URL", help="base URL, e.g. http://localhost:8000/v1")
    judge.add_argument("--judge-model", default=None, metavar="NAME", help="model name the endpoint serves")
    judge.add_argument(
        "--judge-key-env",
        default="VERL_CRPO_JUDGE_API_KEY",
        metavar="VAR",
        help="environment variable holding the endpoint's key (default VERL_CRPO_JUDGE_API_KEY); never written",
    )
    judge.add_argument("--judge-concurrency", type=int, default=8, metavar="N", help="requests in flight (default 8)")
    judge.add_argument(
        "--judge-timeout", type=float, default=60.0, metavar="S", help="seconds per request attempt (default 60)"
    )
    ev.set_defaults(run=_evaluate)
