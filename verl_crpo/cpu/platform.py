"""verl's CPU platform: device ``cpu``, collective backend ``gloo``.

Registered in verl's platform registry as ``cpu``; verl selects it only when ``VERL_PLATFORM=cpu``
(its auto-detection never picks it: :meth:`PlatformCPU.is_platform_available` is ``False``).
Ray sees the CPU through the ``GPU`` resource name, so that verl's resource pools, which count
accelerators, are satisfied by a logical ``ray_kwargs.ray_init.num_gpus``.
"""

from __future__ import annotations

import types
from contextlib import contextmanager
from typing import Any

import torch
from verl.plugin.platform.platform_base import PlatformBase

__all__ = ["PLATFORM_NAME", "PlatformCPU", "cpu_device_module"]

PLATFORM_NAME = "cpu"


def _noop(*args, **kwargs) -> None:
    return None


def _zero(*args, **kwargs) -> int:
    return 0


def _mem_get_info(*args, **kwargs) -> tuple[int, int]:
    import psutil

    memory = psutil.virtual_memory()
    return memory.available, memory.total


class _CPUDeviceModule(types.ModuleType):
    """``torch.cpu`` plus the ``torch.cuda`` calls verl makes on its device module (no-ops or host figures)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)


cpu_device_module = _CPUDeviceModule("verl_crpo_cpu_device")
cpu_device_module.__dict__.update(
    empty_cache=_noop,
    ipc_collect=_noop,
    set_per_process_memory_fraction=_noop,
    reset_peak_memory_stats=_noop,
    set_device=_noop,
    manual_seed=torch.manual_seed,
    manual_seed_all=torch.manual_seed,
    get_rng_state=torch.get_rng_state,
    set_rng_state=torch.set_rng_state,
    memory_allocated=_zero,
    memory_reserved=_zero,
    max_memory_allocated=_zero,
    max_memory_reserved=_zero,
    mem_get_info=_mem_get_info,
    is_available=lambda: True,
    device_count=lambda: 1,
    current_device=lambda: "cpu",
    synchronize=_noop,
    get_device_name=lambda *args, **kwargs: "CPU",  # verl's flops counter looks the name up
)


class PlatformCPU(PlatformBase):
    """The host CPU as verl's accelerator (``VERL_PLATFORM=cpu``)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return cpu_device_module

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # Never auto-detected: only VERL_PLATFORM=cpu selects it, so GPU hosts are unaffected.
        return False

    def current_device(self) -> str:  # type: ignore[override]
        # verl moves modules to ``current_device()`` (fsdp_utils); an index would mean cuda:0.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None
