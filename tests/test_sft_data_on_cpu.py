"""`verl-crpo sft-data`: teacher responses become cold-start SFT chats only when our reward scores them
correct and well-formed; every drop is counted with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from verl_crpo.cli import main
from verl_crpo.data.prepare import prepare
from verl_crpo.data.sft import sft_data

QUESTION = "A {age}-year-old man has fever, productive cough and right basal crackles. What is the diagnosis?"
OPTIONS = {"A": "Asthma", "B": "Pneumonia", "C": "Pulmonary embolism", "D": "Sarcoidosis"}
ANALYSIS = (
    "<dx>Fever, productive cough and right basal crackles point to pneumonia (B). Asthma (A) causes wheeze, "
    "not fever. Pulmonary embolism (C) gives sudden pleuritic pain without sputum. Sarcoidosis (D) causes "
    "hilar lymphadenopathy and a dry cough.</dx>"
)
GOOD = ANALYSIS + "<conclusion>Fever with crackles means pneumonia. Final answer: \\boxed{B}</conclusion>"
WRONG = ANALYSIS + "<conclusion>Fever with crackles means pneumonia. Final answer: \\boxed{A}</conclusion>"


@pytest.fixture()
def coldstart(tmp_path) -> Path:
    """A prepared MedQA cold-start half of 3 rows (train of 6)."""
    records = [
        {"question": QUESTION.format(age=30 + i), "options": OPTIONS, "answer": "Pneumonia", "answer_idx": "B"}
        for i in range(6)
    ]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    prepare("medqa", tmp_path / "medqa", [tmp_path / "train.jsonl"])
    return tmp_path / "medqa" / "train_coldstart.parquet"


def write_responses(path: Path, indices: list[int]) -> Path:
    i, j = indices[0], indices[1]
    lines = [
        json.dumps({"index": i, "response": GOOD}),  # kept
        json.dumps({"index": j, "response": GOOD}),  # kept: another row
        json.dumps({"index": i, "response": WRONG}),  # incorrect: boxes the distractor
        json.dumps({"index": i, "response": "Pneumonia. \\boxed{B}"}),  # right letter, no <dx>/<conclusion>
        json.dumps({"index": 999, "response": GOOD}),  # no such row
        '{"index": 1, "resp',  # a truncated line
        json.dumps({"response": GOOD}),  # no index
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_keeps_correct_well_formed_responses_and_counts_every_drop(coldstart, tmp_path):
    indices = [int(i) for i in pd.read_parquet(coldstart)["extra_info"].map(lambda e: e["index"])]
    responses = write_responses(tmp_path / "teacher.jsonl", indices)
    result = sft_data(coldstart, responses, tmp_path / "sft.parquet")
    assert result.kept == 2
    assert dict(result.dropped) == {"incorrect": 1, "not well-formed": 1, "unknown index": 1, "unreadable": 2}
    assert result.examples["incorrect"] == [f"line 3 (index {indices[0]})"]
    chats = pd.read_parquet(tmp_path / "sft.parquet")["messages"].tolist()
    assert [[m["role"] for m in chat] for chat in chats] == [["user", "assistant"]] * 2
    assert chats[0][1]["content"] == GOOD
    assert chats[0][0]["content"].endswith("\nA. Asthma\nB. Pneumonia\nC. Pulmonary embolism\nD. Sarcoidosis")


def test_nothing_kept_is_an_error_and_outputs_need_overwrite(coldstart, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"index": 999, "response": GOOD}) + "\n")
    with pytest.raises(ValueError, match=r"no response .* is correct and well-formed"):
        sft_data(coldstart, bad, tmp_path / "sft.parquet")
    assert not (tmp_path / "sft.parquet").exists()
    (tmp_path / "sft.parquet").write_text("keep me")
    with pytest.raises(ValueError, match=r"already exists.*--overwrite"):
        sft_data(coldstart, bad, tmp_path / "sft.parquet")


def test_the_command_reports_drops_by_reason(coldstart, tmp_path, capsys):
    indices = [int(i) for i in pd.read_parquet(coldstart)["extra_info"].map(lambda e: e["index"])]
    responses = write_responses(tmp_path / "teacher.jsonl", indices)
    argv = ["sft-data", "--dataset", str(coldstart), "--responses", str(responses), "--out", str(tmp_path / "s.pq")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "kept 2 of 7 responses" in out
    for reason in ("incorrect", "not well-formed", "unknown index", "unreadable"):
        assert reason in out
