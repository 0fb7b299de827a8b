"""``verl-crpo generate`` and ``verl-crpo evaluate`` as a user runs them: a tiny local model, two runs, a judge.

Protects the commands' wiring: generation with the hf backend on CPU resumes rather than
regenerating, evaluation writes the three report files with both runs and their paired
difference, the judge's scores (and its missing ones) reach the report, and no command replaces
an output unasked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from verl_crpo.cli import main
from verl_crpo.data import generate_cases, reference_response, to_rl_row, write_rl_parquet
from verl_crpo.tiny import TinyModelSpec, build_tiny_model

ROWS = 6


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return Path(
        write_rl_parquet(generate_cases(ROWS, seed=5), tmp_path_factory.mktemp("data") / "test.parquet", "test")
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """Two runs on the same items: the reference answers, and the same with the box moved to a distractor."""
    folder = tmp_path_factory.mktemp("runs")
    good, bad = [], []
    for i, case in enumerate(generate_cases(ROWS, seed=5)):
        row = {
            k: v for k, v in to_rl_row(case, "test", i).items() if k in ("data_source", "reward_model", "extra_info")
        }
        answer = reference_response(case)
        wrong = next(letter for letter in case.options if letter != case.answer)
        good.append({**row, "response": answer, "sample": 0, "row": i})
        bad.append(
            {
                **row,
                "response": answer.replace(f"\\boxed{{{case.answer}}}", f"\\boxed{{{wrong}}}"),
                "sample": 0,
                "row": i,
            }
        )
    paths = folder / "grpo.jsonl", folder / "crpo.jsonl"
    for path, records in zip(paths, (bad, good), strict=True):
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return paths


def test_generate_answers_every_row_then_resumes_instead_of_regenerating(data, tmp_path, capsys):
    model = build_tiny_model(TinyModelSpec(corpus_cases=100, vocab_size=600), tmp_path / "cache")
    out = tmp_path / "answers.jsonl"
    argv = ["generate", "--data", str(data), "--model", model, "--out", str(out), "--max-new-tokens", "8"]
    assert main(argv) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["row"], r["sample"]) for r in lines] == [(i, 0) for i in range(ROWS)]
    assert {"data_source", "reward_model", "extra_info", "response", "sample"} <= set(lines[0])
    before = out.read_bytes()
    capsys.readouterr()
    assert main(argv) == 0  # everything answered: nothing generated, the file untouched
    assert f"0 responses generated now, {ROWS} already answered" in capsys.readouterr().out
    assert out.read_bytes() == before
    # Other settings on a finished output: refused, with the flag that would allow it.
    assert main([*argv[:-1], "16"]) == 2
    assert "--overwrite" in capsys.readouterr().out
    assert out.read_bytes() == before
    # The output is a run `evaluate` reads.
    assert main(["evaluate", str(out), "--out", str(tmp_path / "report")]) == 0


def test_evaluate_two_runs_writes_the_report_and_refuses_to_replace_it(runs, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["evaluate", *map(str, runs), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md", "report.png"]
    report = json.loads((out / "report.json").read_text())
    assert list(report["runs"]) == ["grpo", "crpo"]  # file stems, in the given order
    crpo = report["runs"]["crpo"]
    assert crpo["n"] == ROWS and crpo["metrics"]["accuracy"]["mean"] == 1.0
    assert report["runs"]["grpo"]["metrics"]["accuracy"]["mean"] == 0.0
    for name in ("accuracy", "faithfulness", "comprehensiveness", "format", "distractor_rejection"):
        m = crpo["metrics"][name]
        assert m["ci_low"] <= m["mean"] <= m["ci_high"]
    assert set(crpo["by_source"]) == {"synthetic_clinical"}
    (pair,) = report["paired"]
    assert (pair["a"], pair["b"], pair["common_items"]) == ("grpo", "crpo", ROWS)
    assert pair["metrics"]["accuracy"]["mean"] == 1.0
    assert "crpo - grpo" in capsys.readouterr().out
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["evaluate", *map(str, runs), "--out", str(out)]) == 2
    assert "pass --overwrite" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["evaluate", *map(str, runs), "--out", str(out), "--names", "a", "b", "--overwrite"]) == 0
    assert list(json.loads((out / "report.json").read_text())["runs"]) == ["a", "b"]


def test_names_must_match_the_files(runs, tmp_path, capsys):
    assert main(["evaluate", *map(str, runs), "--out", str(tmp_path / "r"), "--names", "only_one"]) == 2
    assert "one per file" in capsys.readouterr().out
    assert not (tmp_path / "r").exists()


def test_judge_scores_reach_the_report_and_garbage_is_missing_not_zero(runs, stub_judge, tmp_path, monkeypatch):
    # The judge gives 4/3/2/5, except for crpo's row 0, where it answers garbage every time.
    first_row = json.loads(runs[1].read_text().splitlines()[0])["response"][:60]

    def behave(number, body):
        if first_row in body["messages"][1]["content"] and "crpo-marker" in body["messages"][1]["content"]:
            return 200, stub_judge.completion("I think it is quite good")
        return 200, stub_judge.completion(json.dumps(stub_judge.VALID))

    stub_judge.behave = behave
    marked = tmp_path / "crpo.jsonl"
    lines = runs[1].read_text().splitlines()
    first = json.loads(lines[0])
    first["response"] += "\n(crpo-marker)"
    marked.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    monkeypatch.setenv("VERL_CRPO_JUDGE_API_KEY", "secret-test-key")
    out = tmp_path / "judged"
    argv = ["evaluate", str(runs[0]), str(marked), "--out", str(out), "--judge-url", stub_judge.url]
    assert main([*argv, "--judge-model", "stub", "--judge-timeout", "5"]) == 0
    report = json.loads((out / "report.json").read_text())
    grpo, crpo = report["runs"]["grpo"]["metrics"], report["runs"]["crpo"]["metrics"]
    assert grpo["judge_faithfulness"]["mean"] == 4.0 and grpo["judge_faithfulness"]["n"] == ROWS
    assert crpo["judge_hallucination"]["mean"] == 5.0 and crpo["judge_hallucination"]["n"] == ROWS - 1
    assert all(r["headers"]["Authorization"] == "Bearer secret-test-key" for r in stub_judge.requests)
    for path in out.iterdir():  # the key never lands in a file the command writes
        assert b"secret-test-key" not in path.read_bytes()
    assert re.search(r"judge_faithfulness", (out / "report.md").read_text())


def test_judge_needs_both_flags(runs, tmp_path, capsys):
    assert main(["evaluate", str(runs[0]), "--out", str(tmp_path / "r"), "--judge-url", "http://127.0.0.1:9/v1"]) == 2
    assert "--judge-model" in capsys.readouterr().out
