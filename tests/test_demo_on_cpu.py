"""The demo's parts that need no main_ppo run: answer habits, arms and their configs, the table, the plots.

The run itself (both arms through main_ppo) is tested in test_e2e_main_ppo_on_cpu.py.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
import verl  # noqa: F401  (loads the verl_crpo plugin: the composed config is checked as main_ppo would)
from hydra import compose, initialize_config_dir
from rich.console import Console

from verl_crpo.data import generate_cases
from verl_crpo.data.cases import HABITS, reference_response
from verl_crpo.demo import (
    ARMS,
    DEFAULT_ARMS,
    DEFAULT_HABITS,
    DemoConfig,
    _arm_overrides,
    find_recipe_dir,
    habit_responses,
    plot_curves,
)
from verl_crpo.demo_cli import render_summary
from verl_crpo.rewards import compute_score
from verl_crpo.validation import check_crpo_config

CASES = generate_cases(64, seed=3)


def _objectives(habit: str) -> dict[str, float]:
    scores = [
        compute_score(
            "synthetic_clinical", reference_response(c, habit), c.answer, {"question": c.question, "options": c.options}
        )
        for c in CASES
    ]
    return {
        k: statistics.mean(s[k] for s in scores) for k in ("accuracy", "format", "faithfulness", "comprehensiveness")
    }


HABIT_SCORES = {habit: _objectives(habit) for habit in HABITS}


class TestHabits:
    @pytest.mark.parametrize("habit", HABITS)
    def test_every_habit_has_the_format_and_the_right_answer(self, habit):
        assert HABIT_SCORES[habit]["accuracy"] == 1.0
        assert HABIT_SCORES[habit]["format"] == 1.0

    def test_the_habits_differ_where_crpo_looks(self):
        s = HABIT_SCORES
        assert s["complete"]["faithfulness"] >= 0.95 and s["complete"]["comprehensiveness"] >= 0.95
        assert s["answer_only"]["faithfulness"] <= 0.3 and s["answer_only"]["comprehensiveness"] <= 0.05
        assert s["no_distractors"]["faithfulness"] >= 0.9 and s["no_distractors"]["comprehensiveness"] <= 0.3
        assert s["uncited"]["faithfulness"] <= 0.85 and s["uncited"]["comprehensiveness"] >= 0.9

    def test_the_default_mixture_leaves_room_to_learn(self):
        # Were every answer right; wrong answers lower both (the cold start answers about 1 in 5 right).
        total = sum(w for _, w in DEFAULT_HABITS)
        for objective in ("faithfulness", "comprehensiveness"):
            expected = sum(w * HABIT_SCORES[h][objective] for h, w in DEFAULT_HABITS) / total
            assert expected <= 0.75, (objective, expected)

    def test_habit_responses_follow_the_mixture_and_repeat(self):
        cases = generate_cases(400, seed=5)
        first = habit_responses(cases, (("complete", 1.0), ("answer_only", 3.0)), seed=1)
        assert first == habit_responses(cases, (("complete", 1.0), ("answer_only", 3.0)), seed=1)
        bare = sum(text.startswith("<dx>\nThe answer is") for text in first)
        assert 0.65 < bare / len(cases) < 0.85

    def test_an_unknown_habit_is_refused(self):
        with pytest.raises(ValueError, match="habit must be one of"):
            reference_response(CASES[0], "verbose")


class TestConfig:
    @pytest.mark.parametrize(
        "changes",
        [
            {"arms": ()},
            {"arms": ("crpo", "crpo")},
            {"arms": ("ppo",)},
            {"habits": (("complete", -1.0),)},
            {"habits": (("x", 1.0),)},
        ],
    )
    def test_bad_settings_are_refused(self, changes):
        with pytest.raises(ValueError):
            DemoConfig(**changes)

    def test_defaults_are_the_papers_baseline_then_crpo(self):
        assert DemoConfig().arms == DEFAULT_ARMS == ("grpo_accuracy_only", "crpo")
        assert ARMS["grpo_accuracy_only"].estimator == "grpo" and ARMS["crpo"].estimator == "crpo"

    @pytest.mark.parametrize("arm", sorted(ARMS))
    def test_each_arms_overrides_compose_and_pass_the_checks(self, arm):
        config = DemoConfig(seed=7)
        overrides = [f"algorithm.adv_estimator={ARMS[arm].estimator}", *_arm_overrides(arm, config)]
        with initialize_config_dir(str(find_recipe_dir()), version_base=None):
            composed = compose("cpu_tiny", overrides=overrides)
        assert check_crpo_config(composed) == []
        assert composed.data.seed == 7 and composed.actor_rollout_ref.rollout.seed == 7
        weights = dict(composed.reward.reward_kwargs.weights)  # the reward reads the arm's weights too
        if arm == "grpo_accuracy_only":
            assert weights == {"accuracy": 1.0, "faithfulness": 0.0, "comprehensiveness": 0.0}
        else:
            assert weights == {"accuracy": 10.0, "faithfulness": 1.0, "comprehensiveness": 1.0}


def _summary() -> dict:
    def arm(estimator: str, rise: float) -> dict:
        before = {"accuracy": 0.2, "faithfulness": 0.5, "comprehensiveness": 0.4, "format": 1.0}
        steps = [
            {
                "step": k,
                "reward_mean": 1.0 + k,
                "objectives": {**before, "faithfulness": 0.5 + rise * k, "comprehensiveness": 0.4 + rise * k},
                "adv_abs_mean": 0.5,
                "timing_adv_s": 0.05,
                "step_s": 5.0,
            }
            for k in (1, 2)
        ]
        return {"estimator": estimator, "description": estimator, "before": before, "steps": steps, "wall_s": 60.0}

    return {"arms": {"grpo_accuracy_only": arm("grpo", 0.0), "crpo": arm("crpo", 0.1)}}


def test_the_table_shows_both_arms_on_every_step():
    console = Console(record=True, width=240)
    render_summary(_summary(), console)
    text = console.export_text()
    assert "GRPO acc" in text and "CRPO" in text
    assert "faithfulness 0.50 -> 0.70" in text  # crpo's change
    rows = [line for line in text.splitlines() if re.match(r"\W*[012]\W", line)]
    assert len(rows) == 3, text
    assert "0.70 | " not in rows[2] and " | 0.70" in rows[2]  # step 2 of faithfulness: baseline 0.50, crpo 0.70


def test_one_plot_per_objective_with_every_arm(tmp_path: Path):
    paths = plot_curves(_summary(), tmp_path)
    names = sorted(Path(p).stem for p in paths)
    assert names == sorted(["accuracy", "faithfulness", "comprehensiveness", "format", "reward_mean"])
    assert all(Path(p).stat().st_size > 1000 for p in paths)
    json.dumps(_summary())  # the summary is JSON as written
