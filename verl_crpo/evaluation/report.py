"""Score runs, put them side by side with bootstrap intervals, and write the report files.

``evaluate_runs`` writes three files into its output folder, each atomically, and refuses to
replace any of them unless asked:

* ``report.json``: ``{"runs": {...}, "paired": [...]}``.

  - ``runs[<name>]``: ``{"n": responses, "n_items": distinct items, "metrics": {<metric>:
    {"mean", "ci_low", "ci_high", "n"}}, "by_source": {<data_source>: {"n", "n_items",
    "metrics"}}}``; a metric's ``n`` counts its present values (a judge score may be missing),
    and with none present its mean and interval are ``null``.
  - ``paired``: one entry per pair of runs, in the given order (the first with the second, the
    first with the third, ..., the second with the third, ...): ``{"a": <name>, "b": <name>,
    "difference": "b - a", "common_items": k, "metrics": {<metric>: {"mean", "ci_low",
    "ci_high", "n"}}}``, the mean over the ``n`` common items (items both runs answered, with a
    present value in both) of run b's per-item mean minus run a's.
* ``report.md``: per run a table of every metric overall and per data source, then a table of
  the paired differences; values read ``0.62 [0.55, 0.69]``.
* ``report.png``: one panel per metric, the runs side by side, each a bar with its interval.

Intervals are percentile bootstrap intervals over items (:mod:`verl_crpo.evaluation.stats`).
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verl_crpo.evaluation.proxies import BEHAVIOUR_PHRASES, METRICS, response_metrics
from verl_crpo.evaluation.runs import item_key
from verl_crpo.evaluation.stats import bootstrap_mean, paired_difference
from verl_crpo.files import atomic_write, atomic_write_text, refuse_existing

__all__ = ["LEVEL", "REPORT_FILES", "evaluate_runs"]

logger = logging.getLogger(__name__)

LEVEL = 0.95
REPORT_FILES = ("report.json", "report.md", "report.png")
# Metrics read as shares in [0, 1]: their panels share that axis.
_SHARES = frozenset({"accuracy", "format", "faithfulness", "comprehensiveness", "distractor_rejection"})
_UNITS = {
    "evidence_citation_density": "findings per 100 words",
    "invented_findings": "per response",
    **dict.fromkeys(BEHAVIOUR_PHRASES, "phrases per response"),
}


def evaluate_runs(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    extra_metrics: Mapping[str, Sequence[Mapping[str, float | None] | None]] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every response of every run and write ``report.json``, ``report.md`` and ``report.png``.

    Args:
        runs: run name to its records (:mod:`verl_crpo.evaluation.runs`), in report order.
        out_dir: folder for the three report files (created if needed).
        overwrite: replace existing report files; otherwise any of them existing is an error,
            raised before anything is scored or written.
        extra_metrics: run name to one mapping per record, aligned with that run's records, of
            further per-response metrics (the LLM judge's scores). ``None`` (for a value or a
            whole record) is missing: excluded, never counted as 0.
        seed: seed of every bootstrap.
        n_boot: bootstrap resamples per interval.
        progress: show a progress bar while scoring.

    Returns:
        The report, as written to ``report.json`` (schema in the module docstring).

    Raises:
        ValueError: an output exists and ``overwrite`` is false; a run is empty; a record is
            malformed (the message names the run and the record's row); ``extra_metrics`` names
            an unknown run, is not aligned with its records, holds a non-numeric or non-finite
            value, or reuses the name of one of :data:`~verl_crpo.evaluation.proxies.METRICS`.
    """
    paths = [Path(out_dir) / name for name in REPORT_FILES]
    refuse_existing(paths, overwrite)
    extra_metrics = _check_inputs(runs, extra_metrics or {})
    tables = _score(runs, extra_metrics, progress)
    names = _metric_names(extra_metrics)
    options = {"n_boot": n_boot, "seed": seed, "level": LEVEL}
    report = {
        "runs": {run: _summarise(table, names, options) for run, table in tables.items()},
        "paired": _paired(tables, names, options),
    }
    atomic_write_text(paths[0], json.dumps(report, indent=2, allow_nan=False) + "\n")
    atomic_write_text(paths[1], _markdown(report, names, n_boot, seed))
    atomic_write(paths[2], lambda temporary: _figure(report, names).savefig(temporary, format="png", dpi=110))
    logger.info("wrote %s", ", ".join(map(str, paths)))
    return report


def _check_inputs(runs, extra_metrics) -> dict[str, list[Mapping[str, float | None]]]:
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("give at least one run: a mapping of run name to its records")
    for name, records in runs.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"run names must be non-empty strings, got {name!r}")
        if len(records) == 0:
            raise ValueError(f"run {name!r} has no records; check its file")
    checked = {}
    for name, rows in extra_metrics.items():
        if name not in runs:
            raise ValueError(f"extra_metrics names run {name!r}, which is not among the runs {list(runs)}")
        if len(rows) != len(runs[name]):
            raise ValueError(
                f"extra_metrics[{name!r}] has {len(rows)} entries for {len(runs[name])} records; "
                "give one mapping per record, in the same order"
            )
        checked[name] = [_check_extra(name, i, row) for i, row in enumerate(rows)]
    return checked


def _check_extra(run: str, i: int, row: Any) -> Mapping[str, float | None]:
    if row is None:
        return {}
    if not isinstance(row, Mapping):
        raise ValueError(f"extra_metrics[{run!r}][{i}] must be a mapping of metric name to value, got {row!r}")
    for metric, value in row.items():
        if metric in METRICS:
            raise ValueError(
                f"extra_metrics[{run!r}][{i}] reuses the name {metric!r} of a built-in metric; "
                f"prefix it (e.g. 'judge_{metric}')"
            )
        ok = value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value))
        if not ok:
            raise ValueError(
                f"extra_metrics[{run!r}][{i}][{metric!r}] must be a finite number or None (missing), got {value!r}"
            )
    return row


def _metric_names(extra_metrics) -> list[str]:
    extra = dict.fromkeys(metric for rows in extra_metrics.values() for row in rows for metric in row)
    return [*METRICS, *extra]


def _score(runs, extra_metrics, progress: bool) -> dict[str, dict[str, Any]]:
    """Per run: per-metric value arrays (NaN when missing), item keys and data sources."""
    from tqdm.auto import tqdm

    names = _metric_names(extra_metrics)
    tables = {}
    with tqdm(total=sum(len(r) for r in runs.values()), desc="scoring", unit="response", disable=not progress) as bar:
        for run, records in runs.items():
            extra = extra_metrics.get(run)
            rows = []
            for i, record in enumerate(records):
                try:
                    values = response_metrics(record)
                except ValueError as err:
                    raise ValueError(f"run {run!r}: {err}") from None
                if extra is not None:
                    values.update((k, np.nan if v is None else float(v)) for k, v in extra[i].items())
                rows.append(values)
                bar.update()
            tables[run] = {
                "values": {m: np.array([row.get(m, np.nan) for row in rows], dtype=float) for m in names},
                "items": [item_key(record) for record in records],
                "sources": np.array([str(record.get("data_source")) for record in records], dtype=object),
            }
    return tables


def _summarise(table: Mapping[str, Any], names: Sequence[str], options: Mapping[str, Any]) -> dict[str, Any]:
    summary = _group(table, names, np.ones(len(table["items"]), dtype=bool), options)
    summary["by_source"] = {
        source: _group(table, names, table["sources"] == source, options)
        for source in sorted(set(table["sources"].tolist()))
    }
    return summary


def _group(table, names, mask: np.ndarray, options) -> dict[str, Any]:
    items = [item for item, keep in zip(table["items"], mask.tolist(), strict=True) if keep]
    metrics = {}
    for name in names:
        result = bootstrap_mean(table["values"][name][mask], clusters=items, **options)
        metrics[name] = {key: result[key] for key in ("mean", "ci_low", "ci_high", "n")}
    return {"n": int(mask.sum()), "n_items": len(set(items)), "metrics": metrics}


def _paired(tables, names, options) -> list[dict[str, Any]]:
    runs = list(tables)
    out = []
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            ta, tb = tables[a], tables[b]
            common = len(set(ta["items"]) & set(tb["items"]))
            if not common:
                logger.warning(
                    "runs %r and %r share no item: no paired difference (were they generated on the same data?)", a, b
                )
            metrics = {
                name: paired_difference(ta["values"][name], tb["values"][name], ta["items"], tb["items"], **options)
                for name in names
            }
            out.append({"a": a, "b": b, "difference": "b - a", "common_items": common, "metrics": metrics})
    return out


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    return "0.00" if text == "-0.00" else text


def _cell(entry: Mapping[str, Any], total: int | None = None) -> str:
    if entry["mean"] is None:
        return "missing"
    text = f"{_number(entry['mean'])} [{_number(entry['ci_low'])}, {_number(entry['ci_high'])}]"
    # Say when some values are missing (a judge score), so a mean over fewer responses shows.
    return text if total is None or entry["n"] == total else f"{text} (n={entry['n']})"


def _markdown(report: Mapping[str, Any], names: Sequence[str], n_boot: int, seed: int) -> str:
    lines = [
        "# Evaluation report",
        "",
        f"Mean per response with a {LEVEL:.0%} percentile bootstrap interval over items ({n_boot} resamples, "
        f"seed {seed}): `mean [low, high]`. n: responses; items: distinct benchmark items. A metric shown with "
        "its own n had missing values, left out. `missing`: no value at all.",
    ]
    for run, summary in report["runs"].items():
        columns = [("overall", summary), *summary["by_source"].items()]
        lines += ["", f"## Run `{run}`: {summary['n']} responses, {summary['n_items']} items", ""]
        lines.append(
            "| metric | " + " | ".join(f"{label} (n={s['n']}, items={s['n_items']})" for label, s in columns) + " |"
        )
        lines.append("|---" * (len(columns) + 1) + "|")
        for name in names:
            lines.append(f"| {name} | " + " | ".join(_cell(s["metrics"][name], s["n"]) for _, s in columns) + " |")
    if report["paired"]:
        pairs = report["paired"]
        lines += ["", "## Paired differences", "", "Per common item, the second run's mean minus the first's.", ""]
        lines.append(
            "| metric | "
            + " | ".join(f"`{p['b']}` - `{p['a']}` ({p['common_items']} common items)" for p in pairs)
            + " |"
        )
        lines.append("|---" * (len(pairs) + 1) + "|")
        for name in names:
            lines.append(
                f"| {name} | " + " | ".join(_cell(p["metrics"][name], p["common_items"]) for p in pairs) + " |"
            )
    return "\n".join(lines) + "\n"


def _figure(report: Mapping[str, Any], names: Sequence[str]):
    # The object API with the Agg canvas: no pyplot state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = list(report["runs"])
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(3.6 * columns, 2.8 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    x = np.arange(len(runs))
    for k, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, k + 1)
        entries = [report["runs"][run]["metrics"][name] for run in runs]
        for i, entry in enumerate(entries):
            if entry["mean"] is None:
                axes.text(i, 0, "missing", ha="center", va="bottom", fontsize=7)
                continue
            error = [[max(0.0, entry["mean"] - entry["ci_low"])], [max(0.0, entry["ci_high"] - entry["mean"])]]
            axes.bar(i, entry["mean"], color=colours[i], yerr=error, capsize=4, width=0.6)
            axes.annotate(
                _number(entry["mean"]),
                (i, entry["ci_high"]),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
        axes.set_title(name, fontsize=9)
        axes.set_xticks(x, runs, rotation=20 if len(runs) > 2 else 0, fontsize=8)
        axes.set_xlim(-0.6, len(runs) - 0.4)
        axes.tick_params(axis="y", labelsize=8)
        axes.set_ylabel(_UNITS.get(name, ""), fontsize=8)
        lows = [e["ci_low"] for e in entries if e["mean"] is not None]
        if name in _SHARES:
            axes.set_ylim(0, 1.12)
        elif all(low >= 0 for low in lows):
            # Counts and rates start at 0; an all-zero panel still needs a visible axis.
            top = max([e["ci_high"] for e in entries if e["mean"] is not None] + [0.0])
            axes.set_ylim(0, 1.15 * top if top > 0 else 1.0)
    figure.suptitle(f"Mean per response, {LEVEL:.0%} bootstrap intervals", fontsize=10)
    return figure
