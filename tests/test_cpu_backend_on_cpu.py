"""The CPU backend (platform ``cpu``, rollout ``transformers``): inert unless VERL_PLATFORM=cpu, working when asked.

Each case runs in a fresh interpreter, because verl resolves its platform once per process and the
work-arounds install when verl's modules are imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Imports every verl module the backend touches, then reports what the process sees.
_PROBE = """
import json
import verl
from verl.plugin.platform import get_platform
import verl.utils.distributed as distributed
import verl.workers.engine.fsdp.transformer_impl as fsdp
import verl.trainer.ppo.metric_utils as metric_utils
from verl.workers.engine.base import EngineRegistry
from verl.workers.rollout.base import _ROLLOUT_REGISTRY
from verl.workers.rollout.replica import RolloutReplicaRegistry
from verl_crpo import cpu
print(json.dumps({
    "device": get_platform().device_name,
    "backend": get_platform().communication_backend_name(),
    "status": cpu.status(),
    "init_pg_patched": hasattr(distributed.initialize_global_process_group_ray, "__verl_crpo_cpu__"),
    "metrics_patched": hasattr(metric_utils.compute_data_metrics, "__verl_crpo_cpu__"),
    "fsdp_on_cpu": "cpu" in EngineRegistry._engines["language_model"]["fsdp2"],
    "pin_memory": fsdp.CPUOffloadPolicy().pin_memory,
    "rollout": _ROLLOUT_REGISTRY.get(("transformers", "async")),
    "replica": RolloutReplicaRegistry.get("transformers").__name__,
}))
"""


def _probe(**env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "VERL_PLATFORM"}
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=180, env=environ, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


class TestInertUnlessAsked:
    @pytest.fixture(scope="class")
    def probe(self):
        return _probe()

    def test_verl_keeps_its_own_platform(self, probe):
        # No VERL_PLATFORM: verl auto-detects as before (here, without a GPU, its 'nvidia' fallback).
        assert probe["device"] != "cpu"

    def test_no_work_around_is_installed(self, probe):
        assert probe["status"] == {"enabled": False, "registered": True, "patched": []}
        assert not probe["init_pg_patched"] and not probe["metrics_patched"]
        assert not probe["fsdp_on_cpu"]
        assert probe["pin_memory"] is True  # verl's own CPUOffloadPolicy

    def test_only_new_names_are_registered(self, probe):
        # A name nobody else uses; a run gets it only by asking for rollout.name=transformers.
        assert probe["rollout"] == "verl_crpo.cpu.rollout.TransformersServerAdapter"
        assert probe["replica"] == "TransformersReplica"

    def test_auto_detection_never_picks_the_cpu_platform(self):
        from verl_crpo.cpu.platform import PlatformCPU

        assert PlatformCPU().is_platform_available(use_smi_check=True) is False


class TestOnWhenAsked:
    @pytest.fixture(scope="class")
    def probe(self):
        return _probe(VERL_PLATFORM="cpu")

    def test_the_cpu_platform_is_selected(self, probe):
        assert (probe["device"], probe["backend"]) == ("cpu", "gloo")

    def test_every_work_around_is_installed(self, probe):
        assert sorted(probe["status"]["patched"]) == ["advantage_abs_mean_metric", "distributed_backend", "fsdp_engine"]
        assert probe["init_pg_patched"] and probe["metrics_patched"] and probe["fsdp_on_cpu"]
        assert probe["pin_memory"] is False


def test_duplicate_backend_is_collapsed_for_torch():
    from verl_crpo.cpu import _dedupe_backend

    assert _dedupe_backend("cpu:gloo,cpu:gloo") == "cpu:gloo"  # what verl builds on the cpu platform
    assert _dedupe_backend("cpu:gloo,cuda:nccl") == "cpu:gloo,cuda:nccl"  # GPU strings are untouched


def test_device_module_answers_verls_cuda_style_calls():
    from verl_crpo.cpu.platform import cpu_device_module

    cpu_device_module.empty_cache()
    cpu_device_module.synchronize()
    free, total = cpu_device_module.mem_get_info()
    assert 0 < free <= total
    assert cpu_device_module.current_device() == "cpu"
    assert cpu_device_module.get_device_name() == "CPU"  # verl's flops counter looks it up
