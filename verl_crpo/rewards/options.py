"""Where a block of text names the options: its units (sentences, list items) and the options each names.

Rules (our choices), read by :mod:`~verl_crpo.rewards.reading`:

1. **Units.** A block is split at ``.``, ``!``, ``?``, ``;`` followed by a space (not after a
   lone letter: "- B. Myasthenia gravis: ..." is one list item), and at newlines. Check and cross
   marks (✔ ✓ ✅ / ✘ ✗ ❌ ✖) are read as "supported" / "rejected".
2. **Names of an option**: its letter (``(C)``, ``option C``, ``choice C``, a line starting
   ``C.``, ``C)``, ``C:``, ``C -``, ``**C.``, ``| C |``, or a bare ``C`` opening two or more lines);
   its distinctive words (half, rounded up, of the words no other option shares, less modifiers
   such as "acute" and case findings when others remain; an option whose words all occur in
   other options has none); its whole text ("Decreased serum calcium and increased phosphate");
   its numbers, with their unit ("70 mL/h") or as a ratio ("2:1", "two-to-one"); its initials
   or an upper-case abbreviation (:func:`~verl_crpo.rewards.case.abbreviation_owner`); a group
   ("B and C", "B, C and D", "neither B nor C", "options A-C", :func:`groups_of`).
3. A unit opened by a list item's letter is about that option: the other options its text
   names are named in passing.
4. Only the first :data:`MAX_SENTENCES` claim units are read (:mod:`~verl_crpo.rewards.reading`):
   repetition beyond that earns nothing, and the cost of scoring stays bounded.

Everything is linear in the block: units and words come from ``str`` translations and splits of
the whole block, done once (:func:`sentences_of`), names from literal searches over it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate, pairwise

import regex

from verl_crpo.rewards.case import Case, abbreviation_owner, name_probe
from verl_crpo.rewards.text import NUMBER_WORDS, WORD_BREAKS, ascii_fold

__all__ = ["ANAPHORS", "MAX_CARRY", "MAX_SENTENCES", "Sentences", "groups_of", "option_mentions", "sentences_of"]

# Claim units read per block: ten options weighed in three sentences each; more earns nothing.
MAX_SENTENCES = 32
# A list item or a short paragraph about one option rarely runs past three sentences.
MAX_CARRY = 3

# A mark stays in its sentence: "✅ **A. ...**" opens the item it judges, "... ✘" closes it.
_MARKS = {**dict.fromkeys("✔✓✅☑", " supported "), **dict.fromkeys("✘✗❌✖", " rejected ")}
# Length-preserving: every sentence boundary becomes "\x1f", so offsets survive the split.
_BOUNDARIES = str.maketrans({"!": ".", ";": ".", "\n": "\x1f", "\r": "\x1f"})
# WORD_BREAKS that keeps the boundaries: str.split() splits at "\x1f" too, so one translation
# gives both the block's words and each sentence's.
_WORD_BREAKS_KEEP = {**WORD_BREAKS, 0x1F: "\x1f"}
_PLUS_ONE = (1).__add__


def _split_sentences(text: str) -> str:
    """``text`` with each sentence-ending ". " made ".\x1f", except after a lone letter ("- B. Myasthenia ...")."""
    out = text.replace(". ", ".\x1f")
    position = out.find(".\x1f")
    while position != -1:
        if position and out[position - 1].isalpha() and (position == 1 or not out[position - 2].isalnum()):
            out = out[: position + 1] + " " + out[position + 2 :]  # same length: offsets survive
        position = out.find(".\x1f", position + 2)
    return out


_WORD_AT = re.compile(r"[a-z0-9]*")
_PAREN_REF = re.compile(r"\(([a-j])\)")  # re: faster than regex on this literal pattern
# What follows "option" or "choice" (found by str.find: a scan for the words costs more).
_OPTION_REF_TAIL = regex.compile(r"\s*+\(?([a-j])\)?(?![\p{L}\d])")
# What follows "answer": "answer is (C).", "answer: C" (a letter ending the clause, not the article "a").
_ANSWER_REF_TAIL = regex.compile(
    r"\s*+(?:is\s++|:\s*+)?(?:option\s++|choice\s++)?\(?([a-j])\)?(?=\s*+(?:[.,;:)*]|\x1f|$))"
)
_REF_WORDS = (("option", _OPTION_REF_TAIL), ("choice", _OPTION_REF_TAIL), ("answer", _ANSWER_REF_TAIL))
_MARKER = regex.compile(
    r"[ \t*\u2022>#|-]*+(?:(?:supported|rejected)[ \t*]++)?\(?([a-j])(?:[.):]|[ \t]*+\||[ \t]++[-\u2013\u2014?]|\*\*)"
    r"(?:\s|$)"
)
# _MARKER at the start of any later sentence: after a break, and ending at one like "$" ends a sentence.
# On the folded (ASCII) text "\u2022" cannot occur and dashes are "?"; re finds the leading break
# by a fast literal search, which regex does not.
_MARKER_AFTER_BREAK = re.compile(
    r"\x1f[ \t*>#|-]*+(?:(?:supported|rejected)[ \t*]++)?\(?([a-j])(?:[.):]|[ \t]*+\||[ \t]++[-?]|\*\*)"
    r"(?:[ \t\x0b\x0c]|(?=\x1f)|\Z)"
)
# A continued sentence argues about the option only when it refers back to it ("it", "this drug").
ANAPHORS = frozenset({"it", "its", "this", "these", "they", "them", "their", "such", "which", "that"})


@dataclass(frozen=True)
class Sentences:
    """A block split into sentences (rule 1) and words, once.

    Attributes:
        text: the block lower-cased and ASCII-folded, each sentence boundary a ``"\\x1f"``.
        pieces: the sentences of ``text``.
        starts: the offset in ``text`` of each sentence.
        tokens: per sentence, its text with word breaks as spaces (``split()`` gives its words).
        words: the block's words, as :func:`~verl_crpo.rewards.text.words_of` gives them.
        vocabulary: the set of ``words``.
        cased: ``text`` before lower-casing (same offsets): letters and abbreviations are read in capitals.
        line_starts: indices of the sentences that open a line (a list item, a paragraph).
    """

    text: str
    pieces: list[str]
    starts: list[int]
    tokens: list[str]
    words: list[str]
    vocabulary: frozenset[str]
    cased: str
    line_starts: frozenset[int]


def sentences_of(block: str) -> Sentences:
    """Split ``block`` into sentences and words.

    Example:
        >>> s = sentences_of("Fever; no rash!\\nLikely (B). ✘")
        >>> s.pieces, s.starts
        (['fever.', 'no rash.', 'likely (b).', ' rejected '], [0, 7, 16, 28])
        >>> s.words
        ['fever', 'no', 'rash', 'likely', 'b', 'rejected']
    """
    # Real question marks end sentences; after folding, "?" only marks a non-ASCII character.
    text = block
    if not block.isascii():
        # str.translate is slow on non-ASCII text; marks are rare, replace only those present.
        for mark, word in _MARKS.items():
            if mark in text:
                text = text.replace(mark, word)
    folded = ascii_fold(text.replace("?", "."))
    cased = _split_sentences(folded.translate(_BOUNDARIES))
    text = cased.lower()
    pieces = text.split("\x1f")
    starts = list(accumulate(map(_PLUS_ONE, map(len, pieces[:-1])), initial=0))
    line_starts = frozenset(i for i, start in enumerate(starts) if start == 0 or folded[start - 1] == "\n")
    broken = text.translate(_WORD_BREAKS_KEEP)
    words = broken.split()
    return Sentences(text, pieces, starts, broken.split("\x1f"), words, frozenset(words), cased, line_starts)


def option_mentions(
    block: Sentences, case: Case, present: set[str], groups: list[tuple[int, tuple[str, ...]]] | None = None
) -> dict[int, dict[str, int]]:
    """Sentence index -> option letter -> offset of its first mention in ``block.text``.

    ``groups``: :func:`groups_of` of the block, when the caller has it.
    """
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
    items: dict[int, str] = {}
    for index, end_of_marker, letter in _markers(text, pieces, starts, end):
        if letter in case.options:
            # A bare "A." line item leaves its text in the next sentence.
            piece = pieces[index]
            target = index + 1 if end_of_marker >= len(piece.rstrip()) and index + 1 < len(pieces) else index
            _add(found, target, letter, starts[target])
            items[target] = letter
    # Sorted: set order varies with PYTHONHASHSEED (the order of hits is immaterial, but stays fixed).
    _add_names(found, text, starts, end, sorted(present), case)
    if case.acronyms:
        _add_acronyms(found, text, starts, end, sorted(case.acronyms.keys() & block.vocabulary), case)
    _add_whole_texts(found, block, starts, end, case)
    _add_abbreviations(found, block, starts, end, case)
    _add_bare_letters(found, block, starts, end, case)
    for position, letters in groups_of(block, end) if groups is None else groups:
        for letter in letters:
            if letter in case.options:
                _add(found, bisect_right(starts, position) - 1, letter, position)
    for index, letter in items.items():
        # A list item opened by its letter ("- **B. Decreased calcium ...** - ...") is about that
        # option; other options its text names are named in passing.
        if index in found and letter in found[index]:
            found[index] = {letter: found[index][letter]}
    return found


def _add_whole_texts(found: dict[int, dict[str, int]], block: Sentences, starts: list[int], end: int, case: Case):
    """Add each option named by its whole text ("Neonatal hepatitis with ...") or its numbers ("8:10").

    Longer texts first: a match inside an earlier, longer match (an option whose text holds
    another's) names only the longer option.
    """
    taken: list[tuple[int, int]] = []
    ordered = sorted(case.text_patterns.items(), key=lambda item: -len(case.options[item[0]]))
    for letter, pattern in ordered:
        if pattern is None or not _gate(case.options[letter], block.vocabulary):
            continue
        for match in pattern.finditer(block.text, 0, end):
            if any(s <= match.start() and match.end() <= e for s, e in taken):
                continue
            taken.append(match.span())
            _add(found, bisect_right(starts, match.start()) - 1, letter, match.start())


def _gate(option_text: str, vocabulary: frozenset[str]) -> bool:
    # Its first word (or number, or that number in words) must be in the block for the whole text to be there.
    first = ascii_fold(option_text.lower()).translate(WORD_BREAKS).split()
    return bool(first) and (first[0] in vocabulary or NUMBER_WORDS.get(first[0], "") in vocabulary)


_CAPITALS = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Za-z0-9]{1,5}(?![A-Za-z0-9])")


def _add_abbreviations(found: dict[int, dict[str, int]], block: Sentences, starts: list[int], end: int, case: Case):
    """Add the options named by an upper-case abbreviation ("MTX", "TB", "HCTZ"): :func:`abbreviation_owner`."""
    for match in _CAPITALS.finditer(block.cased, 0, end):
        token = match.group()
        # All capitals ("MTX", "HCTZ", "CML"): "HCl", "HbF" are formulas and names, not abbreviations.
        if not token.isupper() or sum(c.isalpha() for c in token) < 2:
            continue
        letter = abbreviation_owner(case, token)
        if letter is not None:
            _add(found, bisect_right(starts, match.start()) - 1, letter, match.start())


# A line that starts with a capital letter and a space ("B chr 7 del (Williams): ... -> no").
_BARE_LETTER = re.compile(r"[ \t*>#|-]*([A-J])[ \t]+(?=\S)")


def _add_bare_letters(found: dict[int, dict[str, int]], block: Sentences, starts: list[int], end: int, case: Case):
    """Add list items opened by a bare capital letter, when two or more items are (a list, not the article "A")."""
    matches = (_BARE_LETTER.match(block.cased, start, end) for start in starts if start < end)
    hits = [(m.start(1), m.group(1)) for m in matches if m]
    if len({letter for _, letter in hits}) < 2:
        return
    for position, letter in hits:
        if letter in case.options:
            _add(found, bisect_right(starts, position) - 1, letter, position)


# A capital letter standing alone ("B", "(C)"): the only way letters are named in a group.
_LONE_CAPITAL = re.compile(r"(?<![A-Za-z0-9'])\(?([A-J])\)?(?![A-Za-z0-9'])")
# What may join two letters of a group: "B and C", "B, C, and D", "B/C", "neither B nor C", "options B or D".
_JOIN = re.compile(
    r"\s*(?:,\s*(?:and\s+|or\s+)?|/|&|\s(?:and|or|nor)\s+|-|\?|\s(?:to|through)\s+)\s*(?:(?:options?|choices?)\s+)?$"
)
_RANGE_JOIN = re.compile(r"^\s*(?:-|\?|to|through)\s*$")


def groups_of(block: Sentences, end: int | None = None) -> list[tuple[int, tuple[str, ...]]]:
    """Options named together: ``(offset, letters)`` for "B and C", "B, C and D", "neither B nor C", "options A-C".

    Letters standing alone are found in one pass; neighbours joined by a comma, "and", "or",
    "nor" or "/" form a group, and a dash or "to" between two letters is a range ("A-C").

    Example:
        >>> groups_of(sentences_of("B and C are both loop diuretics; options D-F raise potassium."))
        [(0, ('B', 'C')), (41, ('D', 'E', 'F'))]
    """
    end = len(block.cased) if end is None else end
    text = block.cased
    hits = [(m.start(), m.end(), m.group(1)) for m in _LONE_CAPITAL.finditer(text, 0, end)]
    out: list[tuple[int, tuple[str, ...]]] = []
    run: list[tuple[int, int, str]] = []
    for hit in hits:
        if run and _JOIN.match(text, run[-1][1], hit[0]) and hit[0] - run[-1][1] <= 16:
            run.append(hit)
            continue
        _close(run, text, out)
        run = [hit]
    _close(run, text, out)
    return out


def _close(run: list[tuple[int, int, str]], text: str, out: list) -> None:
    if len(run) < 2:
        return
    letters: list[str] = []
    for (_, previous_end, previous), (start, _, letter) in pairwise(run):
        if _RANGE_JOIN.match(text[previous_end:start]) and previous < letter:
            letters.extend(chr(c) for c in range(ord(previous) + 1, ord(letter)))
        letters.append(letter)
    group = tuple(dict.fromkeys([run[0][2], *letters]))
    # "A-C" is a range only where letters are named: "(A-C)", "options A-C"; "vitamin B-C" is not.
    if len(group) >= 2:
        out.append((run[0][0], group))


def _option_refs(text: str, end: int) -> list[tuple[int, str]]:
    """``(offset, letter)`` of each "option C", "choice (C)", "answer is C." before ``end``."""
    # A reference ends in a letter a-j that no letter follows, so none can hold the start of another.
    hits = []
    for word, pattern in _REF_WORDS:
        position = text.find(word, 0, end)
        while position != -1:
            tail = pattern.match(text, position + len(word), end)
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


def _add_acronyms(found: dict[int, dict[str, int]], text: str, starts: list[int], end: int, acronyms, case: Case):
    """Add the options each sentence names by their initials ("SLE"), as whole words."""
    for acronym in acronyms:
        letter = case.acronyms[acronym]
        position = text.find(acronym, 0, end)
        while position != -1:
            after = position + len(acronym)
            if not (position and text[position - 1].isalnum()) and not (after < len(text) and text[after].isalnum()):
                _add(found, bisect_right(starts, position) - 1, letter, position)
            position = text.find(acronym, after, end)


def _names(text: str, position: int, key: str, probe: str) -> bool:
    word = _WORD_AT.match(text, position).group()
    return word.startswith(probe) or (len(word) >= 6 and key.startswith(word))


def _add_names(found: dict[int, dict[str, int]], text: str, starts: list[int], end: int, keys, case: Case) -> None:
    """Add the options each sentence names by enough of their identifying words (rule 2).

    A key names a word that starts like it, allowing an inflection ("granulomas", "sarcoid" for
    "sarcoidosis"), but not another word on the same root ("tyrosinaemia" is not "tyrosinase").
    """
    hits: dict[tuple[int, str], dict[str, int]] = {}  # (sentence, letter) -> key -> first offset
    for key in keys:
        owners = case.key_owner[key]
        # Letters this key names alone (most keys): added at once, without collecting hits.
        alone = [letter for letter in owners if any(n == 1 and key in ks for ks, n in case.option_keys[letter])]
        probe = name_probe(key)
        prefix, whole_word = probe[:6], len(probe) > 6
        position = text.find(prefix, 0, end)
        while position != -1:
            if (position and text[position - 1].isalpha()) or (whole_word and not _names(text, position, key, probe)):
                position = text.find(prefix, position + 1, end)
                continue
            sentence = bisect_right(starts, position) - 1
            for letter in owners:
                if letter in alone:
                    _add(found, sentence, letter, position)
                else:
                    hits.setdefault((sentence, letter), {}).setdefault(key, position)
            # Later hits in the same sentence add nothing: go on from the next one.
            position = text.find(prefix, starts[sentence + 1], end) if sentence + 1 < len(starts) else -1
    for (sentence, letter), found_keys in hits.items():
        if any(len(found_keys.keys() & keys) >= need for keys, need in case.option_keys[letter]):
            _add(found, sentence, letter, min(found_keys.values()))
