"""The `verl-crpo` command line: demo output, weight overrides, errors and help.

(`verl-crpo check` is exercised in fresh processes by test_plugin_registration_on_cpu.py.)
"""

from __future__ import annotations

import json

import pytest

from verl_crpo.cli import main
from verl_crpo.rewards import OBJECTIVES, load_demo_samples


def _demo_json(capsys, *args: str) -> dict:
    assert main(["demo", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_demo_scores_every_built_in_response_on_every_objective(capsys):
    report = _demo_json(capsys)
    assert len(report["responses"]) == len(load_demo_samples())
    for row in report["responses"]:
        assert set(row) == {"label", "score", *OBJECTIVES}
    # The mean row is the plain average of the rows.
    accuracy = [row["accuracy"] for row in report["responses"]]
    assert report["mean"]["accuracy"] == pytest.approx(sum(accuracy) / len(accuracy))


def test_demo_ranks_the_grounded_response_first(capsys):
    rows = _demo_json(capsys)["responses"]
    best = max(rows, key=lambda row: row["score"])
    # Default weights: 10 * accuracy + faithfulness + comprehensiveness, so a perfect response scores 12.
    assert best["label"].startswith("good") and best["score"] == pytest.approx(12.0)


def test_weight_override_reaches_the_score(capsys):
    report = _demo_json(capsys, "--weight", "accuracy=1", "--weight", "format=2")
    assert report["weights"]["accuracy"] == 1.0 and report["weights"]["format"] == 2.0
    for row in report["responses"]:
        expected = row["accuracy"] + 2 * row["format"] + row["faithfulness"] + row["comprehensiveness"]
        assert row["score"] == pytest.approx(expected)


def test_demo_table_names_every_objective(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in OBJECTIVES) and "mean" in out


@pytest.mark.parametrize(
    ("weight", "message"),
    [("accuracy", "NAME=VALUE"), ("accuracy=ten", "not a number"), ("accuracy=-1", "invalid weights")],
)
def test_bad_weight_exits_with_a_message(weight, message):
    with pytest.raises(SystemExit, match=message):
        main(["demo", "--weight", weight])


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["demo", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: verl-crpo" in capsys.readouterr().out
