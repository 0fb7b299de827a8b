"""The four clinical objectives, each in [0, 1], read from one shared :class:`Assessment`.

CRPO's exact rules are unpublished (DESIGN.md section 1); every rule below is our choice, made to
follow DESIGN.md section 3. Each objective's docstring states exactly what earns credit.
Without a recognisable structure (see :mod:`verl_crpo.rewards.parsing`) no objective can be
verified and all four are 0: that is how ``format`` acts through the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from verl_crpo.rewards.case import Case
from verl_crpo.rewards.findings import grader_directed, invented_findings, strip_copied
from verl_crpo.rewards.options import Weighing, sentences_of, weigh_sentences
from verl_crpo.rewards.parsing import MAX_BOXES, ParsedResponse, resolve_letter
from verl_crpo.rewards.text import stems_of, words_of

__all__ = [
    "CONCLUSION_EVIDENCE_TARGET",
    "INVENTED_FINDING_FACTOR",
    "Assessment",
    "accuracy_reward",
    "assess",
    "comprehensiveness_reward",
    "faithfulness_reward",
    "format_reward",
    "grounding_target",
    "objective_rewards",
]

CONCLUSION_EVIDENCE_TARGET = 2
INVENTED_FINDING_FACTOR = 0.5
_NO_WEIGHING = Weighing(frozenset(), {}, ())
_BOX_SPAN = regex.compile(r"\\boxed\s*+\{(?:[^{}]|\{[^{}]*+\})*+\}")


@dataclass(frozen=True)
class Assessment:
    """Everything the objectives read from one response, computed once.

    Attributes:
        parsed: the parsed response.
        case: the validated case.
        answer: the single final answer letter, or None (see :func:`accuracy_reward`).
        analysis: how the analysis weighs the options.
        conclusion: how the conclusion (its boxes removed) weighs the options.
        conclusion_choice: the option the conclusion argues for (:func:`conclusion_choice`), or None.
        analysis_choice: the option the analysis argues for (:func:`analysis_choice`), or None.
        findings_cited: distinct case-finding stems in the analysis outside copied runs.
        conclusion_evidence: distinct case-finding stems in the conclusion that the analysis
            (outside copied runs) also states.
        copied_fraction: share of the analysis's words in runs copied verbatim from the case.
        invented: statements about the patient the case does not support (whole response).
        grader_directed: whether the response addresses the grader.
    """

    parsed: ParsedResponse
    case: Case
    answer: str | None
    analysis: Weighing
    conclusion: Weighing
    conclusion_choice: str | None
    analysis_choice: str | None
    findings_cited: int
    conclusion_evidence: int
    copied_fraction: float
    invented: int
    grader_directed: bool


def assess(parsed: ParsedResponse, case: Case) -> Assessment:
    """Compute the shared evidence for the objectives.

    Example:
        >>> from verl_crpo.rewards.case import build_case
        >>> from verl_crpo.rewards.parsing import parse_response
        >>> case = build_case("demo", "B", {"question": "Fever, productive cough and right basal crackles.",
        ...                   "options": {"A": "Asthma", "B": "Pneumonia"}}, True)
        >>> a = assess(parse_response("<dx>Fever with crackles points to pneumonia.</dx>"
        ...            "<conclusion>Fever and crackles: pneumonia. \\\\boxed{B}</conclusion>"), case)
        >>> a.answer, a.findings_cited, a.conclusion_evidence, a.analysis_choice, a.conclusion_choice
        ('B', 2, 2, 'B', 'B')
    """
    answer = _final_answer(parsed, case)
    if not parsed.structure_ok:
        return Assessment(
            parsed,
            case,
            answer,
            _NO_WEIGHING,
            _NO_WEIGHING,
            None,
            None,
            0,
            0,
            0.0,
            invented_findings(parsed.text, case, low := parsed.text.lower()),
            grader_directed(parsed.text, low),
        )
    low = parsed.text.lower()
    analysis = sentences_of(parsed.analysis)
    analysis_stems = stems_of(analysis.vocabulary)
    own_words, copied = strip_copied(analysis.words, case)
    own_stems = stems_of(own_words) if copied else analysis_stems
    cited = own_stems & case.findings
    conclusion = sentences_of(_without_boxes(parsed.conclusion))
    conclusion_stems = stems_of(conclusion.vocabulary)
    analysis_weighing = weigh_sentences(analysis, case, stems=analysis_stems)
    conclusion_weighing = weigh_sentences(conclusion, case, count_neutral=True, stems=conclusion_stems)
    concluded = conclusion_choice(conclusion_weighing)
    return Assessment(
        parsed=parsed,
        case=case,
        answer=answer,
        analysis=analysis_weighing,
        conclusion=conclusion_weighing,
        conclusion_choice=concluded,
        analysis_choice=analysis_choice(analysis_weighing, concluded),
        findings_cited=len(cited),
        conclusion_evidence=len(conclusion_stems & cited),
        copied_fraction=copied,
        invented=invented_findings(
            parsed.text, case, low, analysis.vocabulary | conclusion.vocabulary | set(words_of(parsed.outside))
        ),
        grader_directed=grader_directed(parsed.text, low),
    )


def conclusion_choice(conclusion: Weighing) -> str | None:
    """The option a conclusion argues for: its single leader, with a positive stance (a plain mention counts +1/2)."""
    leaders = conclusion.leaders
    return leaders[0] if len(leaders) == 1 and conclusion.stance[leaders[0]] > 0 else None


def analysis_choice(analysis: Weighing, concluded: str | None) -> str | None:
    """The option an analysis argues for, read from its content.

    Its single leader (highest stance among the options it mentions) unless every option it
    mentions is rejected; when several lead, the conclusion's choice if it is one of them (an
    analysis that rejects every other option argues for the one it leaves standing).
    """
    leaders = analysis.leaders
    if not leaders or analysis.stance[leaders[0]] < 0:
        return None
    if len(leaders) == 1:
        return leaders[0]
    return concluded if concluded in leaders else None


def _final_answer(parsed: ParsedResponse, case: Case) -> str | None:
    if not parsed.structure_ok or not 0 < parsed.num_boxes <= MAX_BOXES or len(parsed.boxes) != parsed.num_boxes:
        return None
    letters = {resolve_letter(box.content, case.options) for box in parsed.boxes}
    if None in letters or len(letters) != 1 or not any(box.in_conclusion for box in parsed.boxes):
        return None
    return letters.pop()


def _without_boxes(conclusion: str) -> str:
    # Box contents are the answer itself, not an argument for it.
    return _BOX_SPAN.sub(" ", conclusion).replace("\\boxed", " ")


def grounding_target(case: Case) -> int:
    """Distinct case findings the analysis must cite for full grounding: an eighth of the case's
    finding stems, at least 3 and at most 6. Citing more earns nothing (no reward for copying)."""
    return min(6, max(3, len(case.findings) // 8))


def accuracy_reward(a: Assessment) -> float:
    """1.0 when the response gives exactly one final answer and it is the gold letter, else 0.0.

    Exactly one final answer (our reading of DESIGN.md section 3): the structure is
    recognisable; every ``\\boxed`` in the response (at most 8) has readable content that
    resolves to an option letter; all of them name the same letter; at least one lies in the
    conclusion. Hedging (two letters), an unreadable or out-of-range box, a second conclusion,
    no box, or a box only outside the conclusion all earn 0.
    """
    return 1.0 if a.answer is not None and a.answer == a.case.gold else 0.0


def format_reward(a: Assessment) -> float:
    """Quarter credit for each of four checks, 0.0 without a recognisable structure. Range [0, 1].

    1. The structure is recognisable: analysis then conclusion tags, once each, non-blank.
    2. Nothing but whitespace outside the two blocks.
    3. Exactly one ``\\boxed`` in the whole response, and it lies in the conclusion.
    4. The response has a single readable final answer (as for accuracy, right or wrong).
    """
    p = a.parsed
    if not p.structure_ok:
        return 0.0
    single_box = p.num_boxes == 1 and len(p.boxes) == 1 and p.boxes[0].in_conclusion
    return (1 + (not p.outside) + single_box + (a.answer is not None)) / 4


def faithfulness_reward(a: Assessment) -> float:
    """Mean of grounding, evidence and consistency, halved per invented finding. Range [0, 1].

    * grounding: distinct case findings the analysis cites in its own words (words in runs copied
      verbatim from the case removed first), divided by :func:`grounding_target`, capped at 1.
    * evidence: distinct case findings the conclusion cites that the analysis also stated,
      over :data:`CONCLUSION_EVIDENCE_TARGET` (2), capped at 1; 0 when the conclusion argues for
      an option other than the boxed one (its evidence supports that option, not the answer).
    * consistency (the paper's consistency term): half when the option the analysis argues for
      (:func:`analysis_choice`) is the boxed answer, half when the conclusion's
      (:func:`conclusion_choice`) is; both are read from content (option letters and names, and
      whether the text around them supports or rejects them), so a box that contradicts the
      argument loses this credit; 0 without a single final answer.
    * each invented patient finding (:func:`~verl_crpo.rewards.findings.invented_findings`:
      history, family history, medications, exam, imaging, pathology or test results, values,
      with or without numbers) multiplies the result by :data:`INVENTED_FINDING_FACTOR` (0.5).

    0.0 without a recognisable structure or when the response addresses the grader.
    """
    if not a.parsed.structure_ok or a.grader_directed:
        return 0.0
    grounding = min(1.0, a.findings_cited / grounding_target(a.case))
    # Evidence for another option is no evidence for the boxed one.
    contradicted = a.conclusion_choice is not None and a.conclusion_choice != a.answer
    evidence = 0.0 if contradicted else min(1.0, a.conclusion_evidence / CONCLUSION_EVIDENCE_TARGET)
    return (grounding + evidence + consistency(a)) / 3 * INVENTED_FINDING_FACTOR**a.invented


def consistency(a: Assessment) -> float:
    """Half for the analysis, half for the conclusion arguing for the single final answer."""
    if a.answer is None:
        return 0.0
    return 0.5 * (a.analysis_choice == a.answer) + 0.5 * (a.conclusion_choice == a.answer)


def comprehensiveness_reward(a: Assessment) -> float:
    """Share of the options the analysis addresses with specific content. Range [0, 1].

    With ``n`` options: one credit per option other than the final answer that the analysis
    addresses (says something specific about: rules 5-6 of :mod:`verl_crpo.rewards.options`), in
    any phrasing and with any stance, and one when it addresses the final answer without
    rejecting it; divided by ``n``. Without a single final answer the analysis's own choice
    takes the answer's place. Generic discourse, one reason repeated for every option, the
    option's own words and sentences listing three or more options earn nothing. 0.0 without a
    recognisable structure.
    """
    return options_addressed(a) / len(a.case.options) if a.parsed.structure_ok else 0.0


def options_addressed(a: Assessment) -> int:
    """Options addressed with specific content: the chosen one (not rejected) plus the others."""
    chosen = a.answer if a.answer is not None else a.analysis_choice
    addressed = a.analysis.addressed
    supported = chosen in addressed and a.analysis.stance[chosen] >= 0
    return int(supported) + len(addressed - {chosen})


def objective_rewards(a: Assessment) -> dict[str, float]:
    """The four objectives of one assessment, each in [0, 1], in the reward's ``OBJECTIVES`` order."""
    return {
        "accuracy": accuracy_reward(a),
        "format": format_reward(a),
        "faithfulness": faithfulness_reward(a),
        "comprehensiveness": comprehensiveness_reward(a),
    }
