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
   against", a cross mark) counts -1; "rule out" / "ruled out" too; "against" only after a
   verb of arguing ("argues", "points", "speaks", "weighs") or "is".
3. A negation that negates no support trigger counts -1/2: it denies something about the option
   or the case ("no adrenal signs", "does not cause bradycardia").

The result is support minus rejection; its sign is the clause's stance.
"""

from __future__ import annotations

from itertools import compress, count

import regex

from verl_crpo.rewards.lexicon import NEGATION_WORDS, REJECT_WORDS, SUPPORT_WORDS
from verl_crpo.rewards.text import WORD_BREAKS

__all__ = ["NEGATION_SCOPE", "Verdict", "claim_stance", "contrast_before", "stance", "undecided"]

NEGATION_SCOPE = 5  # "nothing about her story points to ...": the verb comes a few words on
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
    "against": "against",
    "rule": "rule",
    "rules": "rule",
    "ruled": "rule",
    "ruling": "rule",
}
_NEGATORS = NEGATION_WORDS | {"less", "least"}
_AGAINST_VERBS = frozenset(
    [
        "argue",
        "argues",
        "argued",
        "arguing",
        "point",
        "points",
        "pointed",
        "speak",
        "speaks",
        "speaking",
        "count",
        "counts",
        "weigh",
        "weighs",
        "weighed",
        "militate",
        "militates",
        "militating",
        "evidence",
        "goes",
        "go",
        "is",
        "are",
        "was",
        "strongly",
        "heavily",
    ]
)
# Words right before a second option that reject it: "levothyroxine rather than methimazole".
# Not "versus": "mycoplasma versus legionella" weighs the two, it rejects neither.
_CONTRAST = frozenset({"not", "than", "unlike", "over", "instead", "nor"})


def stance(words: list[str], lone_negation: float = 0.0) -> float:
    """Support minus rejection in a clause about one option (rules in the module docstring).

    Args:
        words: the clause's lower-cased words (:func:`~verl_crpo.rewards.text.words_of`).
        lone_negation: what a negation that negates no trigger counts against (rule 3); 0 for
            a sentence that only continues a claim ("None of the others produces this").

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
                total -= lone_negation
            negated_until, consumed = i + NEGATION_SCOPE, False
            continue
        if kind == "the":
            if not (i and words[i - 1] in _COPULA and not _ANSWER_NOUNS.isdisjoint(words[i + 1 : i + 4])):
                continue
        elif kind == "line":
            if not (i and words[i - 1] == "first"):
                continue
        elif kind == "choice":
            if not (i and words[i - 1] in ("of", "my", "our")):
                continue
        elif kind == "against":
            # "argues against it" is a verdict; "contracts against the outlet" is physiology.
            if i and words[i - 1] in _AGAINST_VERBS:
                total -= 1.0
            continue
        elif kind == "rule":
            if i + 1 < len(words) and words[i + 1] == "out":
                total -= 1.0
            continue
        elif kind == "reject":
            if i <= negated_until and not consumed:
                total += 0.5  # "is not contraindicated", "would not worsen": a negated rejection
                consumed = True
            else:
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
        total -= lone_negation
    return total


def contrast_before(words: list[str]) -> bool:
    """Whether a clause's last two words reject what follows ("rather than", "instead of", "not", "unlike").

    Example:
        >>> contrast_before("levothyroxine rather than".split()), contrast_before("levothyroxine and".split())
        (True, False)
    """
    return bool(words) and (words[-1] in _CONTRAST or words[-2:] == ["instead", "of"])


class Verdict:
    """What a claim, or all the claims of a block, say of one option (plain strings, for readable dumps)."""

    SUPPORTS = "supports"
    REJECTS = "rejects"
    UNCERTAIN = "uncertain"
    NEUTRAL = "neutral"


# Left open rather than rejected: "cannot be ruled out", "remains possible", "is also plausible".
_UNCERTAIN = regex.compile(
    r"\b(?:cannot|can ?not|cant|could not|couldnt|not|unable to|difficult to|hard to|impossible to)\s++(?:yet\s++)?"
    r"(?:be\s++)?(?:completely\s++|entirely\s++|fully\s++|definitively\s++|confidently\s++|reliably\s++)?"
    r"(?:ruled?\s++out|rule\s++it\s++out|excluded?|eliminated?|dismissed?|discounted)"
    r"|\bremains?\s++(?:a\s++|an\s++|still\s++)?(?:possib|plausib|consideration|on the differential|"
    r"in the differential|"
    r"open|a candidate|viable|in play)"
    r"|\b(?:is|are)\s++(?:also\s++|still\s++|equally\s++|[a-z]++ly\s++)?"
    r"(?:possible|plausible|a possibility|conceivable|"
    r"not excluded|not ruled out)"
    r"|\b(?:should|must|needs?\s++to)\s++(?:also\s++|still\s++)?be\s++(?:considered|kept in mind|entertained)"
)
# The analysis or conclusion as a whole declines to decide.
_UNDECIDED = regex.compile(
    r"\bcannot\s++(?:be\s++)?(?:certain|sure|determined?|decided?|distinguish\w*+|say)"
    r"|\b(?:not|impossible to be|hard to be)\s++(?:sure|certain)\b|\b(?:uncertain|unclear|undetermined|equivocal|"
    r"indeterminate|inconclusive)\b"
    r"|\bfurther\s++(?:testing|tests|workup|work-up|evaluation|investigation|studies|information|data)\s++"
    r"(?:is\s++|are\s++|would\s++be\s++)?(?:needed|required|necessary|warranted)"
)
# A contrast hands the verdict to what follows it ("X could cause fever, but ... argues against it").
_CONTRAST_AFTER = regex.compile(r"\b(?:but|however|yet|nevertheless|nonetheless|still)\b")
# A clause opened by these is subordinate: the main clause, after its comma, holds the verdict.
_BARE_VERDICTS = {"no": Verdict.REJECTS, "not": Verdict.REJECTS, "yes": Verdict.SUPPORTS, "correct": Verdict.SUPPORTS}
# After folding, "?" is a non-ASCII character (an arrow, a dash): "→ no", "-> yes", ": no".
_ARROW_VERDICT = regex.compile(r"(?:\?|->|=>|:|\s-|\()\s*+(no|not|yes|correct)\b\)?[.\s]*+$")
_CONTRAST_OPENERS = ("although ", "though ", "even though ", "while ", "whereas ", "despite ", "even if ")


def claim_stance(clause: str, lone_negation: float = 0.0) -> tuple[str, bool]:
    """The verdict of one claim about one option, and whether a contrast decided it.

    Rules (our choices): a clause that leaves the option open ("cannot be ruled out", "remains
    possible") is uncertain, whatever else it says; after a contrast ("but", "however") the part
    after it decides when it takes a stance, else the part before, except that support followed
    by an objection ("it fits the age, but ...") is a rejection; a bare "No." rejects; a clause opened by
    "although"/"while" is decided by its main clause, after the first comma. The part that
    decides is read by :func:`stance`.

    Args:
        clause: the claim's text, lower-cased (punctuation kept).
        lone_negation: passed to :func:`stance`.

    Returns:
        ``(verdict, contrasted)``: a :class:`Verdict` value, and whether the text held a contrast.

    Example:
        >>> claim_stance("option b is consistent with the fever. however, option b is unlikely given the rash.")
        ('rejects', True)
        >>> claim_stance("lymphoma also remains possible; it cannot be ruled out.")
        ('uncertain', False)
        >>> claim_stance("although it can cause a rash, it is the drug of choice here.")
        ('supports', True)
    """
    contrasted = False
    part = clause
    for opener in _CONTRAST_OPENERS:
        if clause.startswith(opener) and "," in clause:
            part, contrasted = clause[clause.index(",") + 1 :], True
            break
    else:
        cuts = [m.end() for m in _CONTRAST_AFTER.finditer(clause)] if any(g in clause for g in _CONTRAST_GATES) else []
        if cuts:
            tail = clause[cuts[-1] :]
            tail_verdict = _verdict_of(tail, lone_negation)
            if tail_verdict != Verdict.NEUTRAL:
                return tail_verdict, True
            head = _verdict_of(clause[: cuts[-1]], lone_negation)
            # "... which superficially fits, but it is unconjugated": the objection turns the support.
            return (Verdict.REJECTS if head == Verdict.SUPPORTS else head), True
    return _verdict_of(part, lone_negation), contrasted


# Every _UNCERTAIN alternative holds one of these: a text without them is not left open.
_UNCERTAIN_GATES = (
    "rul", "exclu", "elimin", "dismiss", "discount", "remain", "possib", "plausib", "conceiv", "consider", "mind",
    "entertain",
)  # fmt: skip
_CONTRAST_GATES = ("but", "however", "yet", "nevertheless", "nonetheless", "still")


def _verdict_of(text: str, lone_negation: float) -> str:
    if any(gate in text for gate in _UNCERTAIN_GATES) and _UNCERTAIN.search(text):
        return Verdict.UNCERTAIN
    words = text.translate(WORD_BREAKS).split()
    if len(words) == 1 and words[0] in _BARE_VERDICTS:
        return _BARE_VERDICTS[words[0]]  # "No." closing a list item
    tail = _ARROW_VERDICT.search(text) if words and words[-1] in _BARE_VERDICTS else None
    if tail:
        return _BARE_VERDICTS[tail.group(1)]  # shorthand: "... RUSB ejection murmur -> no"
    # A negation does not reach across a comma: "no organisms on staining, most likely Legionella".
    value = (
        stance(words, lone_negation)
        if "," not in text
        else sum(stance(part.translate(WORD_BREAKS).split(), lone_negation) for part in text.split(","))
    )
    if value > 0:
        return Verdict.SUPPORTS
    return Verdict.REJECTS if value < 0 else Verdict.NEUTRAL


def undecided(text: str) -> bool:
    """Whether a text declines to decide ("I cannot be certain", "further testing is needed").

    Example:
        >>> undecided("i cannot be certain; further testing is needed."), undecided("it is pneumonia.")
        (True, False)
    """
    return _UNDECIDED.search(text) is not None
