"""Run files: the responses of one model to one benchmark split, one record per response.

A run is a JSON-lines file (``.jsonl``, ``.json``, ``.ndjson``) or a parquet file (``.parquet``)
whose records hold the data row they answer and the response:

* ``data_source`` (str), ``reward_model`` (a mapping with a non-empty string ``ground_truth``) and
  ``extra_info`` (a mapping with ``question`` text and ``options``, letter to text; usually
  ``index`` and ``split`` too): copied from the row, as in DESIGN.md section 3;
* ``response`` (str): the model's answer, scored as it is;
* ``sample`` (int >= 0): which of the ``n`` samples of the row this is, ``0 .. n-1``;
* ``row`` (int >= 0, optional): the row's position in the data file. ``verl-crpo generate``
  writes it to resume and to keep the output in data order; runs made elsewhere may leave it out.

Other keys are kept and ignored. :func:`read_run` checks every record and names the line (JSON
lines, counted from 1) or row (parquet, counted from 0) of the first bad one; nothing is dropped
or scored 0 silently. Records of two runs answer the same benchmark item when their
:func:`item_key` is equal.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verl_crpo.data.parquet import to_plain

__all__ = [
    "JSONL_SUFFIXES",
    "PARQUET_SUFFIXES",
    "check_record",
    "item_key",
    "json_lines",
    "read_run",
    "record_from_row",
    "run_name",
]

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)


def _options(options: Any, where: str) -> dict[str, str]:
    # Parquet may store options as a map (a list of pairs) or as a struct over the union of every
    # row's letters, which gives a 4-option row an "E": None: both read back as the row's own dict.
    if isinstance(options, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in options):
        options = dict(options)
    if not isinstance(options, Mapping):
        raise ValueError(f"{where}: extra_info.options must be a mapping of letters to option text")
    options = {k: v for k, v in options.items() if v is not None}
    if not options or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise ValueError(f"{where}: extra_info.options must be a non-empty mapping of letters to option text")
    return options


def _mapping(record: Mapping, key: str, where: str) -> dict:
    value = record.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: {key!r} must be a mapping, got {type(value).__name__}")
    # A parquet struct column holds the union of every row's keys: a key a row lacks reads back as None.
    return {k: v for k, v in value.items() if v is not None}


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_record(record: Any, where: str) -> dict[str, Any]:
    """Check one run record against the contract (module docstring); return it as plain Python.

    ``where`` names the record in error messages (for example ``"run.jsonl line 3"``). Keys of
    ``reward_model``, ``extra_info`` and ``extra_info.options`` whose value is ``None``, and a
    ``row`` of ``None``, are dropped: parquet fills in a key that a row lacks so.

    Raises:
        ValueError: a missing or malformed field, naming ``where`` and the field.

    Example:
        >>> good = {"data_source": "medqa", "reward_model": {"ground_truth": "B"}, "response": "...",
        ...         "extra_info": {"question": "Q?", "options": {"A": "x", "B": "y", "C": None}}, "sample": 0}
        >>> check_record(good, "line 1")["extra_info"]["options"]
        {'A': 'x', 'B': 'y'}
        >>> check_record({**good, "sample": -1}, "line 2")
        Traceback (most recent call last):
        ...
        ValueError: line 2: 'sample' must be an integer >= 0 (0 .. n-1), got -1
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: a record must be a JSON object, got {type(record).__name__}")
    record = to_plain(record)
    if not isinstance(record.get("data_source"), str) or not record["data_source"]:
        raise ValueError(f"{where}: 'data_source' must be a non-empty string")
    reward_model = _mapping(record, "reward_model", where)
    if not isinstance(reward_model.get("ground_truth"), str) or not reward_model["ground_truth"].strip():
        raise ValueError(f"{where}: reward_model.ground_truth must be a non-empty string (the gold letter)")
    extra_info = _mapping(record, "extra_info", where)
    if not isinstance(extra_info.get("question"), str):
        raise ValueError(f"{where}: extra_info.question must be the case text")
    extra_info["options"] = _options(extra_info.get("options"), where)
    if not isinstance(record.get("response"), str):
        raise ValueError(f"{where}: 'response' must be a string, got {type(record.get('response')).__name__}")
    if not _count(record.get("sample")):
        raise ValueError(f"{where}: 'sample' must be an integer >= 0 (0 .. n-1), got {record.get('sample')!r}")
    if record.get("row") is None:
        record.pop("row", None)
    elif not _count(record["row"]):
        raise ValueError(
            f"{where}: 'row' must be an integer >= 0 (the row's position in the data), got {record['row']!r}"
        )
    return {**record, "reward_model": reward_model, "extra_info": extra_info}


def record_from_row(row: Mapping[str, Any], *, row_index: int, sample: int, response: str) -> dict[str, Any]:
    """The run record of ``response``, sample ``sample`` of data row number ``row_index``.

    Example:
        >>> row = {"data_source": "medqa", "prompt": [], "reward_model": {"ground_truth": "A"},
        ...        "extra_info": {"question": "Q?", "options": {"A": "x", "B": "y"}, "index": 4}}
        >>> sorted(record_from_row(row, row_index=0, sample=1, response="<dx>"))
        ['data_source', 'extra_info', 'response', 'reward_model', 'row', 'sample']
    """
    record = {
        "data_source": row.get("data_source"),
        "reward_model": row.get("reward_model"),
        "extra_info": row.get("extra_info"),
        "response": response,
        "sample": sample,
        "row": row_index,
    }
    return check_record(record, f"data row {row_index}")


def json_lines(path: str | os.PathLike) -> list[tuple[str, Any]]:
    """The JSON values of a JSON-lines file as ``(where, value)``, ``where`` naming the file and line.

    Lines are split at ``\\n`` only (a response may hold other line separators); blank lines are skipped.

    Raises:
        ValueError: a line that is not JSON, with its own message when it is the last line and has
            no newline (a writer interrupted in the middle of it).
    """
    path = Path(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    records = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{path} line {number}"
        try:
            records.append((where, json.loads(raw)))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            if number == len(lines):  # no newline after it: the writer stopped in the middle of the line
                raise ValueError(
                    f"{where} is cut short (the last line has no newline and is not valid JSON): the file was "
                    "probably written by an interrupted run; finish it (rerun `verl-crpo generate` with the same "
                    "--out) or delete that line"
                ) from None
            raise ValueError(f"{where} is not valid JSON ({error})") from None
    return records


def _read_parquet(path: Path) -> list[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a file that is not parquet
        raise ValueError(f"cannot read {path} as parquet ({error})") from None
    return [(f"{path} row {i}", record) for i, record in enumerate(table.to_pylist())]


def read_run(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and check every record of a run file (JSON lines or parquet, by suffix).

    Returns:
        The records in file order, as plain Python (see :func:`check_record`).

    Raises:
        ValueError: the file is missing, empty, of an unknown suffix, or a record breaks the
            contract (the message names the line or row); a last line cut short by an interrupted
            writer has its own message; two records answering the same item (or row, for records without
            an ``extra_info.index``) and sample.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "crpo.jsonl"
        >>> record = {"data_source": "medqa", "reward_model": {"ground_truth": "A"}, "response": "",
        ...           "extra_info": {"question": "Q?", "options": {"A": "x", "B": "y"}}, "sample": 0}
        >>> _ = path.write_text(json.dumps(record) + "\\n" + json.dumps({**record, "sample": "0"}) + "\\n")
        >>> read_run(path)
        Traceback (most recent call last):
        ...
        ValueError: ...crpo.jsonl line 2: 'sample' must be an integer >= 0 (0 .. n-1), got '0'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES + PARQUET_SUFFIXES:
        raise ValueError(
            f"cannot tell the format of {path} from its suffix: name run files *.jsonl (JSON lines) or *.parquet"
        )
    if not path.is_file():
        raise ValueError(f"run file not found: {path}")
    raw = _read_parquet(path) if suffix in PARQUET_SUFFIXES else json_lines(path)
    if not raw:
        raise ValueError(f"{path} holds no records")
    records, seen = [], {}
    for where, record in raw:
        record = check_record(record, where)
        pair = _answered_as(record)
        if pair is not None:
            if pair in seen:
                raise ValueError(f"{where} answers {pair[0]} sample {pair[1]} again (first at {seen[pair]})")
            seen[pair] = where
        records.append(record)
    return records


def _answered_as(record: Mapping[str, Any]) -> tuple[str, int] | None:
    """What a record answers, for the duplicate check: its item (when it has an index) or its row.

    Items first, so that files of several benchmarks concatenated into one run (rows restart at 0
    in each) read as one run.
    """
    if _index((record.get("extra_info") or {}).get("index")) is not None:
        return item_key(record), record["sample"]
    if "row" in record:
        return f"row {record['row']}", record["sample"]
    return None


def _index(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def item_key(record: Mapping[str, Any]) -> str:
    """A stable id of the benchmark item a record answers, to pair runs on the same items.

    ``"<data_source>:<split>:<index>"`` (``"<data_source>:<index>"`` without a split) when
    ``extra_info`` has an ``index``: the id that ``verl-crpo prepare`` gives every row. Otherwise
    ``"<data_source>:sha256:<16 hex digits>"``, hashed from the question and the options, so that
    runs over the same rows pair up even when their files were ordered differently. The sample
    number is not part of the key: the ``n`` samples of a row share it.

    Example:
        >>> info = {"question": "Q?", "options": {"A": "x", "B": "y"}}
        >>> item_key({"data_source": "medqa", "extra_info": {**info, "split": "test", "index": 7}})
        'medqa:test:7'
        >>> item_key({"data_source": "medqa", "extra_info": info}).startswith("medqa:sha256:")
        True
    """
    source = record.get("data_source")
    info = record.get("extra_info") or {}
    index = _index(info.get("index"))
    if index is not None:
        split = info.get("split")
        return f"{source}:{split}:{index}" if split else f"{source}:{index}"
    options = sorted((k, v) for k, v in (info.get("options") or {}).items() if v is not None)
    text = json.dumps([info.get("question"), options], ensure_ascii=False)
    return f"{source}:sha256:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def run_name(path: str | os.PathLike) -> str:
    """The default name of a run: its file name without the suffix.

    Example:
        >>> run_name("runs/crpo_medqa.jsonl")
        'crpo_medqa'
    """
    return Path(path).stem
