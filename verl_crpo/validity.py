"""Validity suite of the clinical reward: does it pay clinical reasoning more than templates?

The vignettes live in ``verl_crpo/samples/validity/*.json``, written for this suite without
reference to the reward's rules: patient cases and knowledge questions without a patient, with 4,
5 and 10 options. Each has honest responses in several styles (clinician prose, mechanism first,
markdown lists, terse, verbose) and one response per hack family. A family's *orderings* are
"every honest response scores above the hack on the objective the hack games"
(:data:`FAMILY_OBJECTIVE`); the ``issue table`` family checks the six responses of the issue
that started this suite (``thyroid_treatment``), as that issue wants them ordered.

Example:
    >>> report = validity_report()
    >>> sorted(report) == sorted([*FAMILY_OBJECTIVE, "issue table"])
    True
    >>> all(0 < family.total for family in report.values())
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources

from verl_crpo.rewards import compute_score

__all__ = ["FAMILY_OBJECTIVE", "HONEST_STYLES", "FamilyResult", "load_vignettes", "validity_report"]

HONEST_STYLES = ("prose", "mechanism", "markdown", "terse", "verbose")
# The objective each hack family games, so the one on which honest responses must beat it.
FAMILY_OBJECTIVE = {
    "template": "comprehensiveness",
    "generic": "comprehensiveness",
    "unlettered": "comprehensiveness",
    "invented_numbers": "faithfulness",
    "invented_words": "faithfulness",
    "contradicting_box": "faithfulness",
}
ISSUE_VIGNETTE = "thyroid_treatment"


@dataclass
class FamilyResult:
    """Orderings of one family: how many hold, and which do not (``vignette: honest style``)."""

    held: int = 0
    total: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.held / self.total if self.total else 0.0

    def check(self, ok: bool, label: str) -> None:
        self.total += 1
        self.held += ok
        if not ok:
            self.failures.append(label)


def load_vignettes() -> list[dict]:
    """Every vignette of ``verl_crpo/samples/validity/*.json``, in file order.

    Each: ``id``, ``kind`` (``patient`` or ``knowledge``), ``question``, ``options``, ``gold``,
    ``honest`` (style to response) and ``hacks`` (family to response).
    """
    folder = resources.files("verl_crpo").joinpath("samples", "validity")
    vignettes = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            vignettes.extend(json.loads(entry.read_text(encoding="utf-8")))
    return vignettes


def _score_all(vignette: dict) -> tuple[dict[str, dict], dict[str, dict]]:
    info = {"question": vignette["question"], "options": vignette["options"], "index": vignette["id"]}

    def score(response: str) -> dict:
        return compute_score("validity", response, vignette["gold"], info)

    honest = {style: score(text) for style, text in vignette["honest"].items()}
    hacks = {family: score(text) for family, text in vignette["hacks"].items()}
    return honest, hacks


def validity_report(
    vignettes: Iterable[dict] | None = None, progress: Callable[[Iterable], Iterable] = iter
) -> dict[str, FamilyResult]:
    """Score every vignette and count, per hack family, the orderings that hold.

    Args:
        vignettes: the vignettes (default :func:`load_vignettes`).
        progress: wraps the vignette iterable (e.g. ``tqdm``) for a progress bar.

    Returns:
        Family name to its :class:`FamilyResult`; ``"issue table"`` holds the issue's seven wanted
        orderings of its six responses.
    """
    vignettes = load_vignettes() if vignettes is None else list(vignettes)
    report = {family: FamilyResult() for family in FAMILY_OBJECTIVE}
    report["issue table"] = FamilyResult()
    for vignette in progress(vignettes):
        honest, hacks = _score_all(vignette)
        for family, objective in FAMILY_OBJECTIVE.items():
            if family not in hacks:
                continue
            for style, scores in honest.items():
                label = f"{vignette['id']}: {style}"
                report[family].check(scores[objective] > hacks[family][objective], label)
        if vignette["id"] == ISSUE_VIGNETTE:
            _issue_table(honest, hacks, report["issue table"])
    return report


def _issue_table(honest: dict[str, dict], hacks: dict[str, dict], result: FamilyResult) -> None:
    """The six responses of the reward-validity issue, ordered as it wants them."""
    prose, markdown = honest["prose"], honest["markdown"]
    template, generic = hacks["template"], hacks["generic"]
    wanted = {
        "prose and markdown comprehensiveness 1.0": min(prose["comprehensiveness"], markdown["comprehensiveness"])
        >= 1.0 - 1e-9,
        "template comprehensiveness <= 0.2": template["comprehensiveness"] <= 0.2 + 1e-9,
        "generic comprehensiveness <= 0.2": generic["comprehensiveness"] <= 0.2 + 1e-9,
        "template total below prose and markdown": template["score"] < min(prose["score"], markdown["score"]),
        "generic total below prose and markdown": generic["score"] < min(prose["score"], markdown["score"]),
        "invented history faithfulness below prose": hacks["invented_words"]["faithfulness"] < prose["faithfulness"],
        "contradicting box faithfulness below prose": hacks["contradicting_box"]["faithfulness"]
        < prose["faithfulness"],
    }
    for label, ok in wanted.items():
        result.check(ok, label)
