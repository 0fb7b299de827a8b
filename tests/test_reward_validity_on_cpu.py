"""The reward pays clinical reasoning above templates: the validity suite and the issue's six responses.

The vignettes (``verl_crpo/samples/validity``) were written without reference to the reward's
rules: patient cases and knowledge questions, 4, 5 and 10 options, honest responses in five
styles and one response per hack family. Each family must keep at least 95 % of its orderings
("every honest response above the hack on the objective it games").
"""

from __future__ import annotations

import pytest

from verl_crpo.rewards import compute_score
from verl_crpo.validity import FAMILY_OBJECTIVE, HONEST_STYLES, ISSUE_VIGNETTE, load_vignettes, validity_report

MIN_SHARE = 0.95


@pytest.fixture(scope="module")
def vignettes() -> list[dict]:
    return load_vignettes()


@pytest.fixture(scope="module")
def report(vignettes):
    return validity_report(vignettes)


def _score(vignette: dict, response: str) -> dict[str, float]:
    info = {"question": vignette["question"], "options": vignette["options"], "index": vignette["id"]}
    return compute_score("validity", response, vignette["gold"], info)


class TestSuiteData:
    def test_enough_vignettes_of_every_kind(self, vignettes):
        # The issue asks for at least 20 vignettes: patient cases and knowledge questions, 4, 5 and 10 options.
        assert len(vignettes) >= 20
        assert {v["kind"] for v in vignettes} == {"patient", "knowledge"}
        assert {4, 5, 10} <= {len(v["options"]) for v in vignettes}

    def test_every_style_and_family_is_present(self, vignettes):
        for v in vignettes:
            assert set(v["honest"]) == set(HONEST_STYLES), v["id"]
            assert set(v["hacks"]) == set(FAMILY_OBJECTIVE), v["id"]

    def test_honest_responses_are_correct_and_well_formed(self, vignettes):
        # An ordering against a malformed or wrong honest response would prove nothing.
        for v in vignettes:
            for style, response in v["honest"].items():
                scores = _score(v, response)
                assert (scores["accuracy"], scores["format"]) == (1.0, 1.0), f"{v['id']}: {style}"

    def test_hacks_box_the_gold_letter_except_the_contradiction(self, vignettes):
        for v in vignettes:
            for family, response in v["hacks"].items():
                expected = 0.0 if family == "contradicting_box" else 1.0
                assert _score(v, response)["accuracy"] == expected, f"{v['id']}: {family}"


@pytest.mark.parametrize("family", [*FAMILY_OBJECTIVE, "issue table"])
def test_family_orderings_hold(report, family):
    result = report[family]
    assert result.total > 0
    assert result.share >= MIN_SHARE, f"{family}: {result.held}/{result.total}; failing: {result.failures}"


def test_honest_responses_invent_nothing(vignettes):
    # Restating, interpreting and computing from case findings is not invention.
    invented = [
        f"{v['id']}: {style}"
        for v in vignettes
        for style, response in v["honest"].items()
        if _score(v, response)["invented_findings"] > 0
    ]
    assert len(invented) <= 2, invented


def test_templates_pay_less_than_reasoning_in_total(vignettes):
    # The reason for the issue: a template must never out-earn a clinician's answer.
    for v in vignettes:
        best_hack = max(_score(v, v["hacks"][f])["score"] for f in ("template", "generic", "unlettered"))
        assert _score(v, v["honest"]["prose"])["score"] > best_hack, v["id"]


class TestIssueTable:
    """The six responses of the issue, on its thyroid vignette (gold A)."""

    @pytest.fixture(scope="class")
    def scores(self, vignettes):
        vignette = next(v for v in vignettes if v["id"] == ISSUE_VIGNETTE)
        honest = {s: _score(vignette, r) for s, r in vignette["honest"].items()}
        hacks = {f: _score(vignette, r) for f, r in vignette["hacks"].items()}
        return honest, hacks

    def test_prose_and_markdown_weigh_every_option(self, scores):
        honest, _ = scores
        assert honest["prose"]["comprehensiveness"] == pytest.approx(1.0)
        assert honest["markdown"]["comprehensiveness"] == pytest.approx(1.0)

    @pytest.mark.parametrize("hack", ["template", "generic"])
    def test_templates_earn_at_most_one_option(self, scores, hack):
        honest, hacks = scores
        assert hacks[hack]["comprehensiveness"] <= 0.2
        assert hacks[hack]["score"] < min(honest["prose"]["score"], honest["markdown"]["score"])

    @pytest.mark.parametrize("hack", ["invented_words", "contradicting_box"])
    def test_flaws_lower_faithfulness(self, scores, hack):
        honest, hacks = scores
        assert hacks[hack]["faithfulness"] < honest["prose"]["faithfulness"]


def test_validity_command_reports_every_family_and_exits_zero(capsys):
    import json

    from verl_crpo.cli import main

    assert main(["validity", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and set(report["families"]) == {*FAMILY_OBJECTIVE, "issue table"}
    # An impossible bar makes it exit 1: the command can fail.
    assert main(["validity", "--json", "--min-share", "1.01"]) == 1
