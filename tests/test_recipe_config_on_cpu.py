"""The CRPO recipe composes with verl's config, passes verl's and our checks, and matches its README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import verl  # noqa: F401  (loads the verl_crpo plugin: validate_config then runs our check too)
import yaml
from hydra import compose, initialize_config_dir, initialize_config_module
from omegaconf import OmegaConf
from verl.trainer.ppo.utils import need_critic, need_reference_policy
from verl.utils import config as config_utils

from verl_crpo.rewards import OBJECTIVES
from verl_crpo.validation import check_crpo_config

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "crpo"
SCRIPTS = {"crpo": RECIPE / "run_crpo.sh", "grpo": RECIPE / "run_grpo_baseline.sh"}


def compose_recipe(*overrides: str):
    with initialize_config_dir(str(RECIPE / "config"), version_base=None):
        return compose("crpo_trainer", overrides=list(overrides))


def readme_overrides() -> list[str]:
    """The override lines of the README's 'overrides only' block, as the shell would pass them."""
    text = (RECIPE / "README.md").read_text()
    block = text.split("<!-- overrides-only")[1].split("```bash")[1].split("```")[0]
    lines = [line.strip().rstrip("\\").strip() for line in block.strip().splitlines()[1:]]
    return [line.replace("'", "") for line in lines if line]


def verl_validate(config) -> None:
    config_utils.validate_config(
        config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
    )


class TestRecipeYaml:
    def test_composes_and_passes_verls_and_our_checks_without_warnings(self):
        config = compose_recipe()
        assert check_crpo_config(config) == []
        verl_validate(config)  # verl's checks (batch sizes, micro batches) with our check in front

    def test_holds_the_papers_setup(self):
        c = compose_recipe()
        assert c.algorithm.adv_estimator == "crpo"
        assert c.actor_rollout_ref.rollout.n == 5
        assert c.actor_rollout_ref.actor.optim.lr == pytest.approx(1e-6)
        assert c.actor_rollout_ref.actor.use_kl_loss and c.actor_rollout_ref.actor.kl_loss_type == "low_var_kl"
        assert c.actor_rollout_ref.actor.kl_loss_coef == pytest.approx(1e-3)
        assert c.actor_rollout_ref.actor.entropy_coeff == pytest.approx(1e-3)
        assert (c.data.max_prompt_length, c.data.max_response_length) == (1024, 4096)
        assert (c.data.train_batch_size, c.actor_rollout_ref.actor.ppo_mini_batch_size) == (512, 16)
        assert c.actor_rollout_ref.rollout.temperature == pytest.approx(0.6)
        assert c.actor_rollout_ref.rollout.val_kwargs.do_sample is False
        assert c.reward.reward_manager.name == "clinical"
        assert c.trainer.use_v1 and c.trainer.v1.trainer_mode == "sync"

    def test_weights_are_stated_once_and_reach_the_reward(self):
        raw = yaml.safe_load((RECIPE / "config" / "crpo_trainer.yaml").read_text())
        assert raw["reward"]["reward_kwargs"]["weights"] == "${algorithm.crpo.weights}"
        c = compose_recipe("algorithm.crpo.weights.accuracy=3.0")
        resolved = OmegaConf.to_container(c.reward.reward_kwargs.weights, resolve=True)
        assert resolved == {"accuracy": 3.0, "faithfulness": 1.0, "comprehensiveness": 1.0}
        assert set(resolved) <= set(OBJECTIVES)

    def test_the_grpo_baseline_composes_and_passes(self):
        config = compose_recipe("algorithm.adv_estimator=grpo")
        assert check_crpo_config(config) == []
        verl_validate(config)


class TestOverridesOnly:
    def test_readme_override_set_on_verls_own_config_passes_and_matches_the_recipe(self):
        overrides = readme_overrides()
        assert "algorithm.adv_estimator=crpo" in overrides
        with initialize_config_module("verl.trainer.config", version_base=None):
            config = compose("ppo_trainer", overrides=overrides)
        assert check_crpo_config(config) == []
        ours, recipe = (OmegaConf.to_container(c, resolve=True) for c in (config, compose_recipe()))
        for key in ("adv_estimator", "norm_adv_by_std_in_grpo", "use_kl_in_reward"):
            assert ours["algorithm"][key] == recipe["algorithm"][key], key
        for key in ("weights", "aggregation", "whiten"):
            assert ours["algorithm"]["crpo"][key] == recipe["algorithm"]["crpo"][key], key
        assert ours["reward"]["reward_kwargs"] == recipe["reward"]["reward_kwargs"]
        assert ours["reward"]["reward_manager"]["name"] == recipe["reward"]["reward_manager"]["name"]


class TestLaunchScripts:
    def test_the_pair_differs_only_in_the_estimator(self):
        crpo, grpo = (SCRIPTS[name].read_text().splitlines() for name in ("crpo", "grpo"))
        assert len(crpo) == len(grpo)
        code_diffs = [(a, b) for a, b in zip(crpo, grpo, strict=True) if a != b and not a.startswith("#")]
        assert code_diffs == [
            (
                "EXPERIMENT_NAME=${EXPERIMENT_NAME:-crpo_qwen2.5_3b}",
                "EXPERIMENT_NAME=${EXPERIMENT_NAME:-grpo_qwen2.5_3b}",
            ),
            ("    algorithm.adv_estimator=crpo \\", "    algorithm.adv_estimator=grpo \\"),
        ]
        for text in (SCRIPTS["crpo"].read_text(), SCRIPTS["grpo"].read_text()):
            assert "set -euo pipefail" in text
            assert re.search(r"MODEL_PATH=\$\{MODEL_PATH:-", text) and re.search(r"TRAIN_FILES=\$\{TRAIN_FILES:-", text)

    @pytest.mark.parametrize("estimator", ["crpo", "grpo"])
    def test_main_ppo_prints_the_composed_config(self, estimator, tmp_path):
        # The real entry point through the real script: --cfg job composes and prints without running.
        env = {**os.environ, "PYTHON": sys.executable, "MODEL_PATH": str(tmp_path / "model")}
        out = subprocess.run(
            ["bash", str(SCRIPTS[estimator]), "--cfg", "job", "--resolve"],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        config = yaml.safe_load(out.stdout)
        assert config["algorithm"]["adv_estimator"] == estimator
        assert config["reward"]["reward_kwargs"]["weights"] == config["algorithm"]["crpo"]["weights"]
        assert config["actor_rollout_ref"]["model"]["path"] == str(tmp_path / "model")
