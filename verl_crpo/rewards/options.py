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

Everything is linear in the block: sentences come from ``str`` splits, mentions from literal
searches, and only sentences that mention an option are tokenised.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import regex

from verl_crpo.rewards.case import Case
from verl_crpo.rewards.text import GENERIC_WORDS, STOP_WORDS, WORD_BREAKS, ascii_fold, stems_of, words_of

__all__ = ["MAX_SENTENCES", "MIN_REASON_WORDS", "Weighing", "weigh_options"]

MIN_REASON_WORDS = 1
MAX_SENTENCES = 64

# Length-preserving: every sentence boundary becomes "\x1f", so offsets survive the split.
_BOUNDARIES = str.maketrans({"!": ".", ";": ".", "\n": "\x1f", "\r": "\x1f"})
_PAREN_REF = regex.compile(r"\(([a-j])\)")
_OPTION_REF = regex.compile(r"(?:option|choice)\s*+\(?([a-j])\)?(?![\p{L}\d])")
_MARKER = regex.compile(r"[ \t*\u2022>#-]*+\(?([a-j])[.):](?:\s|$)")

_REJECT_WORDS = frozenset(
    """
    unlikely inconsistent incompatible against exclude excluded excludes excluding incorrect wrong
    contraindicated inappropriate unnecessary premature absent absence lack lacks lacking none neither nor
    no not without unable doesnt dont didnt wouldnt cannot cant couldnt isnt arent wasnt werent fails fail
    implausible improbable atypical
    """.split()  # noqa: SIM905 (a word list reads better as prose)
)
_SUPPORT_WORDS = frozenset(
    """
    likely consistent compatible explains explain explained explaining supports support supported
    supporting suggests suggest suggestive suggesting indicates indicate indicative indicating
    characteristic classic typical diagnostic pathognomonic fits fit fitting favours favors favour favor
    favoured favored favouring favoring confirms confirm confirmed confirming correct best appropriate
    indicated choose select accounts point points pointing keeping hallmark
    """.split()  # noqa: SIM905
)
_RULE = frozenset({"rule", "rules", "ruled", "ruling"})
_FORWARD = {"rather": "than", "instead": "of", "opposed": "to"}
_CUE_WORDS = _REJECT_WORDS | _SUPPORT_WORDS | _RULE | _FORWARD.keys() | {"out", "than", "of", "to", "less"}
_NOT_REASONS = _CUE_WORDS | STOP_WORDS | GENERIC_WORDS | {"most", "more", "very", "much", "option", "choice"}


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
    # Real question marks end sentences; after folding, "?" only marks a non-ASCII character.
    text = ascii_fold(block.lower().replace("?", ".")).translate(_BOUNDARIES).replace(". ", ".\x1f")
    pieces = text.split("\x1f")
    starts, offset = [], 0
    for piece in pieces:
        starts.append(offset)
        offset += len(piece) + 1
    if stems is None:
        stems = stems_of(words_of(text))
    mentions = _mentions(text, pieces, starts, case, stems & case.stem_owner.keys())
    net = dict.fromkeys(case.options, 0.0)
    supported, rejected = set(), set()
    weighed = 0
    for sentence, letters in sorted(mentions.items()):
        if len(letters) >= 3:
            continue
        weighed += 1
        if weighed > MAX_SENTENCES:
            break
        piece = pieces[sentence]
        words = piece.translate(WORD_BREAKS).split()
        cues = _cues(words)
        reasons = None
        for letter, position in letters.items():
            # Words before the mention; a space count is exact for the single-spaced text models write.
            stance = _stance(piece.count(" ", 0, position - starts[sentence]), cues)
            if stance == 0:
                net[letter] += 0.5 if count_neutral else 0.0
                continue
            net[letter] += stance
            if reasons is None:
                reasons = {w for w in set(words) - _NOT_REASONS if len(w) > 2 and not w.isdigit()}
            if len(reasons - case.option_words[letter]) >= MIN_REASON_WORDS:
                (supported if stance > 0 else rejected).add(letter)
    best = max(net.values())
    leaders = [letter for letter, value in net.items() if value == best]
    choice = leaders[0] if best > 0 and len(leaders) == 1 else None
    return Weighing(frozenset(supported), frozenset(rejected), net, choice)


def _mentions(
    text: str, pieces: list[str], starts: list[int], case: Case, present: set[str]
) -> dict[int, dict[str, int]]:
    """Sentence index -> option letter -> offset of its first mention in ``text``."""
    found: dict[int, dict[str, int]] = {}

    def add(sentence: int, letter: str, position: int) -> None:
        slot = found.setdefault(sentence, {})
        if letter not in slot or position < slot[letter]:
            slot[letter] = position

    patterns = [_PAREN_REF] + [_OPTION_REF] * ("option" in text or "choice" in text)
    # Only the first MAX_SENTENCES * 4 sentences can hold a weighed mention (at most 3 of 4 are lists).
    last = min(len(pieces), MAX_SENTENCES * 4)
    end = starts[last - 1] + len(pieces[last - 1]) if last else 0
    for pattern in patterns:
        for match in pattern.finditer(text, 0, end):
            letter = match.group(1).upper()
            if letter in case.options:
                add(bisect_right(starts, match.start()) - 1, letter, match.start())
    # Sorted: set order varies with PYTHONHASHSEED, and the first offset decides the nearest cue.
    stems = sorted(present)
    for index, piece in enumerate(pieces[:last]):
        if piece[1:2] in ".):" or piece[:1] in "(*-\u2022> \t#":
            marker = _MARKER.match(piece)
            if marker and marker.group(1).upper() in case.options:
                # A bare "A." line item leaves its text in the next sentence.
                target = index + 1 if marker.end() >= len(piece.rstrip()) and index + 1 < len(pieces) else index
                add(target, marker.group(1).upper(), starts[target])
        # Sentences are short: a substring test per stem is cheaper than locating every hit.
        named = [stem for stem in stems if stem in piece]
        if named:
            _add_names(index, piece, starts[index], named, case, add)
    return found


def _add_names(index: int, piece: str, start: int, named: list[str], case: Case, add) -> None:
    """Add the options that ``piece`` names by enough of their identifying stems."""
    hits: dict[str, list[int]] = {}
    for stem in named:
        position = piece.find(stem)
        while position > 0 and piece[position - 1].isalpha():
            position = piece.find(stem, position + 1)
        if position != -1:
            for letter in case.stem_owner[stem]:
                hits.setdefault(letter, []).append(position)
    for letter, positions in hits.items():
        if len(positions) >= case.option_keys[letter][1]:
            add(index, letter, start + min(positions))


def _cues(words: list[str]) -> list[tuple[int, int, bool]]:
    """``(word index, stance, forward_only)`` for each cue among a sentence's words."""
    cues = []
    last = len(words) - 1
    for i in [i for i, w in enumerate(words) if w in _CUE_WORDS]:
        word = words[i]
        if word in _SUPPORT_WORDS:
            cues.append((i, -1 if word == "likely" and i and words[i - 1] == "less" else 1, False))
        elif word in _REJECT_WORDS or (word in _RULE and i < last and words[i + 1] == "out"):
            cues.append((i, -1, False))
        elif word in _FORWARD and i < last and words[i + 1] == _FORWARD[word]:
            cues.append((i, -1, True))
    return cues


def _stance(position: int, cues: list[tuple[int, int, bool]]) -> int:
    best_gap, stance = None, 0
    for index, kind, forward_only in cues:
        if forward_only and index > position:
            continue
        gap = abs(index - position)
        if best_gap is None or gap < best_gap:
            best_gap, stance = gap, kind
    return stance
