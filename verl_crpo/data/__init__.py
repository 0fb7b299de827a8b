"""Synthetic clinical data: cases, verl RL parquet rows, reference responses for the cold start.

Public API::

    cases = generate_cases(200, seed=0)          # deterministic ClinicalCase list
    rows = [to_rl_row(c, "train", i) for i, c in enumerate(cases)]
    write_rl_parquet(cases, "train.parquet", split="train")
    reference_response(cases[0])                 # "<dx>...</dx><conclusion>... \\boxed{C}</conclusion>"
"""

from verl_crpo.data.cases import (
    DATA_SOURCE,
    INSTRUCTION,
    ClinicalCase,
    generate_cases,
    prompt_messages,
    reference_response,
    to_rl_row,
)
from verl_crpo.data.parquet import write_rl_parquet, write_sft_parquet

__all__ = [
    "DATA_SOURCE",
    "INSTRUCTION",
    "ClinicalCase",
    "generate_cases",
    "prompt_messages",
    "reference_response",
    "to_rl_row",
    "write_rl_parquet",
    "write_sft_parquet",
]
