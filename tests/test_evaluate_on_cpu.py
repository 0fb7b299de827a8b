"""Scoring runs and the evaluation report: proxies, bootstrap statistics, report files.

Two runs are built from synthetic cases: ``good`` answers with the reference response (cites the
findings, weighs every option, boxes the gold letter); ``worse`` boxes a distractor, rejects the
other options with generic discourse and invents a history. ``worse`` answers only the first 10 of
the 12 items, so the paired differences must use the 10 common ones.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from verl_crpo.data.cases import generate_cases, reference_response, to_rl_row
from verl_crpo.evaluation.proxies import BEHAVIOUR_PHRASES, METRICS, behaviour_counts, response_metrics
from verl_crpo.evaluation.report import REPORT_FILES, evaluate_runs
from verl_crpo.evaluation.runs import item_key
from verl_crpo.evaluation.stats import bootstrap_mean, paired_difference
from verl_crpo.rewards import compute_score

N_BOOT = 200
SOURCES = ("synth_even", "synth_odd")
CASES = generate_cases(12, seed=3)


def _record(index: int, response: str, sample: int = 0, row: int | None = None) -> dict:
    # Two data sources, alternating, for the by_source split.
    rl = to_rl_row(CASES[index], "test", index, data_source=SOURCES[index % 2])
    return {
        "data_source": rl["data_source"],
        "reward_model": rl["reward_model"],
        "extra_info": rl["extra_info"],
        "response": response,
        "sample": sample,
        "row": index if row is None else row,
    }


def _worse_response(case) -> str:
    wrong = next(letter for letter in case.options if letter != case.answer)
    generic = "\n".join(f"Option {letter} does not fit the picture." for letter in case.options if letter != wrong)
    return (
        "<dx>\nThe patient has a history of type 2 diabetes and takes metformin. Blood pressure is 182/111 mm Hg.\n"
        f"{generic}\n</dx>\n<conclusion>\nThe answer is {wrong}. Final answer: \\boxed{{{wrong}}}\n</conclusion>"
    )


def _good_run() -> list[dict]:
    # Two samples per item: the bootstrap must resample items, not responses.
    return [_record(i, reference_response(c), sample=s, row=2 * i + s) for i, c in enumerate(CASES) for s in (0, 1)]


def _worse_run() -> list[dict]:
    return [_record(i, _worse_response(c)) for i, c in enumerate(CASES[:10])]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    report = evaluate_runs({"good": _good_run(), "worse": _worse_run()}, out, n_boot=N_BOOT, progress=False)
    return out, report


class TestReport:
    def test_json_schema(self, report_dir):
        out, report = report_dir
        assert json.loads((out / "report.json").read_text()) == report
        assert set(report) == {"runs", "paired"}
        assert list(report["runs"]) == ["good", "worse"]
        good = report["runs"]["good"]
        assert set(good) == {"n", "n_items", "metrics", "by_source"}
        assert (good["n"], good["n_items"]) == (24, 12)
        assert list(good["metrics"]) == list(METRICS)
        for entry in good["metrics"].values():
            assert set(entry) == {"mean", "ci_low", "ci_high", "n"}
        (pair,) = report["paired"]
        assert set(pair) == {"a", "b", "difference", "common_items", "metrics"}
        assert (pair["a"], pair["b"], pair["difference"]) == ("good", "worse", "b - a")

    def test_files_written(self, report_dir):
        out, _ = report_dir
        assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)  # no temporary left behind
        assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        md = (out / "report.md").read_text()
        assert "## Run `good`" in md and "## Paired differences" in md
        # A reference answer is always right: its interval is degenerate and printed as such.
        assert "| accuracy | 1.00 [1.00, 1.00]" in md

    def test_good_run_scores_higher_where_it_should(self, report_dir):
        _, report = report_dir
        good, worse = (report["runs"][name]["metrics"] for name in ("good", "worse"))
        for name in (
            "accuracy",
            "faithfulness",
            "comprehensiveness",
            "distractor_rejection",
            "evidence_citation_density",
        ):
            assert good[name]["mean"] > worse[name]["mean"], name
        # The invented history and blood pressure count; the reference answer invents nothing.
        assert worse["invented_findings"]["mean"] > good["invented_findings"]["mean"] == 0.0

    def test_objectives_agree_with_the_reward(self):
        for record in _good_run()[:4] + _worse_run()[:4]:
            scored = compute_score(
                record["data_source"], record["response"], record["reward_model"]["ground_truth"], record["extra_info"]
            )
            metrics = response_metrics(record)
            for name in ("accuracy", "format", "faithfulness", "comprehensiveness", "invented_findings"):
                assert metrics[name] == pytest.approx(scored[name]), name

    def test_intervals_contain_the_mean_and_are_seeded(self, report_dir, tmp_path):
        _, report = report_dir
        for run in report["runs"].values():
            for group in (run, *run["by_source"].values()):
                for entry in group["metrics"].values():
                    assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
        again = evaluate_runs({"good": _good_run(), "worse": _worse_run()}, tmp_path, n_boot=N_BOOT, progress=False)
        assert again == report

    def test_paired_differences_use_common_items_only(self, report_dir):
        _, report = report_dir
        (pair,) = report["paired"]
        assert pair["common_items"] == 10
        accuracy = pair["metrics"]["accuracy"]
        # good is right on every item, worse on none: worse - good = 0 - 1 on each of the 10.
        assert (accuracy["mean"], accuracy["n"]) == (-1.0, 10)
        # Per-item means first: good's two samples of an item are averaged before differencing.
        good, worse = _good_run(), _worse_run()
        per_item = {}
        for record in good:
            per_item.setdefault(item_key(record), []).append(response_metrics(record)["faithfulness"])
        expected = np.mean([response_metrics(r)["faithfulness"] - np.mean(per_item[item_key(r)]) for r in worse])
        assert pair["metrics"]["faithfulness"]["mean"] == pytest.approx(expected)

    def test_by_source_split(self, report_dir):
        _, report = report_dir
        by_source = report["runs"]["good"]["by_source"]
        assert sorted(by_source) == sorted(SOURCES)
        assert [by_source[s]["n"] for s in SOURCES] == [12, 12]
        assert [by_source[s]["n_items"] for s in SOURCES] == [6, 6]
        assert report["runs"]["worse"]["by_source"]["synth_odd"]["n"] == 5

    def test_missing_extra_metrics_are_excluded_not_zero(self, tmp_path):
        good = _good_run()
        judged = [{"judge_faithfulness": None if i % 4 == 0 else 0.8} for i in range(len(good))]
        judged[1] = None  # a record the judge could not score at all
        report = evaluate_runs({"good": good}, tmp_path, extra_metrics={"good": judged}, n_boot=N_BOOT, progress=False)
        entry = report["runs"]["good"]["metrics"]["judge_faithfulness"]
        # 24 responses, 6 with None and one with no scores: 17 present, all 0.8 (a 0 would pull it down).
        assert (entry["n"], entry["mean"]) == (17, pytest.approx(0.8))
        assert "(n=17)" in (tmp_path / "report.md").read_text()

    def test_extra_metric_missing_everywhere_is_reported_missing(self, tmp_path):
        good = _good_run()
        report = evaluate_runs(
            {"good": good},
            tmp_path,
            extra_metrics={"good": [{"judge_x": None}] * len(good)},
            n_boot=N_BOOT,
            progress=False,
        )
        assert report["runs"]["good"]["metrics"]["judge_x"] == {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
        assert "| judge_x | missing" in (tmp_path / "report.md").read_text()

    def test_refuses_to_overwrite_and_writes_nothing(self, tmp_path):
        (tmp_path / "report.md").write_text("mine")
        with pytest.raises(ValueError, match=r"report\.md.*--overwrite"):
            evaluate_runs({"good": _good_run()}, tmp_path, n_boot=N_BOOT, progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
        assert (tmp_path / "report.md").read_text() == "mine"
        evaluate_runs({"good": _good_run()}, tmp_path, overwrite=True, n_boot=N_BOOT, progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(REPORT_FILES)
        assert (tmp_path / "report.md").read_text().startswith("# Evaluation report")

    def test_bad_record_names_its_run_and_row(self, tmp_path):
        run = _worse_run()
        run[3] = {**run[3], "extra_info": {k: v for k, v in run[3]["extra_info"].items() if k != "options"}}
        with pytest.raises(ValueError, match=r"run 'worse': record at row 3 .*extra_info\.options"):
            evaluate_runs({"worse": run}, tmp_path, n_boot=N_BOOT, progress=False)
        assert not any(tmp_path.iterdir())

    def test_bad_extra_metrics_are_refused(self, tmp_path):
        good = _good_run()
        with pytest.raises(ValueError, match="one mapping per record"):
            evaluate_runs({"good": good}, tmp_path, extra_metrics={"good": [{}]}, progress=False)
        with pytest.raises(ValueError, match="finite number or None"):
            evaluate_runs({"good": good}, tmp_path, extra_metrics={"good": [{"j": "high"}] * len(good)}, progress=False)
        with pytest.raises(ValueError, match="judge_faithfulness"):  # a judge score must not shadow ours
            evaluate_runs({"good": good}, tmp_path, extra_metrics={"good": [{"faithfulness": 1}] * 24}, progress=False)

    def test_no_common_items_warns(self, tmp_path, caplog):
        first = [_record(i, reference_response(CASES[i])) for i in range(4)]
        second = [_record(i, reference_response(CASES[i])) for i in range(4, 8)]
        with caplog.at_level(logging.WARNING, logger="verl_crpo.evaluation.report"):
            report = evaluate_runs({"a": first, "b": second}, tmp_path, n_boot=N_BOOT, progress=False)
        assert "share no item" in caplog.text
        (pair,) = report["paired"]
        assert pair["common_items"] == 0 and pair["metrics"]["accuracy"]["mean"] is None


# A small case for hand-written responses: B is gold, A, C and D are distractors.
_INFO = {
    "question": "A 30-year-old man has fever, productive cough and right basal crackles. Oxygen saturation is 97%. "
    "What is the most likely diagnosis?",
    "options": {"A": "Asthma", "B": "Pneumonia", "C": "Pulmonary embolism", "D": "Lung cancer"},
    "split": "test",
    "index": 0,
}
_CONCLUSION = "<conclusion>Fever with productive cough and crackles: pneumonia. Final answer: \\boxed{B}</conclusion>"


def _metrics(response: str) -> dict[str, float]:
    return response_metrics(
        {
            "row": 0,
            "data_source": "handwritten",
            "reward_model": {"ground_truth": "B"},
            "extra_info": _INFO,
            "response": response,
            "sample": 0,
        }
    )


class TestProxies:
    def test_prose(self):
        m = _metrics(
            "<dx>First, fever, productive cough and right basal crackles point to an infection of the lung: "
            "pneumonia. Asthma is unlikely: it causes episodic wheeze and breathlessness, and there is no wheeze "
            "here. Pulmonary embolism would give pleuritic pain and hypoxia, but the saturation is 97%. Let me "
            "double-check: the crackles confirm that the lower lobe is involved. Wait, actually the fever also fits."
            "</dx>" + _CONCLUSION
        )
        # Asthma and embolism rejected with reasons, lung cancer never weighed: 2 of 3 distractors.
        assert m["distractor_rejection"] == pytest.approx(2 / 3)
        # "Let me double-check" and "confirm that"; "Wait," and "actually"; "First,".
        assert (m["verification"], m["backtracking"], m["subgoal_setting"], m["backward_chaining"]) == (2, 2, 1, 0)
        assert m["evidence_citation_density"] > 0 and m["invented_findings"] == 0

    def test_markdown_list(self):
        m = _metrics(
            "<dx>\n**Step 1: the findings.** Fever, productive cough, right basal crackles.\n\n"
            "**Step 2: the options.**\n"
            "- **A. Asthma** ✘ episodic wheeze triggered by allergens; no wheeze here.\n"
            "- **B. Pneumonia** ✔ consolidation explains the crackles and the productive cough.\n"
            "- **C. Pulmonary embolism** ✘ sudden pleuritic pain with hypoxia; saturation is normal.\n"
            "- **D. Lung cancer** ✘ weight loss and haemoptysis over months in a smoker.\n</dx>\n" + _CONCLUSION
        )
        # Every distractor has its own marked item with a reason; "Step 1", "Step 2" set subgoals.
        assert m["distractor_rejection"] == 1.0 and m["comprehensiveness"] == 1.0
        assert m["subgoal_setting"] == 2 and m["verification"] == m["backtracking"] == 0

    def test_terse(self):
        # No analysis at all: nothing cited, no distractor weighed, no behaviour; not an error.
        m = _metrics("Pneumonia. \\boxed{B}")
        assert m["evidence_citation_density"] == m["distractor_rejection"] == 0.0
        assert all(m[name] == 0 for name in BEHAVIOUR_PHRASES)

    def test_backward_chaining(self):
        m = _metrics(
            "<dx>Working backwards from the options: if the diagnosis were asthma, we would expect wheeze, which is "
            "absent. For this to be pulmonary embolism there would have to be hypoxia. Fever, productive cough and "
            "crackles fit pneumonia.</dx>" + _CONCLUSION
        )
        # "Working backwards", "if the diagnosis were asthma, we would expect", "For this to be".
        assert m["backward_chaining"] == 3

    def test_invented_history(self):
        m = _metrics(
            "<dx>He takes salbutamol. His CRP is 180 mg/L. Fever and crackles point to pneumonia. "
            "Asthma is unlikely without wheeze.</dx>" + _CONCLUSION
        )
        # The case gives neither a medication nor a CRP: two statements about the patient it does not support.
        assert m["invented_findings"] == 2

    def test_clinical_wording_is_not_a_behaviour(self):
        # "wait for the culture" is a plan, not backtracking; "verified" findings are not reasoning
        # about one's own answer, but the rule counts them: the table is a lower bound, not a judge.
        counts = behaviour_counts("We should wait for the sputum culture; next the chest film.")
        assert counts == {"verification": 0.0, "backtracking": 0.0, "subgoal_setting": 0.0, "backward_chaining": 0.0}

    @pytest.mark.parametrize(
        "response",
        [
            "",
            "\\boxed{",
            "<dx></dx><conclusion></conclusion>",
            "wait, " * 20000,
            "if the answer were " * 20000,
            "\x00\ud800" + "(" * 5000,
            "<dx>" * 3000 + "\\boxed{B}" * 100,
        ],
    )
    def test_any_string_scores(self, response):
        metrics = _metrics(response)
        assert set(metrics) == set(METRICS) and all(np.isfinite(v) for v in metrics.values())

    def test_bad_records_raise_naming_the_row(self):
        base = {"row": 7, "data_source": "medqa", "reward_model": {"ground_truth": "B"}, "extra_info": _INFO}
        with pytest.raises(ValueError, match=r"row 7 \(medqa\): 'response' must be"):
            response_metrics(base)
        with pytest.raises(ValueError, match=r"row 7 \(medqa\): 'reward_model' must be"):
            response_metrics({**base, "response": "x", "reward_model": None})
        with pytest.raises(ValueError, match=r"row 7 \(medqa\): ground truth 'Z'"):
            response_metrics({**base, "response": "x", "reward_model": {"ground_truth": "Z"}})


class TestStats:
    def test_clusters_resample_items(self):
        # Ten items, each answered four times identically: there are ten independent observations,
        # not forty, so the interval over items is about twice as wide as one over responses.
        values = np.repeat([0.0, 1.0] * 5, 4)
        items = np.repeat(np.arange(10), 4).tolist()
        by_item = bootstrap_mean(values, clusters=items)
        by_response = bootstrap_mean(values)
        assert by_item["n"] == by_response["n"] == 40 and by_item["mean"] == by_response["mean"] == 0.5
        width = {name: r["ci_high"] - r["ci_low"] for name, r in (("item", by_item), ("response", by_response))}
        assert width["item"] > 1.5 * width["response"]

    def test_seed_and_level(self):
        rng = np.random.default_rng(0)
        values = rng.random(50)
        assert bootstrap_mean(values, seed=1) == bootstrap_mean(values, seed=1)
        assert bootstrap_mean(values, seed=1) != bootstrap_mean(values, seed=2)
        wide, narrow = bootstrap_mean(values, level=0.99), bootstrap_mean(values, level=0.5)
        assert wide["ci_low"] < narrow["ci_low"] <= narrow["ci_high"] < wide["ci_high"]

    def test_paired_difference_ignores_missing(self):
        d = paired_difference([1.0, 0.0, 1.0], [1.0, float("nan"), None], ["q1", "q2", "q3"], ["q1", "q2", "q3"])
        # Only q1 has a value in both runs.
        assert (d["mean"], d["n"]) == (0.0, 1)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="one item id per value"):
            bootstrap_mean([1.0, 2.0], clusters=["q1"])
        with pytest.raises(ValueError, match="level"):
            bootstrap_mean([1.0], level=95)
        with pytest.raises(ValueError, match="n_boot"):
            paired_difference([1.0], [1.0], ["q"], ["q"], n_boot=0)
