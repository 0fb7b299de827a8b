"""Validate a whole ``main_ppo`` command line in seconds, without Ray: ``verl-crpo check -- <its arguments>``.

:func:`plan_run` composes the config exactly as ``python -m verl.trainer.main_ppo`` would (its
``--config-path`` / ``--config-name`` or verl's ``ppo_trainer``, then the overrides), runs verl's own
config checks, which with the plugin loaded run ours first (the plugin's wrapper of verl's
``validate_config``: :func:`verl_crpo.validation.check_reward_config`, which verl would otherwise only
run in the reward workers after Ray and the models have started, and
:func:`verl_crpo.trainer.check_crpo_run`), and returns what would run: the trainer
path, the estimator, the objectives and weights, the reward. Mistakes come back as ``ValueError`` with
the override that fixes them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunPlan", "plan_run"]

_ENTRY = ("verl.trainer.main_ppo", "main_ppo.py")
_HYDRA_VALUE_FLAGS = ("--config-path", "--config-name", "--config-dir", "-cp", "-cn", "-cd")
_HYDRA_SKIPPED_FLAGS = ("--cfg", "-c", "--package", "-p")  # flags with a value that composes nothing


@dataclass(frozen=True)
class RunPlan:
    """What ``main_ppo`` would run.

    Attributes:
        config_source: the primary config (folder and name) that was composed.
        trainer: ``"V1 (trainer.v1.trainer_mode=sync)"`` or ``"legacy RayPPOTrainer (trainer.use_v1=false)"``.
        estimator: ``algorithm.adv_estimator``.
        weights: the objective weights (``algorithm.crpo.weights``), empty when the run sets none.
        reward: the reward manager and, if set, the custom reward function.
        reward_is_ours: how the reward reaches verl_crpo's scorer, or None when it is someone else's.
        warnings: things that may be intended but deserve a look.
    """

    config_source: str
    trainer: str
    estimator: str
    weights: dict[str, float]
    reward: str
    reward_is_ours: str | None
    warnings: list[str] = field(default_factory=list)


def _split(argv: Sequence[str]) -> tuple[str | None, str | None, list[str]]:
    """``(config dir, config name, overrides)`` of main_ppo's arguments; a pasted ``python -m ...`` is skipped."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg.endswith(_ENTRY):
            args = args[i + 1 :]
            break
    path = name = None
    overrides: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, sep, value = arg.partition("=")
        if flag in _HYDRA_SKIPPED_FLAGS:
            i += 1 if sep else 2
            continue
        if flag in _HYDRA_VALUE_FLAGS:
            if not sep:
                i += 1
                value = args[i] if i < len(args) else ""
            if flag in ("--config-name", "-cn"):
                name = value
            else:
                path = value
        elif not arg.startswith("-"):  # hydra's other flags (--cfg job, -m, ...) change nothing composed here
            overrides.append(arg)
        i += 1
    return path, name, overrides


def _compose(path: str | None, name: str | None, overrides: list[str]):
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    name = name or "ppo_trainer"
    try:
        if path is None:
            with initialize_config_module("verl.trainer.config", version_base=None):
                return compose(name, overrides=overrides), f"verl.trainer.config/{name}"
        folder = os.path.abspath(os.path.expanduser(path))
        with initialize_config_dir(folder, version_base=None):
            return compose(name, overrides=overrides), f"{folder}/{name}"
    except Exception as error:  # hydra's errors: an unknown key, a missing "+", a missing file
        raise ValueError(f"the config does not compose as main_ppo would compose it: {error}") from None
    finally:
        GlobalHydra.instance().clear()


def _trainer_path(config: Any) -> str:
    from verl_crpo.validation import config_value

    if not config_value(config, "trainer.use_v1", True):
        return "legacy RayPPOTrainer (trainer.use_v1=false)"
    return f"V1 (trainer.v1.trainer_mode={config_value(config, 'trainer.v1.trainer_mode', 'sync')})"


def plan_run(argv: Sequence[str]) -> RunPlan:
    """Compose and check the config of ``main_ppo <argv>``; see the module docstring.

    Raises:
        ValueError: with what to change, when the command line cannot train as written.
    """
    import verl  # noqa: F401  (loads the plugin: verl's validate_config then runs our checks first)
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils import config as config_utils

    from verl_crpo.trainer import check_crpo_run
    from verl_crpo.validation import config_value, reward_is_ours

    path, name, overrides = _split(argv)
    config, source = _compose(path, name, overrides)
    warnings = check_crpo_run(config)  # first, for its warnings; verl's validate_config runs it again
    try:
        config_utils.validate_config(
            config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
        )
    except Exception as error:  # verl states its rules as asserts, which hydra's instantiate may wrap
        cause = error
        while cause.__cause__ is not None or cause.__context__ is not None:
            cause = cause.__cause__ or cause.__context__
        raise ValueError(f"verl's own config check failed: {type(cause).__name__}: {cause}") from None
    weights = config_value(config, "algorithm.crpo.weights") or {}
    manager = config_value(config, "reward.reward_manager.name")
    function = config_value(config, "reward.custom_reward_function.path")
    reward = f"reward manager {manager!r}" + (f", custom_reward_function.path={function!r}" if function else "")
    return RunPlan(
        config_source=source,
        trainer=_trainer_path(config),
        estimator=str(config_value(config, "algorithm.adv_estimator")),
        weights={str(k): float(v) for k, v in dict(weights).items()},
        reward=reward,
        reward_is_ours=reward_is_ours(config),
        warnings=list(dict.fromkeys(warnings)),
    )
