"""Parquet rows: writing generated cases as the files verl's trainers read, and reading rows back as plain Python."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from verl_crpo.data.cases import ClinicalCase, prompt_messages, reference_response, to_rl_row

__all__ = ["to_plain", "write_rl_parquet", "write_sft_parquet"]


def write_rl_parquet(cases: Sequence[ClinicalCase], path: str | os.PathLike, split: str) -> str:
    """Write one verl RL row per case (``data.train_files`` / ``data.val_files``); return the path."""
    import pandas as pd

    rows = [to_rl_row(case, split, i) for i, case in enumerate(cases)]
    pd.DataFrame(rows).to_parquet(path)
    return os.fspath(path)


def write_sft_parquet(cases: Sequence[ClinicalCase], path: str | os.PathLike) -> str:
    """Write one chat per case, prompt and reference response, in verl's multi-turn SFT layout
    (a ``messages`` column); return the path."""
    import pandas as pd

    rows = [
        {"messages": [*prompt_messages(case), {"role": "assistant", "content": reference_response(case)}]}
        for case in cases
    ]
    pd.DataFrame(rows).to_parquet(path)
    return os.fspath(path)


def to_plain(value: Any) -> Any:
    """numpy arrays, numpy scalars and nested containers (as read from parquet) as plain Python.

    Example:
        >>> import numpy as np
        >>> to_plain({"options": {"A": "x"}, "ids": np.array([1, 2]), "n": np.int64(3)})
        {'options': {'A': 'x'}, 'ids': [1, 2], 'n': 3}
    """
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value
