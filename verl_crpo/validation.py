"""Fail-fast checks for a ``crpo`` run, before the first rollout.

:func:`check_crpo_config` runs on the composed config of ``python -m verl.trainer.main_ppo``
in the driver process, before Ray starts (the trainer integration in :mod:`verl_crpo.trainer`
hooks it into verl's ``validate_config``), and again when a patched V1 trainer is built. For
any other ``algorithm.adv_estimator`` it does nothing.

What it refuses (``ValueError``, the message says which override to change):

1. invalid estimator settings: no ``algorithm.crpo.weights``, negative / non-finite / all-zero
   weights, an unknown ``aggregation`` or key (checked by :class:`verl_crpo.advantage.CRPOConfig`);
2. ``algorithm.use_kl_in_reward=true``: ``crpo`` builds advantages from the objective scores,
   not from ``token_level_rewards``, so an in-reward KL penalty would be silently dropped;
3. weights naming objectives that the configured reward does not produce, when the reward is
   ours (manager ``clinical``, or ``reward.custom_reward_function.path`` in ``verl_crpo.rewards``).

What it warns about (returned and logged): a reward that is not ours (it must return every
objective in ``reward_extra_info``: the estimator names a missing one at the first step), reward
weights that differ from ``algorithm.crpo.weights``, and ``rollout.n < 2``. What concerns the
trainer (its mode, the legacy trainer, failed installs) is checked by the trainer integration
(:func:`verl_crpo.trainer.check_crpo_run`), which calls this function first.

Example:
    >>> from omegaconf import OmegaConf
    >>> check_crpo_config(OmegaConf.create({"algorithm": {"adv_estimator": "grpo"}}))
    []
"""

from __future__ import annotations

import logging
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

from verl_crpo.advantage_config import CRPOConfig
from verl_crpo.weights import validate_weights

__all__ = [
    "ADV_ESTIMATOR",
    "REWARD_MANAGER",
    "check_crpo_config",
    "check_reward_config",
    "config_value",
    "is_our_reward_path",
    "reward_is_ours",
    "reward_kwargs",
]

logger = logging.getLogger(__name__)

ADV_ESTIMATOR = "crpo"
REWARD_MANAGER = "clinical"
_OUR_REWARD_MODULE = "verl_crpo.rewards"


def config_value(config: Any, dotted: str, default: Any = None) -> Any:
    """``config[a][b]...`` for ``dotted = "a.b..."`` (DictConfig, dict, anything with ``get``); ``default`` if unset."""
    node = config
    for part in dotted.split("."):
        if node is None or not hasattr(node, "get"):
            return default
        node = node.get(part, None)
    return default if node is None else node


def _plain(value: Any) -> Any:
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def reward_is_ours(config: Any) -> str | None:
    """Say whether the configured reward is verl_crpo's (so its objectives are known).

    Args:
        config: The full run config (``reward.*`` is read).

    Returns:
        A short description (``"reward manager 'clinical'"`` or ``"custom_reward_function ..."``)
        when the reward is ours, else ``None``.
    """
    source = config_value(config, "reward.reward_manager.source", "register")
    name = config_value(config, "reward.reward_manager.name")
    if source == "register" and name == REWARD_MANAGER:
        return f"reward manager {REWARD_MANAGER!r}"
    path = config_value(config, "reward.custom_reward_function.path")
    if path and is_our_reward_path(str(path)):
        return f"reward.custom_reward_function.path={path!r}"
    return None


def is_our_reward_path(path: str) -> bool:
    """Whether a ``custom_reward_function.path`` (``pkg://``, module or file path) points into verl_crpo.rewards."""
    if path.startswith("pkg://"):
        module = path[len("pkg://") :]
        return module == _OUR_REWARD_MODULE or module.startswith(_OUR_REWARD_MODULE + ".")
    if path == _OUR_REWARD_MODULE or path.startswith(_OUR_REWARD_MODULE + "."):
        return True
    # A file path into the installed package (e.g. .../verl_crpo/rewards/__init__.py).
    import verl_crpo

    package_dir = os.path.realpath(os.path.join(os.path.dirname(verl_crpo.__file__), "rewards"))
    real = os.path.realpath(path)
    return real == package_dir or real.startswith(package_dir + os.sep)


def _check_reward(config: Any, crpo: CRPOConfig, warnings: list[str]) -> None:
    ours = reward_is_ours(config)
    names = list(crpo.names)
    if ours is None:
        manager = config_value(config, "reward.reward_manager.name")
        warnings.append(
            f"crpo reads the objectives {names} from each sample's reward_extra_info, but the reward "
            f"(reward.reward_manager.name={manager!r}, custom_reward_function.path="
            f"{config_value(config, 'reward.custom_reward_function.path')!r}) is not verl_crpo's: make sure it "
            "returns every one of them (the first training step fails naming a missing one), or use "
            f"reward.reward_manager.name={REWARD_MANAGER}"
        )
        return
    from verl_crpo.rewards import OBJECTIVES

    unknown = [name for name in names if name not in OBJECTIVES]
    if unknown:
        raise ValueError(
            f"algorithm.crpo.weights names objective(s) {unknown} that the reward ({ours}) does not produce; it "
            f"produces {list(OBJECTIVES)}. Rename or remove them, e.g. ~algorithm.crpo.weights.{unknown[0]}"
        )
    kwargs_key = _reward_kwargs_key(ours)
    reward_weights = _plain(config_value(config, f"{kwargs_key}.weights"))
    if reward_weights is None:
        from verl_crpo.rewards import DEFAULT_WEIGHTS

        reward_weights = dict(DEFAULT_WEIGHTS)
    try:
        given = {k: v for k, v in validate_weights(reward_weights, f"{kwargs_key}.weights", OBJECTIVES).items() if v}
    except ValueError:
        given = None  # check_reward_config reports it, with the fix
    if given is not None:
        estimator = {k: v for k, v in crpo.weights.items() if v}
        if given != estimator:
            warnings.append(
                f"{kwargs_key}.weights {given} differ from algorithm.crpo.weights {estimator} (zero weights left "
                "out): the logged total score uses the former, the advantage the latter; state the weights once "
                f"with {kwargs_key}.weights: ${{algorithm.crpo.weights}} (as recipes/crpo does)"
            )


def reward_kwargs(config: Any, key: str = "reward.reward_kwargs") -> dict[str, Any]:
    """The reward kwargs stored at ``key`` as a plain, resolved dict (empty when unset)."""
    return dict(_plain(config_value(config, key)) or {})


def _reward_kwargs_key(ours: str) -> str:
    # clinical reads reward.reward_kwargs; verl hands a custom function custom_reward_function.reward_kwargs.
    if ours.startswith("reward manager"):
        return "reward.reward_kwargs"
    return "reward.custom_reward_function.reward_kwargs"


def check_reward_config(config: Any) -> None:
    """Refuse invalid settings of verl_crpo's reward, whatever the estimator; no-op for other rewards.

    Runs in the driver with :func:`check_crpo_config`, so a GRPO baseline on our reward fails as early.

    Args:
        config: The full composed run config (``reward.*`` is read).

    Raises:
        ValueError: ``reward.reward_manager.name=clinical`` next to a ``reward.custom_reward_function``
            that is not ours (``clinical`` would silently ignore it), or reward kwargs that
            :class:`verl_crpo.rewards.RewardConfig` rejects (unknown objective, negative weight, bad tag).
    """
    ours = reward_is_ours(config)
    if ours is None:
        return
    path = config_value(config, "reward.custom_reward_function.path")
    if ours.startswith("reward manager") and path and not is_our_reward_path(str(path)):
        raise ValueError(
            f"reward.reward_manager.name={REWARD_MANAGER} always scores with verl_crpo.rewards, but "
            f"reward.custom_reward_function.path={path!r} is also set and would be ignored. Either add the "
            f"override reward.custom_reward_function.path=null (keep {REWARD_MANAGER}), or keep your function "
            "with reward.reward_manager.name=naive."
        )
    from verl_crpo.rewards import RewardConfig

    key = _reward_kwargs_key(ours)
    try:
        RewardConfig.from_kwargs(**reward_kwargs(config, key))
    except ValueError as error:
        raise ValueError(f"{key}: {error}") from None


def check_crpo_config(config: Any) -> list[str]:
    """Refuse a ``crpo`` config that cannot train as intended; no-op for other estimators.

    Args:
        config: The full composed run config (``DictConfig`` or nested dicts).

    Returns:
        Warnings (also logged at WARNING): things that may be intended but deserve a look.

    Raises:
        ValueError: With the override that fixes it, for every refusal listed in the module
            docstring.
    """
    if config_value(config, "algorithm.adv_estimator") != ADV_ESTIMATOR:
        return []
    crpo = CRPOConfig.from_algorithm_config(config_value(config, "algorithm"))
    if config_value(config, "algorithm.use_kl_in_reward", False):
        raise ValueError(
            "algorithm.use_kl_in_reward=true has no effect with algorithm.adv_estimator=crpo (its advantages come "
            "from the objective scores, not from token_level_rewards). Set algorithm.use_kl_in_reward=false and "
            "use the KL loss instead: actor_rollout_ref.actor.use_kl_loss=true "
            "actor_rollout_ref.actor.kl_loss_type=low_var_kl actor_rollout_ref.actor.kl_loss_coef=0.001"
        )
    warnings: list[str] = []
    _check_reward(config, crpo, warnings)
    n = config_value(config, "actor_rollout_ref.rollout.n", 1)
    if isinstance(n, int) and n < 2:
        warnings.append(
            f"actor_rollout_ref.rollout.n={n}: every group holds one sample, so crpo has no group to compare "
            "within (the paper uses actor_rollout_ref.rollout.n=5)"
        )
    for message in warnings:
        logger.warning("verl_crpo: %s", message)
    return warnings
