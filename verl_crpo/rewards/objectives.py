"""The four clinical objectives, each in [0, 1]: small pure functions of one reading.

Each reads one :class:`~verl_crpo.rewards.reading.Reading`.

CRPO's exact rules are unpublished (DESIGN.md section 1); every rule below is our choice, made to
follow DESIGN.md section 3, and states what earns credit. Without a recognisable structure (see
:mod:`verl_crpo.rewards.parsing`) no objective can be verified and all four are 0: that is how
``format`` acts through the others.
"""

from __future__ import annotations

from verl_crpo.rewards.context import Verdict
from verl_crpo.rewards.reading import Reading

__all__ = [
    "MISTAKE_FACTOR",
    "accuracy_reward",
    "comprehensiveness_reward",
    "consistency",
    "faithfulness_reward",
    "format_reward",
    "grounding",
    "grounding_target",
    "objective_rewards",
    "options_addressed",
]

# Each invented patient fact or misread finding halves faithfulness: two of them leave a quarter.
MISTAKE_FACTOR = 0.5


def grounding_target(r: Reading) -> int:
    """Distinct case findings the analysis must cite for full grounding: an eighth of the case's
    finding stems, at least 3 and at most 6, and never more than a third of them (a one-line
    knowledge question has few terms to cite). Citing more earns nothing (no reward for copying)."""
    n = len(r.case.findings)
    return max(1, min(6, max(3, n // 8), n // 3))


def accuracy_reward(r: Reading) -> float:
    """1.0 when the response gives exactly one final answer and it is the gold letter, else 0.0.

    Exactly one final answer (:func:`~verl_crpo.rewards.reading.final_answer`): the structure is
    recognisable; every ``\\boxed`` in the response (at most 8) has readable content that
    resolves to an option letter; all of them name the same letter; at least one lies in the
    conclusion. Hedging (two letters), an unreadable or out-of-range box, a second conclusion,
    no box, or a box only outside the conclusion all earn 0.
    """
    return 1.0 if r.answer is not None and r.answer == r.case.gold else 0.0


def format_reward(r: Reading) -> float:
    """Quarter credit for each of four checks, 0.0 without a recognisable structure. Range [0, 1].

    1. The structure is recognisable: analysis then conclusion tags, once each, non-blank.
    2. Nothing but whitespace outside the two blocks.
    3. Exactly one ``\\boxed`` in the whole response, and it lies in the conclusion.
    4. The response has a single readable final answer (as for accuracy, right or wrong).
    """
    p = r.parsed
    if not p.structure_ok:
        return 0.0
    single_box = p.num_boxes == 1 and len(p.boxes) == 1 and p.boxes[0].in_conclusion
    return (1 + (not p.outside) + single_box + (r.answer is not None)) / 4


def grounding(r: Reading) -> float:
    """Case findings cited where the analysis reasons, in [0, 1].

    Distinct case findings the analysis cites in or next to a unit that states knowledge
    (:mod:`~verl_crpo.rewards.reading` rule 4; misread units left out) over
    :func:`grounding_target`, capped at 1: a list of case words, or the case copied, grounds nothing.
    """
    return min(1.0, len(r.findings_cited) / grounding_target(r))


def consistency(r: Reading) -> float:
    """The paper's consistency term: the box is what the analysis and the conclusion argue for. Range [0, 1].

    Half when the analysis argues for the final answer
    (:func:`~verl_crpo.rewards.reading.analysis_choice`: supported with a reason, or the option
    left standing); half when the conclusion does not argue for another option and does not
    decline to decide (a conclusion holding only the final-answer line, which the prompt allows,
    earns this half). 0 without a single final answer.
    """
    if r.answer is None:
        return 0.0
    concluded = not r.conclusion_undecided and r.conclusion_choice in (None, r.answer)
    if r.conclusion_choice is None and len(r.conclusion.leaders) > 1:
        concluded = False  # the conclusion names several options without choosing
    return 0.5 * (r.analysis_choice == r.answer) + 0.5 * concluded


def faithfulness_reward(r: Reading) -> float:
    """Mean of grounding and consistency, halved per invented fact or misread finding. Range [0, 1].

    * :func:`grounding`: the analysis cites this case's findings and reasons about them.
    * :func:`consistency`: the boxed answer is what the analysis and the conclusion argue for.
    * each invented patient fact (:func:`~verl_crpo.rewards.findings.invented_findings`: history,
      family history, medications, examination, imaging, pathology or test results, normal or
      abnormal, values exact or hedged, in any tense) and each unit that flips the polarity of a
      case finding (:mod:`~verl_crpo.rewards.reading` rule 4) multiplies the result by
      :data:`MISTAKE_FACTOR` (0.5).

    0.0 without a recognisable structure or when the response addresses the grader.
    """
    if not r.parsed.structure_ok or r.grader_directed:
        return 0.0
    return (grounding(r) + consistency(r)) / 2 * MISTAKE_FACTOR ** (r.invented + r.misread)


def options_addressed(r: Reading) -> int:
    """Options the analysis weighs rightly with a distinctive reason.

    The gold option counts when the analysis supports it or describes it without rejecting it or
    leaving it open; every other option counts when the analysis rejects it or describes it
    without supporting it or leaving it open. Only options with a distinctive reason
    (:mod:`~verl_crpo.rewards.reading` rule 3) count. A wrong final answer weighed two options
    wrongly whatever its analysis says: the gold one and its own choice never count.
    """
    a = r.analysis
    gold = r.case.gold
    # A wrong answer has weighed the gold option and its own choice wrongly, whatever it says of them.
    missed = {gold, r.answer} if r.answer is not None and r.answer != gold else set()
    count = 0
    for letter in a.reasons.keys() - missed:
        verdict = a.verdicts.get(letter, Verdict.NEUTRAL)
        wanted = (Verdict.SUPPORTS, Verdict.NEUTRAL) if letter == gold else (Verdict.REJECTS, Verdict.NEUTRAL)
        count += verdict in wanted
    return count


def comprehensiveness_reward(r: Reading) -> float:
    """Share of the options the analysis weighs rightly with a reason (:func:`options_addressed`). Range [0, 1].

    Divided by the number of options. Generic discourse, one reason repeated for every option,
    a template, the option's own words or stubs of them, and options left open earn nothing; a
    supported distractor or a rejected gold option earns nothing, and a wrong final answer
    earns nothing for the gold option or its own choice, so a wrong answer argued well earns two
    options fewer than the same analysis of the right one. 0.0 without a recognisable structure.
    """
    return options_addressed(r) / len(r.case.options) if r.parsed.structure_ok else 0.0


def objective_rewards(r: Reading) -> dict[str, float]:
    """The four objectives of one reading, each in [0, 1], in the reward's ``OBJECTIVES`` order."""
    return {
        "accuracy": accuracy_reward(r),
        "format": format_reward(r),
        "faithfulness": faithfulness_reward(r),
        "comprehensiveness": comprehensiveness_reward(r),
    }
