"""The public contract others code against: API, config validation, data errors, pickling, demo."""

from __future__ import annotations

import math
import pickle

import pytest

from verl_crpo.rewards import (
    DEFAULT_WEIGHTS,
    DIAGNOSTICS,
    OBJECTIVES,
    RewardConfig,
    compute_score,
    get_clinical_reward,
    load_demo_samples,
)

QUESTION = (
    "A 30-year-old woman has had heat intolerance, palpitations and weight loss for 2 months. She has a diffuse "
    "non-tender goitre and proptosis. Which of the following is the most likely diagnosis?"
)
OPTIONS = {"A": "Toxic multinodular goitre", "B": "Graves disease", "C": "Subacute thyroiditis"}
INFO = {"question": QUESTION, "options": OPTIONS, "split": "test", "index": 42}
RESPONSE = (
    "<dx>\nHeat intolerance, palpitations and weight loss with a diffuse goitre and proptosis indicate Graves "
    "disease (B). Toxic multinodular goitre (A) is unlikely because the goitre is diffuse, not nodular, and it "
    "does not cause proptosis. Subacute thyroiditis (C) is unlikely because the gland is not tender.\n</dx>\n"
    "<conclusion>\nProptosis with a diffuse goitre and thyrotoxicosis means Graves disease. "
    "Final answer: \\boxed{B}\n</conclusion>"
)


def test_public_constants():
    # The names and defaults DESIGN.md section 3 fixes.
    assert OBJECTIVES == ("accuracy", "format", "faithfulness", "comprehensiveness")
    assert DEFAULT_WEIGHTS == {"accuracy": 10.0, "faithfulness": 1.0, "comprehensiveness": 1.0, "format": 0.0}


def test_key_set_and_types():
    # score, the four objectives and the documented diagnostics, all floats.
    result = compute_score("medqa", RESPONSE, "B", INFO)
    assert list(result) == ["score", *OBJECTIVES, *DIAGNOSTICS]
    assert all(type(v) is float for v in result.values())


def test_extra_kwargs_and_extra_info_keys_are_ignored():
    # verl passes extras (reward_router_address, num_turns in extra_info...): same result.
    plain = compute_score("medqa", RESPONSE, "B", INFO)
    noisy = compute_score(
        "medqa", RESPONSE, "B", {**INFO, "num_turns": 2, "tools_kwargs": {}}, reward_router_address="x", tokenizer=None
    )
    assert noisy == plain


class TestWeights:
    def test_default_score_is_the_weighted_sum(self):
        # 10 * accuracy + faithfulness + comprehensiveness (format weighs 0).
        r = compute_score("medqa", RESPONSE, "B", INFO)
        assert r["score"] == pytest.approx(10 * r["accuracy"] + 1 * r["faithfulness"] + 1 * r["comprehensiveness"])

    def test_weights_from_kwargs_change_the_score(self):
        # Only what the mapping names counts: 2 * accuracy + 3 * format = 2 * 1 + 3 * 1.
        r = compute_score("medqa", RESPONSE, "B", INFO, weights={"accuracy": 2.0, "format": 3})
        assert r["score"] == pytest.approx(2 * 1 + 3 * 1)

    def test_none_weights_mean_defaults(self):
        # verl may pass weights=None when the recipe leaves them out.
        assert compute_score("medqa", RESPONSE, "B", INFO, weights=None) == compute_score("medqa", RESPONSE, "B", INFO)

    def test_weights_accept_any_mapping(self):
        # Hydra hands over a DictConfig, which is a Mapping.
        omegaconf = pytest.importorskip("omegaconf")
        weights = omegaconf.OmegaConf.create({"accuracy": 1.0})
        assert compute_score("medqa", RESPONSE, "B", INFO, weights=weights)["score"] == pytest.approx(1.0)


class TestRewardConfig:
    def test_defaults(self):
        config = RewardConfig()
        assert dict(config.weights) == DEFAULT_WEIGHTS
        assert (config.analysis_tag, config.conclusion_tag) == ("dx", "conclusion")

    def test_weights_are_read_only(self):
        # A frozen config cannot be changed behind the estimator's back.
        with pytest.raises(TypeError):
            RewardConfig().weights["accuracy"] = 0.0  # type: ignore[index]

    def test_from_kwargs_ignores_other_keys(self):
        config = RewardConfig.from_kwargs(analysis_tag="think", conclusion_tag="answer", reward_router_address="x")
        assert (config.analysis_tag, config.conclusion_tag) == ("think", "answer")

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"weights": {"acuracy": 1.0}}, "unknown objective 'acuracy'"),
            ({"weights": {"accuracy": -1.0}}, "must be finite and >= 0"),
            ({"weights": {"accuracy": math.nan}}, "must be finite and >= 0"),
            ({"weights": {"accuracy": math.inf}}, "must be finite and >= 0"),
            ({"weights": {"accuracy": "10"}}, "must be a number"),
            ({"weights": {"accuracy": True}}, "must be a number"),
            ({"weights": [10.0, 1.0]}, "weights must be a mapping"),
            ({"weights": {"accuracy": 0.0}}, "at least one weight must be positive"),
            ({"analysis_tag": "<dx>"}, "analysis_tag must be a simple identifier"),
            ({"analysis_tag": "d x"}, "analysis_tag must be a simple identifier"),
            ({"conclusion_tag": ""}, "conclusion_tag must be a simple identifier"),
            ({"conclusion_tag": 3}, "conclusion_tag must be a simple identifier"),
            ({"analysis_tag": "answer", "conclusion_tag": "answer"}, "must differ"),
        ],
    )
    def test_bad_parameters_raise(self, kwargs, message):
        # Each message says what to change.
        with pytest.raises(ValueError, match=message):
            RewardConfig.from_kwargs(**kwargs)
        with pytest.raises(ValueError, match=message):
            compute_score("medqa", RESPONSE, "B", INFO, **kwargs)
        with pytest.raises(ValueError, match=message):
            get_clinical_reward(**kwargs)


class TestGetClinicalReward:
    def test_pickles_and_round_trips(self):
        # Reward workers receive it through pickle; a closure would not survive.
        reward = get_clinical_reward(weights={"accuracy": 1.0, "faithfulness": 0.5})
        clone = pickle.loads(pickle.dumps(reward))
        assert clone == reward
        assert clone("medqa", RESPONSE, "B", INFO) == reward("medqa", RESPONSE, "B", INFO)

    def test_same_result_as_compute_score(self):
        reward = get_clinical_reward(weights={"accuracy": 2.0})
        assert reward("medqa", RESPONSE, "B", INFO, reward_router_address="x") == compute_score(
            "medqa", RESPONSE, "B", INFO, weights={"accuracy": 2.0}
        )

    def test_tags_configured_up_front(self):
        think = RESPONSE.replace("dx>", "think>").replace("conclusion>", "answer>")
        reward = get_clinical_reward(analysis_tag="think", conclusion_tag="answer")
        assert reward("medqa", think, "B", INFO)["accuracy"] == 1.0


class TestBadData:
    @pytest.mark.parametrize(
        ("ground_truth", "message"),
        [
            ("D", "ground truth 'D' is not one of the option letters A, B, C"),
            ("BC", "ground truth 'BC' is not one of the option letters"),
            ("", "ground truth '' is not one of the option letters"),
            (None, "ground truth must be one option letter as a string"),
            (1, "ground truth must be one option letter as a string"),
        ],
    )
    def test_malformed_ground_truth(self, ground_truth, message):
        # The message names the problem and the row (data source and index).
        with pytest.raises(ValueError, match=message) as err:
            compute_score("medqa", RESPONSE, ground_truth, INFO)
        assert "medqa row 42" in str(err.value)

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (None, "options must be a non-empty mapping"),
            ({}, "options must be a non-empty mapping"),
            (["Graves disease", "Thyroiditis"], "options must be a non-empty mapping"),
            ({"A": "Goitre", "B": "Graves disease", "D": "Thyroiditis"}, "without gaps"),
            ({"a": "Goitre", "b": "Graves disease"}, "single capital letters"),
            ({"A": "Goitre", "B": "  "}, r"options\['B'\] must be non-empty text"),
            ({"A": "Goitre", "B": None, "C": "Thyroiditis"}, r"options\['B'\] must be non-empty text"),
            ({"A": "Goitre"}, "at least two options"),
        ],
    )
    def test_malformed_options(self, options, message):
        with pytest.raises(ValueError, match=message) as err:
            compute_score("medqa", RESPONSE, "A", {**INFO, "options": options})
        assert "medqa row 42" in str(err.value)

    def test_missing_extra_info(self):
        with pytest.raises(ValueError, match="options must be a non-empty mapping"):
            compute_score("medqa", RESPONSE, "B", None)

    @pytest.mark.parametrize("question", [None, "", "   "])
    def test_missing_question_when_faithfulness_needs_it(self, question):
        with pytest.raises(ValueError, match=r"medqa row 42: extra_info\.question is missing"):
            compute_score("medqa", RESPONSE, "B", {**INFO, "question": question})

    def test_missing_question_without_faithfulness(self):
        # With faithfulness weighing 0 the case text is not needed.
        info = {"options": OPTIONS, "index": 42}
        assert compute_score("medqa", RESPONSE, "B", info, weights={"accuracy": 1.0})["accuracy"] == 1.0

    def test_parquet_struct_padding_is_accepted(self):
        # A 3-option row read from a parquet file that also holds 5-option rows carries D, E = None.
        info = {**INFO, "options": {**OPTIONS, "D": None, "E": None}}
        assert compute_score("medqa", RESPONSE, "B", info) == compute_score("medqa", RESPONSE, "B", INFO)

    def test_data_errors_are_not_cached_away(self):
        # A row that fails keeps failing (and a cached good row keeps scoring).
        for _ in range(2):
            with pytest.raises(ValueError):
                compute_score("medqa", RESPONSE, "Z", INFO)
        assert compute_score("medqa", RESPONSE, "B", INFO)["accuracy"] == 1.0


class TestDemoSamples:
    def test_schema(self):
        samples = load_demo_samples()
        assert 6 <= len(samples) <= 8
        for i, sample in enumerate(samples):
            assert set(sample) == {"label", "data_source", "ground_truth", "extra_info", "response"}
            assert sample["extra_info"]["split"] == "demo" and sample["extra_info"]["index"] == i

    def test_grounded_sample_scores_highest(self):
        # The first sample is the reference: full marks, above every flawed one.
        scores = [
            compute_score(s["data_source"], s["response"], s["ground_truth"], s["extra_info"])["score"]
            for s in load_demo_samples()
        ]
        assert scores[0] == pytest.approx(12.0)
        assert all(score < scores[0] for score in scores[1:])

    def test_each_flaw_shows_in_its_objective(self):
        results = {
            s["label"]: compute_score(s["data_source"], s["response"], s["ground_truth"], s["extra_info"])
            for s in load_demo_samples()
        }
        by_word = {
            word: next(r for label, r in results.items() if word in label)
            for word in ("hedging", "invented", "copied", "no tags", "distractor", "wrong")
        }
        assert by_word["hedging"]["accuracy"] == 0.0
        assert by_word["invented"]["invented_findings"] >= 1.0
        assert by_word["copied"]["copied_fraction"] > 0.9
        assert by_word["no tags"]["score"] == 0.0
        assert by_word["distractor"]["comprehensiveness"] < 0.5
        # A wrong answer weighed the gold option and its own choice wrongly, however well it argues.
        wrong = next(s for s in load_demo_samples() if "wrong" in s["label"])
        assert by_word["wrong"]["accuracy"] == 0.0
        assert by_word["wrong"]["comprehensiveness"] <= 1 - 2 / len(wrong["extra_info"]["options"])


def test_deterministic_across_processes():
    # Set iteration order changes with PYTHONHASHSEED; scores must not.
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json; from verl_crpo.rewards import compute_score, load_demo_samples; "
        "print(json.dumps([compute_score(s['data_source'], s['response'], s['ground_truth'], s['extra_info']) "
        "for s in load_demo_samples()]))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and json.loads(outputs.pop())
