"""Per-response metrics: our reward's four objectives and rule-based proxies of the paper's judged ones.

The paper judges faithfulness with an LLM (evidence citation, distractor rejection,
hallucination) and counts reasoning behaviours. The proxies below are our approximations, read
with the reward's own rules; they are not the paper's judge (:mod:`verl_crpo.evaluation.judge`
is the optional LLM one):

* ``evidence_citation_density``: distinct case findings the analysis cites in its own words
  (the reward's ``findings_cited``: copied runs of the case text do not count) per 100 words of
  the analysis. 0.0 without a recognisable analysis/conclusion structure.
* ``distractor_rejection``: share of the distractors (options other than the gold answer) that
  the analysis weighs with a distinctive reason (:class:`~verl_crpo.rewards.reading.BlockReading`
  ``reasons``) and rejects or describes without supporting or leaving open. In [0, 1].
* ``invented_findings``: statements about the patient the case does not support (the reward's
  count, whole response).
* ``verification``, ``backtracking``, ``subgoal_setting``, ``backward_chaining``: matches per
  response of the phrase rules in :data:`BEHAVIOUR_PHRASES`, after the four cognitive
  behaviours of Gandhi et al. 2025, "Cognitive behaviors that enable self-improving reasoners,
  or, four habits of highly effective STaRs" (arXiv:2503.01307), who count them with an LLM.
  Phrases are a lower bound: a behaviour in words outside the table is not counted.

Each response is parsed and read once (:func:`~verl_crpo.rewards.reading.read`); every
metric reads that one reading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from verl_crpo.rewards.case import build_case
from verl_crpo.rewards.context import Verdict
from verl_crpo.rewards.objectives import objective_rewards
from verl_crpo.rewards.parsing import parse_response
from verl_crpo.rewards.reading import read
from verl_crpo.rewards.scoring import OBJECTIVES, RewardConfig
from verl_crpo.rewards.text import words_of

__all__ = ["BEHAVIOUR_PHRASES", "METRICS", "PROXIES", "behaviour_counts", "response_metrics"]


def _rule(*phrases: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of ``phrases`` as whole words; ``'`` matches ’ too."""
    body = "|".join(phrase.replace("'", "['\u2019]") for phrase in phrases)
    return re.compile(rf"\b(?:{body})(?!\w)", re.IGNORECASE)


_LET = r"let(?:'s| me| us)"

BEHAVIOUR_PHRASES: Mapping[str, re.Pattern[str]] = {
    # Checking an intermediate result or the answer against the case.
    "verification": _rule(
        _LET + r" (?:double[- ]?)?(?:check|verify|confirm|re-?examine)",
        r"double[- ]?check(?:s|ed|ing)?",
        r"cross[- ]check(?:s|ed|ing)?",
        r"sanity[- ]check",
        r"verif(?:y|ies|ied|ying)",
        r"confirm(?:s|ed|ing)? (?:that|this|it)",
        r"to be sure",
        r"check(?:ing)? (?:this|that|again|whether|if)",
    ),
    # Abandoning a line of reasoning to revise it.
    "backtracking": _rule(
        r"wait(?=\s*[,.!:\u2014-])",  # the interjection ("Wait, ..."), not "wait for the cultures"
        r"actually",
        r"on second thought",
        r"on reflection",
        _LET + r" (?:reconsider|rethink|re-?evaluate|go back|revisit)",
        r"i was wrong",
        r"i made a mistake",
        r"that(?:'s| is) not right",
        r"scratch that",
        r"reconsider(?:ing)?",
        r"re-?evaluat(?:e|ing)",
        r"correction",
    ),
    # Breaking the problem into intermediate goals.
    "subgoal_setting": _rule(
        r"(?:first|second|third)(?:ly)?,",
        r"finally,",
        r"next,",
        r"step (?:\d+|one|two|three|four|five)",
        r"next (?:we|i|let's|let us) (?:need|should|must|will|can|look|consider)",
        r"to answer (?:this|the question),? (?:we|i) (?:need|must|should|have)",
        r"(?:we|i) (?:need|have|must) to (?:determine|identify|figure out|establish|consider|work out|decide)",
        _LET + r" break (?:this|it|the problem) down",
        r"the first step",
    ),
    # Reasoning from a candidate answer back to what it would require. Gaps are bounded: linear time.
    "backward_chaining": _rule(
        r"work(?:ing)? backwards?",
        r"reason(?:ing)? backwards?",
        r"starting from the answer",
        r"if (?:the (?:answer|diagnosis) (?:were|was|is)|(?:it|this) (?:were|was)) [^.\n]{1,60}?,? "
        r"(?:we|i|one) would (?:expect|see|find|need)",
        r"for (?:this|it) to be (?:the |an? )?\w+",
        r"assuming (?:the )?(?:answer|diagnosis) (?:is|were|was)",
    ),
}
"""Behaviour name -> its phrase rule: case-insensitive, whole words, linear in the text (no
unbounded repetition inside a match). Each match counts once; overlapping phrases do not."""

PROXIES = (
    "evidence_citation_density",
    "distractor_rejection",
    "invented_findings",
    *BEHAVIOUR_PHRASES,
)
METRICS = (*OBJECTIVES, *PROXIES)
"""Every key :func:`response_metrics` returns, in report order."""

_DEFAULT = RewardConfig()
_ROW_PREFIX = re.compile(r"^[^:\n]{0,200} row [^:\n]{0,40}: ")


def response_metrics(record: Mapping[str, Any], config: RewardConfig = _DEFAULT) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one run record.

    Args:
        record: a run record (:mod:`verl_crpo.evaluation.runs`): ``data_source``,
            ``reward_model`` with ``ground_truth``, ``extra_info`` with ``question`` and
            ``options``, ``response``; ``row`` (its line in the run file) names it in errors.
        config: the reward's tags (the weights are not used: every objective is reported).

    Returns:
        Floats keyed by :data:`METRICS`: the four objectives and the proxy rates in [0, 1],
        the density and the counts non-negative.

    Raises:
        ValueError: the record is malformed (no response text, no ground truth, bad options or
            question); the message names the record's row.

    Example:
        >>> record = {"row": 0, "data_source": "medqa", "reward_model": {"ground_truth": "B"},
        ...           "extra_info": {"question": "A 30-year-old man has fever, productive cough and "
        ...                          "right basal crackles.", "options": {"A": "Asthma", "B": "Pneumonia"}},
        ...           "response": "<dx>First, fever, productive cough and basal crackles point to pneumonia. "
        ...                       "Asthma is unlikely because there is no wheeze. Let me double-check: "
        ...                       "crackles fit.</dx><conclusion>Fever with crackles: pneumonia. "
        ...                       "Final answer: \\\\boxed{B}</conclusion>"}
        >>> m = response_metrics(record)
        >>> m["accuracy"], m["distractor_rejection"], m["verification"], m["subgoal_setting"]
        (1.0, 1.0, 1.0, 1.0)
        >>> response_metrics({**record, "extra_info": {"question": "Fever."}})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: record at row 0 (medqa): extra_info.options must be a non-empty mapping ...
    """
    where = _where(record)
    response = record.get("response") if isinstance(record, Mapping) else None
    if not isinstance(response, str):
        raise ValueError(f"record at {where}: 'response' must be the response text, got {type(response).__name__}")
    reward_model = record.get("reward_model")
    if not isinstance(reward_model, Mapping) or "ground_truth" not in reward_model:
        raise ValueError(f"record at {where}: 'reward_model' must be a mapping with 'ground_truth'")
    try:
        case = build_case(record.get("data_source"), reward_model["ground_truth"], record.get("extra_info"), True)
    except ValueError as err:
        # The reward names the dataset row by extra_info's index; the run file's row is ours.
        raise ValueError(f"record at {where}: {_ROW_PREFIX.sub('', str(err), count=1)}") from None
    parsed = parse_response(response, config.analysis_tag, config.conclusion_tag)
    a = read(parsed, case)
    metrics = objective_rewards(a)
    analysis_words = len(words_of(parsed.analysis))
    distractors = [letter for letter in case.options if letter != case.gold]
    dismissed = (Verdict.REJECTS, Verdict.NEUTRAL)
    rejected = sum(
        letter in a.analysis.reasons and a.analysis.verdicts.get(letter) in dismissed for letter in distractors
    )
    metrics["evidence_citation_density"] = 100.0 * len(a.findings_cited) / analysis_words if analysis_words else 0.0
    metrics["distractor_rejection"] = rejected / len(distractors)
    metrics["invented_findings"] = float(a.invented)
    metrics.update(behaviour_counts(parsed.text))
    return metrics


def behaviour_counts(text: str) -> dict[str, float]:
    """Matches of each :data:`BEHAVIOUR_PHRASES` rule in ``text``.

    Example:
        >>> behaviour_counts("Wait, actually the rash argues against it. Working backwards from (B) ...")
        {'verification': 0.0, 'backtracking': 2.0, 'subgoal_setting': 0.0, 'backward_chaining': 1.0}
    """
    return {name: float(sum(1 for _ in rule.finditer(text))) for name, rule in BEHAVIOUR_PHRASES.items()}


def _where(record: Any) -> str:
    if not isinstance(record, Mapping):
        raise ValueError(f"a run record must be a mapping, got {type(record).__name__}")
    return f"row {record.get('row', '?')} ({record.get('data_source', '?')})"
