"""The learning-signal study: GRPO and CRPO train one softmax policy over the same candidates.

:mod:`~verl_crpo.study.candidates` builds the candidate pools, :mod:`~verl_crpo.study.training`
trains the policy with verl's estimators, :mod:`~verl_crpo.study.study` runs the arms and the
sweep, :mod:`~verl_crpo.study.report` writes the tables and figures.
"""

from verl_crpo.study.report import study_markdown, write_study
from verl_crpo.study.study import ARMS, FAST, FULL, StudySettings, check_findings, run_study, sweep_arms

__all__ = [
    "ARMS",
    "FAST",
    "FULL",
    "StudySettings",
    "check_findings",
    "run_study",
    "study_markdown",
    "sweep_arms",
    "write_study",
]
