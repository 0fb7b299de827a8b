"""The paper's other arms compose through verl's own entry points with the paper's values: the GRPO
accuracy-only baseline (main_ppo) and the LoRA cold start (verl's SFT trainer)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import verl  # noqa: F401  (loads the verl_crpo plugin: validate_config then runs our check too)
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from verl.trainer.ppo.utils import need_critic, need_reference_policy
from verl.utils import config as config_utils

from verl_crpo.validation import check_crpo_config

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "crpo"
BASELINE_SCRIPT = RECIPE / "run_grpo_accuracy_baseline.sh"
SFT_SCRIPT = RECIPE / "run_sft_cold_start.sh"


def compose_recipe(name: str, *overrides: str):
    with initialize_config_dir(str(RECIPE / "config"), version_base=None):
        return compose(name, overrides=list(overrides))


def run_script(script: Path, env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        ["bash", str(script), *args, "--cfg", "job", "--resolve"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return yaml.safe_load(out.stdout)


class TestGrpoAccuracyBaseline:
    def test_holds_the_papers_baseline_and_passes_verls_and_our_checks(self):
        c = compose_recipe("grpo_accuracy_baseline")
        assert c.algorithm.adv_estimator == "grpo"
        assert c.actor_rollout_ref.rollout.temperature == pytest.approx(1.0)  # paper: 1.0 for plain GRPO
        weights = OmegaConf.to_container(c.reward.reward_kwargs.weights, resolve=True)
        assert weights == {"accuracy": 1.0, "faithfulness": 0.0, "comprehensiveness": 0.0}  # accuracy alone
        assert check_crpo_config(c) == []
        config_utils.validate_config(config=c, use_reference_policy=need_reference_policy(c), use_critic=need_critic(c))

    def test_everything_else_is_the_crpo_arm(self):
        # The A/B must differ only in what the paper's baseline changes.
        base, crpo = (OmegaConf.to_container(compose_recipe(n)) for n in ("grpo_accuracy_baseline", "crpo_trainer"))
        for config in (base, crpo):
            config["algorithm"].pop("adv_estimator")
            config["algorithm"]["crpo"].pop("weights")
            config["actor_rollout_ref"]["rollout"].pop("temperature")
            config["trainer"].pop("experiment_name")
        assert base == crpo
        c = compose_recipe("grpo_accuracy_baseline")
        assert (c.actor_rollout_ref.rollout.n, c.actor_rollout_ref.actor.optim.lr) == (5, pytest.approx(1e-6))
        assert c.reward.reward_manager.name == "clinical"

    def test_main_ppo_composes_it_through_the_launch_script(self, tmp_path):
        env = {"PYTHON": sys.executable, "MODEL_PATH": str(tmp_path / "m"), "TRAIN_FILES": str(tmp_path / "rl.pq")}
        config = run_script(BASELINE_SCRIPT, env)
        assert config["algorithm"]["adv_estimator"] == "grpo"
        assert config["actor_rollout_ref"]["rollout"]["temperature"] == 1.0
        assert config["reward"]["reward_kwargs"]["weights"]["accuracy"] == 1.0
        assert config["actor_rollout_ref"]["model"]["path"] == str(tmp_path / "m")
        assert config["data"]["train_files"] == str(tmp_path / "rl.pq")


class TestSftColdStart:
    def test_holds_the_papers_lora_settings(self):
        c = compose_recipe("sft_cold_start")
        assert (c.model.lora_rank, c.model.lora_alpha, c.optim.lr) == (32, 16, pytest.approx(1e-4))
        assert c.data.messages_key == "messages"  # the column `verl-crpo sft-data` writes
        assert c.model.path == "Qwen/Qwen2.5-3B-Instruct" and c.trainer.n_gpus_per_node == 8

    def test_verls_sft_entry_point_composes_it_through_the_launch_script(self, tmp_path):
        # A stand-in for torchrun: drop its --flags and run the module in this interpreter.
        launcher = tmp_path / "torchrun"
        launcher.write_text(
            f'#!/usr/bin/env bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec {sys.executable} "$@"\n'
        )
        launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
        env = {"TORCHRUN": str(launcher), "MODEL_PATH": str(tmp_path / "m"), "SFT_TRAIN_FILES": str(tmp_path / "s.pq")}
        config = run_script(SFT_SCRIPT, env, "trainer.total_epochs=1")
        assert (config["model"]["lora_rank"], config["model"]["lora_alpha"]) == (32, 16)
        assert config["optim"]["lr"] == pytest.approx(1e-4)
        assert config["model"]["path"] == str(tmp_path / "m")
        assert config["data"]["train_files"] == str(tmp_path / "s.pq")
        assert config["trainer"]["total_epochs"] == 1


@pytest.mark.parametrize("script", [BASELINE_SCRIPT, SFT_SCRIPT], ids=lambda p: p.name)
def test_launch_scripts_document_their_environment_and_multi_node(script):
    text = script.read_text()
    assert "set -euo pipefail" in text and "MODEL_PATH=${MODEL_PATH:-" in text
    header = text.split("set -euo pipefail")[0]
    for var in ("MODEL_PATH", "NNODES", "NGPUS_PER_NODE"):
        assert f"#   {var}" in header, var
    assert "Multi-node" in header
