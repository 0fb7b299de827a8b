"""End to end: CRPO trains the tiny model through ``python -m verl.trainer.main_ppo`` on the CPU.

The recipe ``recipes/cpu_tiny`` with the CPU backend (``VERL_PLATFORM=cpu``), the ``clinical`` reward
manager, verl's V1 trainer with TransferQueue and Ray, FSDP2 actor and reference, and the
transformers rollout: every part the plugin touches, in one short run (about two minutes here).
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
from verl_crpo.demo import main_ppo_command
from verl_crpo.tiny import TinyModelSpec, build_tiny_model

STEPS = 2
# A healthy run takes ~2 minutes here; past this main_ppo is killed and the test fails with its log.
MAIN_PPO_TIMEOUT_S = 420
# Above the cold start plus MAIN_PPO_TIMEOUT_S, so that our message, not pytest-timeout's, reports a hang.
pytestmark = pytest.mark.timeout(900)
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
    # A short cold start (~1.5 min): responses then have the structure, so objectives differ within groups
    # (from the bare model every score is 0 and so is every advantage).
    sft = cold_start(base, str(root / "sft"), generate_cases(1000, seed=1), ColdStartConfig(steps=300, batch_size=32))
    train = write_rl_parquet(generate_cases(32, seed=2), root / "train.parquet", "train")
    val = write_rl_parquet(generate_cases(8, seed=3), root / "val.parquet", "test")
    out = root / "run"
    out.mkdir()
    overrides = [
        f"trainer.save_freq={STEPS}",
        "actor_rollout_ref.actor.checkpoint.save_contents=[hf_model]",
        "trainer.logger=[file]",
    ]
    argv, env = main_ppo_command(sft, train, val, "crpo", STEPS, str(out), overrides)
    _run(argv, env, out / "main_ppo.log")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = {r["step"]: r["data"] for r in records if "timing_s/step" in r["data"]}
    return {"steps": steps, "sft": sft, "checkpoint": out / "checkpoints" / f"global_step_{STEPS}" / "actor"}


def test_every_step_ran(run):
    assert sorted(run["steps"]) == list(range(1, STEPS + 1))


def test_crpo_logged_every_objective_every_step(run):
    for step, data in run["steps"].items():
        for name in OBJECTIVES:
            for stat in ("mean", "constant_group_frac", "adv_share"):
                assert f"crpo/{name}/{stat}" in data, f"step {step}: crpo/{name}/{stat} not logged"
        assert "crpo/no_signal_group_frac" in data


def test_advantages_were_not_zero(run):
    for step, data in run["steps"].items():
        assert data["critic/advantages/abs_mean"] > 0, f"step {step}: every advantage was 0"
        assert data["critic/advantages/max"] > data["critic/advantages/min"]


def test_the_actors_weights_changed(run):
    from safetensors.torch import load_file

    before = load_file(os.path.join(run["sft"], "model.safetensors"))
    after = load_file(str(run["checkpoint"] / "huggingface" / "model.safetensors"))
    shared = sorted(set(before) & set(after))
    assert shared, f"no common weight names: {sorted(before)[:3]} vs {sorted(after)[:3]}"
    changed = [name for name in shared if not before[name].equal(after[name].to(before[name].dtype))]
    assert len(changed) > len(shared) / 2, f"only {len(changed)} of {len(shared)} tensors changed"
