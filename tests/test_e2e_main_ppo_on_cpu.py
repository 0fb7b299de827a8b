"""End to end: the demo's two arms (GRPO on accuracy alone, CRPO) train the tiny model through main_ppo on the CPU.

The recipe ``recipes/cpu_tiny`` with the CPU backend (``VERL_PLATFORM=cpu``), the ``clinical`` reward
manager, verl's V1 trainer with TransferQueue and Ray, FSDP2 actor and reference, and the
transformers rollout: every part the plugin touches, in two short runs (about two minutes each here).
main_ppo runs in its own session so that a hang is killed with its Ray processes and reported
with the end of its log, instead of waiting for GPUs that do not exist.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from verl_crpo.coldstart import ColdStartConfig, cold_start
from verl_crpo.data import generate_cases, write_rl_parquet
from verl_crpo.demo import ARMS, DEFAULT_ARMS, DEFAULT_HABITS, habit_responses, main_ppo_command, weight_overrides
from verl_crpo.tiny import TinyModelSpec, build_tiny_model

STEPS = 2
# A healthy run takes ~2 minutes here; past this main_ppo is killed and the test fails with its log.
MAIN_PPO_TIMEOUT_S = 420
# Above the cold start plus two runs of MAIN_PPO_TIMEOUT_S, so that our message, not pytest-timeout's, reports a hang.
pytestmark = pytest.mark.timeout(1500)
OBJECTIVES = ("accuracy", "faithfulness", "comprehensiveness")  # the recipe's weighted objectives


def _run(argv, env, log_path) -> None:
    with open(log_path, "wb") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            child.wait(timeout=MAIN_PPO_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        finally:
            hung = child.poll() is None
            if hung:
                os.killpg(child.pid, signal.SIGKILL)  # main_ppo and the Ray cluster it started
                child.wait()
    tail = log_path.read_text(errors="replace")[-4000:]
    if hung:
        pytest.fail(f"main_ppo hung: killed after {MAIN_PPO_TIMEOUT_S}s; end of its log:\n{tail}")
    if child.returncode != 0:
        pytest.fail(f"main_ppo exited with status {child.returncode}; end of its log:\n{tail}")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    base = build_tiny_model(TinyModelSpec(), root / "cache")
    # A short cold start (~1.5 min) on the demo's mixture of habits: responses then have the structure
    # and differ within groups (from the bare model every score is 0 and so is every advantage).
    cases = generate_cases(1000, seed=1)
    responses = habit_responses(cases, DEFAULT_HABITS, seed=0)
    sft = cold_start(base, str(root / "sft"), cases, ColdStartConfig(steps=300, batch_size=32), responses=responses)
    train = write_rl_parquet(generate_cases(32, seed=2), root / "train.parquet", "train")
    val = write_rl_parquet(generate_cases(8, seed=3), root / "val.parquet", "test")
    arms = {}
    for name in DEFAULT_ARMS:  # the demo's two arms: the paper's GRPO-accuracy baseline and CRPO
        out = root / name
        out.mkdir()
        overrides = [
            f"trainer.save_freq={STEPS}",
            "actor_rollout_ref.actor.checkpoint.save_contents=[hf_model]",
            "trainer.logger=[file]",
            *weight_overrides(name),
        ]
        argv, env = main_ppo_command(sft, train, val, ARMS[name].estimator, STEPS, str(out), overrides, name=name)
        _run(argv, env, out / "main_ppo.log")
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        steps = {r["step"]: r["data"] for r in records if "timing_s/step" in r["data"]}
        arms[name] = {"steps": steps, "checkpoint": out / "checkpoints" / f"global_step_{STEPS}" / "actor"}
    return {"arms": arms, "sft": sft}


@pytest.mark.parametrize("arm", DEFAULT_ARMS)
def test_every_step_ran(run, arm):
    assert sorted(run["arms"][arm]["steps"]) == list(range(1, STEPS + 1))


@pytest.mark.parametrize("arm", DEFAULT_ARMS)
def test_every_objective_was_logged_every_step(run, arm):
    for step, data in run["arms"][arm]["steps"].items():
        for name in OBJECTIVES:
            for stat in ("mean", "constant_group_frac"):
                assert f"objectives/{name}/{stat}" in data, f"{arm}, step {step}: objectives/{name}/{stat} not logged"


def test_crpo_logged_its_estimator_metrics_every_step(run):
    for step, data in run["arms"]["crpo"]["steps"].items():
        for name in OBJECTIVES:
            for stat in ("mean", "constant_group_frac", "adv_share"):
                assert f"crpo/{name}/{stat}" in data, f"step {step}: crpo/{name}/{stat} not logged"
        assert "crpo/no_signal_group_frac" in data


def test_the_baseline_rewards_accuracy_alone(run):
    for step, data in run["arms"]["grpo_accuracy_only"]["steps"].items():
        # its total score is the accuracy objective: the weights reached the reward
        assert data["critic/score/mean"] == pytest.approx(data["objectives/accuracy/mean"], abs=1e-6), step


@pytest.mark.parametrize("arm", DEFAULT_ARMS)
def test_advantages_were_not_zero(run, arm):
    for step, data in run["arms"][arm]["steps"].items():
        assert data["critic/advantages/abs_mean"] > 0, f"{arm}, step {step}: every advantage was 0"
        assert data["critic/advantages/max"] > data["critic/advantages/min"]


@pytest.mark.parametrize("arm", DEFAULT_ARMS)
def test_the_actors_weights_changed(run, arm):
    from safetensors.torch import load_file

    before = load_file(os.path.join(run["sft"], "model.safetensors"))
    after = load_file(str(run["arms"][arm]["checkpoint"] / "huggingface" / "model.safetensors"))
    shared = sorted(set(before) & set(after))
    assert shared, f"no common weight names: {sorted(before)[:3]} vs {sorted(after)[:3]}"
    changed = [name for name in shared if not before[name].equal(after[name].to(before[name].dtype))]
    assert len(changed) > len(shared) / 2, f"only {len(changed)} of {len(shared)} tensors changed"
