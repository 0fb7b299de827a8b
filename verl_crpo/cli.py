"""The ``verl-crpo`` command line.

Subcommands:
    check   import verl the way every verl process does and show what the plugin registered;
            exit 1, with the real import error, if registration did not happen.
    demo    score the built-in sample of clinical responses and print every objective.
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

# Rich falls back to 80 columns off a terminal (CI logs, pipes): too narrow for the objective table.
_console = Console(width=max(Console().width, 110))


def _check(args: argparse.Namespace) -> int:
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
        table.add_row(registry, entry)
    _console.print(table)
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


def _demo(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``verl-crpo`` (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(
        prog="verl-crpo",
        description="CRPO (Clinical-Objective Relative Policy Optimization) for verl.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check", help="show the verl version and what the plugin registered; exit 1 if registration failed"
    )
    check.set_defaults(run=_check)

    demo = commands.add_parser("demo", help="score the built-in sample of clinical responses, objective by objective")
    demo.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one objective weight (repeatable), e.g. --weight format=1; defaults: accuracy 10, "
        "faithfulness 1, comprehensiveness 1, format 0",
    )
    demo.add_argument("--json", action="store_true", help="print the scores as JSON instead of a table")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``verl-crpo`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
