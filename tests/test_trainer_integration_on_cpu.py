"""The trainer integration: per-objective scores reach ``crpo`` in verl's trainers, and bad configs fail fast.

Real verl code throughout: a real TransferQueue (on a local Ray) holds a batch written as verl's
agent loop writes it; the patched V1 trainer classes come from verl's own registry; configs are
composed from verl's ``ppo_trainer.yaml``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import torch
import verl  # loads the verl_crpo plugin
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf
from verl.protocol import DataProto
from verl.trainer.ppo import core_algos, ray_trainer
from verl.trainer.ppo.v1 import get_trainer_cls, trainer_base

import verl_crpo.trainer as crpo_trainer
from verl_crpo.advantage import (
    CRPOConfig,
    compute_crpo_outcome_advantage,
    crpo_scalar_advantage,
    crpo_step_metrics,
    objective_metrics,
)
from verl_crpo.trainer import SUPPORTED_TRAINER_MODES, CRPOAdvantageMixin, check_crpo_run, objectives_from_extra_fields
from verl_crpo.validation import check_crpo_config

WEIGHTS = {"accuracy": 10.0, "format": 0.0, "faithfulness": 1.0, "comprehensiveness": 1.0}
GROUP = 3


def compose_verl(*overrides: str):
    with initialize_config_module("verl.trainer.config", version_base=None):
        return compose("ppo_trainer", overrides=list(overrides))


CRPO_OVERRIDES = [
    "algorithm.adv_estimator=crpo",
    *(f"+algorithm.crpo.weights.{k}={v}" for k, v in WEIGHTS.items()),
    "reward.reward_manager.name=clinical",
    f"actor_rollout_ref.rollout.n={GROUP}",
]


@pytest.fixture(scope="module")
def base_config():
    return compose_verl(*CRPO_OVERRIDES)


def with_algorithm(config, **algorithm):
    config = config.copy()
    OmegaConf.set_struct(config, False)
    config.algorithm = OmegaConf.merge(config.algorithm, algorithm)
    return config


# ---------------------------------------------------------------- a real TransferQueue


@pytest.fixture(scope="module")
def transfer_queue():
    import ray
    import transfer_queue as tq

    # TransferQueue's actors each ask Ray for a CPU, and 8 storage units hang a small machine (DESIGN 5).
    ray.init(num_cpus=16, include_dashboard=False, log_to_driver=False)
    tq_config = compose_verl("transfer_queue.backend.SimpleStorage.num_data_storage_units=1").transfer_queue
    tq_config.enable = True
    tq.init(tq_config)
    yield tq
    tq.close()
    ray.shutdown()


def make_samples(seed: int, groups: int = 4, quarter_scores: bool = False):
    """Per-sample dicts as verl's agent loop writes them (uid, masks, token-level rm_scores, extra_fields)."""
    rng = np.random.default_rng(seed)
    samples = []
    for g in range(groups):
        uid = uuid.uuid4().hex
        for s in range(GROUP):
            length = int(rng.integers(2, 7))
            info = {
                "accuracy": float((s + g) % 2) if g else 1.0,  # group 0 alone has a constant accuracy (no signal)
                "format": float(rng.integers(0, 2)),
                "faithfulness": float(rng.integers(0, 5)) / 4 if quarter_scores else float(rng.random()),
                "comprehensiveness": float(rng.integers(0, 5)) / 4 if quarter_scores else float(rng.random()),
            }
            total = sum(WEIGHTS[k] * v for k, v in info.items())
            rm_scores = torch.zeros(length, dtype=torch.float32)
            rm_scores[-1] = total
            samples.append(
                {
                    "key": f"{uid}_{s}_0",
                    "uid": uid,
                    "response_mask": torch.ones(length, dtype=torch.int64),
                    "rm_scores": rm_scores,
                    "extra_fields": {"reward_extra_info": {"score": total, **info}, "min_global_steps": 0},
                    "is_padding": False,
                }
            )
    return samples


def add_padding(samples, count: int = 2):
    """verl's upsample_batch_to_divisible_size: copies of sample 0 under a fresh uid, zero mask and reward."""
    pad_uid = f"pad{uuid.uuid4().hex}"
    for i in range(count):
        samples.append(
            {
                **samples[0],
                "key": f"{pad_uid}_{i}_0",
                "uid": pad_uid,
                "response_mask": torch.zeros(1, dtype=torch.int64),
                "rm_scores": torch.zeros(1, dtype=torch.float32),
                "is_padding": True,
            }
        )
    return samples


def put_batch(tq, samples):
    from transfer_queue import KVBatchMeta
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    keys = [s["key"] for s in samples]
    fields = [{k: v for k, v in s.items() if k not in ("key", "is_padding")} for s in samples]
    tags = [{"status": "success", "is_padding": s["is_padding"]} for s in samples]
    tq.kv_batch_put(keys=keys, partition_id="train", fields=list_of_dict_to_tensordict(fields), tags=tags)
    return KVBatchMeta(partition_id="train", keys=keys, tags=tags)


def read_advantages(tq, batch):
    data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["advantages", "returns"])
    return data.to_padded_tensor()


def trainer_for(mode: str, config):
    """The registered V1 trainer class, without its heavy __init__ (workers, datasets)."""
    cls = get_trainer_cls(mode)
    trainer = cls.__new__(cls)
    trainer.config = config
    return trainer


def verl_trainer_for(mode: str, config):
    cls = get_trainer_cls(mode)
    original = next(base for base in cls.__bases__ if base is not CRPOAdvantageMixin)
    trainer = original.__new__(original)
    trainer.config = config
    return trainer


def expected_crpo(samples, algorithm):
    """The estimator called directly on the batch, as a DataProto would hold it."""
    mask = torch.nn.utils.rnn.pad_sequence([s["response_mask"] for s in samples], batch_first=True)
    rewards = torch.nn.utils.rnn.pad_sequence([s["rm_scores"] for s in samples], batch_first=True)
    uids = np.array([s["uid"] for s in samples], dtype=object)
    non_tensor = {
        k: np.array([s["extra_fields"]["reward_extra_info"][k] for s in samples]) for k in algorithm.crpo.weights
    }
    advantages, _ = compute_crpo_outcome_advantage(rewards, mask, uids, config=algorithm, non_tensor_batch=non_tensor)
    return advantages, non_tensor, uids


def expected_curves(samples):
    """objectives/* computed directly from the samples' reward_extra_info, real samples only."""
    real = [s for s in samples if not s["is_padding"]]
    names = list(WEIGHTS)
    scores = torch.tensor([[s["extra_fields"]["reward_extra_info"][n] for s in real] for n in names])
    return objective_metrics(scores, np.array([s["uid"] for s in real], dtype=object), names)


class TestV1AdvantageStep:
    @pytest.mark.parametrize("mode", SUPPORTED_TRAINER_MODES)
    def test_crpo_advantages_and_metrics_match_the_estimator(self, transfer_queue, base_config, mode):
        samples = add_padding(make_samples(seed=1))
        batch = put_batch(transfer_queue, samples)
        metrics = {}
        trainer_for(mode, base_config)._compute_advantage(batch, metrics)
        out = read_advantages(transfer_queue, batch)

        expected, non_tensor, uids = expected_crpo(samples, base_config.algorithm)
        torch.testing.assert_close(out["advantages"], expected, rtol=0, atol=0)
        torch.testing.assert_close(out["returns"], expected, rtol=0, atol=0)

        # Metrics: from the estimator module's helper, over the real (non-padding) samples only.
        real = np.array([not s["is_padding"] for s in samples])
        cfg = CRPOConfig.from_algorithm_config(base_config.algorithm)
        scores = torch.tensor(np.stack([non_tensor[k][real] for k in cfg.names]), dtype=torch.float32)
        _, normalized = crpo_scalar_advantage(scores, uids[real], None, dataclasses.replace(cfg, whiten=False))
        crpo_metrics = {k: v for k, v in metrics.items() if k.startswith("crpo/")}
        assert crpo_metrics == pytest.approx(crpo_step_metrics(scores, normalized, uids[real], cfg))
        assert {k: v for k, v in metrics.items() if not k.startswith("crpo/")} == pytest.approx(
            expected_curves(samples)
        )
        for name in WEIGHTS:
            for stat in ("mean", "constant_group_frac", "adv_share"):
                assert f"crpo/{name}/{stat}" in metrics
        # Group 0 has a constant accuracy: 1 of the 4 real groups (the padding group is not counted).
        assert metrics["crpo/accuracy/constant_group_frac"] == pytest.approx(0.25)
        assert metrics["crpo/format/adv_share"] == 0.0  # weight 0

    def test_grpo_takes_verls_own_step_unchanged_and_logs_the_objective_curves(self, transfer_queue, base_config):
        config = with_algorithm(base_config, adv_estimator="grpo")
        samples = add_padding(make_samples(seed=2))
        batch = put_batch(transfer_queue, samples)
        verl_metrics, our_metrics = {}, {}
        verl_trainer_for("sync", config)._compute_advantage(batch, verl_metrics)
        verl_out = read_advantages(transfer_queue, batch)
        trainer_for("sync", config)._compute_advantage(batch, our_metrics)
        our_out = read_advantages(transfer_queue, batch)
        torch.testing.assert_close(our_out["advantages"], verl_out["advantages"], rtol=0, atol=0)
        assert verl_metrics == {}
        assert our_metrics == pytest.approx(expected_curves(samples))

    @pytest.mark.parametrize("mode", SUPPORTED_TRAINER_MODES)
    def test_every_estimator_logs_the_same_objective_curves_for_the_same_batch(self, transfer_queue, base_config, mode):
        # The A/B: crpo and grpo on one batch give the same objectives/* keys and values.
        samples = add_padding(make_samples(seed=9))
        curves = {}
        for name in ("crpo", "grpo", "grpo_vectorized"):
            metrics = {}
            trainer_for(mode, with_algorithm(base_config, adv_estimator=name))._compute_advantage(
                put_batch(transfer_queue, samples), metrics
            )
            curves[name] = {k: v for k, v in metrics.items() if k.startswith("objectives/")}
        assert set(curves["crpo"]) == {f"objectives/{n}/{s}" for n in WEIGHTS for s in ("mean", "constant_group_frac")}
        assert curves["crpo"] == pytest.approx(curves["grpo"])
        assert curves["grpo_vectorized"] == pytest.approx(curves["grpo"])
        assert curves["grpo"]["objectives/accuracy/constant_group_frac"] == pytest.approx(0.25)

    def test_a_reward_that_is_not_ours_adds_nothing_and_breaks_nothing(self, transfer_queue, base_config):
        config = with_algorithm(base_config, adv_estimator="grpo")
        OmegaConf.set_struct(config, False)
        config.reward.reward_manager.name = "naive"
        batch = put_batch(transfer_queue, make_samples(seed=10))
        metrics = {}
        trainer_for("sync", config)._compute_advantage(batch, metrics)
        assert metrics == {}
        # Ours, but an agent loop that stored no extra_fields: nothing to log, no error.
        samples = [{k: v for k, v in s.items() if k != "extra_fields"} for s in make_samples(seed=11)]
        trainer_for("sync", with_algorithm(base_config, adv_estimator="grpo"))._compute_advantage(
            put_batch(transfer_queue, samples), metrics
        )
        assert metrics == {}

    def test_crpo_sum_without_whitening_equals_verls_grpo_step_on_the_weighted_total(self, transfer_queue, base_config):
        # rm_scores hold the weighted total; scores on a 1/4 grid keep every group mean exact.
        batch = put_batch(transfer_queue, make_samples(seed=3, quarter_scores=True))
        verl_trainer_for("sync", with_algorithm(base_config, adv_estimator="grpo"))._compute_advantage(batch, {})
        grpo = read_advantages(transfer_queue, batch)["advantages"]
        crpo_sum = with_algorithm(base_config, crpo={"aggregation": "sum", "whiten": False})
        trainer_for("sync", crpo_sum)._compute_advantage(batch, {})
        torch.testing.assert_close(read_advantages(transfer_queue, batch)["advantages"], grpo)

    def test_several_outputs_per_session_follow_verls_grpo_rule(self, transfer_queue, base_config):
        # verl scores each session's final output ({uid}_{session}_{index}: the highest index) and gives
        # its advantage to the session's other outputs; crpo does the same, and earlier outputs need no reward.
        finals = make_samples(seed=12)
        earlier = []
        for sample in finals[::2]:
            uid, session, _ = sample["key"].rsplit("_", 2)
            earlier.append(
                {
                    **sample,
                    "key": f"{uid}_{session}_0",
                    "response_mask": torch.ones(3, dtype=torch.int64),
                    "rm_scores": torch.zeros(3),
                    "extra_fields": {"reward_extra_info": {}},
                }
            )
            sample["key"] = f"{uid}_{session}_1"
        samples = finals + earlier
        metrics = {}
        batch = put_batch(transfer_queue, samples)
        trainer_for("sync", base_config)._compute_advantage(batch, metrics)
        out = read_advantages(transfer_queue, batch)["advantages"]

        expected, _, _ = expected_crpo(finals, base_config.algorithm)
        torch.testing.assert_close(out[: len(finals), : expected.shape[1]], expected, rtol=0, atol=0)
        for row, sample in enumerate(earlier, start=len(finals)):
            final_row = finals.index(next(f for f in finals if f["key"].rsplit("_", 1)[0] == sample["key"][:-2]))
            assert torch.all(out[row, :3] == expected[final_row, 0])
        assert metrics["objectives/accuracy/mean"] == pytest.approx(expected_curves(finals)["objectives/accuracy/mean"])

    def test_a_sample_without_an_objective_is_an_error_naming_it(self, transfer_queue, base_config):
        samples = make_samples(seed=4, groups=1)
        samples[1] = {**samples[1], "extra_fields": {"reward_extra_info": {"accuracy": 1.0, "format": 1.0}}}
        with pytest.raises(ValueError, match=r"'faithfulness' is missing from the reward_extra_info of sample"):
            trainer_for("sync", base_config)._compute_advantage(put_batch(transfer_queue, samples), {})

    def test_a_batch_without_reward_extras_is_an_error_saying_where_they_come_from(self, transfer_queue, base_config):
        # An agent loop that stores no extra_fields (not verl's AgentLoopManagerTQ) cannot feed crpo.
        samples = [{k: v for k, v in s.items() if k != "extra_fields"} for s in make_samples(seed=8, groups=1)]
        with pytest.raises(ValueError, match=r"holds no 'extra_fields'.*reward_manager\.name=clinical"):
            trainer_for("sync", base_config)._compute_advantage(put_batch(transfer_queue, samples), {})

    def test_a_nan_objective_is_an_error_naming_it(self, transfer_queue, base_config):
        samples = make_samples(seed=5, groups=1)
        info = {**samples[2]["extra_fields"]["reward_extra_info"], "comprehensiveness": float("nan")}
        samples[2] = {**samples[2], "extra_fields": {"reward_extra_info": info}}
        with pytest.raises(ValueError, match=r"'comprehensiveness' has a non-finite score"):
            trainer_for("sync", base_config)._compute_advantage(put_batch(transfer_queue, samples), {})


# ---------------------------------------------------------------- installation


class TestInstallation:
    def test_every_builtin_v1_mode_carries_the_mixin_under_its_own_name(self):
        for mode in SUPPORTED_TRAINER_MODES:
            cls = trainer_base.TRAINER_REGISTRY[mode]
            assert issubclass(cls, CRPOAdvantageMixin)
            original = cls.__bases__[1]
            assert cls.__name__ == original.__name__
            assert cls.__mro__[1] is CRPOAdvantageMixin  # first, so its _compute_advantage wins
            assert pickle.loads(pickle.dumps(cls)) is cls  # Ray may ship the class to another process

    def test_installing_twice_changes_nothing(self):
        registry = dict(trainer_base.TRAINER_REGISTRY)
        backport = ray_trainer.compute_advantage
        crpo_trainer.install()
        crpo_trainer._install_v1(None)
        crpo_trainer._install_backport(ray_trainer)
        import verl.utils.config as config_utils

        validate = config_utils.validate_config
        crpo_trainer._install_validate(config_utils)
        assert registry == trainer_base.TRAINER_REGISTRY
        assert ray_trainer.compute_advantage is backport is crpo_trainer.compute_advantage
        assert config_utils.validate_config is validate
        assert "V1 trainer modes with crpo: sync, colocate_async, separate_async" in crpo_trainer.integration_status()
        assert set(crpo_trainer.install_report().values()) == {"installed"}

    def test_fresh_process_installs_lazily_exactly_when_the_v1_trainers_are_imported(self):
        code = """
import json, sys
import verl
from verl_crpo import trainer
before = trainer.integration_status()
lazy = "verl.trainer.ppo.v1" not in sys.modules
from verl.trainer.ppo.v1 import get_trainer_cls
from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY
cls = get_trainer_cls("sync")
print(json.dumps({"before": before, "lazy": lazy, "after": trainer.integration_status(),
    "name": cls.__name__, "mixin": issubclass(cls, trainer.CRPOAdvantageMixin),
    "keys": sorted(TRAINER_REGISTRY), "plugin": "verl_crpo.plugin" in sys.modules}))
"""
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert report["plugin"], "the verl.plugins entry point did not load verl_crpo.plugin"
        assert report["lazy"] and "V1 trainers: armed (runs on import of verl.trainer.ppo.v1)" in report["before"]
        assert report["name"] == "PPOTrainerSync" and report["mixin"]
        assert report["keys"] == sorted(SUPPORTED_TRAINER_MODES)
        assert "V1 trainers: installed" in report["after"]

    def test_the_re_export_of_validate_config_is_checked_too(self):
        import verl.utils
        import verl.utils.config

        assert verl.utils.validate_config is verl.utils.config.validate_config
        assert getattr(verl.utils.validate_config, "__verl_crpo__", False)

    def test_validate_config_finds_the_config_by_signature(self):
        import verl.utils.config as config_utils

        bad = compose_verl(*crpo_overrides({"accuracy": -1.0}))
        with pytest.raises(ValueError, match=r"must be finite and >= 0"):
            config_utils.validate_config(use_critic=False, config=bad, use_reference_policy=False)


# ---------------------------------------------------------------- an install that fails


_FAILING_INSTALL = """
import json, sys
import verl_crpo.trainer as trainer

def boom(module):
    raise RuntimeError("simulated install failure")

setattr(trainer, {function!r}, boom)
import verl
from hydra import compose, initialize_config_module
from verl.trainer.ppo.v1 import get_trainer_cls
import verl.trainer.ppo.ray_trainer as ray_trainer
from verl.utils.config import validate_config

def composed(*overrides):
    with initialize_config_module("verl.trainer.config", version_base=None):
        return compose("ppo_trainer", overrides=list(overrides))

grpo = composed(
    "algorithm.adv_estimator=grpo", "reward.reward_manager.name=clinical", "data.train_batch_size=8",
    "actor_rollout_ref.actor.ppo_mini_batch_size=8", "actor_rollout_ref.actor.use_dynamic_bsz=true",
    "actor_rollout_ref.ref.log_prob_use_dynamic_bsz=true", "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=true",
)
validate_config(config=grpo, use_reference_policy=False, use_critic=False)
sync = get_trainer_cls("sync")
built = sync.__new__(sync)
built.config = grpo
crpo = composed("algorithm.adv_estimator=crpo", "+algorithm.crpo.weights.accuracy=1.0")
try:
    trainer.check_crpo_run(crpo)
    refusal = None
except ValueError as error:
    refusal = str(error)
print(json.dumps({{"report": trainer.install_report(), "refusal": refusal,
    "backport": getattr(ray_trainer.compute_advantage, "__verl_crpo__", False),
    "sync_is_verls": not issubclass(sync, trainer.CRPOAdvantageMixin)}}))
"""


@pytest.mark.parametrize(
    ("install", "function"),
    [
        ("V1 trainers", "_install_v1"),
        ("compute_advantage backport", "_install_backport"),
        ("validate_config", "_install_validate"),
    ],
)
def test_a_failing_install_leaves_grpo_working_and_refuses_crpo_by_name(install, function):
    out = subprocess.run(
        [sys.executable, "-c", _FAILING_INSTALL.format(function=function)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]  # verl imported, a grpo config validated, its trainer built
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["report"][install] == "failed: RuntimeError: simulated install failure"
    assert f"the {install} install" in out.stderr  # logged with its cause
    assert result["refusal"] is not None and install in result["refusal"] and "crpo is unavailable" in result["refusal"]
    if install == "V1 trainers":
        assert result["sync_is_verls"]
    if install == "compute_advantage backport":
        assert not result["backport"]


def test_check_command_exits_non_zero_when_an_install_fails():
    code = (
        "import verl_crpo.trainer as t\n"
        "def boom(module):\n    raise RuntimeError('simulated install failure')\n"
        "t._install_v1 = boom\n"
        "from verl_crpo.cli import main\n"
        "raise SystemExit(main(['check']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr[-2000:]
    assert "failed: RuntimeError: simulated install failure" in out.stdout
    assert "crpo will be refused" in out.stdout


def test_the_verl_code_the_integration_mirrors_has_not_drifted():
    drift = crpo_trainer.verl_drift()
    assert not drift, (
        f"re-sync verl_crpo/trainer.py with verl {verl.__version__}: the code it mirrors or wraps changed "
        f"({drift}); then update trainer._MIRRORED"
    )


# ---------------------------------------------------------------- legacy trainer and compute_advantage


class TestComputeAdvantageBackport:
    def make_data(self, samples):
        mask = torch.nn.utils.rnn.pad_sequence([s["response_mask"] for s in samples], batch_first=True)
        rewards = torch.nn.utils.rnn.pad_sequence([s["rm_scores"] for s in samples], batch_first=True)
        non_tensor = {"uid": np.array([s["uid"] for s in samples], dtype=object)}
        # What the legacy RayPPOTrainer.fit does with the reward extra infos:
        infos = [s["extra_fields"]["reward_extra_info"] for s in samples]
        non_tensor.update({k: np.array([info[k] for info in infos]) for k in infos[0]})
        return DataProto.from_dict(
            tensors={"response_mask": mask, "token_level_rewards": rewards}, non_tensors=non_tensor
        )

    def test_legacy_trainer_looks_compute_advantage_up_at_call_time(self):
        assert "compute_advantage" in ray_trainer.RayPPOTrainer.fit.__code__.co_names
        assert ray_trainer.compute_advantage is crpo_trainer.compute_advantage
        from verl.trainer.ppo.v1 import utils as v1_utils

        assert v1_utils.compute_advantage is crpo_trainer.compute_advantage

    def test_crpo_through_verls_compute_advantage_gets_the_objectives(self, base_config):
        samples = make_samples(seed=6)
        data = ray_trainer.compute_advantage(
            self.make_data(samples), adv_estimator="crpo", num_repeat=GROUP, config=base_config.algorithm
        )
        expected, _, _ = expected_crpo(samples, base_config.algorithm)
        torch.testing.assert_close(data.batch["advantages"], expected, rtol=0, atol=0)

    @pytest.mark.parametrize("estimator", ["grpo", "rloo", "reinforce_plus_plus"])
    def test_other_estimators_get_verls_result_unchanged(self, base_config, estimator):
        config = with_algorithm(base_config, adv_estimator=estimator).algorithm
        samples = make_samples(seed=7)
        ours = ray_trainer.compute_advantage(self.make_data(samples), estimator, num_repeat=GROUP, config=config)
        verl_result = crpo_trainer._verl_compute_advantage(
            self.make_data(samples), estimator, num_repeat=GROUP, config=config
        )
        assert crpo_trainer._verl_compute_advantage is not crpo_trainer.compute_advantage
        torch.testing.assert_close(ours.batch["advantages"], verl_result.batch["advantages"], rtol=0, atol=0)

    def test_core_registry_holds_the_estimator(self):
        assert core_algos.get_adv_estimator_fn("crpo") is compute_crpo_outcome_advantage


def test_objectives_from_extra_fields_unwraps_tensordict_values():
    from tensordict import NonTensorData

    rows = [NonTensorData({"reward_extra_info": {"accuracy": 1.0}}), {"reward_extra_info": {"accuracy": 0.0}}]
    out = objectives_from_extra_fields(rows, ["accuracy"])
    np.testing.assert_array_equal(out["accuracy"], [1.0, 0.0])


# ---------------------------------------------------------------- fail fast


def crpo_overrides(weights=None, *extra: str, reward=("reward.reward_manager.name=clinical",)):
    weights = WEIGHTS if weights is None else weights
    return [
        "algorithm.adv_estimator=crpo",
        *(f"+algorithm.crpo.weights.{k}={v}" for k, v in weights.items()),
        *reward,
        f"actor_rollout_ref.rollout.n={GROUP}",
        *extra,
    ]


OURS_BY_PATH = os.path.join(os.path.dirname(crpo_trainer.__file__), "rewards", "__init__.py")


class TestFailFast:
    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            # No weights at all: the estimator would not know what to optimise.
            (["algorithm.adv_estimator=crpo"], r"algorithm\.crpo is missing.*\+algorithm\.crpo\.weights\.accuracy"),
            (crpo_overrides({}, "+algorithm.crpo.whiten=true"), r"algorithm\.crpo\.weights is missing"),
            (crpo_overrides(None, "+algorithm.crpo.aggregation=mean"), r"aggregation must be one of decoupled, sum"),
            (crpo_overrides({"accuracy": -1.0}), r"weights\.accuracy must be finite and >= 0"),
            (crpo_overrides({"accuracy": "inf"}), r"weights\.accuracy must be finite"),
            (crpo_overrides({"accuracy": 0.0}), r"all zero"),
            (crpo_overrides(None, "+algorithm.crpo.whitening=true"), r"unknown key\(s\) under algorithm\.crpo"),
            # The estimator ignores token_level_rewards: an in-reward KL penalty would silently vanish.
            (crpo_overrides(None, "algorithm.use_kl_in_reward=true"), r"use_kl_in_reward=false.*use_kl_loss=true"),
            # A mode whose trainer class never fetches extra_fields cannot feed the estimator.
            (crpo_overrides(None, "trainer.v1.trainer_mode=bogus"), r"trainer_mode='bogus'.*trainer_mode=sync"),
            # Our reward produces four objectives; a fifth name can only be a typo.
            (crpo_overrides({"accuracy": 10, "faithfullness": 1}), r"\['faithfullness'\].*'clinical'.*produces"),
            (
                crpo_overrides(
                    {"accuracy": 10, "bogus": 1},
                    reward=["reward.custom_reward_function.path=pkg://verl_crpo.rewards"],
                ),
                r"\['bogus'\].*custom_reward_function\.path='pkg://verl_crpo\.rewards'",
            ),
            (
                crpo_overrides(
                    {"accuracy": 10, "bogus": 1}, reward=[f"reward.custom_reward_function.path={OURS_BY_PATH}"]
                ),
                r"\['bogus'\].*does not produce",
            ),
        ],
    )
    def test_refusals_name_the_fix(self, overrides, message):
        with pytest.raises(ValueError, match=message):
            check_crpo_run(compose_verl(*overrides))

    def test_a_foreign_reward_is_a_warning_not_an_error(self):
        warnings = check_crpo_config(compose_verl(*crpo_overrides({"accuracy": 10, "my_objective": 1}, reward=[])))
        assert any("not verl_crpo's" in w and "my_objective" in w for w in warnings)

    def test_legacy_trainer_works_but_warns_that_metrics_are_v1_only(self):
        warnings = check_crpo_run(compose_verl(*crpo_overrides(None, "trainer.use_v1=false")))
        assert any("objectives/*, crpo/*" in w for w in warnings)

    def test_reward_weights_that_differ_from_the_estimators_are_flagged(self):
        config = compose_verl(*crpo_overrides(None, "+reward.reward_kwargs.weights.accuracy=5"))
        assert any("differ from algorithm.crpo.weights" in w for w in check_crpo_config(config))
        same = compose_verl(
            *crpo_overrides(None, *(f"+reward.reward_kwargs.weights.{k}={v}" for k, v in WEIGHTS.items()))
        )
        assert check_crpo_config(same) == []

    def test_other_estimators_are_not_checked(self):
        assert check_crpo_config(compose_verl("algorithm.adv_estimator=grpo", "+algorithm.crpo.weights.x=-1")) == []

    def test_building_a_patched_trainer_checks_before_verls_heavy_init(self):
        bad = compose_verl(*crpo_overrides({"accuracy": -1.0}))
        start = time.monotonic()
        with pytest.raises(ValueError, match=r"must be finite and >= 0"):
            get_trainer_cls("sync")(config=bad)
        assert time.monotonic() - start < 5

    def test_main_ppo_exits_in_the_driver_before_ray_starts(self):
        start = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "verl.trainer.main_ppo", *crpo_overrides({"accuracy": 10, "faithfullness": 1})],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode != 0
        assert "['faithfullness']" in out.stderr and "does not produce" in out.stderr
        assert "ray init kwargs" not in out.stdout  # main_ppo prints this just before ray.init
        assert time.monotonic() - start < 90
