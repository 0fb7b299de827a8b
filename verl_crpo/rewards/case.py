"""The dataset row a response is scored against: validated once, pre-processed, cached.

Bad data is not a bad response: a malformed row raises :class:`ValueError` naming the problem and
the row (``data_source`` and ``extra_info["index"]``), instead of silently scoring 0.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import regex

from verl_crpo.rewards.lexicon import DISCOURSE_WORDS
from verl_crpo.rewards.negation import polarity
from verl_crpo.rewards.text import (
    GENERIC_WORDS,
    NUMBER_WORDS,
    STOP_WORDS,
    WORD_BREAKS,
    ascii_fold,
    numbers_in,
    sanitize,
    stem,
    stems_of,
    words_of,
)

__all__ = ["LETTERS", "SHINGLE", "Case", "abbreviation_owner", "build_case"]

logger = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJ"
SHINGLE = 5

_NOT_NAMES = (
    GENERIC_WORDS
    | DISCOURSE_WORDS
    | frozenset(
        """
        acute chronic severe mild moderate bilateral unilateral total partial early late increased decreased
        elevated reduced raised type sudden progressive recurrent area areas region background containing
        contains mixed shaped
        """.split()  # noqa: SIM905 (a word list reads better as prose)
    )
)
_PATIENT_WORDS = frozenset(
    """
    patient she he her his woman man boy girl child infant newborn neonate baby toddler adolescent lady
    gentleman mother father primigravida multigravida pregnant
    """.split()  # noqa: SIM905 (a word list reads better as prose)
)
# Capitalised NOT/EXCEPT, or the usual lower-case forms, in the question's last sentences.
_NEGATIVE_STEM = re.compile(
    r"\b(?:NOT|EXCEPT|LEAST|FALSE|INCORRECT|UNTRUE)\b|\b(?:except|least likely|is not (?:a |an )?(?:feature|true|seen|"
    r"associated|characteristic|cause|used|indicated|correct)|are not (?:features|true|seen|associated|used))\b"
)
_AGE = re.compile(r"\d+[- ](?:year|month|week|day)s?[- ]old")


@dataclass(frozen=True, eq=False)
class Case:
    """A validated question with what the objectives need from it.

    Attributes:
        gold: the correct option letter.
        options: letter to option text, in letter order (read-only).
        question: the case text (``""`` when absent and not needed).
        findings: content stems of the case text, less generic vignette words.
        numbers: canonical numbers in the case text and options, their whole-number roundings
            and temperatures converted between °C and °F (rounding or converting a case value
            is not inventing one).
        words: every lower-cased word of the case text and options.
        shingles: every run of :data:`SHINGLE` consecutive words of the case text (verbatim copies
            of them are not reasoning).
        option_stems: per letter, all content stems of the option text.
        option_words: per letter, the lower-cased words of the option text.
        option_keys: per letter, the ways to name it: ``(identifying words, how many a mention needs)``.
        key_owner: identifying word to the letters it identifies.
        key_gates: stem of an identifying word to those words (a block without the stem cannot
            name them).
        option_stem_union: every content stem of every option's text.
        acronyms: lower-case initials of multi-word options ("sle" for "Systemic lupus
            erythematosus") to their letter, when unique and not an English function word.
        has_patient: whether the case text describes a patient (an age, a sex, "patient", a
            pronoun); a knowledge question does not, and gives no licence to invent one.
        negative_stem: whether the question asks for the exception ("Which is NOT a feature",
            "all of the following EXCEPT", "least likely"): the answer is the option the
            analysis argues *against*.
        finding_prefixes: first four letters of the finding stems of four letters or more.
        reported: finding stems the case states without a negation (:mod:`~verl_crpo.rewards.negation`).
        denied: finding stems the case only denies ("denies weight loss", "no rash").
        stubs: every 3- to 5-letter prefix of a case or option word: a response word that is one
            of them is a stub of the case's or an option's own words ("lith." for lithium), not
            knowledge.
        text_patterns: per letter, a pattern finding the option's whole text in lower-cased,
            ASCII-folded text (``None`` for one-word options, found by name), or, for numeric
            options ("8:10", "12 mEq/L"), its number sequence with its own boundaries.
        abbreviations: upper-case abbreviations a response may name an option by, to their
            letter, computed on demand (:func:`abbreviation_owner`).
        memo: per response word, what it is against this case, computed on demand by
            :mod:`~verl_crpo.rewards.reading` (a GRPO group's responses share the case and most words).
    """

    gold: str
    options: Mapping[str, str]
    question: str
    findings: frozenset[str]
    numbers: frozenset[str]
    words: frozenset[str]
    shingles: frozenset[tuple[str, ...]]
    option_stems: Mapping[str, frozenset[str]]
    option_words: Mapping[str, frozenset[str]]
    option_keys: Mapping[str, tuple[tuple[frozenset[str], int], ...]]
    key_owner: Mapping[str, tuple[str, ...]]
    key_gates: Mapping[str, tuple[str, ...]]
    option_stem_union: frozenset[str]
    acronyms: Mapping[str, str]
    has_patient: bool
    negative_stem: bool
    reported: frozenset[str]
    denied: frozenset[str]
    finding_prefixes: frozenset[str]
    stubs: frozenset[str]
    text_patterns: Mapping[str, regex.Pattern | None]
    abbreviations: dict[str, str | None]
    memo: dict[str, tuple[str, str, str]]

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(self.options)


def build_case(data_source: Any, ground_truth: Any, extra_info: Any, need_question: bool) -> Case:
    """Validate a dataset row and pre-process it (cached: a GRPO group shares one row).

    Args:
        data_source: the row's data source (named in error messages).
        ground_truth: the correct letter, e.g. ``"C"`` (surrounding spaces and case are ignored).
        extra_info: mapping with ``options`` (letters ``A``.. without gaps to non-empty text) and
            ``question`` (the case text), as DESIGN.md section 3 specifies.
        need_question: whether a missing question is an error (it is when faithfulness has
            weight); otherwise the case is built with no findings.

    Raises:
        ValueError: malformed ground truth, options or question; the message names the row.

    Example:
        >>> case = build_case("medqa", " b ", {"question": "Fever and a productive cough.",
        ...                   "options": {"A": "Asthma", "B": "Pneumonia"}, "index": 3}, True)
        >>> case.gold, case.letters, sorted(case.findings)
        ('B', ('A', 'B'), ['cough', 'fever', 'produc'])
        >>> build_case("medqa", "E", {"question": "Fever.", "options": {"A": "Asthma", "B": "Pneumonia"},
        ...            "index": 3}, True)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: medqa row 3: ground truth 'E' is not one of the option letters A, B; fix the row's ...
    """
    if extra_info is None:
        extra_info = {}
    if not isinstance(extra_info, Mapping):
        raise ValueError(
            f"{data_source} row ?: extra_info must be a mapping with 'question' and 'options', "
            f"got {type(extra_info).__name__}"
        )
    options = extra_info.get("options")
    question = extra_info.get("question")
    try:
        key = (
            str(data_source),
            ground_truth,
            question,
            tuple(options.items()) if isinstance(options, Mapping) else options,
            need_question,
        )
        hash(key)
    except TypeError:
        key = None
    if key is None:
        return _build(data_source, ground_truth, options, question, need_question, extra_info.get("index"))
    return _cached_build(key, extra_info.get("index"))


@functools.lru_cache(maxsize=4096)
def _cached_build_inner(key: tuple) -> Case:
    data_source, ground_truth, question, options, need_question = key
    return _build(
        data_source,
        ground_truth,
        dict(options) if isinstance(options, tuple) else options,
        question,
        need_question,
        None,
    )


def _cached_build(key: tuple, index: Any) -> Case:
    try:
        return _cached_build_inner(key)
    except ValueError as err:
        # Name the row that failed: the cache is keyed without the index, which differs per row.
        raise ValueError(str(err).replace(" row ?:", f" row {index}:", 1)) from None


def _build(data_source: Any, ground_truth: Any, options: Any, question: Any, need_question: bool, index: Any) -> Case:
    row = f"{data_source} row {'?' if index is None else index}:"
    options = _validate_options(options, row)
    if not isinstance(ground_truth, str):
        raise ValueError(
            f"{row} ground truth must be one option letter as a string, got {ground_truth!r}; "
            "fix the row's reward_model.ground_truth"
        )
    gold = sanitize(ground_truth).strip().upper()
    if len(gold) != 1 or gold not in options:
        raise ValueError(
            f"{row} ground truth {ground_truth!r} is not one of the option letters {', '.join(options)}; "
            "fix the row's reward_model.ground_truth"
        )
    if question is None or (isinstance(question, str) and not question.strip()):
        if need_question:
            raise ValueError(
                f"{row} extra_info.question is missing or empty; faithfulness needs the case text "
                "(or set its weight to 0)"
            )
        question = ""
    elif not isinstance(question, str):
        raise ValueError(f"{row} extra_info.question must be a string, got {type(question).__name__}")
    question = sanitize(question)
    option_text = " ".join(options.values())
    option_stems = {letter: frozenset(stems_of(words_of(text))) for letter, text in options.items()}
    question_words = words_of(question)
    findings = frozenset(stems_of(w for w in question_words if w not in GENERIC_WORDS))
    option_keys = _option_keys(options, findings, frozenset(question_words))
    key_owner: dict[str, list[str]] = {}
    key_gates: dict[str, set[str]] = {}
    for letter, ways in option_keys.items():
        for key in frozenset().union(*(keys for keys, _ in ways)):
            key_owner.setdefault(key, []).append(letter)
            key_gates.setdefault(stem(key), set()).add(key)
    numbers = set(numbers_in(question + " " + option_text))
    reported, denied = _polar_findings(question)
    return Case(
        gold=gold,
        options=MappingProxyType(options),
        question=question,
        findings=findings,
        numbers=frozenset(numbers | _temperature_conversions(numbers) | {str(round(float(n))) for n in numbers}),
        words=frozenset(question_words) | frozenset(words_of(option_text)),
        shingles=frozenset(zip(*(question_words[i:] for i in range(SHINGLE)), strict=False)),
        option_stems=MappingProxyType(option_stems),
        option_words=MappingProxyType({letter: frozenset(words_of(text)) for letter, text in options.items()}),
        option_keys=MappingProxyType(option_keys),
        key_owner=MappingProxyType({key: tuple(letters) for key, letters in key_owner.items()}),
        key_gates=MappingProxyType({gate: tuple(sorted(keys)) for gate, keys in key_gates.items()}),
        option_stem_union=frozenset().union(*option_stems.values()),
        acronyms=MappingProxyType(_acronyms(options)),
        has_patient=not _PATIENT_WORDS.isdisjoint(question_words) or bool(_AGE.search(question.lower())),
        negative_stem=bool(_NEGATIVE_STEM.search(question[-300:])),
        finding_prefixes=frozenset(f[:4] for f in findings if len(f) >= 4),
        reported=frozenset(reported - denied),
        denied=frozenset(denied - reported),
        stubs=frozenset(
            w[:k]
            for w in set(question_words) | set(words_of(option_text))
            if w.isalpha()
            for k in (3, 4, 5)
            if len(w) > k
        ),
        text_patterns=MappingProxyType({letter: _text_pattern(text) for letter, text in options.items()}),
        abbreviations={},
        memo={},
    )


def _option_keys(
    options: Mapping[str, str], findings: frozenset[str], case_words: frozenset[str]
) -> dict[str, tuple[tuple[frozenset[str], int], ...]]:
    """Per letter, the ways to name it: ``(words that identify it, how many of them a mention needs)``.

    Identifying words are those no other option has (as :func:`name_probe` reads them:
    "rheumatic" is not "rheumatoid"), less modifiers ("acute") and generic or discourse words
    ("within", "background"). Words that are also case findings ("potassium" in a case that gives
    it) name the option only two together ("potassium chloride"); the others by half of them,
    rounded up, at most two.
    """
    words = {
        letter: {w for w in words_of(text) if len(w) > 2 and w not in STOP_WORDS and not w[0].isdigit()}
        for letter, text in options.items()
    }
    out = {}
    for letter, own in words.items():
        others = [w for other, ws in words.items() if other != letter for w in ws]
        unique = {w for w in own if not any(o.startswith(name_probe(w)) or w.startswith(name_probe(o)) for o in others)}
        # An option whose words all occur in other options ("Decreased calcium and increased
        # phosphate") has no name of its own: only its letter or its whole text names it.
        named = {w for w in unique if w not in _NOT_NAMES} or unique
        strong = frozenset(w for w in named if stem(w) not in findings and w not in case_words)
        ways = [(strong, min(2, math.ceil(len(strong) / 2)))] if strong else []
        if named and strong != named:
            ways.append((frozenset(named), min(2, len(named))))
        out[letter] = tuple(ways)
    return out


def name_probe(word: str) -> str:
    """The prefix a word must start with to name an option word: the word itself, less one letter if 7+ long.

    Example:
        >>> name_probe("tyrosinase"), name_probe("asthma")
        ('tyrosinas', 'asthma')
    """
    return word if len(word) < 7 else word[:-1]


def _acronyms(options: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for letter, text in options.items():
        words = [w for w in words_of(text) if w not in STOP_WORDS and not w.isdigit()]
        if 2 <= len(words) <= 5:
            found.setdefault("".join(w[0] for w in words), []).append(letter)
    return {
        acronym: letters[0]
        for acronym, letters in found.items()
        if len(letters) == 1 and acronym not in STOP_WORDS and acronym not in GENERIC_WORDS
    }


def _validate_options(options: Any, row: str) -> dict[str, str]:
    if not isinstance(options, Mapping) or not options:
        raise ValueError(
            f"{row} extra_info.options must be a non-empty mapping of letters to option text, "
            f"got {type(options).__name__}; if the prompt holds the options as text, fill them in with "
            "`verl-crpo prepare verl --input PARQUET... --out DIR`"
        )
    items = list(options.items())
    # Parquet stores a dict column as a struct over the union of all rows' keys, so a 4-option row
    # read back from a file that also holds 5-option rows carries "E": None. Trailing Nones only.
    while items and items[-1][1] is None:
        items.pop()
    letters = [k for k, _ in items]
    if any(not isinstance(k, str) or len(k) != 1 or k not in LETTERS for k in letters):
        raise ValueError(f"{row} extra_info.options keys must be single capital letters A-J, got {letters!r}")
    if sorted(letters) != list(LETTERS[: len(letters)]):
        raise ValueError(
            f"{row} extra_info.options letters must run A, B, C, ... without gaps, got {', '.join(sorted(letters))}"
        )
    if len(letters) < 2:
        raise ValueError(f"{row} extra_info.options needs at least two options, got {len(letters)}")
    for letter, text in items:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{row} extra_info.options[{letter!r}] must be non-empty text, got {text!r}")
    return {letter: sanitize(text).strip() for letter, text in sorted(items)}


def _temperature_conversions(numbers: set[str]) -> set[str]:
    out = set()
    for token in numbers:
        value = float(token)
        if 93.0 <= value <= 110.0:
            celsius = (value - 32.0) * 5.0 / 9.0
            out.update({f"{celsius:.1f}".rstrip("0").rstrip("."), str(round(celsius))})
        elif 34.0 <= value <= 43.5:
            fahrenheit = value * 9.0 / 5.0 + 32.0
            out.update({f"{fahrenheit:.1f}".rstrip("0").rstrip("."), str(round(fahrenheit))})
    return out


def _polar_findings(question: str) -> tuple[set[str], set[str]]:
    """Finding stems the case states and those it denies (a stem can be both: "no rash" and "rash on the arm")."""
    words, denied = polarity(question)
    content = [(w, d) for w, d in zip(words, denied, strict=True) if w not in GENERIC_WORDS]
    return stems_of(w for w, d in content if not d), stems_of(w for w, d in content if d)


_NUMERIC_OPTION = regex.compile(r"^[\d\s.,:/%<>=+\-]*+[a-z/%\s]{0,12}$")


def _text_pattern(text: str) -> regex.Pattern | None:
    """A pattern for the option's whole text (several words) or its numbers (a numeric option)."""
    low = ascii_fold(text.lower())
    numbers = regex.findall(r"\d++(?:[.,]\d++)?", low)
    if numbers and _NUMERIC_OPTION.match(low):
        # "8:10" must not match inside "18:10" or "8:100"; "12 mEq/L" is named by "12" alone.
        if regex.search(r"\d\s*[:/]\s*\d", low):
            body = r"\s*+[:/]\s*+".join(regex.escape(n) for n in numbers)
            if len(numbers) == 2 and all(n in NUMBER_WORDS for n in numbers):
                # "2:1" is also "2 to 1" and "two-to-one".
                a, b = numbers
                body += rf"|{a}\s++to\s++{b}|{NUMBER_WORDS[a]}[\s-]++to[\s-]++{NUMBER_WORDS[b]}"
                return regex.compile(rf"(?<![\d.,:/a-z])(?:{body})(?![\d:/a-z]|[.,]\d)")
        else:
            # "30 mL/h" is named with its unit: "for 30 kg" is not the option.
            unit = regex.search(r"[a-z%]++", low)
            if unit:
                return regex.compile(
                    rf"(?<![\d.,:/]){regex.escape(numbers[0])}\s*+{regex.escape(unit.group())}(?![a-z])"
                )
            body = regex.escape(numbers[0])
        return regex.compile(rf"(?<![\d.,:/])(?:{body})(?![\d:/]|[.,]\d)")
    words = low.translate(WORD_BREAKS).split()
    if len(words) < 2:
        return None
    return regex.compile(r"(?<![a-z0-9])" + r"[^a-z0-9]++".join(regex.escape(w) for w in words) + r"(?![a-z0-9])")


_ABBREVIATION_LIMIT = 512
# Two-letter abbreviations that are not initials but universal in clinical writing.
_TWO_LETTER = frozenset({"tb"})


def abbreviation_owner(case: Case, token: str) -> str | None:
    """The option an upper-case abbreviation names, or ``None``: "MTX" for methotrexate, "TB" for tuberculosis.

    An abbreviation names an option when it is the option's initials from its first word on
    (at most one letter taken from inside a word: "NMOSD"), or, for a one-word option, letters of
    that word in order from its first ("MTX", "HCTZ", "TB"), for one option only, and the case
    text does not use it itself (then it names a finding: "TSH").
    Memoised per case.

    Example:
        >>> case = build_case("demo", "A", {"question": "A cough for 3 weeks.",
        ...     "options": {"A": "Tuberculosis", "B": "Methotrexate toxicity", "C": "Sarcoidosis"}}, True)
        >>> abbreviation_owner(case, "TB"), abbreviation_owner(case, "MTX"), abbreviation_owner(case, "XYZ")
        ('A', 'B', None)
    """
    known = case.abbreviations
    if token in known:
        return known[token]
    low = token.lower()
    owners = [letter for letter, text in case.options.items() if _abbreviates(low, ascii_fold(text.lower()))]
    owner = owners[0] if len(owners) == 1 and low not in case.words else None
    if len(known) < _ABBREVIATION_LIMIT:
        known[token] = owner
    return owner


def _abbreviates(abbreviation: str, text: str) -> bool:
    """Initials from the option's first word on, at most one letter from inside a word ("NMOSD");
    a one-word option by letters of its own, in order ("MTX", "HCTZ")."""
    words = [w for w in text.translate(WORD_BREAKS).split() if w not in STOP_WORDS]
    if not words or not words[0].startswith(abbreviation[0]):
        return False
    if len(words) == 1:
        if len(abbreviation) == 2 and abbreviation not in _TWO_LETTER:
            return False  # two letters inside one word name too much ("MI" is not methimazole)
        return _in_order(abbreviation[1:], words[0][1:])
    inside = 0
    w, position = 0, 1  # matched the first letter at words[0][0]
    for char in abbreviation[1:]:
        if w + 1 < len(words) and words[w + 1][0] == char:
            w, position = w + 1, 1
            continue
        found = words[w].find(char, position)
        if found == -1 or inside:
            return False
        inside, position = 1, found + 1
    return True


def _in_order(letters: str, word: str) -> bool:
    position = 0
    for char in letters:
        position = word.find(char, position)
        if position == -1:
            return False
        position += 1
    return True
