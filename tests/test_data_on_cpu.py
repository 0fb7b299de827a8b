"""The synthetic case generator: determinism, variety, the RL row contract, reference responses."""

from __future__ import annotations

import collections

import pytest

from verl_crpo.data import (
    DATA_SOURCE,
    generate_cases,
    prompt_messages,
    reference_response,
    to_rl_row,
    write_rl_parquet,
    write_sft_parquet,
)
from verl_crpo.rewards import OBJECTIVES, compute_score


@pytest.fixture(scope="module")
def cases():
    return generate_cases(300, seed=0)


def test_same_seed_same_cases_other_seed_other_cases(cases):
    assert generate_cases(300, seed=0) == cases
    assert generate_cases(300, seed=1) != cases


def test_negative_count_is_refused():
    with pytest.raises(ValueError, match="n >= 0"):
        generate_cases(-1)


class TestVariety:
    # Memorising one template, one position or one disease must not solve the set.
    def test_gold_letters_spread_over_every_position(self, cases):
        counts = collections.Counter(case.answer for case in cases)
        assert set(counts) == set("ABCDE")
        assert max(counts.values()) < 0.35 * len(cases)

    def test_many_diagnoses_and_option_counts(self, cases):
        assert len({case.diagnosis.name for case in cases}) >= 25
        assert {len(case.options) for case in cases} == {4, 5}

    def test_cases_are_told_in_different_ways(self, cases):
        assert len({case.question for case in cases}) > 0.95 * len(cases)
        # Different templates: the case text opens in different ways and ends with different stems.
        assert len({case.question.split()[2] for case in cases}) >= 4
        assert len({case.question.rsplit(". ", 1)[-1] for case in cases}) >= 5

    def test_distractors_come_mostly_from_the_same_organ_system(self, cases):
        same = sum(d.system == case.diagnosis.system for case in cases for d in case.distractors.values()) / sum(
            len(case.distractors) for case in cases
        )
        assert same > 0.5


class TestRows:
    def test_row_follows_the_design_contract(self, cases):
        case = cases[0]
        row = to_rl_row(case, "train", 7)
        assert row["data_source"] == DATA_SOURCE
        assert row["ability"] == "medical"
        assert row["reward_model"] == {"style": "rule", "ground_truth": case.answer}
        assert row["extra_info"] == {
            "question": case.question,
            "options": dict(case.options),
            "split": "train",
            "index": 7,
        }
        assert row["prompt"] == prompt_messages(case)
        # The prompt shows the options; the question text alone does not.
        assert all(f"{letter}. {text}" in row["prompt"][0]["content"] for letter, text in case.options.items())
        assert all(text not in case.question for text in case.options.values())

    def test_parquet_files_read_back(self, cases, tmp_path):
        import pandas as pd

        rl = pd.read_parquet(write_rl_parquet(cases[:5], tmp_path / "rl.parquet", "train"))
        sft = pd.read_parquet(write_sft_parquet(cases[:5], tmp_path / "sft.parquet"))
        assert list(rl["reward_model"].map(lambda r: r["ground_truth"])) == [c.answer for c in cases[:5]]
        assert [m[-1]["content"] for m in sft["messages"]] == [reference_response(c) for c in cases[:5]]


class TestReferenceResponses:
    def test_structure_and_one_boxed_gold_answer(self, cases):
        for case in cases[:50]:
            text = reference_response(case)
            assert text.startswith("<dx>\n") and text.endswith("\n</conclusion>")
            assert text.count("\\boxed{") == 1 and f"\\boxed{{{case.answer}}}" in text.split("<conclusion>")[1]

    def test_every_option_is_named_in_the_analysis(self, cases):
        for case in cases[:50]:
            analysis = reference_response(case).split("</dx>")[0]
            for letter, text in case.options.items():  # the rotating sentence shapes name options two ways
                assert f"{text} ({letter})" in analysis or f"Option {letter}, {text}," in analysis

    def test_the_reward_reads_them_as_correct(self, cases):
        # Only the contract: one gold answer in the conclusion is accurate; every objective lies in [0, 1].
        for i, case in enumerate(cases[:50]):
            scores = compute_score(
                DATA_SOURCE, reference_response(case), case.answer, to_rl_row(case, "t", i)["extra_info"]
            )
            assert scores["accuracy"] == 1.0
            assert all(0.0 <= scores[name] <= 1.0 for name in OBJECTIVES)
