"""NegEx-style polarity of the case text: which of its words are denied ("no fever", "weight loss is absent").

:func:`polarity` gives the case's reported and denied findings
(:attr:`~verl_crpo.rewards.case.Case.reported`, :attr:`~verl_crpo.rewards.case.Case.denied`);
a response that asserts a denied one, or denies a reported one, misreads the case
(:mod:`~verl_crpo.rewards.reading` reads that side more narrowly, phrase by phrase).

Rules (our choices, after NegEx, Chapman et al. 2001):

1. **Pre-triggers** ("no", "not", "denies", "without", "never", "absence of", "negative for",
   ...) deny the next :data:`CASE_SCOPE` words; each further item of a list ("no nausea,
   vomiting, abdominal pain, headache, or visual changes") keeps the negation for three more words.
2. **Post-triggers** ("absent", "negative", "is not present", "which she denies") deny the
   :data:`POST_SCOPE` words before them.
3. A scope ends early at a clause break: ``.``, ``;``, ``:``, "but", "however", "although",
   "which", "who", "except", or a comma or "and" followed by a new subject or verb ("no rash,
   and the spleen is palpable"); and at a preposition or "despite" ("no excretion of tracer":
   the excretion is denied, not the tracer), except "of" after "history", "signs", "evidence".

Everything is one pass over the words; no pattern can backtrack.
"""

from __future__ import annotations

import re

from verl_crpo.rewards.text import ascii_fold

__all__ = ["CASE_SCOPE", "POST_SCOPE", "polarity"]

CASE_SCOPE = 6  # "no fever, night sweats, or weight loss": a list after one trigger
POST_SCOPE = 4
_LIST_ITEM = 3  # each item of a list after one trigger keeps the negation for this many words

_TOKEN = re.compile(r"[a-z0-9]+|[.;:,!?()\n]")
_PRE = frozenset(
    [
        "no",
        "not",
        "denies",
        "denied",
        "deny",
        "denying",
        "without",
        "never",
        "nor",
        "neither",
        "absence",
        "lack",
        "lacks",
        "lacking",
        "free",
        "negative",
        "cannot",
        "cant",
        "doesnt",
        "dont",
        "didnt",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "hasnt",
        "havent",
        "hadnt",
        "nil",
        "none",
    ]
)
# "free" and "negative" deny only as "free of", "negative for".
_NEEDS_NEXT = {"free": "of", "negative": "for"}
_POST = frozenset(["absent", "negative", "unremarkable", "denied", "denies"])
_BREAK_WORDS = frozenset(
    ["but", "however", "although", "though", "which", "who", "whom", "whereas", "while", "yet", "except", "aside"]
)
_MODIFIER_BREAKS = frozenset(
    [
        "despite",
        "with",
        "after",
        "before",
        "since",
        "because",
        "due",
        "given",
        "so",
        "in",
        "into",
        "on",
        "at",
        "for",
        "from",
        "to",
        "during",
        "than",
    ]
)
# "no history of smoking", "no signs of peritonitis": what follows "of" is what is denied.
_OF_HEADS = frozenset(
    ["history", "signs", "sign", "evidence", "symptoms", "symptom", "features", "episodes", "episode", "complaints"]
)
_NEW_CLAUSE = frozenset(
    [
        "a",
        "an",
        "the",
        "his",
        "her",
        "their",
        "she",
        "he",
        "they",
        "it",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "shows",
        "showed",
        "reveals",
        "revealed",
    ]
)
# A parenthesis is an aside: "no new drugs (amlodipine for 5 years)" does not deny the amlodipine.
_PUNCT_BREAK = frozenset(".;:!?()\n")


def polarity(text: str) -> tuple[list[str], list[bool]]:
    """The words of ``text`` and, for each, whether a negation denies it.

    Args:
        text: any text (lower-cased here; apostrophes dropped as in ``doesn't``).

    Returns:
        ``(words, denied)``: the lower-cased words (punctuation dropped) and one flag per word.

    Example:
        >>> words, denied = polarity("She denies weight loss, and her fever is absent. She has a cough.")
        >>> [w for w, d in zip(words, denied) if d and len(w) > 3]
        ['weight', 'loss', 'fever']
    """
    tokens = _TOKEN.findall(ascii_fold(text.lower().replace("'", "").replace("\u2019", "")))
    words: list[str] = []
    denied: list[bool] = []
    remaining = 0  # words the current pre-trigger still denies
    clause_start = 0  # index in ``words`` where the current clause starts
    previous = ""
    for i, token in enumerate(tokens):
        if token in _PUNCT_BREAK:
            remaining, clause_start, previous = 0, len(words), token
            continue
        if token == ",":
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following in _NEW_CLAUSE or following == "and":
                remaining = 0
            elif remaining:
                remaining = max(remaining, _LIST_ITEM)  # "no nausea, vomiting, abdominal pain, headache, or ..."
            previous = token
            continue
        if token in ("or", "nor") and remaining:
            remaining = max(remaining, _LIST_ITEM)
        if token in _BREAK_WORDS or (token == "and" and _next_word(tokens, i) in _NEW_CLAUSE):
            remaining, clause_start = 0, len(words)
        elif _NEEDS_NEXT.get(previous) == token:
            pass  # "negative for protein", "free of pain": the trigger's own word
        elif token in _MODIFIER_BREAKS or (token == "of" and previous not in _OF_HEADS):
            remaining = 0  # "no excretion of tracer", "no pain despite ...": the head noun is what is denied
        if token in _POST and _is_post(token, tokens, i):
            for j in range(max(clause_start, len(words) - POST_SCOPE), len(words)):
                denied[j] = True
        elif (
            token == "not"
            and previous in {"is", "are", "was", "were"}
            and _next_word(tokens, i) in _SEEN
            # "bands that are not present in the serum" places them, it does not deny them
            and (tokens[i + 2] if i + 2 < len(tokens) else "") not in _PLACES
        ):
            for j in range(max(clause_start, len(words) - POST_SCOPE - 1), len(words)):
                denied[j] = True
        words.append(token)
        denied.append(remaining > 0)
        if remaining:
            remaining -= 1
        if token in _PRE and _NEEDS_NEXT.get(token, _next_word(tokens, i)) == _next_word(tokens, i):
            remaining = CASE_SCOPE
        previous = token
    return words, denied


def _is_post(token: str, tokens: list[str], i: int) -> bool:
    following = _next_word(tokens, i)
    if token == "negative":
        return following != "for"
    if token in {"denies", "denied"}:
        # "which she denies." ends its clause; "she denies fever" is a pre-trigger.
        return following == "" or following in _PUNCT_BREAK or following == ","
    return True


_PLACES = frozenset(["in", "on", "at", "within", "elsewhere"])
_SEEN = frozenset(["present", "seen", "found", "detected", "noted", "palpable", "heard", "elicited"])


def _next_word(tokens: list[str], i: int) -> str:
    return tokens[i + 1] if i + 1 < len(tokens) else ""
