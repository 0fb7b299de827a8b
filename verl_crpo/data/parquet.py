"""Writing generated cases as parquet files that verl's trainers read."""

from __future__ import annotations

import os
from collections.abc import Sequence

from verl_crpo.data.cases import ClinicalCase, prompt_messages, reference_response, to_rl_row

__all__ = ["write_rl_parquet", "write_sft_parquet"]


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
