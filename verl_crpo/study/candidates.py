"""Candidate pools: for one synthetic case, responses that differ along every objective.

A pool is the fixed action set of the learning-signal study's policy
(:mod:`verl_crpo.study.training`). Its responses are built from the case's own knowledge
(:class:`verl_crpo.data.ClinicalCase`) along five axes, in the style of the CPU demo's reference
response:

* ``answer``: the gold option, or one of two distractors (argued for, so the response is wrong
  but consistent);
* ``grounding``: ``cited`` (the chosen option is explained by case findings and a mechanism) or
  ``vague`` ("fits the overall picture");
* ``rejection``: the other options are rejected with ``specific`` reasons (what each would cause
  that the case lacks), ``generic`` ones ("less likely"), or ``none``;
* ``invented``: whether the analysis adds patient history the case does not state;
* ``shape``: ``full`` (the format of DESIGN.md section 3), ``hedged`` (a cited analysis whose
  conclusion refuses to commit between two options, one box) or ``malformed`` (no tags, one line).

``full`` crosses the first four axes (3 x 2 x 3 x 2 = 36 responses); ``hedged`` and
``malformed`` add one correct and one wrong response each: 40 per case. The responses are ours,
not a model's; the study measures what each estimator teaches given these candidates, not what a
model would write.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from verl_crpo.data.cases import ClinicalCase, _join
from verl_crpo.data.knowledge import Disease

__all__ = ["AXES", "Candidate", "candidate_pool"]

AXES = {
    "answer": ("gold", "distractor_1", "distractor_2"),
    "grounding": ("cited", "vague"),
    "rejection": ("specific", "generic", "none"),
    "invented": (False, True),
}
# Patient history no generated case states (the disease table has no such findings).
_INVENTED = (
    "She had a stroke two years ago and her father died of bowel cancer.",
    "He was treated for tuberculosis last year and his mother has lupus.",
    "The patient had a kidney transplant in 2015 and was recently started on warfarin.",
    "Her brother had the same illness last month and she smoked for 30 years.",
)
# The axes of a malformed candidate: one line naming the option, no tags, nothing else.
_MALFORMED = ("malformed", "vague", "none", False)


@dataclass(frozen=True)
class Candidate:
    """One response of a pool and the axes it was built from.

    Attributes:
        response: the response text.
        letter: the option its box names.
        correct: whether that option is the gold one.
        shape: ``full``, ``hedged`` or ``malformed``.
        grounding, rejection, invented: the axes of a ``full`` response (``hedged`` is
            ``cited``/``generic``/False; ``malformed`` is ``vague``/``none``/False).
    """

    response: str
    letter: str
    correct: bool
    shape: str
    grounding: str
    rejection: str
    invented: bool


def candidate_pool(case: ClinicalCase, seed: int = 0) -> list[Candidate]:
    """The 40 candidates of ``case``, in a fixed order (the same ``(case, seed)``, the same pool).

    Example:
        >>> from verl_crpo.data import generate_cases
        >>> pool = candidate_pool(generate_cases(1)[0])
        >>> len(pool), sum(c.correct for c in pool), sorted({c.shape for c in pool})
        (40, 14, ['full', 'hedged', 'malformed'])
    """
    rng = random.Random(seed)
    letters = sorted(case.distractors)
    wrong = rng.sample(letters, 2)
    answers = {"gold": case.answer, "distractor_1": wrong[0], "distractor_2": wrong[1]}
    pool = []
    for answer, grounding, rejection, invented in itertools.product(*AXES.values()):
        letter = answers[answer]
        analysis = _analysis(case, letter, grounding, rejection, rng.choice(_INVENTED) if invented else None)
        response = _formatted(analysis, _conclusion(case, letter, grounding))
        pool.append(Candidate(response, letter, letter == case.answer, "full", grounding, rejection, invented))
    for letter in (case.answer, wrong[0]):
        pool.append(_hedged(case, letter, wrong[1] if letter == case.answer else case.answer))
        name = case.options[letter]
        pool.append(Candidate(f"The answer is {name}. \\boxed{{{letter}}}", letter, letter == case.answer, *_MALFORMED))
    return pool


def _disease(case: ClinicalCase, letter: str) -> Disease:
    return case.diagnosis if letter == case.answer else case.distractors[letter]


def _cited(case: ClinicalCase, count: int, start: int = 0) -> str:
    findings = case.findings[start : start + count] or case.findings[:count]
    return _join(list(findings))


def _support(case: ClinicalCase, letter: str, grounding: str) -> str:
    disease = _disease(case, letter)
    if grounding == "vague":
        return f"{disease.name} ({letter}) fits the overall picture best."
    return f"Case findings: {_cited(case, 3)}. {disease.name} ({letter}) explains them: it is {disease.mechanism}."


def _rejections(case: ClinicalCase, chosen: str, rejection: str) -> list[str]:
    lines = []
    for letter in case.options:
        if letter == chosen or rejection == "none":
            continue
        disease = _disease(case, letter)
        if rejection == "generic":
            lines.append(f"{disease.name} ({letter}) is less likely.")
            continue
        typical = [f for f in disease.findings if f not in case.findings][:2] or list(disease.findings[:1])
        lines.append(f"{disease.name} ({letter}) is unlikely: it would cause {_join(typical)}, not seen here.")
    return lines


def _analysis(case: ClinicalCase, letter: str, grounding: str, rejection: str, invented: str | None) -> list[str]:
    lines = [_support(case, letter, grounding)]
    if invented:
        lines.append(invented)
    return lines + _rejections(case, letter, rejection)


def _conclusion(case: ClinicalCase, letter: str, grounding: str) -> str:
    name = _disease(case, letter).name
    if grounding == "vague":
        return f"The most likely diagnosis is {name}. Final answer: \\boxed{{{letter}}}"
    return f"{_cited(case, 2, start=1).capitalize()} point to {name}. Final answer: \\boxed{{{letter}}}"


def _formatted(analysis: Sequence[str], conclusion: str) -> str:
    return "<dx>\n" + "\n".join(analysis) + "\n</dx>\n<conclusion>\n" + conclusion + "\n</conclusion>"


def _hedged(case: ClinicalCase, letter: str, other: str) -> Candidate:
    name, other_name = _disease(case, letter).name, _disease(case, other).name
    analysis = [_support(case, letter, "cited"), *_rejections(case, letter, "generic")]
    conclusion = (
        f"It could be {name} or {other_name}; without further tests I cannot choose between them. "
        f"Final answer: \\boxed{{{letter}}}"
    )
    return Candidate(
        _formatted(analysis, conclusion), letter, letter == case.answer, "hedged", "cited", "generic", False
    )
