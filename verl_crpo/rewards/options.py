"""How a block of text weighs the options: which it mentions, for or against, and with what reason.

Rules (our choices; shared by faithfulness's consistency term and by comprehensiveness):

1. A block is split into sentences at ``.``, ``!``, ``?``, ``;`` followed by a space, and at
   newlines.
2. An option is *mentioned* in a sentence by letter (``(C)``, ``option C``, ``choice C``, or a
   line starting ``C.``/``C)``/``C:``) or by name: the stems that tell its text apart from the
   other options, all of them when there are one or two, half of them when more.
3. A sentence mentioning three or more options is a list, not an argument: its mentions count
   for nothing.
4. A mention's *stance* is that of the nearest cue word in its sentence: support ("likely",
   "consistent", "explains", "suggests", "classic", "best", ...) or rejection ("unlikely",
   "less likely", "not", "no", "without", "excluded", "rules out", ...); "rather than",
   "instead of" and "as opposed to" reject only what follows them. No cue: neutral.
5. A mention is *reasoned* when its sentence, beyond the option's own words, cue words and
   generic words ("patient", "presentation", "answer", "right", ...), has at least
   :data:`MIN_REASON_WORDS` content word: a finding, feature, mechanism or rule ("no wheeze").
   "A is unlikely here" gives no reason.
6. Only the first :data:`MAX_SENTENCES` (64) non-list sentences that mention an option are
   weighed: repetition beyond that earns nothing, and the cost of scoring stays bounded.

Everything is linear in the block: sentences and words come from ``str`` translations and splits
of the whole block, done once (:func:`sentences_of`), mentions from literal searches over it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import regex

from verl_crpo.rewards.case import Case
from verl_crpo.rewards.stance import cues_of, reason_words, stance_at
from verl_crpo.rewards.text import WORD_BREAKS, ascii_fold, stems_of

__all__ = [
    "MAX_SENTENCES",
    "MIN_REASON_WORDS",
    "Sentences",
    "Weighing",
    "sentences_of",
    "weigh_options",
    "weigh_sentences",
]

MIN_REASON_WORDS = 1
MAX_SENTENCES = 64

# Length-preserving: every sentence boundary becomes "\x1f", so offsets survive the split.
_BOUNDARIES = str.maketrans({"!": ".", ";": ".", "\n": "\x1f", "\r": "\x1f"})
# WORD_BREAKS that keeps the boundaries: str.split() splits at "\x1f" too, so one translation
# gives both the block's words and each sentence's.
_WORD_BREAKS_KEEP = {**WORD_BREAKS, 0x1F: "\x1f"}
_PLUS_ONE = (1).__add__
_PAREN_REF = re.compile(r"\(([a-j])\)")  # re: faster than regex on this literal pattern
# What follows "option" or "choice" (found by str.find: a scan for the words costs more).
_OPTION_REF_TAIL = regex.compile(r"\s*+\(?([a-j])\)?(?![\p{L}\d])")
_MARKER = regex.compile(r"[ \t*\u2022>#-]*+\(?([a-j])[.):](?:\s|$)")
# _MARKER at the start of any later sentence: after a break, and ending at one like "$" ends a sentence.
# On the folded (ASCII) text "\u2022" cannot occur and "\s" less breaks is this class; re finds
# the leading break by a fast literal search, which regex does not.
_MARKER_AFTER_BREAK = re.compile(r"\x1f[ \t*>#-]*+\(?([a-j])[.):](?:[ \t\x0b\x0c]|(?=\x1f)|\Z)")


@dataclass(frozen=True)
class Weighing:
    """What a block says about each option.

    Attributes:
        supported: options with a reasoned supporting mention.
        rejected: options with a reasoned rejecting mention.
        net: per option, supporting minus rejecting mentions (listing sentences excluded), plus
            half the neutral mentions when ``count_neutral`` was set.
        choice: the option the block argues for: the unique highest positive ``net``, else None.
    """

    supported: frozenset[str]
    rejected: frozenset[str]
    net: dict[str, float]
    choice: str | None


@dataclass(frozen=True)
class Sentences:
    """A block split into sentences (rule 1) and words, once.

    Attributes:
        text: the block lower-cased and ASCII-folded, each sentence boundary a ``"\\x1f"``.
        pieces: the sentences of ``text``.
        starts: the offset in ``text`` of each sentence.
        tokens: per sentence, its text with word breaks as spaces (``split()`` gives its words).
        words: the block's words, as :func:`~verl_crpo.rewards.text.words_of` gives them.
    """

    text: str
    pieces: list[str]
    starts: list[int]
    tokens: list[str]
    words: list[str]


def sentences_of(block: str) -> Sentences:
    """Split ``block`` into sentences and words.

    Example:
        >>> s = sentences_of("Fever; no rash!\\nLikely (B).")
        >>> s.pieces, s.starts, s.words
        (['fever.', 'no rash.', 'likely (b).'], [0, 7, 16], ['fever', 'no', 'rash', 'likely', 'b'])
    """
    # Real question marks end sentences; after folding, "?" only marks a non-ASCII character.
    text = ascii_fold(block.lower().replace("?", ".")).translate(_BOUNDARIES).replace(". ", ".\x1f")
    pieces = text.split("\x1f")
    starts = list(accumulate(map(_PLUS_ONE, map(len, pieces[:-1])), initial=0))
    broken = text.translate(_WORD_BREAKS_KEEP)
    return Sentences(text, pieces, starts, broken.split("\x1f"), broken.split())


def weigh_options(block: str, case: Case, count_neutral: bool = False, stems: set[str] | None = None) -> Weighing:
    """Find how ``block`` weighs the case's options (rules in the module docstring).

    Args:
        block: the analysis or conclusion text.
        case: the validated case.
        count_neutral: count a plain mention as half a supporting one (for conclusions, which
            name their choice without arguing).
        stems: the block's content stems, when the caller has them already.

    Example:
        >>> from verl_crpo.rewards.case import build_case
        >>> case = build_case("demo", "B", {"question": "Dry cough, erythema nodosum and bilateral hilar "
        ...     "lymphadenopathy.", "options": {"A": "Tuberculosis", "B": "Sarcoidosis", "C": "Lymphoma"}}, True)
        >>> w = weigh_options("Sarcoidosis best explains the hilar lymphadenopathy with erythema nodosum. "
        ...                   "Tuberculosis is unlikely without fever or night sweats. Lymphoma is possible.", case)
        >>> sorted(w.supported), sorted(w.rejected), w.choice
        (['B'], ['A'], 'B')
    """
    return weigh_sentences(sentences_of(block), case, count_neutral, stems)


def weigh_sentences(
    block: Sentences, case: Case, count_neutral: bool = False, stems: set[str] | None = None
) -> Weighing:
    """:func:`weigh_options` for a block already split by :func:`sentences_of`."""
    if stems is None:
        stems = stems_of(block.words)
    mentions = _mentions(block, case, stems & case.stem_owner.keys())
    net = dict.fromkeys(case.options, 0.0)
    supported, rejected = set(), set()
    weighed = 0
    for sentence in sorted(mentions):
        letters = mentions[sentence]
        if len(letters) >= 3:
            continue
        weighed += 1
        if weighed > MAX_SENTENCES:
            break
        piece, start = block.pieces[sentence], block.starts[sentence]
        words = block.tokens[sentence].split()
        cues = cues_of(words)
        reasons = None
        for letter, position in letters.items():
            # Words before the mention; a space count is exact for the single-spaced text models write.
            stance = stance_at(piece.count(" ", 0, position - start), cues) if cues else 0
            if stance == 0:
                net[letter] += 0.5 if count_neutral else 0.0
                continue
            net[letter] += stance
            found = supported if stance > 0 else rejected
            if letter in found:
                continue  # a reasoned mention with this stance is already on record
            if reasons is None:
                reasons = reason_words(words)
            if len(reasons - case.option_words[letter]) >= MIN_REASON_WORDS:
                found.add(letter)
    best = max(net.values())
    leaders = [letter for letter, value in net.items() if value == best]
    choice = leaders[0] if best > 0 and len(leaders) == 1 else None
    return Weighing(frozenset(supported), frozenset(rejected), net, choice)


def _mentions(block: Sentences, case: Case, present: set[str]) -> dict[int, dict[str, int]]:
    """Sentence index -> option letter -> offset of its first mention in ``block.text``."""
    text, pieces, starts = block.text, block.pieces, block.starts
    # Only the first MAX_SENTENCES * 4 sentences can hold a weighed mention (at most 3 of 4 are lists).
    last = min(len(pieces), MAX_SENTENCES * 4)
    end = starts[last - 1] + len(pieces[last - 1])
    hits = [(m.start(), m.group(1).upper()) for m in _PAREN_REF.finditer(text, 0, end)]
    hits += _option_refs(text, end)
    found: dict[int, dict[str, int]] = {}
    for position, letter in hits:
        if letter in case.options:
            _add(found, bisect_right(starts, position) - 1, letter, position)
    for index, end_of_marker, letter in _markers(text, pieces, starts, end):
        if letter in case.options:
            # A bare "A." line item leaves its text in the next sentence.
            piece = pieces[index]
            target = index + 1 if end_of_marker >= len(piece.rstrip()) and index + 1 < len(pieces) else index
            _add(found, target, letter, starts[target])
    # Sorted: set order varies with PYTHONHASHSEED (the order of hits is immaterial, but stays fixed).
    _add_names(found, text, starts, end, sorted(present), case)
    return found


def _option_refs(text: str, end: int) -> list[tuple[int, str]]:
    """``(offset, letter)`` of each "option C", "choice (C)" before ``end``."""
    # A reference ends in a letter a-j that no letter follows, so none can hold the start of another.
    hits = []
    for word in ("option", "choice"):
        position = text.find(word, 0, end)
        while position != -1:
            tail = _OPTION_REF_TAIL.match(text, position + len(word), end)
            if tail:
                hits.append((position, tail.group(1).upper()))
            position = text.find(word, position + len(word), end)
    return hits


def _add(found: dict[int, dict[str, int]], sentence: int, letter: str, position: int) -> None:
    slot = found.setdefault(sentence, {})
    if slot.get(letter, position + 1) > position:
        slot[letter] = position


def _markers(text: str, pieces: list[str], starts: list[int], end: int) -> list[tuple[int, int, str]]:
    """``(sentence, end of its marker, letter)`` for each sentence starting like ``A.``, ``(A)``, ``- A)``."""
    first = _MARKER.match(pieces[0])
    found = [(0, first.end(), first.group(1).upper())] if first else []
    for match in _MARKER_AFTER_BREAK.finditer(text, 0, end):
        index = bisect_right(starts, match.start() + 1) - 1
        found.append((index, match.end() - starts[index], match.group(1).upper()))
    return found


def _add_names(found: dict[int, dict[str, int]], text: str, starts: list[int], end: int, stems, case: Case) -> None:
    """Add the options each sentence names by enough of their identifying stems (rule 2).

    A stem is found at its first occurrence in a sentence that does not follow a letter (it may
    end inside a word: ``sarcoi`` in "sarcoidosis", not in "xsarcoidosis").
    """
    need = {letter: n for letter, (_, n) in case.option_keys.items()}
    several: dict[tuple[int, str], list[int]] = {}  # options named by more than one stem
    for stem in stems:
        owners = case.stem_owner[stem]
        position = text.find(stem, 0, end)
        while position != -1:
            if position and text[position - 1].isalpha():
                position = text.find(stem, position + 1, end)
                continue
            sentence = bisect_right(starts, position) - 1
            for letter in owners:
                if need[letter] == 1:
                    _add(found, sentence, letter, position)
                else:
                    several.setdefault((sentence, letter), []).append(position)
            # Later hits in the same sentence add nothing: go on from the next one.
            position = text.find(stem, starts[sentence + 1], end) if sentence + 1 < len(starts) else -1
    for (sentence, letter), positions in several.items():
        if len(positions) >= need[letter]:
            _add(found, sentence, letter, min(positions))
