"""Released benchmark files to verl RL parquet: ``verl-crpo prepare``.

Pipeline:

1. Sources: each ``--input`` file (JSON lines; its split from its name unless ``split`` is given), or
   every split of a Hugging Face dataset (``hf``). Outputs are checked before anything is read: an
   existing one stops the run unless ``overwrite``.
2. MedMCQA only: the base of ``cop`` is established per source (:func:`~verl_crpo.data.releases.infer_cop_base`)
   or taken from ``cop_base``.
3. Every record becomes a row in the layout of DESIGN.md section 3 (prompt from
   :mod:`verl_crpo.data.prompt`) and is validated: non-empty case, at least two options, the gold
   letter among them, and accepted by the reward's own row check
   (:func:`verl_crpo.rewards.case.build_case`). A bad record stops the run naming file and line, or,
   with ``skip_invalid``, is skipped and counted.
4. One parquet per split in ``out_dir``; for MedQA train also the paper's two disjoint halves,
   ``train_coldstart.parquet`` (SFT cold start) and ``train_rl.parquet`` (RL), drawn with ``seed``.
   Every file is written to a temporary name and renamed, so an interrupt leaves no partial file.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_crpo.data.prompt import prompt_messages
from verl_crpo.data.releases import DATASETS, SPLITS, InvalidRecord, infer_cop_base, parse_record, split_from_name
from verl_crpo.files import atomic_write, refuse_existing
from verl_crpo.rewards.case import build_case

__all__ = [
    "HALVES",
    "PrepareResult",
    "SplitSummary",
    "prepare",
    "split_halves",
    "write_parquet_atomic",
]

logger = logging.getLogger(__name__)

# The paper's cold start distils reasoning on half of MedQA train and runs RL on the other half.
HALVES = ("train_coldstart", "train_rl")

Track = Callable[[Iterable[Any], int, str], Iterable[Any]]


@dataclass
class SplitSummary:
    """What one split's parquet holds.

    Attributes:
        rows: rows written.
        options: number of options per row -> how many rows have it.
        skipped: records skipped as invalid (``skip_invalid``).
        path: the parquet written.
    """

    rows: int = 0
    options: collections.Counter = field(default_factory=collections.Counter)
    skipped: int = 0
    path: str = ""


@dataclass
class PrepareResult:
    """The outcome of :func:`prepare`.

    Attributes:
        splits: output name (``train``, ``dev``, ``test``, and for MedQA ``train_coldstart``,
            ``train_rl``) -> its summary.
        skips: one ``"source:line: reason"`` per skipped record.
        cop_bases: MedMCQA: source -> ``(base, how it was established)``.
    """

    splits: dict[str, SplitSummary]
    skips: list[str]
    cop_bases: dict[str, tuple[int, str]]


@dataclass
class _Source:
    label: str
    split: str
    records: list[tuple[int, Any]]  # (line, record); a line that is not JSON holds an InvalidRecord


class _Malformed:
    def __init__(self, error: str) -> None:
        self.error = error


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                records.append((number, _Malformed(f"not valid JSON ({error.msg} at column {error.colno})")))
    return records


def _output_names(dataset: str, splits: Iterable[str]) -> list[str]:
    names = sorted(set(splits), key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))
    if dataset == "medqa" and "train" in names:
        names += list(HALVES)
    return names


def _check_outputs(out_dir: Path, names: Sequence[str], overwrite: bool) -> None:
    refuse_existing((out_dir / f"{name}.parquet" for name in names), overwrite)


def _file_sources(inputs: Sequence[str | os.PathLike], split: str | None) -> list[tuple[Path, str]]:
    sources = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ValueError(f"input file not found: {path}; pass the release's JSON-lines files with --input")
        name_split = split or split_from_name(path)
        if name_split is None:
            raise ValueError(
                f"cannot tell the split of {path} from its name (train, dev/validation or test); pass --split"
            )
        sources.append((path, name_split))
    return sources


def _hf_sources(name: str, config: str | None, split: str | None) -> list[_Source]:
    try:
        import datasets
    except ImportError:
        raise ValueError("--hf needs the `datasets` library: pip install datasets") from None
    try:
        loaded = datasets.load_dataset(name, config)
    except Exception as error:  # the hub, a missing config, no network: all reach the user the same way
        raise ValueError(
            f"could not load the Hugging Face dataset {name!r}"
            f"{f' (config {config!r})' if config else ''}: {error}; download the release files and pass --input"
        ) from error
    sources = []
    for hf_split, table in loaded.items():
        canonical = split_from_name(hf_split) or hf_split
        if split is not None and canonical != split:
            continue
        sources.append(_Source(f"{name}[{hf_split}]", canonical, [(i, dict(r)) for i, r in enumerate(table, 1)]))
    if not sources:
        raise ValueError(f"{name!r} has no split {split!r}; its splits are {', '.join(loaded)}")
    return sources


def _cop_base(source: _Source, stated: int | None) -> tuple[int | None, str]:
    records = [r for _, r in source.records if not isinstance(r, _Malformed)]
    has_answers = any(isinstance(r, Mapping) and r.get("cop") not in (None, "", -1, "-1") for r in records)
    if not has_answers:
        raise ValueError(
            f"{source.label}: no record has a gold answer ('cop'); MedMCQA's test split is released without "
            "answers, so it cannot be a reward dataset: use dev (the paper's 4,183 items) instead"
        )
    if stated is not None:
        return stated, "stated with --cop-base"
    base, why = infer_cop_base(records)
    if base is None:
        raise ValueError(
            f"{source.label}: cannot establish whether 'cop' counts from 0 or 1 ({why}); "
            "check a few rows against their explanation and pass --cop-base 0 or --cop-base 1"
        )
    return base, why


def _row(dataset: str, record: Any, cop_base: int | None, split: str, index: int) -> dict[str, Any]:
    if isinstance(record, _Malformed):
        raise InvalidRecord(record.error)
    item = parse_record(dataset, record, cop_base)
    if len(item.options) < 2:
        raise InvalidRecord(f"a question needs at least two options, got {len(item.options)}")
    if item.answer is None:
        raise InvalidRecord("no gold answer")
    if item.answer not in item.options:
        raise InvalidRecord(f"gold letter {item.answer!r} is not among the options {', '.join(item.options)}")
    extra_info = {"question": item.question, "options": item.options, "split": split, "index": index}
    try:
        build_case(dataset, item.answer, extra_info, need_question=True)  # the reward reads the row this way
    except ValueError as error:
        raise InvalidRecord(str(error)) from None
    return {
        "data_source": dataset,
        "prompt": prompt_messages(item.question, item.options),
        "ability": "medical",
        "reward_model": {"style": "rule", "ground_truth": item.answer},
        "extra_info": extra_info,
    }


def split_halves(n: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """Two disjoint halves of ``range(n)`` drawn with ``seed``, each in ascending order: ``(cold start, RL)``.

    The cold-start half has ``n // 2`` positions, the RL half the rest.

    Example:
        >>> cold, rl = split_halves(5, seed=0)
        >>> len(cold), len(rl), sorted(cold + rl) == list(range(5)), split_halves(5, seed=0) == (cold, rl)
        (2, 3, True, True)
    """
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return sorted(order[: n // 2]), sorted(order[n // 2 :])


def write_parquet_atomic(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> str:
    """Write ``rows`` as a parquet at ``path`` atomically (:func:`verl_crpo.files.atomic_write`)."""
    import pandas as pd

    return atomic_write(path, lambda temporary: pd.DataFrame(list(rows)).to_parquet(temporary, index=False))


def prepare(
    dataset: str,
    out_dir: str | os.PathLike,
    inputs: Sequence[str | os.PathLike] = (),
    *,
    hf: str | None = None,
    hf_config: str | None = None,
    split: str | None = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
    cop_base: int | None = None,
    seed: int = 0,
    track: Track | None = None,
) -> PrepareResult:
    """Convert release files (``inputs``) or a Hugging Face dataset (``hf``) into verl RL parquets in ``out_dir``.

    Args:
        dataset: ``medqa``, ``medmcqa`` or ``medxpertqa`` (the rows' ``data_source``).
        out_dir: folder for ``<split>.parquet`` (created if missing).
        inputs: JSON-lines files as released; each file's split comes from its name.
        hf: a Hugging Face dataset name or local dataset folder, instead of ``inputs``.
        hf_config: the dataset's configuration, e.g. ``Text`` for MedXpertQA.
        split: the split of every input (``train``, ``dev``, ``test``), instead of the names.
        overwrite: replace existing outputs (otherwise an existing one is an error).
        skip_invalid: skip and count invalid records instead of stopping at the first.
        cop_base: MedMCQA: ``cop`` counts from 0 or 1 (otherwise established from the data).
        seed: the seed of MedQA train's two halves.
        track: wraps each source's records, e.g. with a progress bar: ``track(records, total, label)``.

    Raises:
        ValueError: a bad argument, an existing output, an unknown split, an unestablished cop base,
            or an invalid record (naming source and line) without ``skip_invalid``.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if bool(inputs) == bool(hf):
        raise ValueError("give either input files (--input) or a Hugging Face dataset (--hf), not both or neither")
    if split is not None:
        split = split_from_name(split) or split
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)} (validation means dev)")
    if cop_base not in (None, 0, 1):
        raise ValueError(f"cop_base must be 0 or 1, got {cop_base!r}")
    if cop_base is not None and dataset != "medmcqa":
        raise ValueError("--cop-base applies to medmcqa only")
    out = Path(out_dir).expanduser()
    track = track or (lambda records, total, label: records)

    if hf:
        sources = _hf_sources(hf, hf_config, split)
        _check_outputs(out, _output_names(dataset, (s.split for s in sources)), overwrite)
    else:
        files = _file_sources(inputs, split)
        _check_outputs(out, _output_names(dataset, (s for _, s in files)), overwrite)
        sources = [_Source(str(path), name_split, _read_jsonl(path)) for path, name_split in files]

    rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    summaries: dict[str, SplitSummary] = collections.defaultdict(SplitSummary)
    skips: list[str] = []
    cop_bases: dict[str, tuple[int, str]] = {}
    for source in sources:
        base = None
        if dataset == "medmcqa":
            base, why = _cop_base(source, cop_base)
            cop_bases[source.label] = (base, why)
            logger.info("%s: cop counts from %d (%s)", source.label, base, why)
        split_rows, summary = rows[source.split], summaries[source.split]
        for line, record in track(source.records, len(source.records), source.label):
            try:
                row = _row(dataset, record, base, source.split, len(split_rows))
            except InvalidRecord as error:
                message = f"{source.label}:{line}: {error}"
                if not skip_invalid:
                    raise ValueError(f"{message}; fix or remove the record, or pass --skip-invalid") from None
                logger.debug("skipped %s", message)  # the caller gets every skip in the result
                skips.append(message)
                summary.skipped += 1
                continue
            split_rows.append(row)
            summary.rows += 1
            summary.options[len(row["extra_info"]["options"])] += 1

    for name, summary in summaries.items():
        if not summary.rows:
            raise ValueError(f"split {name!r}: no valid record to write ({summary.skipped} skipped)")
    outputs = dict(rows)
    if dataset == "medqa" and "train" in outputs:
        train = outputs["train"]
        for name, positions in zip(HALVES, split_halves(len(train), seed), strict=True):
            outputs[name] = [train[i] for i in positions]
            summaries[name] = SplitSummary(
                len(positions), collections.Counter(len(r["extra_info"]["options"]) for r in outputs[name])
            )

    out.mkdir(parents=True, exist_ok=True)
    for name in _output_names(dataset, rows):
        summaries[name].path = write_parquet_atomic(outputs[name], out / f"{name}.parquet")
        logger.info("wrote %d rows to %s", summaries[name].rows, summaries[name].path)
    ordered = {name: summaries[name] for name in _output_names(dataset, rows)}
    return PrepareResult(ordered, skips, cop_bases)
