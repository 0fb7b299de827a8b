"""Registers everything verl-crpo offers with verl's registries.

verl imports this module through the ``verl.plugins`` entry point whenever ``verl`` is
imported, in every process (driver, TaskRunner, Ray workers). Registration is idempotent:
each registry entry is made once per process, by the decorator on the registered object.

verl swallows plugin import errors (at DEBUG level), so ``verl-crpo check`` calls
:func:`registered` to prove that registration really happened.
"""

from __future__ import annotations

from verl_crpo import advantage, cpu, reward_manager, trainer
from verl_crpo.validation import ADV_ESTIMATOR, REWARD_MANAGER

__all__ = ["registered"]


def registered() -> dict[str, str]:
    """Return what this plugin registered, as ``{registry: object}``; raise if anything is missing.

    Raises:
        RuntimeError: if a registry does not hold our object (the plugin did not load).
    """
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER as managers
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY

    found = {
        "adv_estimator": ADV_ESTIMATOR_REGISTRY.get(ADV_ESTIMATOR),
        "reward_manager": managers.get(REWARD_MANAGER),
    }
    missing = [name for name, obj in found.items() if obj is None]
    if missing:
        raise RuntimeError(f"verl-crpo did not register: {', '.join(missing)}")
    report = {name: f"{obj.__module__}.{obj.__qualname__}" for name, obj in found.items()}
    report["v1_trainer"] = trainer.integration_status()
    cpu_status = cpu.status()
    report["cpu_backend"] = (
        f"platform cpu + rollout transformers registered; {'ON' if cpu_status['enabled'] else 'off'} "
        f"({cpu.ENV_SWITCH}=cpu switches it on)"
    )
    return report


cpu.install()  # names only; verl's behaviour changes only under VERL_PLATFORM=cpu

# Keep the imports above "used": importing them is what registers.
_REGISTERING_MODULES = (advantage, reward_manager, trainer)
