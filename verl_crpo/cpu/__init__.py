"""Running verl on a CPU: a ``cpu`` platform and a ``transformers`` rollout backend.

**The switch is verl's own platform selector, ``VERL_PLATFORM=cpu``**, set in the environment of
the ``main_ppo`` process (Ray workers inherit it). Without it nothing here changes verl's
behaviour: :func:`install` only adds two names to verl's registries (platform ``cpu``, never
auto-detected; rollout ``transformers``, used only when a run names it). With it, and only in a
process that imports the verl module concerned, these work-arounds for verl 0.9.1 are installed
(``wrapt.when_imported``; no file of verl is edited):

1. ``verl.utils.distributed.initialize_global_process_group_ray``: the backend string verl builds,
   ``cpu:gloo,cpu:gloo``, which torch rejects, is de-duplicated to ``cpu:gloo``.
2. ``verl.workers.engine.fsdp.transformer_impl``: the FSDP/FSDP2 engines are also registered for
   device ``cpu`` (verl registers them for cuda and npu only), and the ref model's
   ``CPUOffloadPolicy(pin_memory=True)`` does not pin (pinning needs an accelerator).
3. ``verl.trainer.ppo.metric_utils.compute_data_metrics`` also logs ``critic/advantages/abs_mean``
   (mean |advantage| over response tokens; verl logs only mean, max and min, and the mean of a
   whitened advantage is 0 by construction), which ``verl-crpo demo`` reports for every estimator.

What a run must still say in its config (``recipes/cpu_tiny`` does): ``rollout.name=transformers``,
``attn_implementation=sdpa``, FSDP2, ``trainer.device=cpu``, a logical Ray GPU per worker and enough
logical Ray CPUs for TransferQueue's actors.
"""

from __future__ import annotations

import functools
import logging
import os

import torch
import wrapt

from verl_crpo.patching import importers_of

__all__ = ["ENV_SWITCH", "enabled", "install", "status"]

logger = logging.getLogger(__name__)

ENV_SWITCH = "VERL_PLATFORM"
_PLATFORM = "cpu"
_ROLLOUT = "transformers"
_DISTRIBUTED = "verl.utils.distributed"
_FSDP_ENGINE = "verl.workers.engine.fsdp.transformer_impl"
_METRICS = "verl.trainer.ppo.metric_utils"
_MARK = "__verl_crpo_cpu__"
_state = {"registered": False, "patched": []}


def enabled() -> bool:
    """Whether this process asked for the CPU backend (``VERL_PLATFORM=cpu``)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() == _PLATFORM


def status() -> dict[str, object]:
    """What is registered and which verl work-arounds are installed in this process."""
    return {"enabled": enabled(), "registered": _state["registered"], "patched": list(_state["patched"])}


def install() -> None:
    """Register the ``cpu`` platform and ``transformers`` rollout; arm the work-arounds if :func:`enabled`.

    Idempotent; called by :mod:`verl_crpo.plugin` in every verl process.
    """
    if _state["registered"]:
        return
    from verl.plugin.platform.platform_manager import PlatformRegistry

    from verl_crpo.cpu.platform import PlatformCPU

    if PlatformRegistry.get(_PLATFORM) is None:
        PlatformRegistry.register(platform=_PLATFORM)(PlatformCPU)
    wrapt.register_post_import_hook(_register_rollout_class, "verl.workers.rollout.base")
    wrapt.register_post_import_hook(_register_replica, "verl.workers.rollout.replica")
    _state["registered"] = True
    if enabled():
        wrapt.register_post_import_hook(_patch_distributed, _DISTRIBUTED)
        wrapt.register_post_import_hook(_patch_fsdp_engine, _FSDP_ENGINE)
        wrapt.register_post_import_hook(_patch_data_metrics, _METRICS)


def _register_rollout_class(module) -> None:
    module._ROLLOUT_REGISTRY.setdefault((_ROLLOUT, "async"), "verl_crpo.cpu.rollout.TransformersServerAdapter")


def _load_replica():
    from verl_crpo.cpu.rollout import TransformersReplica

    return TransformersReplica


def _register_replica(module) -> None:
    module.RolloutReplicaRegistry.register(_ROLLOUT, _load_replica)


def _dedupe_backend(backend: str | None) -> str | None:
    """``"cpu:gloo,cpu:gloo"`` -> ``"cpu:gloo"``; any other backend string unchanged.

    Example:
        >>> _dedupe_backend("cpu:gloo,cpu:gloo"), _dedupe_backend("cpu:gloo,cuda:nccl")
        ('cpu:gloo', 'cpu:gloo,cuda:nccl')
    """
    if not backend:
        return backend
    parts = list(dict.fromkeys(part.strip() for part in backend.split(",")))
    return ",".join(parts)


def _patch_distributed(module) -> None:
    original = module.initialize_global_process_group_ray
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        from verl.utils.device import get_device_name, get_nccl_backend

        backend = backend or f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"
        return original(timeout_second=timeout_second, backend=_dedupe_backend(backend))

    setattr(initialize_global_process_group_ray, _MARK, True)
    module.initialize_global_process_group_ray = initialize_global_process_group_ray
    for importer in importers_of(
        "initialize_global_process_group_ray", original, ("verl.workers.engine_workers", "verl.checkpoint_engine.base")
    ):
        importer.initialize_global_process_group_ray = initialize_global_process_group_ray
    _state["patched"].append("distributed_backend")


def _patch_fsdp_engine(module) -> None:
    if getattr(module, _MARK, False):
        return
    from dataclasses import dataclass

    from verl.workers.engine.base import EngineRegistry

    for model_type, engine in (("language_model", "FSDPEngineWithLMHead"), ("value_model", "FSDPEngineWithValueHead")):
        for backend in ("fsdp", "fsdp2"):
            EngineRegistry._engines[model_type][backend].setdefault(_PLATFORM, getattr(module, engine))

    base = module.CPUOffloadPolicy
    if base is not None:

        @dataclass
        class UnpinnedCPUOffloadPolicy(base):
            """FSDP2's CPU offload without pinned memory (pinning needs an accelerator)."""

            def __post_init__(self):
                self.pin_memory = False

        module.CPUOffloadPolicy = UnpinnedCPUOffloadPolicy
    setattr(module, _MARK, True)
    _state["patched"].append("fsdp_engine")


def _patch_data_metrics(module) -> None:
    original = module.compute_data_metrics
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def compute_data_metrics(batch, *args, **kwargs):
        metrics = original(batch, *args, **kwargs)
        advantages = batch.batch["advantages"]
        if "response_mask" in batch.batch:
            mask = batch.batch["response_mask"].bool()
        else:  # as verl's own metrics derive it
            mask = batch.batch["attention_mask"][:, -advantages.shape[-1] :].bool()
        valid = torch.masked_select(advantages, mask)
        metrics["critic/advantages/abs_mean"] = valid.abs().mean().item() if valid.numel() else float("nan")
        return metrics

    setattr(compute_data_metrics, _MARK, True)
    module.compute_data_metrics = compute_data_metrics
    for importer in importers_of(
        "compute_data_metrics", original, ("verl.trainer.ppo.v1.trainer_base", "verl.trainer.ppo.ray_trainer")
    ):
        importer.compute_data_metrics = compute_data_metrics
    _state["patched"].append("advantage_abs_mean_metric")
