"""Response structure: the analysis and conclusion blocks and every ``\\boxed{}`` answer.

The expected response (tag names configurable, defaults ``dx`` and ``conclusion``)::

    <dx> clinical analysis </dx>
    <conclusion> decision and evidence. Final answer: \\boxed{C} </conclusion>

Rules (our choices; CRPO's own parser is unpublished):

1. The response is sanitised first (:func:`~verl_crpo.rewards.text.sanitize`: NFKC, control and
   invisible characters removed).
2. The structure is *recognisable* when each of the four tags occurs exactly once, case-sensitive,
   in the order open-analysis, close-analysis, open-conclusion, close-conclusion, and both blocks
   hold non-blank text. Duplicated, nested, unclosed or reordered tags are not recognisable: we
   refuse to guess which of two conclusions is meant.
3. Every ``\\boxed`` anywhere in the response is an answer. At most :data:`MAX_BOXES` are read;
   a response with more is answer spam and has no valid answer.
4. An answer's content is read within :data:`MAX_BOX_CHARS` characters after its ``{`` (braces
   balanced); a longer or unclosed one is unreadable.
5. Answer notation (:func:`resolve_letter`): ``C``, ``c``, ``(C)``, ``C.``, ``C)``, ``C: text``,
   ``C. text``, ``\\text{C}``, ``\\textbf{(C)}``, ``$C$``, ``Option C``; full-width letters fold
   through NFKC; the option's own text alone (``\\boxed{Sarcoidosis}``) is matched with
   rapidfuzz. Look-alike letters from other scripts (Cyrillic ``С``, Greek ``Α``) are *not*
   folded: other graders (exact-match evaluation scripts, verl's validation) would not read them
   as the letter, so an answer written with them is unreadable and earns nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import regex
from rapidfuzz import fuzz, process, utils

from verl_crpo.rewards.text import sanitize

__all__ = ["MAX_BOXES", "MAX_BOX_CHARS", "Box", "ParsedResponse", "parse_response", "resolve_letter"]

MAX_BOXES = 8
MAX_BOX_CHARS = 200

_BOX = regex.compile(r"\\boxed\s*+\{")
_BRACE = regex.compile(r"[{}]")
_WRAPPER = regex.compile(r"^\\(?:text|textbf|textrm|mathrm|mathbf|mbox|textsf|texttt|operatorname)\s*+\{([^{}]*+)\}$")
_PREFIX = regex.compile(r"^(?:the\s++)?(?:final\s++)?(?:option|answer|choice)\s*+(?:is\s++)?[:\-]?\s*+", regex.I)
_LETTER_ONLY = regex.compile(r"^\(?([A-Ja-j])\)?[.):]?$")
_LETTER_TEXT = regex.compile(r"^\(?([A-Ja-j])(?:\)|[.:,\-\u2013\u2014])\s*+(.++)$|^\(?([A-Ja-j])\s++(.++)$", regex.S)


@dataclass(frozen=True)
class Box:
    """One ``\\boxed{...}`` in the response.

    Attributes:
        start: offset of ``\\boxed`` in :attr:`ParsedResponse.text`.
        content: text between the balanced braces, or ``None`` when unclosed or too long.
        in_conclusion: whether it lies inside the (recognisable) conclusion block.
    """

    start: int
    content: str | None
    in_conclusion: bool


@dataclass(frozen=True)
class ParsedResponse:
    """A response split into its parts; see the module docstring for the rules.

    Attributes:
        text: the sanitised response.
        structure_ok: the four tags occur once each, in order, around non-blank blocks.
        analysis: the analysis block's text ("" unless ``structure_ok``).
        conclusion: the conclusion block's text ("" unless ``structure_ok``).
        outside: non-blank text outside the two blocks, stripped ("" unless ``structure_ok``).
        num_boxes: how many ``\\boxed`` occur anywhere (every one counts as an answer).
        boxes: the first ``MAX_BOXES`` answers that have an opening brace.
    """

    text: str
    structure_ok: bool
    analysis: str
    conclusion: str
    outside: str
    num_boxes: int
    boxes: tuple[Box, ...]


def parse_response(response: str, analysis_tag: str = "dx", conclusion_tag: str = "conclusion") -> ParsedResponse:
    """Split ``response`` into analysis, conclusion and answers.

    Args:
        response: the model's response text (untrusted; any string).
        analysis_tag: name of the analysis tag, without brackets.
        conclusion_tag: name of the conclusion tag, without brackets.

    Returns:
        The parsed response; never raises for any string.

    Raises:
        TypeError: if ``response`` is not a string.

    Example:
        >>> p = parse_response("<dx>Fever and cough.</dx><conclusion>Pneumonia. \\\\boxed{B}</conclusion>")
        >>> p.structure_ok, p.analysis, p.num_boxes, p.boxes[0].content, p.boxes[0].in_conclusion
        (True, 'Fever and cough.', 1, 'B', True)
    """
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    text = sanitize(response)
    tags = (f"<{analysis_tag}>", f"</{analysis_tag}>", f"<{conclusion_tag}>", f"</{conclusion_tag}>")
    structure_ok, analysis, conclusion, outside, span = False, "", "", "", (-1, -1)
    o1, c1, o2, c2 = offsets = [text.find(tag) for tag in tags]
    # In order, and each exactly once: not again after its first (one pass per tag, like count()).
    if -1 < o1 < c1 < o2 < c2 and all(text.find(t, at + len(t)) == -1 for t, at in zip(tags, offsets, strict=True)):
        analysis = text[o1 + len(tags[0]) : c1].strip()
        conclusion = text[o2 + len(tags[2]) : c2].strip()
        structure_ok = bool(analysis) and bool(conclusion)
        if structure_ok:
            outside = " ".join(
                (text[:o1].strip(), text[c1 + len(tags[1]) : o2].strip(), text[c2 + len(tags[3]) :].strip())
            ).strip()
            span = (o2, c2)
        else:
            analysis = conclusion = ""
    num_boxes = text.count("\\boxed")
    boxes = []
    for match in _BOX.finditer(text):
        if len(boxes) == MAX_BOXES:
            break
        start = match.start()
        boxes.append(Box(start, _balanced(text, match.end()), span[0] < start < span[1]))
    return ParsedResponse(text, structure_ok, analysis, conclusion, outside, num_boxes, tuple(boxes))


def _balanced(text: str, start: int) -> str | None:
    """Content from ``start`` up to the brace closing an already-open one, within the window."""
    depth = 1
    for match in _BRACE.finditer(text, start, min(len(text), start + MAX_BOX_CHARS + 1)):
        depth += 1 if match.group() == "{" else -1
        if depth == 0:
            return text[start : match.start()]
    return None


def resolve_letter(content: str | None, options: Mapping[str, str]) -> str | None:
    """The option letter an answer's content denotes, or ``None`` when it denotes none.

    A letter followed by text (``C. Sarcoidosis``) stands unless the text names a different
    option and not its own (then the answer contradicts itself and is unreadable).

    Args:
        content: a box's content (``None`` for an unreadable box).
        options: the case's options, letter to text.

    Example:
        >>> opts = {"A": "Tuberculosis", "B": "Sarcoidosis", "C": "Lymphoma"}
        >>> [resolve_letter(s, opts) for s in ["B", "(b)", "\\\\text{B}", "B. Sarcoidosis", "sarcoidosis"]]
        ['B', 'B', 'B', 'B', 'B']
        >>> [resolve_letter(s, opts) for s in ["D", "B. Lymphoma", "\\u0412", "", None]]
        [None, None, None, None, None]
    """
    if content is None:
        return None
    text = content.strip().strip("$").strip()
    for _ in range(3):
        unwrapped = _WRAPPER.match(text)
        if unwrapped is None:
            break
        text = unwrapped.group(1).strip()
    text = _PREFIX.sub("", text, count=1).strip()
    if not text:
        return None
    match = _LETTER_ONLY.match(text)
    if match:
        letter = match.group(1).upper()
        return letter if letter in options else None
    match = _LETTER_TEXT.match(text)
    if match:
        letter = (match.group(1) or match.group(3)).upper()
        rest = match.group(2) or match.group(4)
        if letter not in options:
            return None
        if fuzz.token_set_ratio(rest, options[letter], processor=utils.default_process) >= 60:
            return letter
        other = _by_text(rest, options, cutoff=85)
        # A bare word after a letter ("A 45-year-old") is not an answer; a clear other option is a contradiction.
        return None if other is not None or match.group(3) else letter
    return _by_text(text, options, cutoff=90)


def _by_text(text: str, options: Mapping[str, str], cutoff: float) -> str | None:
    best = process.extractOne(text, options, scorer=fuzz.ratio, processor=utils.default_process, score_cutoff=cutoff)
    return None if best is None else best[2]
