"""ConText-style stance of a clause: does it argue for or against what it is about?

ConText (Harkema et al., 2009; NegEx before it) decides whether a clinical statement is negated,
hypothetical, historical or about someone else from *trigger* phrases with a direction and a
scope. We use the method, not a heavy pipeline: the triggers are word lists
(:mod:`verl_crpo.rewards.lexicon`), scopes are short word windows inside one clause, and one
left-to-right pass over the clause's words computes everything.

:func:`stance` reads a clause about one option. Rules (our choices):

1. A support trigger ("consistent", "explains", "best", "indicated", "first line", "drug of
   choice", "is the treatment", a check mark) counts +1, unless a negation ("not", "no",
   "nothing", "doesnt", ...) or "less" stands within :data:`NEGATION_SCOPE` words before it: then
   it counts -1 ("does not explain", "nothing here suggests", "less likely").
2. A rejection trigger ("unlikely", "excluded", "contraindicated", "would worsen", "argues
   against", a cross mark) counts -1; "rule out" / "ruled out" too.
3. A negation that negates no support trigger counts -1/2: it denies something about the option
   or the case ("no adrenal signs", "does not cause bradycardia").

The result is support minus rejection; its sign is the clause's stance.
"""

from __future__ import annotations

from itertools import compress, count

from verl_crpo.rewards.lexicon import NEGATION_WORDS, REJECT_WORDS, SUPPORT_WORDS

__all__ = ["NEGATION_SCOPE", "contrast_before", "stance"]

NEGATION_SCOPE = 3
# Nouns that "<option> is the ..." names as the answer the question asks for.
_ANSWER_NOUNS = frozenset(
    """
    treatment therapy answer diagnosis cause choice drug agent management step mechanism explanation
    organism pathogen site nerve enzyme finding test investigation intervention medication culprit
    """.split()  # noqa: SIM905 (a word list reads better as prose)
)
_COPULA = frozenset({"is", "are", "remains", "be", "was", "represents"})
_TRIGGERS = {
    **dict.fromkeys(NEGATION_WORDS, "neg"),
    **dict.fromkeys(REJECT_WORDS, "reject"),
    **dict.fromkeys(SUPPORT_WORDS, "support"),
    "the": "the",
    "line": "line",
    "choice": "choice",
    "rule": "rule",
    "rules": "rule",
    "ruled": "rule",
    "ruling": "rule",
}
_NEGATORS = NEGATION_WORDS | {"less", "least"}
# Words right before a second option that reject it: "levothyroxine rather than methimazole".
_CONTRAST = frozenset({"not", "than", "unlike", "over", "instead", "versus", "vs", "nor"})


def stance(words: list[str]) -> float:
    """Support minus rejection in a clause about one option (rules in the module docstring).

    Args:
        words: the clause's lower-cased words (:func:`~verl_crpo.rewards.text.words_of`).

    Returns:
        A float; positive when the clause argues for, negative when against, 0 when neutral.

    Example:
        >>> stance("levothyroxine replaces the missing hormone and is the treatment".split())
        1.0
        >>> stance("hydrocortisone treats adrenal insufficiency which nothing here suggests".split())
        -1.0
        >>> stance("propranolol controls adrenergic symptoms her bradycardia argues against it".split())
        -1.0
        >>> stance("radioactive iodine ablates the gland".split())
        0.0
    """
    total = 0.0
    negated_until = -1  # the last word a pending negation's scope covers
    consumed = True
    for i in compress(count(), map(_TRIGGERS.__contains__, words)):
        kind = _TRIGGERS[words[i]]
        if kind == "neg":
            if not consumed:
                total -= 0.5
            negated_until, consumed = i + NEGATION_SCOPE, False
            continue
        if kind == "the":
            if not (i and words[i - 1] in _COPULA and not _ANSWER_NOUNS.isdisjoint(words[i + 1 : i + 4])):
                continue
        elif kind == "line":
            if not (i and words[i - 1] == "first"):
                continue
        elif kind == "choice":
            if not (i and words[i - 1] == "of"):
                continue
        elif kind == "rule":
            if i + 1 < len(words) and words[i + 1] == "out":
                total -= 1.0
            continue
        elif kind == "reject":
            total -= 1.0
            continue
        # A support trigger: negated by a pending negation or by "less" just before it.
        if i <= negated_until and not consumed:
            total -= 1.0
            consumed = True
        elif i and words[i - 1] in _NEGATORS:
            total -= 1.0
        else:
            total += 1.0
    if not consumed:
        total -= 0.5
    return total


def contrast_before(words: list[str]) -> bool:
    """Whether a clause's last two words reject what follows ("rather than", "instead of", "not", "unlike").

    Example:
        >>> contrast_before("levothyroxine rather than".split()), contrast_before("levothyroxine and".split())
        (True, False)
    """
    return bool(words) and (words[-1] in _CONTRAST or words[-2:] == ["instead", "of"])
