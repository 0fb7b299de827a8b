"""The README's walk-throughs (release files to a run; evaluating the demo's models) run as written, GPU steps aside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

VIGNETTE = "A {age}-year-old man has fever, productive cough and right basal crackles. What is the diagnosis?"
OPTIONS = {"A": "Asthma", "B": "Pneumonia", "C": "Pulmonary embolism", "D": "Sarcoidosis"}


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def medqa_record(i: int) -> dict:
    return {"question": VIGNETTE.format(age=30 + i), "options": OPTIONS, "answer": "Pneumonia", "answer_idx": "B"}


def medmcqa_record(i: int, gold: int, base: int) -> dict:
    ops = dict(zip(("opa", "opb", "opc", "opd"), OPTIONS.values(), strict=True))
    return {"id": str(i), "question": VIGNETTE.format(age=50 + i), **ops, "cop": gold + base, "exp": ""}


def medxpertqa_record(i: int) -> dict:
    choices = " ".join(f"({k}) {v}" for k, v in OPTIONS.items())
    question = f"{VIGNETTE.format(age=60 + i)} Answer Choices: {choices}"
    return {"id": f"Text-{i}", "question": question, "options": OPTIONS, "label": "B"}


class TestReadmeWalkthrough:
    def bash_blocks(self) -> list[str]:
        text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
        section = text.split("## From the benchmark release files to a run")[1].split("\n## ")[0]
        return [block.split("```")[0] for block in section.split("```bash\n")[1:]]

    def test_the_steps_without_a_gpu_run_as_written(self, tmp_path):
        # The README's prepare and sft-data commands, verbatim, on release-shaped fixture files.
        for name in ("train", "dev", "test"):
            write_jsonl(
                tmp_path / "US" / "4_options" / f"phrases_no_exclude_{name}.jsonl", [medqa_record(i) for i in range(4)]
            )
        write_jsonl(tmp_path / "dev.json", [medmcqa_record(i, gold=i % 4, base=1) for i in range(4)])
        write_jsonl(tmp_path / "medxpertqa_text_test.jsonl", [medxpertqa_record(i) for i in range(2)])
        prepare_block, sft_block = self.bash_blocks()[:2]
        sft_command = sft_block.split("\nSFT_TRAIN_FILES=")[0]  # the next line launches GPU training
        answer = "<dx>Fever, productive cough and crackles: pneumonia. Asthma gives wheeze, not fever.</dx>"
        answer += "<conclusion>Pneumonia. Final answer: \\boxed{B}</conclusion>"
        write_jsonl(tmp_path / "teacher.jsonl", [{"index": i, "response": answer} for i in range(4)])
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "HOME": str(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", f"{prepare_block}\n{sft_command}"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        data = tmp_path / "data" / "crpo"
        for path in ("medqa/train_rl.parquet", "medqa/test.parquet", "medmcqa/dev.parquet", "medxpertqa/test.parquet"):
            assert (data / path).exists(), path
        assert len(pd.read_parquet(data / "medqa" / "sft_coldstart.parquet")) == 2  # the cold-start half of 4


class TestReadmeEvaluation:
    """README "Evaluate a checkpoint": the CPU block, verbatim (two demos, generation, the report)."""

    @pytest.mark.timeout(1800)
    def test_the_cpu_block_runs_as_written(self, tmp_path):
        text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
        section = text.split("## Evaluate a checkpoint; compare CRPO with GRPO")[1].split("\n## ")[0]
        block = section.split("```bash\n")[1].split("```")[0]
        bin_dir = Path(sys.executable).parent
        env = {k: v for k, v in os.environ.items() if k != "VERL_CRPO_CACHE"}
        env.update(HOME=str(tmp_path), PATH=f"{bin_dir}:{os.environ['PATH']}")
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=1700,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        report = json.loads((tmp_path / "eval_report" / "report.json").read_text())
        validation_rows = len(pd.read_parquet(tmp_path / "crpo_demo" / "val.parquet"))
        assert list(report["runs"]) == ["grpo_accuracy_only", "crpo"]
        assert all(run["n"] == validation_rows for run in report["runs"].values())
        (pair,) = report["paired"]
        assert (pair["a"], pair["b"], pair["common_items"]) == ("grpo_accuracy_only", "crpo", validation_rows)
        assert {"report.md", "report.png"} <= {p.name for p in (tmp_path / "eval_report").iterdir()}
