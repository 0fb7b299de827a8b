"""Clinical rule-based rewards for CRPO: accuracy, format, faithfulness, comprehensiveness.

Pipeline, for one response:

1. :func:`~verl_crpo.rewards.case.build_case` validates the dataset row (bad data raises
   ``ValueError`` naming the row) and pre-processes it, cached per row.
2. :func:`~verl_crpo.rewards.parsing.parse_response` sanitises the response and finds the
   analysis and conclusion blocks and every ``\\boxed{}`` answer.
3. :func:`~verl_crpo.rewards.objectives.assess` gathers the evidence once: the final answer,
   how analysis and conclusion weigh the options (:mod:`~verl_crpo.rewards.options`: which
   option each sentence is about, with what specific content and, by ConText-style triggers
   (:mod:`~verl_crpo.rewards.context`), for or against it), cited, copied and invented findings
   (:mod:`~verl_crpo.rewards.findings`). Word lists live in :mod:`~verl_crpo.rewards.lexicon`.
4. The four ``*_reward`` functions read it; :func:`compute_score` weighs them.
"""

from verl_crpo.rewards.demo import load_demo_samples
from verl_crpo.rewards.objectives import (
    accuracy_reward,
    comprehensiveness_reward,
    faithfulness_reward,
    format_reward,
)
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
    "RewardConfig",
    "accuracy_reward",
    "comprehensiveness_reward",
    "compute_score",
    "faithfulness_reward",
    "format_reward",
    "get_clinical_reward",
    "load_demo_samples",
]
