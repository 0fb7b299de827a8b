"""Synthetic clinical multiple-choice cases, their verl RL rows and CRPO-format reference responses.

Every case is generated from a seeded :class:`random.Random`, so the same ``(n, seed)`` always gives
the same cases. Variety comes from: 30 diseases over 7 organ systems, a random subset and order of
each disease's findings, 6 vignette templates, 5 question stems, 4 or 5 options drawn mostly from
the same organ system (so the topic alone does not give the answer) and shuffled letters.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from verl_crpo.data import prompt
from verl_crpo.data.knowledge import DISEASES, Disease
from verl_crpo.data.prompt import INSTRUCTION

__all__ = [
    "DATA_SOURCE",
    "HABITS",
    "INSTRUCTION",
    "ClinicalCase",
    "generate_cases",
    "prompt_messages",
    "reference_response",
    "to_rl_row",
]

DATA_SOURCE = "synthetic_clinical"
LETTERS = "ABCDE"

_STEMS = (
    "Which of the following is the most likely diagnosis?",
    "What is the most likely diagnosis?",
    "Which diagnosis best explains these findings?",
    "Which condition is the most likely cause?",
    "Which of the following best accounts for this presentation?",
)
_PATIENTS = ("man", "woman", "boy", "girl")
_TEMPLATES = (
    "A {age}-year-old {who} presents with {s}. Examination shows {e}.",
    "A {age}-year-old {who} comes to the clinic because of {s}. On examination there is {e}.",
    "A {who} aged {age} reports {s}. Findings include {e}.",
    "A {age}-year-old {who} is seen for {s}. Workup reveals {e}.",
    "{S}, for a {age}-year-old {who}. The physician notes {e}.",
    "A {age}-year-old {who} describes {s}. Tests show {e}.",
)


@dataclass(frozen=True)
class ClinicalCase:
    """One generated case.

    Attributes:
        question: the case text and question stem, without the options.
        options: letter to option text, ``A`` onwards without gaps (read-only).
        answer: the gold letter.
        findings: the finding phrases the case text states, in the order it states them.
        diagnosis: the gold disease.
        distractors: the other options' diseases, by letter.
    """

    question: str
    options: MappingProxyType
    answer: str
    findings: tuple[str, ...]
    diagnosis: Disease
    distractors: MappingProxyType


def _join(phrases: Sequence[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _one_case(rng: random.Random) -> ClinicalCase:
    gold = rng.choice(DISEASES)
    symptoms = rng.sample(gold.symptoms, rng.randint(2, len(gold.symptoms)))
    signs = rng.sample(gold.signs, rng.randint(1, len(gold.signs)))
    who = rng.choice(_PATIENTS)
    age = rng.randint(6, 17) if who in ("boy", "girl") else rng.randint(19, 84)
    s, e = _join(symptoms), _join(signs)
    text = rng.choice(_TEMPLATES).format(age=age, who=who, s=s, e=e, S=s[0].upper() + s[1:])
    question = f"{text} {rng.choice(_STEMS)}"

    num_options = rng.choice((4, 5))
    same = [d for d in DISEASES if d.system == gold.system and d is not gold]
    other = [d for d in DISEASES if d.system != gold.system]
    rng.shuffle(same)
    rng.shuffle(other)
    chosen = [gold, *(same + other)[: num_options - 1]]
    rng.shuffle(chosen)
    options = {LETTERS[i]: d.name for i, d in enumerate(chosen)}
    answer = LETTERS[chosen.index(gold)]
    distractors = {LETTERS[i]: d for i, d in enumerate(chosen) if d is not gold}
    return ClinicalCase(
        question=question,
        options=MappingProxyType(options),
        answer=answer,
        findings=tuple(symptoms + signs),
        diagnosis=gold,
        distractors=MappingProxyType(distractors),
    )


def generate_cases(n: int, seed: int = 0) -> list[ClinicalCase]:
    """Generate ``n`` cases, deterministically from ``seed``.

    Raises:
        ValueError: if ``n`` is negative.

    Example:
        >>> cases = generate_cases(2, seed=1)
        >>> cases == generate_cases(2, seed=1), sorted(cases[0].options)[:2], cases[0].answer in cases[0].options
        (True, ['A', 'B'], True)
    """
    if n < 0:
        raise ValueError(f"generate_cases needs n >= 0, got {n}")
    rng = random.Random(seed)
    return [_one_case(rng) for _ in range(n)]


def prompt_messages(case: ClinicalCase) -> list[dict[str, str]]:
    """The chat messages of the case's prompt, from the package's one template (:mod:`verl_crpo.data.prompt`)."""
    return prompt.prompt_messages(case.question, case.options)


# Answer habits the cold start can teach (:func:`reference_response`), each opening differently, so
# that which habit a response follows is decided by its first tokens: RL can move the mixture fast.
HABITS = ("complete", "answer_only", "no_distractors", "uncited")
# Rejection sentences, rotated over the distractors, so that a complete analysis is no template:
# the reward gives no knowledge to three or more options argued in one shape.
_REJECTIONS = (
    "{name} ({letter}) is unlikely: it would cause {typical}, not seen here.",
    "Against {name} ({letter}): we would expect {typical}, which are absent.",
    "{name} ({letter}) does not fit, since {typical} are missing.",
    "Option {letter}, {name}, is excluded because it typically brings {typical}.",
    "{name} ({letter}) usually presents with {typical}; this patient has neither, so no.",
)


def reference_response(case: ClinicalCase, habit: str = "complete") -> str:
    """A response in the CRPO format that follows one answer habit (:data:`HABITS`).

    * ``complete``: cites the case's findings, supports the gold option with them and its
      mechanism, rejects each distractor with its own typical findings (sentence shapes rotate),
      and restates the decisive findings in the conclusion;
    * ``answer_only``: names the gold option with no analysis;
    * ``no_distractors``: the complete analysis of the gold option, no word on the others;
    * ``uncited``: weighs every option by its mechanism and typical findings, cites no case finding.

    Every habit boxes the gold letter; the habits differ in faithfulness and comprehensiveness.

    Raises:
        ValueError: for an unknown habit.

    Example:
        >>> case = generate_cases(1)[0]
        >>> texts = [reference_response(case, habit) for habit in HABITS]
        >>> all(t.startswith("<dx>") and t.count("\\\\boxed{%s}" % case.answer) == 1 for t in texts)
        True
    """
    if habit not in HABITS:
        raise ValueError(f"habit must be one of {HABITS}, got {habit!r}")
    gold, letter = case.diagnosis, case.answer
    cited = case.findings
    if habit == "answer_only":
        lines = [f"The answer is {gold.name} ({letter})."]
        conclusion = f"Final answer: \\boxed{{{letter}}}"
    else:
        lines = [] if habit == "uncited" else [f"Case findings: {_join(cited)}."]
        if habit == "uncited":
            lines.append(f"{gold.name} ({letter}) is the best fit: it is {gold.mechanism}.")
        else:
            lines.append(f"{gold.name} ({letter}) explains {_join(cited[:2])}: it is {gold.mechanism}.")
        if habit != "no_distractors":
            for i, (other_letter, other) in enumerate(case.distractors.items()):
                typical = _join([f for f in other.findings if f not in cited][:2])
                shape = _REJECTIONS[i % len(_REJECTIONS)]
                lines.append(shape.format(name=other.name, letter=other_letter, typical=typical))
        if habit == "uncited":
            conclusion = f"{gold.name} is the best fit. Final answer: \\boxed{{{letter}}}"
        else:
            decisive = _join(cited[-2:])
            conclusion = f"{decisive.capitalize()} point to {gold.name}. Final answer: \\boxed{{{letter}}}"
    return "<dx>\n" + "\n".join(lines) + "\n</dx>\n<conclusion>\n" + conclusion + "\n</conclusion>"


def to_rl_row(case: ClinicalCase, split: str, index: int, data_source: str = DATA_SOURCE) -> dict[str, Any]:
    """The verl RL parquet row of a case, in the layout of the reward's contract.

    Example:
        >>> row = to_rl_row(generate_cases(1)[0], "train", 0)
        >>> sorted(row), row["reward_model"]["style"], row["extra_info"]["split"]
        (['ability', 'data_source', 'extra_info', 'prompt', 'reward_model'], 'rule', 'train')
    """
    return {
        "data_source": data_source,
        "prompt": prompt_messages(case),
        "ability": "medical",
        "reward_model": {"style": "rule", "ground_truth": case.answer},
        "extra_info": {"question": case.question, "options": dict(case.options), "split": split, "index": index},
    }
