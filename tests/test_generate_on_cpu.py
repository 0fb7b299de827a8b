"""``generate`` and run files: a tiny local model answers a small synthetic parquet on the CPU.

Protects the run-record contract that evaluation reads, resuming after an interrupt without
regenerating what was answered, never replacing a finished output unasked, and ``read_run``
naming the line or row of bad data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from verl_crpo.data import generate_cases, write_rl_parquet
from verl_crpo.evaluation import generate as generate_module
from verl_crpo.evaluation.generate import HFBackend, generate, partial_path, settings_path
from verl_crpo.evaluation.runs import item_key, read_run, run_name
from verl_crpo.tiny import TinyModelSpec, build_tiny_model

ROWS = 6
# Few tokens: the model is random, the tests are about files, not answers.
FAST = {"max_new_tokens": 8, "batch_size": 4, "progress": False}
CONTRACT = {"data_source", "reward_model", "extra_info", "response", "sample", "row"}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    # A smaller tokenizer corpus than the demo's: builds in seconds.
    return build_tiny_model(TinyModelSpec(corpus_cases=100, vocab_size=600), tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    return write_rl_parquet(generate_cases(ROWS, seed=3), tmp_path_factory.mktemp("data") / "test.parquet", "test")


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    """Counts batches sent to the hf backend (their sizes)."""
    sizes: list[int] = []
    original = HFBackend.generate

    def counted(self, prompts, seeds):
        sizes.append(len(prompts))
        return original(self, prompts, seeds)

    monkeypatch.setattr(HFBackend, "generate", counted)
    return sizes


def test_records_follow_the_run_contract(model, data, tmp_path):
    out = tmp_path / "greedy.jsonl"
    summary = generate(data, model, out, **FAST)
    assert (summary.rows, summary.written, summary.skipped, summary.path) == (ROWS, ROWS, 0, str(out))
    records = read_run(out)
    rows = pd.read_parquet(data).to_dict("records")
    assert [set(r) for r in records] == [CONTRACT] * ROWS
    assert [(r["row"], r["sample"]) for r in records] == [(i, 0) for i in range(ROWS)]
    # The row's own fields travel unchanged (options without the parquet union's None letters).
    for record, row in zip(records, rows, strict=True):
        assert record["reward_model"]["ground_truth"] == row["reward_model"]["ground_truth"]
        assert record["extra_info"]["question"] == row["extra_info"]["question"]
        assert record["extra_info"]["options"] == {k: v for k, v in row["extra_info"]["options"].items() if v}
        assert isinstance(record["response"], str)
    assert not partial_path(out).exists() and settings_path(out).exists()


def test_sampling_writes_samples_0_to_n_minus_1_per_row(model, data, tmp_path):
    records = read_run(generate(data, model, tmp_path / "n2.jsonl", n=2, temperature=1.0, **FAST).path)
    assert [(r["row"], r["sample"]) for r in records] == [(i, s) for i in range(ROWS) for s in range(2)]


def test_greedy_generation_is_deterministic(model, data, tmp_path):
    first = generate(data, model, tmp_path / "a.jsonl", **FAST).path
    second = generate(data, model, tmp_path / "b.jsonl", **{**FAST, "batch_size": 2}).path
    assert Path(first).read_bytes() == Path(second).read_bytes()


def test_resume_after_an_interrupt_generates_only_the_missing_responses(model, data, tmp_path, monkeypatch):
    # Sampled, so that the comparison is not between identical greedy strings: the resumed batch
    # lines up with the uninterrupted run's, so its seed and its tokens are the same.
    settings = {**FAST, "n": 2, "temperature": 1.0}  # 12 responses, 3 batches of 4
    reference = generate(data, model, tmp_path / "reference.jsonl", **settings).path
    out = tmp_path / "resumed.jsonl"
    original, calls = HFBackend.generate, []

    def interrupted(self, prompts, seeds):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(prompts))
        return original(self, prompts, seeds)

    monkeypatch.setattr(HFBackend, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate(data, model, out, **settings)
    assert not out.exists()  # nothing half-written
    partial = partial_path(out)
    assert len(partial.read_text().splitlines()) == 1 + 8  # the settings line, then two batches
    with partial.open("a") as handle:  # an interrupt in the middle of a line
        handle.write('{"data_source": "synthetic_clinical", "reward_mo')

    calls.clear()
    monkeypatch.setattr(HFBackend, "generate", lambda self, p, s: calls.append(len(p)) or original(self, p, s))
    summary = generate(data, model, out, **settings)
    assert calls == [4]  # rows 4 and 5, two samples each
    assert (summary.written, summary.skipped) == (4, 8)
    assert out.read_bytes() == Path(reference).read_bytes()
    assert not partial.exists()


def test_a_finished_output_is_neither_regenerated_nor_replaced(model, data, tmp_path, monkeypatch, caplog):
    out = tmp_path / "done.jsonl"
    generate(data, model, out, **FAST)
    before = out.stat().st_mtime_ns, out.read_bytes()

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded for a finished output")

    monkeypatch.setattr(generate_module, "_BACKEND_CLASSES", {"hf": no_model})
    with caplog.at_level("INFO", logger="verl_crpo.evaluation.generate"):
        summary = generate(data, model, out, **FAST)
    assert (summary.written, summary.skipped) == (0, ROWS)
    assert (out.stat().st_mtime_ns, out.read_bytes()) == before
    assert "nothing to generate" in caplog.text


def test_overwrite_regenerates_everything(model, data, tmp_path, calls):
    out = tmp_path / "again.jsonl"
    generate(data, model, out, **FAST)
    calls.clear()
    summary = generate(data, model, out, overwrite=True, **FAST)
    assert sum(calls) == ROWS and summary.written == ROWS


@pytest.mark.parametrize("change", [{"max_new_tokens": 9}, {"temperature": 0.5}, {"seed": 1}])
def test_other_settings_are_refused_for_a_finished_output(model, data, tmp_path, change):
    out = tmp_path / "made.jsonl"
    generate(data, model, out, **FAST)
    with pytest.raises(ValueError, match=r"other settings .*--overwrite"):
        generate(data, model, out, **{**FAST, **change})


def test_other_settings_are_refused_for_a_partial(model, data, tmp_path, monkeypatch):
    out = tmp_path / "half.jsonl"
    original = HFBackend.generate
    sent = []

    def interrupted(self, prompts, seeds):
        if sent:
            raise KeyboardInterrupt
        sent.append(1)
        return original(self, prompts, seeds)

    monkeypatch.setattr(HFBackend, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate(data, model, out, **FAST)
    with pytest.raises(ValueError, match=r"half.jsonl.partial was made with other settings \(max_new_tokens: 8"):
        generate(data, model, out, **{**FAST, "max_new_tokens": 9})


def test_an_output_made_elsewhere_is_refused(model, data, tmp_path):
    out = tmp_path / "foreign.jsonl"
    out.write_text("{}\n")
    with pytest.raises(ValueError, match=r"no generation settings beside it.*--overwrite"):
        generate(data, model, out, **FAST)
    assert out.read_text() == "{}\n"


def test_greedy_with_several_samples_is_refused(model, data, tmp_path):
    with pytest.raises(ValueError, match="identical greedy samples"):
        generate(data, model, tmp_path / "x.jsonl", n=2, temperature=0.0)


def test_vllm_backend_without_vllm_names_the_extra(model, data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    with pytest.raises(ValueError, match=r'pip install "verl-crpo\[vllm\]"'):
        generate(data, model, tmp_path / "v.jsonl", backend="vllm", **FAST)


def test_data_without_options_is_refused_before_generating(model, tmp_path):
    rows = pd.read_parquet(write_rl_parquet(generate_cases(2, seed=3), tmp_path / "d.parquet", "test"))
    rows["extra_info"] = [{"question": "Q?", "split": "test", "index": i} for i in range(2)]
    rows.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"data row 0: extra_info.options.*verl-crpo prepare verl"):
        generate(tmp_path / "bad.parquet", model, tmp_path / "x.jsonl", **FAST)


# ---- read_run and item keys -------------------------------------------------------------------


def _record(**change) -> dict:
    record = {
        "data_source": "medqa",
        "reward_model": {"style": "rule", "ground_truth": "B"},
        "extra_info": {"question": "Q?", "options": {"A": "Asthma", "B": "Pneumonia"}, "split": "test", "index": 0},
        "response": "<dx>...</dx>",
        "sample": 0,
        "row": 0,
    }
    return {**record, **change}


def _jsonl(path, records, tail="\n") -> str:
    path.write_text("\n".join(json.dumps(r) for r in records) + tail)
    return str(path)


def test_read_run_reads_jsonl_and_parquet_alike(tmp_path):
    five = {"A": "Asthma", "B": "Pneumonia", "C": "Sarcoidosis", "D": "Lung cancer", "E": "Tuberculosis"}
    records = [_record(), _record(row=1, extra_info={"question": "Q2?", "options": five, "index": 1})]
    jsonl = _jsonl(tmp_path / "run.jsonl", records)
    pd.DataFrame(records).to_parquet(tmp_path / "run.parquet")  # row 0's options gain "C".."E": None
    assert read_run(tmp_path / "run.parquet") == read_run(jsonl) == records
    assert run_name(jsonl) == "run"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([_record(), _record(row=1, sample=-1)], r"run.jsonl line 2: 'sample' must be an integer >= 0"),
        ([_record(), {k: v for k, v in _record(row=1).items() if k != "response"}], r"line 2: 'response' must be"),
        ([_record(reward_model={"style": "rule"})], r"line 1: reward_model.ground_truth"),
        ([_record(extra_info={"question": "Q?"})], r"line 1: extra_info.options"),
        ([_record(), _record()], r"line 2 answers medqa:test:0 sample 0 again \(first at .*line 1\)"),
    ],
)
def test_read_run_names_the_line_of_bad_data(tmp_path, lines, message):
    with pytest.raises(ValueError, match=message):
        read_run(_jsonl(tmp_path / "run.jsonl", lines))


def test_read_run_tells_a_cut_last_line_from_invalid_json(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps(_record()) + '\n{"data_source": "med')
    with pytest.raises(ValueError, match=r"line 2 is cut short.*interrupted"):
        read_run(path)
    path.write_text(json.dumps(_record()) + '\n{"data_source": "med\n' + json.dumps(_record(row=1)) + "\n")
    with pytest.raises(ValueError, match=r"line 2 is not valid JSON"):
        read_run(path)


def test_read_run_names_the_parquet_row_of_bad_data(tmp_path):
    pd.DataFrame([_record(), _record(row=1, response=None)]).to_parquet(tmp_path / "run.parquet")
    with pytest.raises(ValueError, match=r"run.parquet row 1: 'response' must be a string"):
        read_run(tmp_path / "run.parquet")


def test_read_run_refuses_unknown_suffixes_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match=r"\*.jsonl"):
        read_run(tmp_path / "run.csv")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ValueError, match="no records"):
        read_run(tmp_path / "empty.jsonl")


def test_item_key_pairs_the_same_item_across_runs():
    assert item_key(_record()) == item_key(_record(sample=3, response="other")) == "medqa:test:0"
    unindexed = {"question": "Q?", "options": {"A": "Asthma", "B": "Pneumonia"}}
    reordered = {"question": "Q?", "options": {"B": "Pneumonia", "A": "Asthma"}}
    assert item_key(_record(extra_info=unindexed)) == item_key(_record(extra_info=reordered))
    assert item_key(_record(extra_info=unindexed)) != item_key(_record(extra_info={**unindexed, "question": "Q2?"}))


def test_runs_of_several_benchmarks_concatenated_read_as_one_run(tmp_path):
    # Rows restart at 0 in each benchmark's file: what identifies an answer is the item, not the row.
    medmcqa = _record(data_source="medmcqa", extra_info={**_record()["extra_info"], "split": "dev"})
    path = tmp_path / "crpo.jsonl"
    path.write_text(json.dumps(_record()) + "\n" + json.dumps(medmcqa) + "\n")
    assert [item_key(r) for r in read_run(path)] == ["medqa:test:0", "medmcqa:dev:0"]


def test_the_output_folder_is_created(model, data, tmp_path):
    # `verl-crpo generate --out runs/crpo.jsonl` in a folder without runs/ (the README's walk-through).
    out = tmp_path / "runs" / "deeper" / "crpo.jsonl"
    assert generate(data, model, out, **FAST).path == str(out) and len(read_run(out)) == ROWS
