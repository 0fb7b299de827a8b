"""``verl-crpo check -- ARGS`` validates a main_ppo command line as main_ppo would compose it, without Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from verl_crpo.cli import main
from verl_crpo.launch_check import _split, plan_run

ROOT = Path(__file__).resolve().parents[1]
RECIPE = [f"--config-path={ROOT / 'recipes' / 'crpo' / 'config'}", "--config-name=crpo_trainer"]


def readme_overrides() -> list[str]:
    """The override lines of recipes/crpo/README.md's 'overrides only' block, as the shell passes them."""
    text = (ROOT / "recipes" / "crpo" / "README.md").read_text()
    block = text.split("<!-- overrides-only")[1].split("```bash")[1].split("```")[0]
    lines = [line.strip().rstrip("\\").strip() for line in block.strip().splitlines()[1:]]
    return [line.replace("'", "") for line in lines if line]


def test_the_recipe_plans_a_v1_crpo_run_with_our_reward():
    plan = plan_run(RECIPE)
    assert plan.trainer.startswith("V1") and plan.estimator == "crpo"
    assert plan.weights == {"accuracy": 10.0, "faithfulness": 1.0, "comprehensiveness": 1.0}
    assert plan.reward_is_ours


def test_the_readme_overrides_on_verls_own_config_pass_even_over_a_users_reward_function():
    # a user's run that already sets its own reward function: the override list drops it
    users_run = [
        "reward.custom_reward_function.path=/x/r.py",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=2",
    ]
    plan = plan_run(["python", "-m", "verl.trainer.main_ppo", *users_run, *readme_overrides()])
    assert plan.estimator == "crpo" and plan.reward_is_ours and plan.config_source.endswith("ppo_trainer")


def test_the_legacy_trainer_is_named():
    plan = plan_run([*RECIPE, "trainer.use_v1=false"])
    assert plan.trainer.startswith("legacy")
    assert any("use_v1=false" in w for w in plan.warnings)


@pytest.mark.parametrize(
    ("extra", "fix"),
    [
        (["reward.custom_reward_function.path=/x/my_reward.py"], "reward.custom_reward_function.path=null"),
        (["algorithm.crpo.weight.accuracy=1"], "+algorithm.crpo.weight.accuracy=1"),
        (["algorithm.crpo.weights.accuracy=-1"], "accuracy"),
        (["algorithm.use_kl_in_reward=true"], "algorithm.use_kl_in_reward=false"),
    ],
)
def test_each_mistake_exits_1_with_its_fix(extra, fix, capsys):
    assert main(["check", "--", *RECIPE, *extra]) == 1
    assert fix in capsys.readouterr().out.replace("\n", "")


def test_verls_own_check_is_run_and_its_message_shown(capsys):
    assert main(["check", "--", "algorithm.adv_estimator=grpo"]) == 1  # verl's config lacks micro-batch sizes
    assert "ppo_micro_batch_size" in capsys.readouterr().out.replace("\n", "")


def test_a_bare_crpo_estimator_on_verls_config_names_the_missing_weights(capsys):
    assert main(["check", "--", "algorithm.adv_estimator=crpo", "reward.reward_manager.name=clinical"]) == 1
    assert "+algorithm.crpo.weights.accuracy" in capsys.readouterr().out.replace("\n", "")


def test_a_good_command_line_exits_0_and_prints_the_plan(capsys):
    assert main(["check", "--", *RECIPE]) == 0
    out = capsys.readouterr().out
    assert "crpo" in out and "accuracy 10" in out and "V1" in out


def test_hydra_flags_are_read_or_skipped():
    assert _split(["-cp", "/a", "-cn", "b", "--cfg", "job", "x=1", "-m"]) == ("/a", "b", ["x=1"])
    assert _split(["--config-path", "/a", "--config-name=b", "--cfg=job", "y=2"]) == ("/a", "b", ["y=2"])
