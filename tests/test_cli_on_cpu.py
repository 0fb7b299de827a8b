"""The `verl-crpo` command line: sample scoring output, weight overrides, errors and help.

(`verl-crpo check` is exercised in fresh processes by test_plugin_registration_on_cpu.py; the training run
behind `verl-crpo demo` by test_e2e_main_ppo_on_cpu.py.)
"""

from __future__ import annotations

import json

import pytest

from verl_crpo.cli import main
from verl_crpo.rewards import OBJECTIVES, load_demo_samples


def _demo_json(capsys, *args: str) -> dict:
    assert main(["score", "--sample", "--json", *args]) == 0
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
    assert main(["score", "--sample"]) == 0
    out = capsys.readouterr().out
    # In the column header itself: the caption also names the objectives (with their weights).
    header = next(line for line in out.splitlines() if "response" in line and "score /" in line)
    assert all(name in header for name in OBJECTIVES)
    assert any(line.split("\u2502")[1].strip() == "mean" for line in out.splitlines() if line.count("\u2502") > 2)


@pytest.mark.parametrize(
    ("weight", "message"),
    [("accuracy", "NAME=VALUE"), ("accuracy=ten", "not a number"), ("accuracy=-1", "invalid weights")],
)
def test_bad_weight_exits_with_a_message(weight, message):
    with pytest.raises(SystemExit, match=message):
        main(["score", "--sample", "--weight", weight])


def test_score_without_a_source_says_what_to_pass():
    with pytest.raises(SystemExit, match="--sample"):
        main(["score"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--arms", "ppo"], "invalid choice"), (["--steps", "0"], "steps must be >= 1")],
)
def test_demo_refuses_bad_settings_before_doing_any_work(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path / "out"), *argv])
    assert message in str(exit_info.value) + capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_demo_help_names_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    flags = ("--arms", "--seed", "--steps", "--out", "--sft-steps", "--timeout", "--override")
    assert all(flag in out for flag in flags)


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["demo", "--help"], ["score", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: verl-crpo" in capsys.readouterr().out
