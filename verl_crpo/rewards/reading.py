"""One reading of a response against its case, built once; every objective and proxy reads it.

The reading holds the response's *claims*: the analysis and conclusion cut into units
(sentences and list items, :func:`~verl_crpo.rewards.options.sentences_of`), and each unit that
names options turned into a claim about them, with its verdict, the knowledge it states about
the option and the case findings it cites. Rules (our choices; CRPO's are unpublished):

1. **Which options a unit is about** (:mod:`~verl_crpo.rewards.options`): letters in any notation,
   the option's text or its distinctive words, its whole text (options that share most words),
   its numbers ("8:10"), its initials or an abbreviation ("MTX"), and groups ("B and C",
   "options A-C", "neither B nor C"). A unit naming one option is a claim about it; one naming two
   is cut at the second ("rather than", "unlike" reject one); a group shares one claim; three or
   more options named apart are a list and claim nothing. A unit that names one other option only
   late (after :data:`OPENING` words), right after a claim and on the same line, continues that
   claim ("the γ chains bind 2,3-BPG poorly"). Up to :data:`~verl_crpo.rewards.options.MAX_CARRY`
   following units that name no option continue the claim; they carry a verdict only when they
   refer back to it ("It would worsen ...") or finish a list item ("... fluid overload. No.").
2. **Verdict** (:func:`~verl_crpo.rewards.context.claim_stance`): supports, rejects, uncertain
   (left open: "cannot be ruled out", "remains possible") or neutral; after a contrast ("but",
   "however") the later part decides, and a claim that opens with a contrast overrides what
   came before. Per option, in the order of its claims: supports or rejects by the sum of its
   claims, uncertain when it is left open or argued both ways to a draw, neutral when only
   described. When the question asks for the exception ("EXCEPT", "NOT") supports and rejects
   swap for the option a unit names.
3. **Knowledge** about an option: content stems of its claims that are not the case's words,
   not any option's own words or stubs of them ("lith."), not numbers and not discourse or
   stance words (:mod:`~verl_crpo.rewards.lexicon`). One case phrase is no reason: a case phrase
   attached to an unrelated option is the commonest template, and a rule cannot tell it from a
   real tie without knowing medicine. Findings from two phrases or more (:data:`CASE_TIES` stems)
   tie the option to this case and count. This leans towards false negatives ("asthma is
   unlikely as there is no wheeze" earns nothing; "asthma causes episodic wheeze, absent here"
   and "PE is less likely given the productive cough with rusty sputum" do). It is
   *distinctive* when the claims of at most half of the options (of two at least) use it: one
   reason repeated for every option is no reason. Claims that follow one template (the same
   skeleton once option and case words are masked, for :data:`TEMPLATE_MIN` or more options,
   bigram Jaccard >= :data:`TEMPLATE_SIMILARITY`) state no knowledge, whatever their slot words.
   A group claim of three or more options needs two distinctive stems.
4. **Findings**: case-finding stems the analysis cites where it reasons (in a unit that states
   knowledge or next to one: a list of case words, or the case copied, cites none). A unit about
   the patient (a pronoun, "the patient", "there is") in which a verb of presence ("has",
   "reports", "shows") or a negation ("no", "denies", "without") directly governs a phrase whose
   every finding word has the opposite polarity in the case (:mod:`~verl_crpo.rewards.negation`)
   is a *misreading*; its findings do not count, and units that state knowledge or a hypothesis
   ("would", "typically", "causes") are not read for polarity.
5. **Facts about the patient** the case lacks (inventions) and text addressed to the grader:
   :mod:`~verl_crpo.rewards.findings`.

The reading is immutable and the work is linear in the response: each block is split once, each
unit's words are read a bounded number of times, and at most
:data:`~verl_crpo.rewards.options.MAX_SENTENCES` claim units are read.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType

import regex

from verl_crpo.rewards.case import Case
from verl_crpo.rewards.context import Verdict, claim_stance, contrast_before, undecided
from verl_crpo.rewards.findings import grader_directed, invented_findings, strip_copied
from verl_crpo.rewards.lexicon import HYPOTHETICAL_WORDS, NOT_REASONS
from verl_crpo.rewards.options import (
    ANAPHORS,
    MAX_CARRY,
    MAX_SENTENCES,
    Sentences,
    groups_of,
    option_mentions,
    sentences_of,
)
from verl_crpo.rewards.parsing import MAX_BOXES, ParsedResponse, resolve_letter
from verl_crpo.rewards.text import WORD_BREAKS, stem_of, stems_of, words_of

__all__ = ["CASE_TIES", "TEMPLATE_MIN", "TEMPLATE_SIMILARITY", "BlockReading", "Claim", "Reading", "read"]

# Claims per option compared for a template (the comparison is quadratic in them).
TEMPLATE_PROBES = 3
# Three options argued in one shape is a template; two alike can be honest parallel phrasing.
TEMPLATE_MIN = 3
# Bigram Jaccard of masked skeletons: honest parallel list items share under a third of their
# bigrams (their content differs); slot-filled templates share more than half.
TEMPLATE_SIMILARITY = 0.5
# Findings that tie an option to this case: three stems in two phrases or more ("fever, productive
# cough and crackles point to pneumonia"; "PE is less likely given the productive cough with rusty
# sputum"); one case phrase, the commonest template's reason, is no tie.
CASE_TIES = 3
# Where a unit's subject sits: an option first named after this many words is named in passing
# ("In contrast, furosemide shrinks ..." names it third; "the γ chains bind 2,3-BPG" fifth).
OPENING = 3
_BOX_SPAN = regex.compile(r"\\boxed\s*+\{(?:[^{}]|\{[^{}]*+\})*+\}")
_PATIENT = frozenset(
    [
        "he",
        "she",
        "his",
        "her",
        "him",
        "they",
        "their",
        "patient",
        "patients",
        "woman",
        "man",
        "boy",
        "girl",
        "child",
        "infant",
        "baby",
        "neonate",
        "there",
    ]
)
# Units stating knowledge or a hypothesis, not what this patient has: not read for polarity.
_HYPOTHETICAL = HYPOTHETICAL_WORDS | frozenset(
    [
        "suggests",
        "suggest",
        "expected",
        "seen",
        "causes",
        "cause",
        "caused",
        "causing",
        "rather",
        "produces",
        "produce",
        "leads",
        "lead",
        "results",
        "present",
        "presents",
        "presenting",
        "feature",
        "features",
        "typical",
        "typically",
        "classic",
        "classically",
        "characteristic",
        "hallmark",
        "unlike",
        "whereas",
        "versus",
        "vs",
    ]
)


@dataclass(frozen=True)
class Claim:
    """One unit's claim about one option or a group of options.

    Attributes:
        unit: index of the unit in its block.
        options: the letters it is about (one, or a group).
        verdict: a :class:`~verl_crpo.rewards.context.Verdict` value.
        contrasted: whether a contrast decided the verdict (it then overrides earlier claims).
        knowledge: content stems that are neither the case's nor any option's own words.
        skeleton: bigrams of the unit with option and case words masked (template check).
        carried: a unit that names no option, continuing the claim before it.
    """

    unit: int
    options: tuple[str, ...]
    verdict: str
    contrasted: bool
    knowledge: frozenset[str]
    skeleton: frozenset[tuple[str, str]]
    carried: bool = False


@dataclass(frozen=True)
class BlockReading:
    """What one block (analysis or conclusion) says about each option.

    Attributes:
        claims: its claims, in order.
        verdicts: per option it names, the verdict of its claims taken together (rule 2).
        support: per option it names, the summed support (+1 supports, -1 rejects; in a
            conclusion a plain mention counts +1/2).
        reasons: per option, its distinctive knowledge (rule 3); options without are absent.
        template_units: units whose claims follow a template (rule 3).
    """

    claims: tuple[Claim, ...]
    verdicts: Mapping[str, str]
    support: Mapping[str, float]
    reasons: Mapping[str, frozenset[str]]
    template_units: frozenset[int]

    @property
    def leaders(self) -> tuple[str, ...]:
        """The options with the highest support, in letter order (empty when it names none)."""
        if not self.support:
            return ()
        best = max(self.support.values())
        return tuple(sorted(letter for letter, value in self.support.items() if value == best))


_EMPTY_BLOCK = BlockReading((), MappingProxyType({}), MappingProxyType({}), MappingProxyType({}), frozenset())


@dataclass(frozen=True)
class Reading:
    """Everything the objectives read from one response, computed once.

    Attributes:
        parsed: the parsed response.
        case: the validated case.
        answer: the single final answer letter, or None (see :func:`final_answer`).
        analysis: how the analysis weighs the options.
        conclusion: how the conclusion (its boxes removed) weighs the options.
        analysis_choice: the option the analysis argues for (:func:`analysis_choice`), or None.
        conclusion_choice: the option the conclusion argues for, or None (none named, or no single leader).
        conclusion_undecided: the conclusion declines to decide ("I cannot be certain").
        findings_cited: distinct case-finding stems the analysis cites, misread units left out.
        reasoned_units: analysis units stating knowledge (rule 3), template claims left out.
        misread: analysis units that flip the polarity of a case finding (rule 4).
        invented: statements about the patient the case does not support (whole response).
        copied_fraction: share of the analysis's words in runs copied verbatim from the case.
        grader_directed: whether the response addresses the grader.
    """

    parsed: ParsedResponse
    case: Case
    answer: str | None
    analysis: BlockReading
    conclusion: BlockReading
    analysis_choice: str | None
    conclusion_choice: str | None
    conclusion_undecided: bool
    findings_cited: frozenset[str]
    reasoned_units: int
    misread: int
    invented: int
    copied_fraction: float
    grader_directed: bool


def read(parsed: ParsedResponse, case: Case) -> Reading:
    """Read a parsed response against its case (rules in the module docstring).

    Example:
        >>> from verl_crpo.rewards.case import build_case
        >>> from verl_crpo.rewards.parsing import parse_response
        >>> case = build_case("demo", "B", {"question": "He has fever, a productive cough and right basal crackles. "
        ...                   "He denies wheeze.", "options": {"A": "Asthma", "B": "Pneumonia"}}, True)
        >>> r = read(parse_response("<dx>Fever with crackles and a productive cough point to a lobar infection: "
        ...          "pneumonia. Asthma causes reversible bronchospasm, and he has no wheeze.</dx>"
        ...          "<conclusion>Final answer: \\\\boxed{B}</conclusion>"), case)
        >>> r.answer, r.analysis_choice, dict(r.analysis.verdicts), sorted(r.findings_cited), r.misread
        ('B', 'B', {'B': 'supports', 'A': 'neutral'}, ['cough', 'crackl', 'fever', 'produc', 'wheez'], 0)
    """
    answer = final_answer(parsed, case)
    low = parsed.text.lower()
    if not parsed.structure_ok:
        invented = invented_findings(parsed.text, case, low)
        return Reading(
            parsed, case, answer, _EMPTY_BLOCK, _EMPTY_BLOCK, None, None, False, frozenset(), 0, 0, invented, 0.0,
            grader_directed(parsed.text, low),
        )  # fmt: skip
    analysis_units = sentences_of(parsed.analysis)
    conclusion_text = _BOX_SPAN.sub(" ", parsed.conclusion).replace("\\boxed", " ")
    conclusion_units = sentences_of(conclusion_text)
    analysis_roles = _block_roles(analysis_units, case)
    analysis = _read_block(analysis_units, case, False, analysis_roles)
    conclusion = _read_block(conclusion_units, case, True, _block_roles(conclusion_units, case))
    cited, reasoned, misread = _findings(analysis_units, analysis, case, analysis_roles)
    _, copied = strip_copied(analysis_units.words, case)
    vocabulary = analysis_units.vocabulary | conclusion_units.vocabulary | set(words_of(parsed.outside))
    leaders = conclusion.leaders
    concluded = leaders[0] if len(leaders) == 1 and conclusion.support[leaders[0]] > 0 else None
    return Reading(
        parsed=parsed,
        case=case,
        answer=answer,
        analysis=analysis,
        conclusion=conclusion,
        analysis_choice=analysis_choice(analysis, answer),
        conclusion_choice=concluded,
        conclusion_undecided=undecided(conclusion_units.text),
        findings_cited=cited,
        reasoned_units=reasoned,
        misread=misread,
        invented=invented_findings(parsed.text, case, low, vocabulary),
        copied_fraction=copied,
        grader_directed=grader_directed(parsed.text, low),
    )


def final_answer(parsed: ParsedResponse, case: Case) -> str | None:
    """The single final answer: every box readable and naming the same letter, one in the conclusion."""
    if not parsed.structure_ok or not 0 < parsed.num_boxes <= MAX_BOXES or len(parsed.boxes) != parsed.num_boxes:
        return None
    letters = {resolve_letter(box.content, case.options) for box in parsed.boxes}
    if None in letters or len(letters) != 1 or not any(box.in_conclusion for box in parsed.boxes):
        return None
    return letters.pop()


def analysis_choice(analysis: BlockReading, answer: str | None) -> str | None:
    """The option the analysis argues for, or None when it argues for none.

    The analysis argues for the answer when it weighs at least one option with a reason, does
    not reject the answer or leave it open, and supports no other option more than the answer
    (an analysis that describes each option and rejects the rest argues for the one left
    standing). Otherwise it argues for the single option it supports with a reason, if any.
    An analysis that leaves every option open, rejects them all, or argues only without
    reasons argues for nothing. This leans towards false positives where a lexical reading of
    stance is weakest: an honest analysis whose verdicts the rules miss still backs its answer.
    """
    reasons, verdicts, support = analysis.reasons, analysis.verdicts, analysis.support
    supported = [letter for letter in reasons if verdicts.get(letter) == Verdict.SUPPORTS]
    weighed = [letter for letter in reasons if verdicts.get(letter) in (Verdict.SUPPORTS, Verdict.NEUTRAL)]
    if answer is not None and weighed and verdicts.get(answer) not in (Verdict.REJECTS, Verdict.UNCERTAIN):
        best = max((support[letter] for letter in supported), default=0.0)
        if support.get(answer, 0.0) >= best:
            return answer
    if len(supported) == 1:
        return supported[0]
    return None


def _read_block(block: Sentences, case: Case, in_conclusion: bool, roles: _Roles) -> BlockReading:
    stems = stems_of(block.vocabulary)
    keys = sorted(k for gate in stems & case.key_gates.keys() for k in case.key_gates[gate])
    groups = groups_of(block)
    mentions = option_mentions(block, case, keys, groups)
    if not mentions:
        return _EMPTY_BLOCK
    grouped: dict[int, set[str]] = {}
    for position, letters in groups:
        grouped.setdefault(bisect_right(block.starts, position) - 1, set()).update(letters)
    claims = tuple(_claims(block, case, mentions, grouped, roles))
    verdicts, support = _verdicts(claims, case, in_conclusion)
    template_units = _template_units(claims, len(case.options))
    reasons = _reasons(claims, template_units, len(case.options))
    return BlockReading(
        claims, MappingProxyType(verdicts), MappingProxyType(support), MappingProxyType(reasons), template_units
    )


def _claims(
    block: Sentences, case: Case, mentions: dict[int, dict[str, int]], grouped: dict[int, set[str]], roles: _Roles
):
    """Yield the claims of a block in order (rules 1-2)."""
    last = min(len(block.pieces), MAX_SENTENCES * 4)
    indices = sorted(i for i in mentions if i < last)
    swap = case.negative_stem
    read = 0
    previous: tuple[int, tuple[str, ...]] | None = None  # the last unit read as a claim, and its options
    for n, index in enumerate(indices):
        letters = mentions[index]
        end = indices[n + 1] if n + 1 < len(indices) else last
        if previous is not None and _in_passing(block, index, letters, previous):
            # "The γ chains bind 2,3-BPG poorly, so HbF ..." continues the claim about HbF.
            yield from _carried(block, roles, index, end, previous[1], swap)
            continue
        parts = _parts(block, index, letters, grouped.get(index, set()))
        if not parts:
            continue
        read += 1
        if read > MAX_SENTENCES:
            return
        for options, text, forced in parts:
            verdict, contrasted = (forced, False) if forced else claim_stance(text)
            if verdict == Verdict.NEUTRAL and len(options) == 1 and _named_as_answer(block, index, letters[options[0]]):
                verdict = Verdict.SUPPORTS
            if swap:
                verdict = _SWAPPED.get(verdict, verdict)
            words = text.translate(WORD_BREAKS).split()
            knowledge = _knowledge(words, roles) | _ties(words, roles, case)
            yield Claim(index, options, verdict, contrasted, knowledge, _skeleton(words, roles))
        options = tuple(dict.fromkeys(o for options, _, _ in parts for o in options))
        previous = (index, options)
        yield from _carried(block, roles, index + 1, end, options, swap)


# "... is hypertrophic pyloric stenosis.", "-> dx: HCM", "diagnosis: sarcoidosis": the option is named as the answer.
_AS_ANSWER = regex.compile(
    r"(?:\b(?:is|are|=|means|represents|diagnosis|dx|answer|therefore|thus|so)|=|->|\?)\s*+:?\s*+\(?$"
)


def _named_as_answer(block: Sentences, index: int, offset: int) -> bool:
    start = block.starts[index]
    before = block.text[max(start, offset - 24) : offset]
    return bool(_AS_ANSWER.search(before)) and not before.rstrip().endswith(("not", "isnt"))


_PHRASE_BREAKS = frozenset({"and", "or", "nor", "with", "plus"})


def _ties(words: list[str], roles: _Roles, case: Case) -> frozenset[str]:
    """Case findings tying an option to this case (rule 3): :data:`CASE_TIES` stems, two phrases or more.

    Phrases are cut at "and", "or", "nor", "with", "plus" (a comma list reads as one phrase here,
    leaning towards false negatives). Words of the options' own texts do not count: an option
    quoted in full is no finding.
    """
    finding, own = roles.finding.__getitem__, case.option_stem_union
    found: set[str] = set()
    phrases = 0
    in_phrase = False
    for word in words:
        if word in _PHRASE_BREAKS:
            in_phrase = False
            continue
        stem = finding(word)
        if stem and stem not in own:
            found.add(stem)
            if not in_phrase:
                phrases, in_phrase = phrases + 1, True
    if len(found) < CASE_TIES or phrases < 2:
        return frozenset()
    return frozenset(f"case:{s}" for s in found)


_LIST_ITEM = regex.compile(r"\s*+(?:[-*>|#\u2022?]|\*\*|\(?[a-j0-9]{1,2}[.):](?:\s|\*))")


def _in_list_item(block: Sentences, index: int) -> bool:
    """Whether unit ``index`` lies on a line that opens like a list item ("- ", "**B.", "3)")."""
    line = index
    while line > 0 and line not in block.line_starts:
        line -= 1
    return _LIST_ITEM.match(block.pieces[line]) is not None


def _in_passing(block: Sentences, index: int, letters: dict[str, int], previous: tuple[int, tuple[str, ...]]) -> bool:
    """A unit naming one other option only late, right after a claim: it continues that claim (rule 1)."""
    before, options = previous
    if len(letters) != 1 or len(options) != 1 or index - before > MAX_CARRY or index in block.line_starts:
        return False  # a new line or list item ("- Host: ... fits legionella") is a claim of its own
    ((letter, offset),) = letters.items()
    start = block.starts[index]
    if block.text.startswith(("option", "choice", "(", "answer"), offset):
        return False  # "... so phosphate rises: option B" names its subject by letter
    return letter not in options and len(block.text[start:offset].translate(WORD_BREAKS).split()) > OPENING


def _carried(block: Sentences, roles: _Roles, start: int, end: int, options: tuple[str, ...], swap: bool):
    """Claims of the units that continue a claim: up to :data:`MAX_CARRY` naming no option (rule 1).

    A continuing unit carries a verdict when it refers back ("It would worsen ...") or stays on
    the line of a list item (the rest of the item: "- D. 120 mL/h: ... fluid overload. No.");
    in a paragraph of prose, a sentence without a reference to the option is not its verdict.
    """
    carried = 0
    same_line = _in_list_item(block, start - 1)
    for following in range(start, end):
        same_line = same_line and following not in block.line_starts
        words = block.tokens[following].split()
        if not words:
            continue
        carried += 1
        if carried > MAX_CARRY:
            break
        refers = not swap and (same_line or len(words) <= 2 or not ANAPHORS.isdisjoint(words[:2] + words[-2:]))
        verdict, contrasted = claim_stance(block.pieces[following], 0.0) if refers else (Verdict.NEUTRAL, False)
        yield Claim(following, options, verdict, contrasted, _knowledge(words, roles), frozenset(), carried=True)


_SWAPPED = {Verdict.SUPPORTS: Verdict.REJECTS, Verdict.REJECTS: Verdict.SUPPORTS}


def _parts(block: Sentences, index: int, letters: dict[str, int], grouped: set[str]):
    """``(options, text, forced verdict)`` for each claim of one unit."""
    piece = block.pieces[index]
    if len(letters) == 1:
        return [((next(iter(letters)),), piece, None)]
    if set(letters) <= grouped:
        return [(tuple(sorted(letters)), piece, None)]
    if len(letters) != 2:
        return []  # a list of options claims nothing
    (first, p1), (second, p2) = sorted(letters.items(), key=lambda item: item[1])
    start = block.starts[index]
    before, middle, after = piece[: max(0, p1 - start)], piece[max(0, p1 - start) : p2 - start], piece[p2 - start :]
    if contrast_before((before + middle).translate(WORD_BREAKS).split()):
        # "levothyroxine rather than methimazole is the treatment": the rest is about the first.
        return [((first,), before + middle + after, None), ((second,), "", Verdict.REJECTS)]
    if before.strip() and contrast_before(before.translate(WORD_BREAKS).split()):
        # "unlike methimazole, which blocks synthesis, levothyroxine replaces the hormone"
        return [((first,), middle, Verdict.REJECTS), ((second,), after, None)]
    return [((first,), before + middle, None), ((second,), after, None)]


_VALUE = {Verdict.SUPPORTS: 1.0, Verdict.REJECTS: -1.0}


def _verdicts(claims: tuple[Claim, ...], case: Case, in_conclusion: bool) -> tuple[dict[str, str], dict[str, float]]:
    """Per option, the verdict of its claims taken together (rule 2) and its summed support.

    In a conclusion a plain mention adds 1/2 to the support (a conclusion names its choice
    without arguing), not to the verdict.
    """
    argued: dict[str, float] = {}
    support: dict[str, float] = {}
    open_: set[str] = set()
    signs: dict[str, set[bool]] = {}
    for claim in claims:
        value = _VALUE.get(claim.verdict, 0.0)
        for letter in claim.options:
            argued.setdefault(letter, 0.0)
            support.setdefault(letter, 0.0)
            if claim.verdict == Verdict.UNCERTAIN:
                open_.add(letter)
            elif claim.contrasted and value:
                support[letter] += value - argued[letter]
                argued[letter] = value
                open_.discard(letter)
                signs[letter] = set()
            elif value:
                argued[letter] += value
                support[letter] += value
            elif in_conclusion and not claim.carried:
                support[letter] += 0.5
            if value:
                signs.setdefault(letter, set()).add(value > 0)
    verdicts = {}
    for letter, value in argued.items():
        if letter in open_ or (value == 0 and len(signs.get(letter, ())) == 2):
            verdicts[letter] = Verdict.UNCERTAIN
        elif value:
            verdicts[letter] = Verdict.SUPPORTS if value > 0 else Verdict.REJECTS
        else:
            verdicts[letter] = Verdict.NEUTRAL
    return verdicts, support


_MEMO_LIMIT = 20_000


def _roles(word: str, case: Case) -> tuple[str, str, str]:
    """``(knowledge stem, skeleton token, finding stem)`` of one word against the case, memoised.

    The knowledge stem is ``""`` unless the word states knowledge (rule 3); the skeleton token
    is ``"O"`` for a letter, a number or an option's word, ``"C"`` for a case word, else the word;
    the finding stem is ``""`` unless the word cites a case finding.
    """
    found = case.memo.get(word)
    if found is not None:
        return found
    s = stem_of(word)
    finding = s if s in case.findings else ""
    option = s in case.option_stem_union
    knowledge = s if s and not finding and not option and word not in NOT_REASONS and word not in case.stubs else ""
    if len(word) == 1 or word[0].isdigit():
        token = "O"
    elif word in case.words:
        token = "C"
    else:
        token = "O" if option else "C" if finding else word
    found = (knowledge, token, finding)
    if len(case.memo) < _MEMO_LIMIT:
        case.memo[word] = found
    return found


@dataclass(frozen=True)
class _Roles:
    """:func:`_roles` of every word of a block, as three lookups (``map`` over them runs in C)."""

    knowledge: dict[str, str]
    token: dict[str, str]
    finding: dict[str, str]


class _Lookup(dict):
    """One role of each word; a word outside the block's vocabulary (part of a split unit) is looked up on demand."""

    def __init__(self, case: Case, role: int, items):
        super().__init__(items)
        self.case, self.role = case, role

    def __missing__(self, word: str) -> str:
        value = self[word] = _roles(word, self.case)[self.role]
        return value


def _block_roles(block: Sentences, case: Case) -> _Roles:
    roles = {w: _roles(w, case) for w in block.vocabulary}
    return _Roles(*(_Lookup(case, i, ((w, r[i]) for w, r in roles.items())) for i in range(3)))


def _knowledge(words: list[str], roles: _Roles) -> frozenset[str]:
    """Stems of ``words`` that state knowledge: not the case's, not an option's own words or stubs (rule 3)."""
    return frozenset(map(roles.knowledge.__getitem__, words)) - _BLANK


_BLANK = frozenset({""})


def _skeleton(words: list[str], roles: _Roles) -> frozenset[tuple[str, str]]:
    """Bigrams of the unit with option words, letters, case words and numbers masked (rule 3)."""
    masked: list[str] = []
    for token in map(roles.token.__getitem__, words):
        if not masked or token != masked[-1] or token not in ("O", "C"):
            masked.append(token)
    return frozenset(pairwise(masked))


def _template_units(claims: tuple[Claim, ...], n_options: int) -> frozenset[int]:
    """Units whose claim shares its skeleton with claims about enough other options (rule 3)."""
    per_option: dict[tuple[str, ...], int] = {}
    single = []
    for c in claims:
        # A template repeats in every option's claims: the first few of each are enough to see it.
        if len(c.options) == 1 and len(c.skeleton) >= 3 and per_option.get(c.options, 0) < TEMPLATE_PROBES:
            per_option[c.options] = per_option.get(c.options, 0) + 1
            single.append(c)
    need = min(TEMPLATE_MIN, n_options) - 1
    out = set()
    for claim in single:
        alike = {
            other.options[0]
            for other in single
            if other.options != claim.options
            and len(claim.skeleton & other.skeleton) >= TEMPLATE_SIMILARITY * len(claim.skeleton | other.skeleton)
        }
        if len(alike) >= need:
            out.add(claim.unit)
    return frozenset(out)


def _reasons(claims: tuple[Claim, ...], template_units: frozenset[int], n_options: int) -> dict[str, frozenset[str]]:
    """Per option, the distinctive knowledge of its claims (rule 3)."""
    users: dict[str, set[tuple[str, ...]]] = {}
    kept = [c for c in claims if c.unit not in template_units]
    for claim in kept:
        for found in claim.knowledge:
            users.setdefault(found, set()).add(claim.options)
    most = max(2, n_options // 2)
    # A group claim ("B, C and D are all ...") uses a stem once, as one option would.
    common = {s for s, options in users.items() if len(options) > most}
    reasons: dict[str, set[str]] = {}
    for claim in kept:
        distinctive = claim.knowledge - common
        if len(claim.options) >= 3 and len(distinctive) < 2:
            continue
        for letter in claim.options:
            if distinctive:
                reasons.setdefault(letter, set()).update(distinctive)
    return {letter: frozenset(found) for letter, found in reasons.items()}


def _findings(block: Sentences, analysis: BlockReading, case: Case, roles: _Roles) -> tuple[frozenset[str], int, int]:
    """``(cited finding stems, reasoned units, misread units)`` of the analysis (rules 3-4)."""
    template = analysis.template_units
    units: list[tuple[set[str], bool]] = []  # per unit: the findings it cites (none if misread), whether it reasons
    misread = 0
    for index, tokens in enumerate(block.tokens[: MAX_SENTENCES * 4]):
        words = tokens.split()
        found = set(map(roles.finding.__getitem__, words)) - _BLANK
        reasons = index not in template and not _BLANK.issuperset(map(roles.knowledge.__getitem__, words))
        if found and not _PATIENT.isdisjoint(words) and _HYPOTHETICAL.isdisjoint(words) and _flips(block, index, case):
            misread += 1
            found = set()
        units.append((found, reasons))
    cited: set[str] = set()
    for index, (found, _) in enumerate(units):
        # Findings are cited when reasoning uses them: in a unit that states knowledge or next to one
        # ("Key findings: ..." then "These indicate ..."). A list of case words, or the case copied, cites none.
        if found and any(units[j][1] for j in range(max(0, index - 1), min(len(units), index + 2))):
            cited |= found
    reasoned = sum(1 for _, reasons in units if reasons)
    return frozenset(cited - case.option_stem_union), reasoned, misread


# A finding is asserted when one of these governs it (not "with": "pellagra comes with diarrhoea"
# is knowledge), denied when one of _DENIALS does; both read
# the next few words only, up to a clause break ("his kidney function is normal" asserts nothing).
_ASSERTIONS = frozenset(
    "has have had reports reported complains presents presented shows showed developed".split()  # noqa: SIM905
)
_DENIALS = frozenset("no not without denies denied never absence lack".split())  # noqa: SIM905
_ASSERTED_SPAN = 3  # "has a dry cough", "reports severe night sweats"
_DENIED_SPAN = 2  # "no fever", "no new drugs"; not "not coughed up blood"
_SPAN_SKIP = frozenset("a an the any of new recent his her their significant".split())  # noqa: SIM905


def _flips(block: Sentences, index: int, case: Case) -> bool:
    """Whether a unit asserts a finding the case denies or denies one the case reports (rule 4).

    Read conservatively (towards false negatives): only the words a verb of presence or a
    negation governs directly, in the unit's own clause, and only when every finding word of that
    phrase has the opposite polarity in the case ("no blood loss" does not misread "blood count").
    A verb of presence inside a negated clause ("no relatives have kidney disease") asserts nothing.
    """
    words = _CLAUSE_TOKEN.findall(block.pieces[index].replace("'", ""))
    for i, word in enumerate(words):
        if word in _ASSERTIONS and _DENIALS.isdisjoint(words[max(0, i - 3) : i]):
            wanted, span = case.denied, _ASSERTED_SPAN
        elif word in _DENIALS:
            wanted, span = case.reported, _DENIED_SPAN
        else:
            continue
        governed = []
        for following in words[i + 1 : i + 1 + span + 2]:
            if following in _SPAN_SKIP:
                continue
            if (
                following in _DENIALS
                or following in _CLAUSE_ENDS
                or following in _ASSERTIONS
                or not following[0].isalnum()
                or len(governed) == span
            ):
                break
            governed.append(following)
        stems = [s for s in map(stem_of, governed) if s in case.findings]
        if stems and all(s in wanted for s in stems):
            return True
    return False


# Words and the punctuation that ends a clause or opens an aside ("no new drugs (amlodipine ...)").
_CLAUSE_TOKEN = regex.compile(r"[a-z0-9]++|[.;:,()!?]")
_CLAUSE_ENDS = frozenset(
    "but and or which who because since although while whereas so than".split()  # noqa: SIM905
)
