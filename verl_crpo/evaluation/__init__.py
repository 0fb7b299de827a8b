"""Evaluation: generate answers for a benchmark split, score every objective, compare runs.

Modules: :mod:`~verl_crpo.evaluation.runs` (run files and their items),
:mod:`~verl_crpo.evaluation.generate` (answers from a model), :mod:`~verl_crpo.evaluation.proxies`
(rule-based proxies of the paper's judged metrics), :mod:`~verl_crpo.evaluation.stats` (bootstrap
intervals), :mod:`~verl_crpo.evaluation.report` (tables, figure, JSON) and
:mod:`~verl_crpo.evaluation.judge` (the optional LLM judge). ``generate`` is the module: import its
function as ``from verl_crpo.evaluation.generate import generate``.
"""

from verl_crpo.evaluation.judge import JudgeConfig, JudgeError, judge_records
from verl_crpo.evaluation.proxies import METRICS, response_metrics
from verl_crpo.evaluation.report import evaluate_runs
from verl_crpo.evaluation.runs import item_key, read_run, run_name

__all__ = [
    "METRICS",
    "JudgeConfig",
    "JudgeError",
    "evaluate_runs",
    "item_key",
    "judge_records",
    "read_run",
    "response_metrics",
    "run_name",
]
