"""`verl-crpo prepare verl`: existing verl RL rows whose prompts hold the case and options as text get
``extra_info.question`` and ``extra_info.options``, everything else kept, on fixture parquet files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from verl_crpo.cli import main
from verl_crpo.data.from_prompt import parse_prompt, prepare_verl
from verl_crpo.data.prepare import prepare
from verl_crpo.rewards import compute_score

CASE = "A 30-year-old man has fever, productive cough and right basal crackles. What is the diagnosis?"
OPTIONS = {"A": "Asthma", "B": "Pneumonia", "C": "Pulmonary embolism", "D": "Sarcoidosis"}
RESPONSE = "<dx>Fever and crackles: pneumonia. Asthma lacks fever.</dx><conclusion>\\boxed{B}</conclusion>"


def lines(mark: str, options: dict[str, str] = OPTIONS) -> str:
    return "\n".join(mark.format(k) + f" {v}" for k, v in options.items())


def inline(options: dict[str, str] = OPTIONS) -> str:
    return " ".join(f"({k}) {v}" for k, v in options.items())


# Each layout as users' prompts write it: (user message, the layout the summary names).
LAYOUTS = {
    "dot lines": (f"{CASE}\n{lines('{}.')}", "A. per line"),
    "paren lines": (f"{CASE}\n{lines('{})')}", "A) per line"),
    "bracketed lines": (f"{CASE}\n{lines('({})')}", "(A) per line"),
    "leading instruction": (
        f"Answer the following multiple choice question.\n{CASE}\n{lines('{}.')}",
        "A. per line",
    ),
    "trailing format request": (
        f"{CASE}\n{lines('{}.')}\nPut your final answer as \\boxed{{letter}} inside <answer></answer>.",
        "A. per line",
    ),
    "options block": (f"{CASE}\n\nOptions:\n{lines('{}.')}\n\nThink step by step.", "Options: A. per line"),
    "inline answer choices": (f"{CASE} Answer Choices: {inline()}", "Answer Choices: (A) inline"),
    "inline choices on their own line, with request": (
        f"Please answer the question below.\n{CASE}\nAnswer Choices: {inline()}\nAnswer with the letter only.",
        "Answer Choices: (A) inline",
    ),
    "inline with same-line request": (
        f"{CASE}\nAnswer Choices: {inline()}. Put your answer in \\boxed{{}}.",
        "Answer Choices: (A) inline",
    ),
}


def verl_row(content: str, gold: str = "B", i: int = 0, **extra) -> dict:
    return {
        "data_source": "clinical_r1",
        "prompt": [{"role": "system", "content": "You are a doctor."}, {"role": "user", "content": content}],
        "ability": "medicine",
        "reward_model": {"style": "rule", "ground_truth": gold},
        "extra_info": {"split": "train", "index": i, "source_id": f"q{i}", **extra},
    }


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def read_rows(path: Path) -> list[dict]:
    return pd.read_parquet(path).to_dict(orient="records")


def dumps(row: dict) -> str:
    """A row read back from parquet holds numpy arrays, which do not compare with ``==``: compare as JSON."""
    return json.dumps(row, default=list, sort_keys=True)


def options_of(row: dict) -> dict:
    return {k: v for k, v in row["extra_info"]["options"].items() if v is not None}


class TestLayouts:
    @pytest.mark.parametrize("name", list(LAYOUTS))
    def test_each_layout_gives_the_case_and_the_options(self, name):
        content, layout = LAYOUTS[name]
        parsed = parse_prompt(content)
        assert (parsed.question, parsed.options, parsed.layout) == (CASE, OPTIONS, layout)

    def test_a_case_line_that_looks_like_an_option_stays_in_the_case(self):
        # "A." and "(A)" inside the history are the case's own words; the real block follows them.
        case = f"History:\nA. fib diagnosed last year, on warfarin.\n(A) denotes the admission note. {CASE}"
        for content in (f"{case}\n{lines('{}.')}", f"{case}\nAnswer Choices: {inline()}"):
            parsed = parse_prompt(content)
            assert (parsed.question, parsed.options) == (case, OPTIONS)

    def test_a_question_ending_in_options_keeps_its_words(self):
        # Without a colon, "options" is the question's last word, not a block header.
        question = "Which of the following options"
        assert parse_prompt(f"{question}\n{lines('{}.')}").question == question

    def test_options_a_to_j(self):
        options = {letter: f"Option {letter} text" for letter in "ABCDEFGHIJ"}
        for content in (f"{CASE}\n{lines('{}.', options)}", f"{CASE} Answer Choices: {inline(options)}"):
            assert parse_prompt(content).options == options

    def test_no_options_is_refused(self):
        with pytest.raises(ValueError, match="no options found"):
            parse_prompt(f"{CASE}\nA. Asthma")  # one option is not a choice


class TestConversion:
    def test_rows_are_filled_in_and_everything_else_is_kept(self, tmp_path):
        rows = [verl_row(content, i=i) for i, (content, _) in enumerate(LAYOUTS.values())]
        path = write_parquet(tmp_path / "in" / "train.parquet", rows)
        result = prepare_verl([path], tmp_path / "out")
        written = read_rows(tmp_path / "out" / "train.parquet")
        before = read_rows(path)
        assert len(written) == len(rows) and result.files[str(path)].rows == len(rows)
        for old, new in zip(before, written, strict=True):
            assert dumps({k: v for k, v in new.items() if k != "extra_info"}) == dumps(
                {k: v for k, v in old.items() if k != "extra_info"}
            )
            assert {k: v for k, v in new["extra_info"].items() if k not in ("question", "options")} == old["extra_info"]
            assert (new["extra_info"]["question"], options_of(new)) == (CASE, OPTIONS)
            assert compute_score(new["data_source"], RESPONSE, "B", new["extra_info"])["accuracy"] == 1.0
        layouts = result.files[str(path)].layouts
        assert layouts["A. per line"] == 3 and layouts["Answer Choices: (A) inline"] == 3

    def test_a_bad_row_stops_the_run_naming_file_and_row(self, tmp_path):
        rows = [verl_row(LAYOUTS["dot lines"][0]), verl_row(CASE + "\nNo options here.", i=1)]
        rows.append(verl_row(LAYOUTS["dot lines"][0], gold="E", i=2))  # gold letter not among A-D
        path = write_parquet(tmp_path / "dev.parquet", rows)
        with pytest.raises(ValueError, match=r"dev\.parquet:row 1: no options found.*--skip-invalid"):
            prepare_verl([path], tmp_path / "out")
        assert not (tmp_path / "out").exists()
        result = prepare_verl([path], tmp_path / "out", skip_invalid=True)
        assert (result.files[str(path)].rows, result.files[str(path)].skipped) == (1, 2)
        assert "row 2: gold letter 'E' is not among the options A, B, C, D" in "\n".join(result.skips)

    def test_round_trip_of_a_release_row(self, tmp_path):
        # A row written by the release converters, stripped of question and options, comes back equal.
        record = {"id": "T-1", "question": f"{CASE}\nAnswer Choices: (A) x", "label": "J"}
        record["options"] = {letter: f"Option {letter} text" for letter in "ABCDEFGHIJ"}
        write = tmp_path / "Text" / "test.jsonl"
        write.parent.mkdir(parents=True)
        medqa = {"question": CASE, "options": OPTIONS, "answer": "Pneumonia", "answer_idx": "B"}
        write.write_text(json.dumps(record) + "\n")
        (tmp_path / "test.jsonl").write_text(json.dumps(medqa) + "\n" + json.dumps({**medqa, "question": "Q?"}) + "\n")
        for dataset, source in (("medxpertqa", write), ("medqa", tmp_path / "test.jsonl")):
            prepare(dataset, tmp_path / dataset, [source])
            released = read_rows(tmp_path / dataset / "test.parquet")
            stripped = [
                {**r, "extra_info": {k: v for k, v in r["extra_info"].items() if k not in ("question", "options")}}
                for r in released
            ]
            path = write_parquet(tmp_path / "stripped" / dataset / "test.parquet", stripped)
            prepare_verl([path], tmp_path / "back" / dataset)
            back = read_rows(tmp_path / "back" / dataset / "test.parquet")
            assert [dumps(r) for r in back] == [dumps(r) for r in released]

    def test_outputs_are_not_overwritten_unless_asked(self, tmp_path):
        path = write_parquet(tmp_path / "in" / "train.parquet", [verl_row(LAYOUTS["dot lines"][0])])
        prepare_verl([path], tmp_path / "out")
        with pytest.raises(ValueError, match=r"already exists.*--overwrite"):
            prepare_verl([path], tmp_path / "out")
        prepare_verl([path], tmp_path / "out", overwrite=True)
        with pytest.raises(ValueError, match=r"is the input itself"):
            prepare_verl([path], tmp_path / "in", overwrite=True)


class TestCommandLine:
    def test_prepare_verl_prints_rows_per_layout(self, tmp_path, capsys, monkeypatch):
        monkeypatch.chdir(tmp_path)  # short relative paths keep the table's cells on one line
        rows = [verl_row(LAYOUTS["options block"][0]), verl_row(LAYOUTS["inline answer choices"][0], i=1)]
        rows.append(verl_row(CASE, i=2))
        write_parquet(tmp_path / "train.parquet", rows)
        argv = ["prepare", "verl", "--input", "train.parquet", "--out", "o", "--skip-invalid"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "Options: A. per line: 1" in out and "Answer Choices: (A) inline: 1" in out
        assert "skipped train.parquet:row 2: no options found" in out
        with pytest.raises(SystemExit, match=r"prepare verl: .*row 2: no options found"):
            main([*argv[:-1], "--overwrite"])
        with pytest.raises(SystemExit, match=r"--split does not apply to verl rows"):
            main([*argv, "--split", "train"])

    def test_the_rewards_error_names_the_command(self):
        row = verl_row(LAYOUTS["dot lines"][0])
        with pytest.raises(ValueError, match=r"options must be a non-empty mapping.*verl-crpo prepare verl"):
            compute_score(row["data_source"], RESPONSE, "B", row["extra_info"])


class TestReadme:
    def test_the_readme_command_runs_as_written(self, tmp_path):
        readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
        section = readme.split("## Add CRPO to a run you already have")[1].split("\n## ")[0]
        command = re.search(r"`(verl-crpo prepare verl [^`]*)`", section).group(1)
        data = tmp_path / "data"
        for name in ("train", "test"):
            write_parquet(data / f"{name}.parquet", [verl_row(LAYOUTS["inline answer choices"][0])])
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "HOME": str(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        for name in ("train", "test"):
            assert options_of(read_rows(data / "crpo" / f"{name}.parquet")[0]) == OPTIONS
