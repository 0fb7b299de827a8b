"""`verl-crpo prepare`: release files in each original format become verl RL parquet rows exactly as
DESIGN.md section 3, validated, split, halved and written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from verl_crpo.cli import main
from verl_crpo.data import prompt_messages as case_prompt_messages
from verl_crpo.data.cases import generate_cases
from verl_crpo.data.prepare import prepare, split_halves
from verl_crpo.data.prompt import INSTRUCTION, prompt_messages
from verl_crpo.data.releases import infer_cop_base, split_from_name, strip_answer_choices
from verl_crpo.rewards import compute_score

ROW_KEYS = ["ability", "data_source", "extra_info", "prompt", "reward_model"]
VIGNETTE = "A {age}-year-old man has fever, productive cough and right basal crackles. What is the diagnosis?"


def write_jsonl(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def medqa_record(i: int, five: bool = False) -> dict:
    options = {"A": "Asthma", "B": "Pneumonia", "C": "Pulmonary embolism", "D": "Sarcoidosis"}
    if five:
        options["E"] = "Lung abscess"
    return {
        "question": VIGNETTE.format(age=30 + i),
        "answer": "Pneumonia",
        "options": options,
        "meta_info": "step1",
        "answer_idx": "B",
        "metamap_phrases": ["fever"],
    }


def medmcqa_record(i: int, gold: int, base: int, exp: str = "") -> dict:
    """A MedMCQA record whose gold option is position ``gold`` (0..3), numbered from ``base``."""
    return {
        "id": f"id-{i}",
        "question": f"Drug of choice for the {i}th patient with typhoid fever?",
        "opa": "Ceftriaxone",
        "opb": "Amoxicillin",
        "opc": "Chloramphenicol",
        "opd": "Azithromycin",
        "cop": gold + base,
        "choice_type": "single",
        "exp": exp,
        "subject_name": "Pharmacology",
        "topic_name": "Antibiotics",
    }


def medxpertqa_record(i: int) -> dict:
    options = {letter: f"Option text {letter} number {i}" for letter in "ABCDEFGHIJ"}
    options["C"] = "Pneumonia"
    written = " ".join(f"({k}) {v}" for k, v in options.items())
    return {
        "id": f"Text-{i}",
        "question": f"{VIGNETTE.format(age=40 + i)}\nAnswer Choices: {written}",
        "options": options,
        "label": "C",
        "medical_task": "Diagnosis",
        "body_system": "Respiratory",
        "question_type": "Reasoning",
    }


def read_rows(path: Path) -> list[dict]:
    return pd.read_parquet(path).to_dict(orient="records")


class TestOnePromptTemplate:
    def test_the_synthetic_cases_use_the_packages_template(self):
        # The demo's prompt and a benchmark row's prompt must ask the same thing in the same words.
        case = generate_cases(1, seed=0)[0]
        assert case_prompt_messages(case) == prompt_messages(case.question, case.options)

    def test_a_prepared_row_uses_it_too(self, tmp_path):
        prepare("medqa", tmp_path / "out", [write_jsonl(tmp_path / "test.jsonl", [medqa_record(0)])])
        row = read_rows(tmp_path / "out" / "test.parquet")[0]
        info = row["extra_info"]
        options = {k: v for k, v in info["options"].items() if v is not None}
        assert list(row["prompt"]) == prompt_messages(info["question"], options)
        assert row["prompt"][0]["content"].startswith(INSTRUCTION)


class TestMedQA:
    def test_rows_follow_the_contract_and_score(self, tmp_path):
        # The 4-option and the 5-option release in one split: both shapes survive parquet's struct column.
        records = [medqa_record(i) for i in range(3)] + [medqa_record(3, five=True)]
        prepare("medqa", tmp_path / "out", [write_jsonl(tmp_path / "US" / "test.jsonl", records)])
        rows = read_rows(tmp_path / "out" / "test.parquet")
        assert len(rows) == 4 and sorted(rows[0]) == ROW_KEYS
        row = rows[3]
        assert row["data_source"] == "medqa" and row["ability"] == "medical"
        assert row["reward_model"] == {"style": "rule", "ground_truth": "B"}
        assert row["extra_info"]["question"] == VIGNETTE.format(age=33)
        assert row["extra_info"]["options"]["E"] == "Lung abscess"
        assert (row["extra_info"]["split"], [r["extra_info"]["index"] for r in rows]) == ("test", [0, 1, 2, 3])
        response = "<dx>Fever and crackles: pneumonia. Asthma lacks fever.</dx><conclusion>\\boxed{B}</conclusion>"
        assert compute_score("medqa", response, "B", rows[0]["extra_info"])["accuracy"] == 1.0

    def test_train_is_halved_disjointly_and_deterministically(self, tmp_path):
        train = write_jsonl(tmp_path / "phrases_no_exclude_train.jsonl", [medqa_record(i) for i in range(11)])
        result = prepare("medqa", tmp_path / "a", [train], seed=3)
        assert list(result.splits) == ["train", "train_coldstart", "train_rl"]
        cold, rl = (read_rows(tmp_path / "a" / f"{name}.parquet") for name in ("train_coldstart", "train_rl"))
        cold_idx, rl_idx = ([r["extra_info"]["index"] for r in rows] for rows in (cold, rl))
        assert (len(cold_idx), len(rl_idx)) == (5, 6)
        assert sorted(cold_idx + rl_idx) == list(range(11)) and not set(cold_idx) & set(rl_idx)
        prepare("medqa", tmp_path / "b", [train], seed=3)
        again = read_rows(tmp_path / "b" / "train_coldstart.parquet")
        assert [r["extra_info"]["index"] for r in again] == cold_idx
        assert split_halves(11, seed=4) != split_halves(11, seed=3)

    def test_answer_text_must_match_its_letter(self, tmp_path):
        bad = {**medqa_record(0), "answer": "Asthma"}  # answer_idx B names Pneumonia: a corrupted copy
        path = write_jsonl(tmp_path / "dev.jsonl", [medqa_record(1), bad])
        with pytest.raises(ValueError, match=r"dev\.jsonl:2: 'answer' 'Asthma' is not the text of option B"):
            prepare("medqa", tmp_path / "out", [path])


class TestMedMCQA:
    @pytest.mark.parametrize("base", [0, 1])
    def test_the_base_is_established_from_the_data(self, tmp_path, base):
        # Golds at every position: 0-based data shows a 0, 1-based a 4, and both must give the same letters.
        records = [medmcqa_record(i, gold=i % 4, base=base) for i in range(8)]
        result = prepare("medmcqa", tmp_path / "out", [write_jsonl(tmp_path / "dev.json", records)])
        assert next(iter(result.cop_bases.values()))[0] == base
        golds = [r["reward_model"]["ground_truth"] for r in read_rows(tmp_path / "out" / "dev.parquet")]
        assert golds == list("ABCDABCD")

    def test_without_0_or_4_the_explanations_decide(self, tmp_path):
        # cop only in 1..2: both bases are possible; the explanations name the gold letter.
        records = [medmcqa_record(i, gold=g, base=1, exp=f"Ans. is '{'abcd'[g]}' i.e. ...") for i, g in
                   enumerate([0, 1, 0, 1, 1])]  # fmt: skip
        result = prepare("medmcqa", tmp_path / "out", [write_jsonl(tmp_path / "train.json", records)])
        assert next(iter(result.cop_bases.values()))[0] == 1
        golds = [r["reward_model"]["ground_truth"] for r in read_rows(tmp_path / "out" / "train.parquet")]
        assert golds == list("ABABB")

    def test_undecidable_base_stops_with_the_fix(self, tmp_path):
        records = [medmcqa_record(i, gold=g, base=1) for i, g in enumerate([0, 1, 2])]  # cop 1..3, no exp
        path = write_jsonl(tmp_path / "dev.json", records)
        with pytest.raises(ValueError, match=r"cannot establish whether 'cop' counts from 0 or 1.*--cop-base"):
            prepare("medmcqa", tmp_path / "out", [path])
        prepare("medmcqa", tmp_path / "out", [path], cop_base=1)
        golds = [r["reward_model"]["ground_truth"] for r in read_rows(tmp_path / "out" / "dev.parquet")]
        assert golds == list("ABC")

    def test_a_source_mixing_both_bases_is_refused(self):
        assert infer_cop_base([{"cop": 0}, {"cop": 4}])[0] is None

    def test_the_answerless_test_split_is_refused(self, tmp_path):
        records = [{**medmcqa_record(i, gold=0, base=0), "cop": -1} for i in range(3)]
        with pytest.raises(ValueError, match="released without answers"):
            prepare("medmcqa", tmp_path / "out", [write_jsonl(tmp_path / "test.json", records)])


class TestMedXpertQA:
    def test_repeated_answer_choices_leave_the_case_text(self, tmp_path):
        prepare("medxpertqa", tmp_path / "out", [write_jsonl(tmp_path / "Text" / "test.jsonl", [medxpertqa_record(0)])])
        row = read_rows(tmp_path / "out" / "test.parquet")[0]
        assert row["extra_info"]["question"] == VIGNETTE.format(age=40)
        assert "Answer Choices" not in row["prompt"][0]["content"]
        assert len(row["extra_info"]["options"]) == 10 and row["reward_model"]["ground_truth"] == "C"

    def test_strip_keeps_a_question_without_choices(self):
        assert strip_answer_choices("Which drug? (A) is not a choice list") == "Which drug? (A) is not a choice list"


class TestValidation:
    def records(self):
        return [
            medqa_record(0),
            "{not json",  # line 2: a truncated line
            {**medqa_record(2), "answer_idx": "E", "answer": ""},  # line 3: gold not among A-D
            {**medqa_record(3), "options": {"A": "Asthma"}, "answer_idx": "A", "answer": "Asthma"},  # one option
            {**medqa_record(4), "question": "  "},  # line 5: empty case
            medqa_record(5),
        ]

    def test_a_bad_row_stops_the_run_naming_file_and_line(self, tmp_path):
        path = write_jsonl(tmp_path / "dev.jsonl", self.records())
        with pytest.raises(ValueError, match=r"dev\.jsonl:2: not valid JSON.*--skip-invalid"):
            prepare("medqa", tmp_path / "out", [path])
        assert not (tmp_path / "out" / "dev.parquet").exists()

    def test_skip_invalid_skips_and_counts(self, tmp_path):
        path = write_jsonl(tmp_path / "dev.jsonl", self.records())
        result = prepare("medqa", tmp_path / "out", [path], skip_invalid=True)
        assert (result.splits["dev"].rows, result.splits["dev"].skipped) == (2, 4)
        reasons = "\n".join(result.skips)
        assert ":3: gold letter 'E' is not among the options A, B, C, D" in reasons
        assert ":4: a question needs at least two options" in reasons and ":5: 'question'" in reasons
        assert [r["extra_info"]["index"] for r in read_rows(tmp_path / "out" / "dev.parquet")] == [0, 1]

    def test_the_split_must_come_from_the_name_or_the_flag(self, tmp_path):
        path = write_jsonl(tmp_path / "medqa.jsonl", [medqa_record(0)])
        with pytest.raises(ValueError, match=r"cannot tell the split.*--split"):
            prepare("medqa", tmp_path / "out", [path])
        assert list(prepare("medqa", tmp_path / "out", [path], split="validation").splits) == ["dev"]
        assert split_from_name("dev.json") == "dev" and split_from_name("US/test.jsonl") == "test"


class TestWrites:
    def test_existing_outputs_need_overwrite(self, tmp_path):
        path = write_jsonl(tmp_path / "test.jsonl", [medqa_record(0)])
        prepare("medqa", tmp_path / "out", [path])
        with pytest.raises(ValueError, match=r"already exists.*--overwrite"):
            prepare("medqa", tmp_path / "out", [path])
        prepare("medqa", tmp_path / "out", [path], overwrite=True)

    def test_an_interrupted_write_leaves_no_partial_file(self, tmp_path, monkeypatch):
        path = write_jsonl(tmp_path / "test.jsonl", [medqa_record(0), medqa_record(1)])
        prepare("medqa", tmp_path / "out", [path])
        before = (tmp_path / "out" / "test.parquet").read_bytes()

        def interrupted(self, target, **kwargs):
            Path(target).write_bytes(b"PAR1 half a file")  # the writer got this far, then Ctrl-C
            raise KeyboardInterrupt

        monkeypatch.setattr(pd.DataFrame, "to_parquet", interrupted)
        with pytest.raises(KeyboardInterrupt):
            prepare("medqa", tmp_path / "out", [path], overwrite=True)
        assert (tmp_path / "out" / "test.parquet").read_bytes() == before  # the old file, whole
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["test.parquet"]  # no temporary left
        with pytest.raises(KeyboardInterrupt):
            prepare("medqa", tmp_path / "fresh", [path])
        assert list((tmp_path / "fresh").iterdir()) == []


class TestCommandLine:
    def test_prepare_prints_a_summary_per_split(self, tmp_path, capsys):
        dev = write_jsonl(tmp_path / "dev.jsonl", [medqa_record(0), "{", medqa_record(2, five=True)])
        train = write_jsonl(tmp_path / "train.jsonl", [medqa_record(i) for i in range(4)])
        argv = ["prepare", "medqa", "--input", str(dev), str(train), "--out", str(tmp_path / "o"), "--skip-invalid"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        for name in ("train", "dev", "train_coldstart", "train_rl"):
            assert (tmp_path / "o" / f"{name}.parquet").exists() and name in out
        assert "4: 1, 5: 1" in out and "dev.jsonl:2: not valid JSON" in out
        with pytest.raises(SystemExit, match="already exists"):
            main(argv)

    def test_hf_reads_a_local_dataset_folder(self, tmp_path):
        # The hub is out of reach here; datasets.load_dataset reads a local folder the same way.
        folder = tmp_path / "medmcqa_hf"
        write_jsonl(folder / "train.jsonl", [medmcqa_record(i, gold=i % 4, base=0) for i in range(4)])
        write_jsonl(folder / "validation.jsonl", [medmcqa_record(i, gold=3 - i % 4, base=0) for i in range(4)])
        assert main(["prepare", "medmcqa", "--hf", str(folder), "--out", str(tmp_path / "o")]) == 0
        golds = [r["reward_model"]["ground_truth"] for r in read_rows(tmp_path / "o" / "dev.parquet")]
        assert golds == list("DCBA")

    def test_hf_failure_says_what_to_do(self, tmp_path, monkeypatch):
        import datasets

        def offline(*args, **kwargs):  # what the hub gives this machine, without waiting for a network timeout
            raise ConnectionError("Couldn't reach 'bigbio/med_qa' on the Hub")

        monkeypatch.setattr(datasets, "load_dataset", offline)
        with pytest.raises(SystemExit, match=r"could not load the Hugging Face dataset.*--input"):
            main(["prepare", "medqa", "--hf", "bigbio/med_qa", "--out", str(tmp_path / "o")])
