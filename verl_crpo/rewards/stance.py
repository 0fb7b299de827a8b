"""Cue words and reason words of a sentence: the stance and reason rules (4, 5) of :mod:`verl_crpo.rewards.options`."""

from __future__ import annotations

from itertools import compress, count

from verl_crpo.rewards.text import GENERIC_WORDS, STOP_WORDS

__all__ = ["cues_of", "reason_words", "stance_at"]

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
# Word -> 1 support, -1 rejection, 0 needs the next word ("rule out", "rather than").
_CUE_OPENERS = {
    **dict.fromkeys(_RULE | _FORWARD.keys(), 0),
    **dict.fromkeys(_REJECT_WORDS, -1),
    **dict.fromkeys(_SUPPORT_WORDS, 1),
}
_NOT_REASONS = _CUE_WORDS | STOP_WORDS | GENERIC_WORDS | {"most", "more", "very", "much", "option", "choice"}


def cues_of(words: list[str]) -> list[tuple[int, int, bool]]:
    """``(word index, stance, forward_only)`` for each cue among a sentence's words."""
    cues = []
    last = len(words) - 1
    # Only words that can open a cue are visited ("out", "than", "of", ... only complete one).
    for i in compress(count(), map(_CUE_OPENERS.__contains__, words)):
        word = words[i]
        kind = _CUE_OPENERS[word]
        if kind > 0:
            cues.append((i, -1 if word == "likely" and i and words[i - 1] == "less" else 1, False))
        elif kind < 0 or (word in _RULE and i < last and words[i + 1] == "out"):
            cues.append((i, -1, False))
        elif word in _FORWARD and i < last and words[i + 1] == _FORWARD[word]:
            cues.append((i, -1, True))
    return cues


def stance_at(position: int, cues: list[tuple[int, int, bool]]) -> int:
    """The stance of the cue nearest word ``position`` (forward-only cues count only before it); 0 without one."""
    best_gap, stance = None, 0
    for index, kind, forward_only in cues:
        if forward_only and index > position:
            continue
        gap = abs(index - position)
        if best_gap is None or gap < best_gap:
            best_gap, stance = gap, kind
    return stance


_REASON_CACHE: dict[str, bool] = {}
_REASON_CACHE_LIMIT = 200_000


def reason_words(words: list[str]) -> set[str]:
    """The distinct words that can be a reason: not a cue, stop or generic word, 3+ characters, not a number."""
    unique = set(words)
    cache = _REASON_CACHE
    try:
        return set(compress(unique, map(cache.__getitem__, unique)))
    except KeyError:
        # A memo, not state: whether a word can be a reason never changes; bounded against garbage.
        if len(cache) > _REASON_CACHE_LIMIT:
            cache.clear()
        for w in unique:
            cache[w] = w not in _NOT_REASONS and len(w) > 2 and not w.isdigit()
        return set(compress(unique, map(cache.__getitem__, unique)))
