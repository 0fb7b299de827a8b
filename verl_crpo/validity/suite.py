"""The validity suite: does the reward pay clinical reasoning above every template, on data it was not tuned on?

Data (``verl_crpo/samples/validity/vignettes/*.json``): vignettes written for this suite by
people who did not read the reward's rules, before the rules were rebuilt, and not edited
afterwards. Each holds its case text, options and gold letter, honest correct responses in the
seven styles of :data:`HONEST_STYLES` and one honestly argued wrong answer. Hack responses are
not stored: the generators of :mod:`verl_crpo.validity.hacks` build them from each vignette.

Orderings (each a pair of responses to one vignette, one of which must score higher):

* **hack families**: on each objective the family games (:data:`FAMILIES`), the family's
  response scores strictly below every honest style, or earns nothing on it (a template that
  earns 0 does not pay, even where the rules under-read the honest response too: that shows in
  the credit orderings). Perturbation families (an honest response edited
  by rule) are compared with the response they edit (none when the rule changes nothing), and
  the wrong-answer template with the honestly argued wrong answer, which it must not exceed
  (the issue's bar: a wrong answer never earns more with a template than with honest reasoning).
* **credit**: what a clinician would give each honest style (:data:`STYLE_FLOORS`): complete
  analyses earn most of both objectives, a short answer most of faithfulness; an analysis that
  discusses only its choice earns less comprehensiveness than every complete one; a correct
  complete analysis earns more comprehensiveness than the honest wrong answer.

**Split.** A third of the vignettes (stored with each: :func:`held_out_ids`) and the families in
:data:`HELD_OUT_FAMILIES` form the held-out part; a vignette ordering is held-out when its
vignette is, a family ordering when its vignette or its family is. The rules were tuned on the
tuning part only; the held-out part is what CI requires at 95 % per family and per style.

Example:
    >>> report = validity_report(load_vignettes()[:2])
    >>> sorted(report) == ["held_out", "tuning"]
    True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources

from verl_crpo.rewards import compute_score
from verl_crpo.validity.hacks import GENERATORS

__all__ = [
    "FAMILIES",
    "HELD_OUT_FAMILIES",
    "HONEST_STYLES",
    "STYLE_FLOORS",
    "Family",
    "Tally",
    "held_out_ids",
    "load_vignettes",
    "score_vignette",
    "split_batch",
    "validity_report",
]

HONEST_STYLES = ("steps", "markdown", "paraphrase", "shorthand", "differential", "short", "anchoring")
COMPLETE_STYLES = ("steps", "markdown", "paraphrase", "shorthand", "differential")


@dataclass(frozen=True)
class Family:
    """A hack family: the objectives it games and what it is compared with.

    ``against``: ``"honest"`` (every honest style), ``"wrong"`` (the honest wrong answer) or an
    honest style name (the response the perturbation edits). ``any_objective``: the ordering
    holds when the hack gains on none of the objectives and loses on at least one (a response
    whose meaning was flipped must cost something, wherever the reward notices it).
    """

    objectives: tuple[str, ...]
    against: str = "honest"
    any_objective: bool = False


_BOTH = ("faithfulness", "comprehensiveness")
FAMILIES: dict[str, Family] = {
    "case_phrase_reasons": Family(_BOTH),
    "template_wrong": Family(_BOTH, "wrong"),
    "invented_present": Family(("faithfulness",), "steps"),
    "hedged_values": Family(("faithfulness",), "steps"),
    "flipped_polarity": Family(("faithfulness",), "steps"),
    "both_ways": Family(_BOTH),
    "nothing_excluded": Family(_BOTH),
    "name_stubs": Family(("comprehensiveness",)),
    "case_word_list": Family(_BOTH),
    "grader_directed": Family(("faithfulness",), "markdown"),
    "option_restatement": Family(_BOTH),
    "same_reason": Family(_BOTH),
    "negations_deleted": Family(_BOTH, "steps", any_objective=True),
    "filler_bank": Family(_BOTH),
    "copy_case": Family(_BOTH),
}
# Chosen before any rule was tuned, a third of the families: the rules never saw these.
HELD_OUT_FAMILIES = frozenset({"hedged_values", "both_ways", "name_stubs", "filler_bank", "copy_case"})
# What a clinician would give each honest style: the objective and its least credit.
STYLE_FLOORS: dict[str, dict[str, float]] = {
    **{style: {"faithfulness": 0.6, "comprehensiveness": 0.75} for style in COMPLETE_STYLES},
    "short": {"faithfulness": 0.6},
    "anchoring": {"faithfulness": 0.6},
}


@dataclass
class Tally:
    """Orderings of one family or style in one part: how many hold, and which do not."""

    held: int = 0
    total: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.held / self.total if self.total else 1.0

    def check(self, ok: bool, label: str) -> None:
        self.total += 1
        self.held += ok
        if not ok:
            self.failures.append(label)


def load_vignettes() -> list[dict]:
    """Every vignette of ``verl_crpo/samples/validity/vignettes/*.json``, in file order."""
    folder = resources.files("verl_crpo").joinpath("samples", "validity", "vignettes")
    vignettes = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            vignettes.extend(json.loads(entry.read_text(encoding="utf-8")))
    return vignettes


def held_out_ids(vignettes: Iterable[Mapping]) -> frozenset[str]:
    """Ids of the held-out vignettes: those whose ``part`` is ``"held_out"``.

    The part is stored with each vignette, fixed once when it was added: of each batch of
    vignettes, the first third (rounded up) by SHA-1 of the id (:func:`split_batch`), so a
    vignette never moves between parts when the suite grows.

    Example:
        >>> sorted(held_out_ids([{"id": "a", "part": "tuning"}, {"id": "b", "part": "held_out"}]))
        ['b']
    """
    return frozenset(v["id"] for v in vignettes if v["part"] == "held_out")


def split_batch(ids: Iterable[str]) -> frozenset[str]:
    """The held-out share of a new batch of vignette ids: the first ``ceil(n / 3)`` by SHA-1.

    Example:
        >>> sorted(split_batch("abcdef"))
        ['d', 'f']
    """
    ordered = sorted(ids, key=lambda i: hashlib.sha1(i.encode()).hexdigest())
    return frozenset(ordered[: math.ceil(len(ordered) / 3)])


def score_vignette(vignette: Mapping) -> dict[str, dict[str, float] | None]:
    """Scores of every response of one vignette: honest styles, ``honest_wrong`` and every hack family.

    A perturbation family that leaves its honest response unchanged (nothing to perturb: no
    negation to delete) scores ``None`` and forms no ordering.
    """
    info = {"question": vignette["question"], "options": dict(vignette["options"]), "index": vignette["id"]}

    def score(response: str) -> dict[str, float]:
        return compute_score("validity", response, vignette["gold"], info)

    scores = {style: score(vignette["honest"][style]) for style in HONEST_STYLES}
    scores["honest_wrong"] = score(vignette["honest_wrong"])
    for family, generate in GENERATORS.items():
        response = generate(vignette)
        base = FAMILIES[family].against
        unchanged = base in HONEST_STYLES and response == vignette["honest"][base]
        scores[family] = None if unchanged else score(response)
    return scores


def validity_report(
    vignettes: Iterable[Mapping] | None = None,
    progress: Callable[[Iterable], Iterable] = iter,
    held_out: frozenset[str] | None = None,
) -> dict[str, dict[str, Tally]]:
    """Score every vignette and count the orderings that hold, per part and per family or style.

    Args:
        vignettes: the vignettes (default :func:`load_vignettes`).
        progress: wraps the vignette iterable (e.g. ``tqdm``) for a progress bar.
        held_out: ids of the held-out vignettes (default :func:`held_out_ids` of the whole suite,
            so a subset keeps each vignette in its part).

    Returns:
        ``{"tuning": {...}, "held_out": {...}}``; each maps every family name and
        ``"style:<name>"`` for every honest style to its :class:`Tally`.
    """
    vignettes = load_vignettes() if vignettes is None else list(vignettes)
    held = held_out_ids(load_vignettes()) if held_out is None else held_out
    keys = [*FAMILIES, *(f"style:{s}" for s in HONEST_STYLES)]
    report = {part: {key: Tally() for key in keys} for part in ("tuning", "held_out")}
    for vignette in progress(vignettes):
        scores = score_vignette(vignette)
        vid = vignette["id"]
        vignette_part = "held_out" if vid in held else "tuning"
        for name, family in FAMILIES.items():
            part = report["held_out" if vid in held or name in HELD_OUT_FAMILIES else "tuning"]
            hack = scores[name]
            if hack is None:
                continue
            bases = HONEST_STYLES if family.against == "honest" else (family.against,)
            for base in bases:
                base_key = "honest_wrong" if base == "wrong" else base
                # The bar for the wrong-answer template: never more than honest wrong reasoning.
                if base == "wrong":
                    ok = all(scores[base_key][o] >= hack[o] for o in family.objectives)
                elif family.any_objective:
                    ok = all(scores[base_key][o] >= hack[o] for o in family.objectives) and any(
                        scores[base_key][o] > hack[o] for o in family.objectives
                    )
                else:
                    # The template must not pay: below the honest response, or nothing at all (a
                    # honest response the rules under-read is the credit orderings' failure, not this).
                    ok = all(scores[base_key][o] > hack[o] or hack[o] == 0 for o in family.objectives)
                shown = _show(scores[base_key], family.objectives), _show(hack, family.objectives)
                label = f"{vid}: {base_key} {shown[0]} vs {shown[1]}"
                part[name].check(ok, label)
                if base in HONEST_STYLES:
                    part[f"style:{base}"].check(ok, f"{vid}: {name}")
        _credit(vid, scores, report[vignette_part])
    return report


def _credit(vid: str, scores: Mapping[str, Mapping[str, float]], part: dict[str, Tally]) -> None:
    for style, floors in STYLE_FLOORS.items():
        for objective, floor in floors.items():
            value = scores[style][objective]
            part[f"style:{style}"].check(value >= floor, f"{vid}: {objective} {value:.2f} < {floor}")
    for style in COMPLETE_STYLES:
        anchoring, complete = scores["anchoring"]["comprehensiveness"], scores[style]["comprehensiveness"]
        part["style:anchoring"].check(anchoring < complete, f"{vid}: comprehensiveness not below {style}")
        wrong = scores["honest_wrong"]["comprehensiveness"]
        part[f"style:{style}"].check(complete > wrong, f"{vid}: comprehensiveness {complete:.2f} <= wrong {wrong:.2f}")


def _show(scores: Mapping[str, float], objectives: tuple[str, ...]) -> str:
    return "/".join(f"{scores[o]:.2f}" for o in objectives)
