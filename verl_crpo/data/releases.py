"""The benchmark releases as published: one parser per format, each record to a :class:`Item`.

Formats (JSON lines, one record a line):

- **MedQA** (USMLE, the 4-option and the 5-option release): ``{"question", "options": {"A": ...},
  "answer", "answer_idx", "meta_info", ...}``; the gold letter is ``answer_idx`` and ``answer`` must
  be that option's text.
- **MedMCQA**: ``{"id", "question", "opa", "opb", "opc", "opd", "cop", "exp", ...}``. The gold index
  ``cop`` circulates 1-based (the original release) and 0-based (the Hugging Face copy):
  :func:`infer_cop_base` establishes the base of each source from the data. Its test split has no
  answers.
- **MedXpertQA** (text): ``{"id", "question", "options": {"A": ... up to "J"}, "label", ...}``, where
  ``question`` may end with the choices written out again (``Answer Choices: (A) ... (B) ...``);
  :func:`strip_answer_choices` removes them so that the case text does not repeat the options.

A record that cannot be read raises :class:`InvalidRecord` saying what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = [
    "DATASETS",
    "SPLITS",
    "InvalidRecord",
    "Item",
    "infer_cop_base",
    "parse_record",
    "split_from_name",
    "strip_answer_choices",
]

DATASETS = ("medqa", "medmcqa", "medxpertqa")
# Canonical split names; the output file of a split is <split>.parquet.
SPLITS = ("train", "dev", "test")
_SPLIT_ALIASES = {"train": "train", "dev": "dev", "validation": "dev", "val": "dev", "valid": "dev", "test": "test"}
_MEDMCQA_KEYS = ("opa", "opb", "opc", "opd")
_LETTERS = "ABCDEFGHIJ"


class InvalidRecord(ValueError):
    """A record of a release that is not a valid multiple-choice question (the message says why)."""


@dataclass(frozen=True)
class Item:
    """One question read from a release.

    Attributes:
        question: the case text and question stem, without the options.
        options: letter to option text, ``A`` onwards in letter order.
        answer: the gold letter, or ``None`` when the release gives none (MedMCQA test).
    """

    question: str
    options: dict[str, str]
    answer: str | None


def split_from_name(name: str | PurePath) -> str | None:
    """The split a file name states (``train``, ``dev`` for dev/validation, ``test``), or ``None`` when it
    states none or several.

    Example:
        >>> split_from_name("US/4_options/phrases_no_exclude_train.jsonl"), split_from_name("validation.jsonl")
        ('train', 'dev')
        >>> split_from_name("medqa.jsonl") is None, split_from_name("train_test.jsonl") is None
        (True, True)
    """
    words = re.split(r"[^a-z0-9]+", PurePath(name).name.lower())
    found = {_SPLIT_ALIASES[w] for w in words if w in _SPLIT_ALIASES}
    return found.pop() if len(found) == 1 else None


_CHOICES = re.compile(r"\s*\bAnswer\s+Choices\s*:\s*\(A\).*\Z", re.DOTALL | re.IGNORECASE)


def strip_answer_choices(question: str) -> str:
    """The question without the trailing ``Answer Choices: (A) ... (B) ...`` that MedXpertQA appends.

    Example:
        >>> strip_answer_choices("A 30-year-old has fever. Diagnosis?\\nAnswer Choices: (A) Flu (B) Sepsis")
        'A 30-year-old has fever. Diagnosis?'
        >>> strip_answer_choices("Fever. Diagnosis?")
        'Fever. Diagnosis?'
    """
    return _CHOICES.sub("", question).strip()


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecord(f"{what} must be non-empty text, got {value!r}")
    return value.strip()


def _options(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidRecord(f"'options' must be an object of letters to option text, got {type(value).__name__}")
    # A dataset library may fill a struct column with null for letters a row does not have.
    options = {str(k).strip().upper(): v for k, v in value.items() if v is not None}
    letters = sorted(options)
    if letters != list(_LETTERS[: len(letters)]):
        raise InvalidRecord(f"option letters must run A, B, C, ... without gaps, got {', '.join(letters) or 'none'}")
    return {letter: _text(options[letter], f"option {letter}") for letter in letters}


def _medqa(record: Mapping[str, Any]) -> Item:
    options = _options(record.get("options"))
    answer = _text(record.get("answer_idx"), "'answer_idx'").upper()
    text = record.get("answer")
    if answer in options and isinstance(text, str) and text.strip() and text.strip() != options[answer]:
        raise InvalidRecord(f"'answer' {text!r} is not the text of option {answer} ({options[answer]!r})")
    return Item(_text(record.get("question"), "'question'"), options, answer)


def _medmcqa(record: Mapping[str, Any], cop_base: int | None) -> Item:
    options = {letter: _text(record.get(key), f"'{key}'") for letter, key in zip("ABCD", _MEDMCQA_KEYS, strict=True)}
    cop = _cop(record)
    answer = None
    if cop is not None:
        if cop_base is None:
            raise InvalidRecord("the base of 'cop' is not known; pass --cop-base 0 or 1")
        position = cop - cop_base
        if not 0 <= position < 4:
            raise InvalidRecord(f"'cop' {cop} is outside {cop_base}..{cop_base + 3} (cop base {cop_base})")
        answer = "ABCD"[position]
    return Item(_text(record.get("question"), "'question'"), options, answer)


def _medxpertqa(record: Mapping[str, Any]) -> Item:
    options = _options(record.get("options"))
    question = strip_answer_choices(_text(record.get("question"), "'question'"))
    return Item(
        _text(question, "'question' without its answer choices"), options, _text(record.get("label"), "'label'")
    )


def parse_record(dataset: str, record: Any, cop_base: int | None = None) -> Item:
    """Read one record of ``dataset``'s release (``cop_base``: MedMCQA only).

    The gold letter is not checked against the options here: :mod:`verl_crpo.data.prepare` validates
    every row as the reward reads it.

    Raises:
        InvalidRecord: the record lacks a field or holds an unusable value.
        ValueError: an unknown dataset.

    Example:
        >>> parse_record("medmcqa", {"question": "Drug of choice?", "opa": "a", "opb": "b", "opc": "c",
        ...                          "opd": "d", "cop": 4}, cop_base=1).answer
        'D'
    """
    if not isinstance(record, Mapping):
        raise InvalidRecord(f"a record must be a JSON object, got {type(record).__name__}")
    if dataset == "medqa":
        return _medqa(record)
    if dataset == "medmcqa":
        return _medmcqa(record, cop_base)
    if dataset == "medxpertqa":
        return _medxpertqa(record)
    raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")


def _cop(record: Mapping[str, Any]) -> int | None:
    """``cop`` as an int, ``None`` when absent (or -1: the test split's placeholder)."""
    cop = record.get("cop")
    if cop is None or cop == "" or cop == -1:
        return None
    if isinstance(cop, bool) or not isinstance(cop, int | str):
        raise InvalidRecord(f"'cop' must be an option index, got {cop!r}")
    try:
        value = int(cop)
    except ValueError:
        raise InvalidRecord(f"'cop' must be an option index, got {cop!r}") from None
    return None if value == -1 else value


_EXP_LETTER = re.compile(r"\bans(?:wer)?\b\W{0,3}(?:is\W{0,3})?(?:option\W{0,3})?\(?([a-d])\b", re.IGNORECASE)


def _exp_letter(record: Mapping[str, Any]) -> str | None:
    """The letter the explanation names as the answer ("Ans. is 'b' ...", "Answer: C"), or the one option
    whose text alone it quotes; ``None`` when it names none or several."""
    exp = record.get("exp")
    if not isinstance(exp, str) or not exp.strip():
        return None
    match = _EXP_LETTER.search(exp[:300])
    if match:
        return match.group(1).upper()
    low = exp.lower()
    quoted = [
        letter
        for letter, key in zip("ABCD", _MEDMCQA_KEYS, strict=True)
        if isinstance(record.get(key), str) and len(record[key].strip()) > 3 and record[key].strip().lower() in low
    ]
    return quoted[0] if len(quoted) == 1 else None


def infer_cop_base(records: Sequence[Any]) -> tuple[int | None, str]:
    """Establish whether a MedMCQA source numbers ``cop`` from 0 or 1; return ``(base or None, why)``.

    Evidence, in order: a ``cop`` of 0 (only 0-based data has it) or of 4 (only 1-based); both at once
    is a contradiction (``None``). Without either, the explanations vote: each ``exp`` that names an
    answer letter (or quotes one option's text) agrees with one base; the base is established when it
    wins at least 3 votes and 80 % of them. Otherwise ``None``: the caller must ask for ``--cop-base``.

    Example:
        >>> infer_cop_base([{"cop": 0}, {"cop": 3}])
        (0, '1 record(s) with cop 0, none with 4')
        >>> infer_cop_base([{"cop": 2}, {"cop": 1}])[0] is None
        True
    """
    cops = []
    for record in records:
        try:
            cops.append(_cop(record) if isinstance(record, Mapping) else None)
        except InvalidRecord:
            cops.append(None)
    zeros, fours = cops.count(0), cops.count(4)
    if zeros and fours:
        return None, f"{zeros} record(s) with cop 0 and {fours} with cop 4: the source mixes both bases"
    if zeros:
        return 0, f"{zeros} record(s) with cop 0, none with 4"
    if fours:
        return 1, f"{fours} record(s) with cop 4, none with 0"
    votes = {0: 0, 1: 0}
    for record, cop in zip(records, cops, strict=True):
        letter = _exp_letter(record) if cop is not None and isinstance(record, Mapping) else None
        if letter is None:
            continue
        for base in votes:
            if 0 <= cop - base < 4 and "ABCD"[cop - base] == letter:
                votes[base] += 1
    winner = max(votes, key=votes.get)
    total = votes[0] + votes[1]
    why = f"no cop 0 or 4; explanations agree with base 0 in {votes[0]} and base 1 in {votes[1]} record(s)"
    if votes[winner] >= 3 and votes[winner] >= 0.8 * total:
        return winner, why
    return None, why
