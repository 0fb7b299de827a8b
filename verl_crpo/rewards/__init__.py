"""Clinical rule-based rewards for CRPO: accuracy, format, faithfulness, comprehensiveness.

Pipeline, for one response:

1. :func:`~verl_crpo.rewards.case.build_case` validates the dataset row (bad data raises
   ``ValueError`` naming the row) and pre-processes it, cached per row.
2. :func:`~verl_crpo.rewards.parsing.parse_response` sanitises the response and finds the
   analysis and conclusion blocks and every ``\\boxed{}`` answer.
3. :func:`~verl_crpo.rewards.reading.read` builds one immutable reading of the response against
   its case: its claims (which options each unit is about, :mod:`~verl_crpo.rewards.options`;
   each claim's verdict, :mod:`~verl_crpo.rewards.context`; the knowledge it states), the case
   findings it cites with their polarity (:mod:`~verl_crpo.rewards.negation`), and the facts it
   invents about the patient (:mod:`~verl_crpo.rewards.findings`). Word lists live in
   :mod:`~verl_crpo.rewards.lexicon`.
4. The four ``*_reward`` functions (:mod:`~verl_crpo.rewards.objectives`) are small pure
   functions of the reading; :func:`compute_score` weighs them.
"""

from verl_crpo.rewards.demo import load_demo_samples
from verl_crpo.rewards.objectives import (
    accuracy_reward,
    comprehensiveness_reward,
    faithfulness_reward,
    format_reward,
)
from verl_crpo.rewards.reading import Reading, read
from verl_crpo.rewards.scoring import (
    DEFAULT_WEIGHTS,
    DIAGNOSTICS,
    OBJECTIVES,
    ClinicalReward,
    RewardConfig,
    compute_score,
    get_clinical_reward,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "DIAGNOSTICS",
    "OBJECTIVES",
    "ClinicalReward",
    "Reading",
    "RewardConfig",
    "accuracy_reward",
    "comprehensiveness_reward",
    "compute_score",
    "faithfulness_reward",
    "format_reward",
    "get_clinical_reward",
    "load_demo_samples",
    "read",
]
