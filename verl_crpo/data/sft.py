"""Teacher responses to cold-start SFT data: ``verl-crpo sft-data``.

The paper's optional cold start distils reasoning traces by SFT on half of MedQA train
(``train_coldstart.parquet`` from ``verl-crpo prepare medqa``). Given that RL parquet and a file of
teacher responses (JSON lines ``{"index": ..., "response": ...}``, matched to rows by
``extra_info.index``), :func:`build_sft_rows` keeps only the responses our reward scores correct
(accuracy 1) and well-formed (format 1), each as one chat in verl's multi-turn SFT layout: a
``messages`` column holding the row's prompt and the response as the assistant turn. Every other
response is dropped with one reason, counted.
"""

from __future__ import annotations

import collections
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_crpo.data.parquet import to_plain
from verl_crpo.data.prepare import write_parquet_atomic
from verl_crpo.rewards import compute_score

__all__ = ["DROP_REASONS", "SftDataResult", "build_sft_rows", "sft_data"]

logger = logging.getLogger(__name__)

# Why a response is dropped, in the order they are checked (a response gets the first that applies).
DROP_REASONS = {
    "unreadable": "the line is not a JSON object with an 'index' and a string 'response'",
    "unknown index": "no dataset row has this extra_info.index",
    "not well-formed": "format below 1: no <dx>/<conclusion> structure, text outside it, or not one boxed answer",
    "incorrect": "the boxed answer is not the gold letter",
}


@dataclass
class SftDataResult:
    """The outcome of :func:`sft_data`.

    Attributes:
        kept: responses written as SFT chats.
        dropped: reason (a key of :data:`DROP_REASONS`) -> responses dropped for it.
        examples: reason -> the first few ``"line N (index I)"`` dropped for it.
        path: the parquet written.
    """

    kept: int = 0
    dropped: collections.Counter = field(default_factory=collections.Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    path: str = ""


def build_sft_rows(
    rows: Iterable[dict[str, Any]], responses: Iterable[tuple[int, Any]], result: SftDataResult
) -> list[dict[str, Any]]:
    """The SFT chats of the ``responses`` (``(line, record)``) our reward scores correct and well-formed.

    ``rows`` are RL rows (DESIGN.md section 3); drops are counted in ``result``.

    Example:
        >>> from verl_crpo.data.prompt import prompt_messages
        >>> info = {"question": "A 30-year-old man has fever, productive cough and right basal crackles.",
        ...         "options": {"A": "Asthma", "B": "Pneumonia"}, "split": "train", "index": 7}
        >>> row = {"data_source": "medqa", "prompt": prompt_messages(info["question"], info["options"]),
        ...        "reward_model": {"ground_truth": "B"}, "extra_info": info}
        >>> good = ("<dx>Fever, productive cough and basal crackles point to pneumonia. Asthma is unlikely "
        ...         "because there is no wheeze.</dx><conclusion>Fever with crackles: pneumonia. "
        ...         "Final answer: \\\\boxed{B}</conclusion>")
        >>> result = SftDataResult()
        >>> chats = build_sft_rows([row], [(1, {"index": 7, "response": good}), (2, {"index": 7, "response": "B"})],
        ...                        result)
        >>> len(chats), [m["role"] for m in chats[0]["messages"]], dict(result.dropped)
        (1, ['user', 'assistant'], {'not well-formed': 1})
    """
    by_index = {}
    for row in rows:
        row = to_plain(row)
        by_index[row["extra_info"]["index"]] = row
    chats = []
    for line, record in responses:
        reason = None
        index = record.get("index") if isinstance(record, dict) else None
        if not isinstance(record, dict) or index is None or not isinstance(record.get("response"), str):
            reason = "unreadable"
        elif index not in by_index:
            reason = "unknown index"
        else:
            row = by_index[index]
            scores = compute_score(
                row["data_source"], record["response"], row["reward_model"]["ground_truth"], row["extra_info"]
            )
            if scores["format"] < 1.0:
                reason = "not well-formed"
            elif scores["accuracy"] < 1.0:
                reason = "incorrect"
        if reason is not None:
            result.dropped[reason] += 1
            examples = result.examples.setdefault(reason, [])
            if len(examples) < 5:
                examples.append(f"line {line} (index {index})")
            continue
        chats.append({"messages": [*row["prompt"], {"role": "assistant", "content": record["response"]}]})
        result.kept += 1
    return chats


def _read_responses(path: Path) -> list[tuple[int, Any]]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except json.JSONDecodeError:
                    records.append((number, None))
    return records


def sft_data(
    dataset: str | os.PathLike,
    responses: str | os.PathLike,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
    track: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
) -> SftDataResult:
    """Write the SFT parquet ``out`` from an RL parquet and teacher responses (see the module docstring).

    Raises:
        ValueError: a missing input, an existing ``out`` without ``overwrite``, dataset rows with
            duplicate ``extra_info.index``, or no response kept.
    """
    import pandas as pd

    dataset, responses, out = Path(dataset).expanduser(), Path(responses).expanduser(), Path(out).expanduser()
    for path, flag in ((dataset, "--dataset"), (responses, "--responses")):
        if not path.is_file():
            raise ValueError(f"{flag} file not found: {path}")
    if out.exists() and not overwrite:
        raise ValueError(f"output already exists: {out}; pass --overwrite to replace it")
    rows = pd.read_parquet(dataset).to_dict(orient="records")
    indices = [row["extra_info"]["index"] for row in rows]
    if len(set(indices)) != len(indices):
        raise ValueError(f"{dataset}: extra_info.index repeats, so responses cannot be matched to rows")
    records = _read_responses(responses)
    result = SftDataResult()
    tracked = track(records, len(records), str(responses)) if track else records
    chats = build_sft_rows(rows, tracked, result)
    for reason, count in result.dropped.items():
        logger.info("dropped %d response(s): %s (%s)", count, reason, DROP_REASONS[reason])
    if not chats:
        raise ValueError(
            f"no response in {responses} is correct and well-formed ({dict(result.dropped)}); nothing to write"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    result.path = write_parquet_atomic(chats, out)
    return result
