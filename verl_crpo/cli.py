"""The ``verl-crpo`` command line.

Subcommands:
    check   import verl the way every verl process does and show what the plugin registered;
            exit 1, with the real import error, if registration did not happen. ``check -- ARGS``
            validates a main_ppo command line without starting Ray (see launch_check).
    demo    train the tiny model end to end on this CPU: cold start, then CRPO (or GRPO) through main_ppo.
    score   score the built-in sample of clinical responses (--sample) and print every objective.
    validity  check that the reward pays clinical reasoning above templates, per hack family.
    prepare, sft-data  build verl parquet files from the benchmark releases (see data_cli).
    generate, evaluate  answer a benchmark split with a model; score and compare runs (see evaluation_cli).
    study   the learning-signal study: what GRPO and CRPO teach from the same candidates (see study_cli).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import entry_points

from rich.console import Console
from rich.table import Table

__all__ = ["main"]


def _default_weights_text() -> str:
    from verl_crpo.rewards import DEFAULT_WEIGHTS

    return ", ".join(f"{name} {value:g}" for name, value in DEFAULT_WEIGHTS.items())


_DEFAULT_WEIGHTS_TEXT = _default_weights_text()
# Rich falls back to 80 columns off a terminal (CI logs, pipes): too narrow for the objective table.
_console = Console(width=max(Console().width, 110))


def _check(args: argparse.Namespace) -> int:
    run_args = [a for a in args.main_ppo_args if a != "--"] if args.main_ppo_args else []
    if run_args:
        return _check_command_line(run_args)
    import verl  # loads every `verl.plugins` entry point, as in every verl process

    from verl_crpo import __version__

    _console.print(f"verl {verl.__version__}, verl-crpo {__version__}")
    plugin = sys.modules.get("verl_crpo.plugin")
    if plugin is None:
        _console.print("[bold red]`import verl` did not load the verl-crpo plugin.[/]")
        if not any(ep.value == "verl_crpo.plugin" for ep in entry_points(group="verl.plugins")):
            _console.print("No `verl.plugins` entry point names it: reinstall with `pip install -e .` (or the wheel).")
        elif os.getenv("VERL_USE_EXTERNAL_PLUGINS", "auto").strip().lower() != "auto":
            _console.print("VERL_USE_EXTERNAL_PLUGINS filters plugins: add `crpo` to it or unset it.")
        else:
            # verl swallows plugin errors; importing the module ourselves shows the real one.
            try:
                importlib.import_module("verl_crpo.plugin")
            except Exception:
                _console.print(traceback.format_exc())
        return 1
    try:
        report = plugin.registered()
    except RuntimeError as error:
        _console.print(f"[bold red]{error}[/]")
        return 1
    table = Table(title="registered with verl by the verl-crpo plugin")
    table.add_column("registry")
    table.add_column("entry")
    for registry, entry in report.items():
        if registry != "v1_trainer":
            table.add_row(registry, entry)
    _console.print(table)
    return _check_installs()


def _check_command_line(run_args: list[str]) -> int:
    """``verl-crpo check -- ARGS``: what main_ppo would run with ARGS, or the fix (exit 1)."""
    from verl_crpo.launch_check import plan_run

    try:
        plan = plan_run(run_args)
    except ValueError as error:
        _console.print(f"[bold red]main_ppo would fail:[/] {error}", soft_wrap=True)
        return 1
    table = Table(title="main_ppo would run (composed and checked; nothing started)")
    table.add_column("")
    table.add_column("")
    table.add_row("config", plan.config_source)
    table.add_row("trainer", plan.trainer)
    table.add_row("estimator", plan.estimator)
    weights = ", ".join(f"{name} {value:g}" for name, value in plan.weights.items()) or "-"
    table.add_row("objectives and weights", weights)
    table.add_row("reward", plan.reward + (" (verl_crpo's scorer)" if plan.reward_is_ours else " (not verl_crpo's)"))
    _console.print(table)
    for warning in plan.warnings:
        _console.print(f"[bold yellow]warning:[/] {warning}", soft_wrap=True)
    return 0


def _check_installs() -> int:
    """Import every verl module the integration hooks, so each install runs now; report each one."""
    from verl_crpo import trainer

    installs = trainer.verify_installs()
    table = Table(title=f"trainer integration (written for verl {trainer.VERL_VERSION})")
    table.add_column("install")
    table.add_column("state")
    for name, state in installs.items():
        table.add_row(name, state if state == "installed" else f"[bold red]{state}[/]")
    _console.print(table)
    failed = [name for name, state in installs.items() if state != "installed"]
    if trainer._state["verl_version"] != trainer.VERL_VERSION:
        _console.print(
            f"[bold yellow]verl {trainer._state['verl_version']} is installed; the integration mirrors verl "
            f"{trainer.VERL_VERSION}: install verl=={trainer.VERL_VERSION} or re-sync verl_crpo/trainer.py[/]"
        )
    drift = trainer.verl_drift() if not failed else {}
    for target, detail in drift.items():
        _console.print(f"[bold yellow]verl code the integration mirrors changed: {target} ({detail})[/]")
    if failed:
        _console.print(f"[bold red]{len(failed)} install(s) failed: algorithm.adv_estimator=crpo will be refused.[/]")
        return 1
    return 0


def _parse_weights(pairs: Sequence[str]) -> dict[str, float]:
    weights = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--weight expects NAME=VALUE (e.g. accuracy=10), got {pair!r}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"--weight {pair!r}: {value!r} is not a number") from None
    return weights


def _score(args: argparse.Namespace) -> int:
    if not args.sample:
        raise SystemExit("verl-crpo score: nothing to score; pass --sample to score the built-in responses")
    from verl_crpo.rewards import DEFAULT_WEIGHTS, OBJECTIVES, get_clinical_reward, load_demo_samples

    weights = {**DEFAULT_WEIGHTS, **_parse_weights(args.weight)}
    try:
        reward = get_clinical_reward(weights=weights)
    except ValueError as error:
        raise SystemExit(f"invalid weights: {error}") from None
    samples = load_demo_samples()
    rows = []
    for sample in samples:
        scores = reward(sample["data_source"], sample["response"], sample["ground_truth"], sample["extra_info"])
        rows.append({"label": sample["label"], **{key: scores[key] for key in ("score", *OBJECTIVES)}})
    means = {key: sum(row[key] for row in rows) / len(rows) for key in ("score", *OBJECTIVES)}
    if args.json:
        json.dump({"weights": weights, "responses": rows, "mean": means}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0

    max_score = sum(weights.values())
    weight_text = ", ".join(f"{name} {value:g}" for name, value in weights.items())
    table = Table(title=f"Clinical reward on {len(rows)} built-in responses", caption=f"weights: {weight_text}")
    table.add_column("response", no_wrap=True)
    for key in OBJECTIVES:
        table.add_column(key, justify="right")
    table.add_column(f"score /{max_score:g}", justify="right")
    for row in rows:
        table.add_row(row["label"], *(f"{row[key]:.2f}" for key in OBJECTIVES), f"{row['score']:.2f}")
    table.add_section()
    table.add_row("[bold]mean[/]", *(f"{means[key]:.2f}" for key in OBJECTIVES), f"{means['score']:.2f}")
    _console.print(table)
    return 0


def _add_demo_parser(commands) -> None:
    from verl_crpo.demo import ARMS

    demo = commands.add_parser(
        "demo",
        help="train a tiny model end to end on this CPU: the paper's GRPO baseline and CRPO side by side",
        description="Builds a tiny Qwen2 and synthetic clinical cases locally, fine-tunes it on a mixture of answer "
        "habits (cold start, cached), then runs `python -m verl.trainer.main_ppo` with recipes/cpu_tiny on the CPU "
        "once per arm, from the same cold start, seed, data and steps; prints every objective per step with the arms "
        "side by side and writes DIR/summary.json and one PNG per objective with every arm's curve.",
    )
    demo.add_argument(
        "--arms",
        nargs="+",
        choices=tuple(ARMS),
        default=None,
        metavar="ARM",
        help="arms to run, in order (default: grpo_accuracy_only crpo): grpo_accuracy_only (the paper's baseline, "
        "GRPO on accuracy alone), crpo, grpo_total (GRPO on CRPO's weighted reward)",
    )
    demo.add_argument("--seed", type=int, default=None, metavar="N", help="RL data order and sampling seed (default 0)")
    demo.add_argument(
        "--steps", type=int, default=None, metavar="N", help="RL steps through main_ppo, per arm (default 15)"
    )
    demo.add_argument("--out", default="crpo_demo", metavar="DIR", help="output folder (default ./crpo_demo)")
    demo.add_argument(
        "--sft-steps", type=int, default=None, metavar="N", help="cold-start optimizer steps (default 600)"
    )
    demo.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="kill main_ppo after S seconds (default 1200)"
    )
    demo.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra hydra override for main_ppo (repeatable), e.g. --override actor_rollout_ref.rollout.n=8",
    )
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    from verl_crpo.demo_cli import run_demo_command

    return run_demo_command(args, _console)


def _validity(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from verl_crpo.validity import FAMILIES, HELD_OUT_FAMILIES, held_out_ids, load_vignettes, validity_report

    vignettes = load_vignettes()
    held = held_out_ids(vignettes)
    parts = ("tuning", "held_out") if args.part == "both" else (args.part,)
    chosen = [v for v in vignettes if args.part == "both" or (v["id"] in held) == (args.part == "held_out")]
    report = validity_report(chosen, progress=lambda it: tqdm(it, desc="validity", leave=False), held_out=held)
    # The bar applies to the held-out part: the rules were tuned on the other.
    gate = report["held_out"] if "held_out" in parts else report["tuning"]
    ok = all(tally.share >= args.min_share for tally in gate.values() if tally.total)
    if args.json:
        rows = {
            part: {
                key: {"held": t.held, "total": t.total, "share": t.share, "failures": t.failures}
                for key, t in report[part].items()
            }
            for part in parts
        }
        counts = {"vignettes": len(vignettes), "held_out_vignettes": len(held)}
        json.dump({**counts, "parts": rows, "min_share": args.min_share, "ok": ok}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0 if ok else 1
    title = (
        f"Reward validity on {len(vignettes)} vignettes ({len(held)} held out) and {len(FAMILIES)} hack families "
        f"({len(HELD_OUT_FAMILIES)} held out): orderings that hold"
    )
    table = Table(title=title)
    table.add_column("hack family / honest style", no_wrap=True)
    table.add_column("objectives")
    for part in parts:
        table.add_column(part.replace("_", "-"), justify="right")
    for key in report[parts[0]]:
        family = FAMILIES.get(key)
        objectives = "/".join(family.objectives) if family else "all (credit and orderings)"
        name = f"{key} (held out)" if key in HELD_OUT_FAMILIES else key
        cells = []
        for part in parts:
            t = report[part][key]
            style = "green" if t.share >= args.min_share else "bold red"
            cells.append(f"{t.held}/{t.total} [{style}]{t.share:.0%}[/]" if t.total else "-")
        table.add_row(name, objectives, *cells)
    _console.print(table)
    if args.failures:
        for part in parts:
            for key, t in report[part].items():
                for label in t.failures:
                    _console.print(f"  {part} {key}: {label}")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``verl-crpo`` (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(
        prog="verl-crpo",
        description="CRPO (Clinical-Objective Relative Policy Optimization) for verl.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="show what the plugin registered (exit 1 if it failed); with -- ARGS, validate a main_ppo command line",
        description="Without arguments: import verl as every verl process does, show what the plugin registered "
        "and whether each trainer hook installed; exit 1 with the reason if not. With `-- ARGS` (the arguments of "
        "`python -m verl.trainer.main_ppo`, its --config-path/--config-name included): compose the config as "
        "main_ppo would, run verl's checks and ours (the reward manager's too, which verl runs only after Ray has "
        "started), print what would run and exit 1 with the fix on a mistake. Nothing starts: no Ray, no model.",
    )
    check.add_argument(
        "main_ppo_args",
        nargs=argparse.REMAINDER,
        metavar="-- ARGS",
        help="main_ppo's arguments, e.g. -- --config-path=$PWD/recipes/crpo/config --config-name=crpo_trainer",
    )
    check.set_defaults(run=_check)

    _add_demo_parser(commands)

    score = commands.add_parser(
        "score", help="score clinical responses objective by objective (--sample: the built-in ones)"
    )
    score.add_argument(
        "--sample",
        action="store_true",
        help="score the eight built-in responses (grounded, hedging, invented labs, ...)",
    )
    score.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one objective weight (repeatable), e.g. --weight format=1; defaults: " + _DEFAULT_WEIGHTS_TEXT,
    )
    score.add_argument("--json", action="store_true", help="print the scores as JSON instead of a table")
    score.set_defaults(run=_score)

    validity = commands.add_parser(
        "validity",
        help="check that the reward pays clinical reasoning above templates, per hack family and honest style",
        description="Scores the built-in validity vignettes (honest responses in seven styles and an honest wrong "
        "answer; one generated response per hack family) and prints, per family and per honest style, the share "
        "of orderings that hold, for the tuning part and the held-out part (vignettes and families the rules were "
        "never tuned on). Exit 1 if any family or style of the held-out part is below --min-share.",
    )
    validity.add_argument(
        "--min-share",
        type=float,
        default=0.95,
        metavar="X",
        help="least share of orderings per family and style in the held-out part (default 0.95)",
    )
    validity.add_argument(
        "--part",
        choices=("both", "tuning", "held_out"),
        default="both",
        help="which part to score (default both; develop rules on 'tuning' only, or the held-out part means nothing)",
    )
    validity.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    validity.add_argument("--failures", action="store_true", help="list the orderings that do not hold")
    validity.set_defaults(run=_validity)

    from verl_crpo.data_cli import add_data_commands  # prepare, sft-data

    add_data_commands(commands)

    from verl_crpo.evaluation_cli import add_evaluation_commands  # generate, evaluate
    from verl_crpo.study_cli import add_study_command

    add_evaluation_commands(commands)
    add_study_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``verl-crpo`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
