"""Gets the per-objective reward scores to the ``crpo`` estimator inside verl's trainers.

verl 0.9.1 hands ``non_tensor_batch`` only to the estimator named ``gdpo``, and its default V1
trainer does not even fetch the per-sample ``reward_extra_info`` for the advantage step. This
module closes both gaps without touching verl's files, in three lazy installs that happen
exactly when the verl module concerned is imported (``wrapt.when_imported``), so that processes
which never build a trainer (Ray workers) pay nothing:

1. ``verl.trainer.ppo.ray_trainer`` -> a backport of verl's open PR #7473: its
   ``compute_advantage`` forwards ``non_tensor_batch`` and ``batch`` to ``crpo`` (and to nothing
   else: every other estimator goes to verl's own function unchanged). This serves the legacy
   trainer (``trainer.use_v1=false``, which already puts ``reward_extra_info`` into
   ``non_tensor_batch``) and any user code calling ``compute_advantage``.
2. ``verl.trainer.ppo.v1`` -> verl's built-in V1 trainers (``sync``, ``colocate_async``,
   ``separate_async``) are re-registered under the same names as subclasses with
   :class:`CRPOAdvantageMixin` first. For ``crpo`` its ``_compute_advantage`` also reads the
   TransferQueue field ``extra_fields``, puts every objective into ``non_tensor_batch``, runs
   verl's advantage step (KL-in-reward, rollout correction, advantage, nested write-back) and
   logs ``crpo/<objective>/{mean,constant_group_frac,adv_share}``. Any other estimator takes
   ``super()._compute_advantage`` (verl's code, untouched). Under every estimator, when the
   reward is ours, every training step logs ``objectives/<objective>/{mean,constant_group_frac}``
   (:func:`objective_curves`): verl collects ``reward_extra_info`` in V1 only during validation.
3. ``verl.utils.config`` -> ``validate_config`` first runs
   :func:`verl_crpo.validation.check_reward_config` and :func:`~verl_crpo.validation.check_crpo_config`,
   so ``main_ppo`` refuses a broken reward or ``crpo`` config in the driver, before Ray starts.

Every install is idempotent. :func:`integration_status` reports what is installed or armed.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

import numpy as np
import torch
import wrapt

from verl_crpo.validation import (
    ADV_ESTIMATOR,
    SUPPORTED_TRAINER_MODES,
    check_crpo_config,
    check_reward_config,
    reward_is_ours,
)

__all__ = [
    "CRPOAdvantageMixin",
    "compute_advantage",
    "install",
    "integration_status",
    "objective_curves",
    "objectives_from_extra_fields",
]

logger = logging.getLogger(__name__)

_MARK = "__verl_crpo__"
_V1_PACKAGE = "verl.trainer.ppo.v1"
_RAY_TRAINER = "verl.trainer.ppo.ray_trainer"
_CONFIG_UTILS = "verl.utils.config"
# Modules that bind ``compute_advantage`` by name at their import; patched too if already loaded.
_BY_NAME_IMPORTERS = ("verl.trainer.ppo.v1.utils", "verl.experimental.separation.ray_trainer")

_state: dict[str, Any] = {"armed": False, "v1_modes": (), "backport": False, "validate": False}
_verl_compute_advantage = None


# ---------------------------------------------------------------- compute_advantage backport


def compute_advantage(
    data,
    adv_estimator,
    gamma: float = 1.0,
    lam: float = 1.0,
    num_repeat: int = 1,
    norm_adv_by_std_in_grpo: bool = True,
    config=None,
):
    """verl's ``ray_trainer.compute_advantage``, forwarding the batch to ``crpo`` (verl PR #7473).

    Args and return value are verl's. For ``adv_estimator != "crpo"`` this calls verl's own
    function with the same arguments. For ``crpo`` it builds the keyword arguments of verl's
    generic branch (``token_level_rewards``, ``response_mask``, ``config``, ``index`` from
    ``uid``, ``reward_baselines`` when present) plus ``non_tensor_batch`` and ``batch``, calls
    the registered estimator, and stores ``advantages`` and ``returns`` in ``data.batch``.

    Raises:
        ValueError: From the estimator (missing or NaN objective, invalid ``algorithm.crpo``).
    """
    if adv_estimator != ADV_ESTIMATOR:
        return _original_compute_advantage()(
            data,
            adv_estimator=adv_estimator,
            gamma=gamma,
            lam=lam,
            num_repeat=num_repeat,
            norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo,
            config=config,
        )
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.ray_trainer import compute_response_mask

    if "response_mask" not in data.batch:
        data.batch["response_mask"] = compute_response_mask(data)
    adv_kwargs = {
        "token_level_rewards": data.batch["token_level_rewards"],
        "response_mask": data.batch["response_mask"],
        "config": config,
        "non_tensor_batch": data.non_tensor_batch,
        "batch": data.batch,
    }
    if "uid" in data.non_tensor_batch:
        adv_kwargs["index"] = data.non_tensor_batch["uid"]
    if "reward_baselines" in data.batch:
        adv_kwargs["reward_baselines"] = data.batch["reward_baselines"]
    advantages, returns = core_algos.get_adv_estimator_fn(adv_estimator)(**adv_kwargs)
    data.batch["advantages"] = advantages
    data.batch["returns"] = returns
    return data


setattr(compute_advantage, _MARK, True)


def _original_compute_advantage():
    if _verl_compute_advantage is None:
        import verl.trainer.ppo.ray_trainer  # noqa: F401  (its import installs the backport: see _install_backport)
    if _verl_compute_advantage is None:  # hooks not armed (install() never ran): use verl's as it is
        from verl.trainer.ppo import ray_trainer

        return ray_trainer.compute_advantage
    return _verl_compute_advantage


def _install_backport(module) -> None:
    global _verl_compute_advantage
    current = module.compute_advantage
    if getattr(current, _MARK, False):
        return
    _verl_compute_advantage = current
    module.compute_advantage = compute_advantage
    for name in _BY_NAME_IMPORTERS:
        importer = sys.modules.get(name)
        if importer is not None and getattr(importer, "compute_advantage", None) is current:
            importer.compute_advantage = compute_advantage
    _state["backport"] = True
    logger.debug("verl_crpo: compute_advantage forwards non_tensor_batch to crpo")


# ---------------------------------------------------------------- V1 trainer mixin


def _as_list(values) -> list:
    """A TransferQueue non-tensor field (``NonTensorStack``, linked list, array) as a list."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _reward_infos(extra_fields) -> list[dict]:
    """Each sample's ``reward_extra_info`` dict ({} when absent) from the TransferQueue field ``extra_fields``."""
    infos = []
    for row in _as_list(extra_fields):
        row = getattr(row, "data", row)
        info = row.get("reward_extra_info") if isinstance(row, dict) else None
        infos.append(info if isinstance(info, dict) else {})
    return infos


def objectives_from_extra_fields(extra_fields, names, keys=None) -> dict[str, np.ndarray]:
    """Collect each objective from per-sample ``extra_fields["reward_extra_info"]``.

    Args:
        extra_fields: The TransferQueue field ``extra_fields`` for a batch: a sequence (or
            tensordict ``NonTensorStack``) of per-sample dicts, possibly wrapped in ``NonTensorData``.
        names: Objective names to collect.
        keys: Optional sample keys, used only in error messages.

    Returns:
        ``{name: np.ndarray (bs,)}``, built as verl's legacy trainer builds ``non_tensor_batch``
        from reward extra infos (``np.array(values)``); values are validated by the estimator.

    Raises:
        ValueError: Naming the objective and the sample when a sample's reward did not return it.

    Example:
        >>> objectives_from_extra_fields([{"reward_extra_info": {"accuracy": 1.0}}], ["accuracy"])
        {'accuracy': array([1.])}
    """
    infos = _reward_infos(extra_fields)
    for i, info in enumerate(infos):
        for name in names:
            if name not in info:
                sample = keys[i] if keys is not None else i
                raise ValueError(
                    f"crpo objective '{name}' is missing from the reward_extra_info of sample {sample!r} (it holds "
                    f"{sorted(info)}); the reward must return '{name}' for every sample (use "
                    "reward.reward_manager.name=clinical), or drop it from algorithm.crpo.weights"
                )
    return {name: np.array([info[name] for info in infos]) for name in names}


def objective_curves(extra_fields, uids, tags) -> dict[str, float]:
    """``objectives/<name>/{mean,constant_group_frac}`` of every objective our reward returned, over real samples.

    The same statistics under every estimator, so that the two arms of an A/B share their curves.
    Objectives that some sample lacks are left out; a batch without any gives ``{}``.

    Args:
        extra_fields: The TransferQueue field ``extra_fields`` of the batch.
        uids: ``(bs,)`` group labels.
        tags: The batch's TransferQueue tags (``is_padding`` marks verl's synthetic padding samples).

    Example:
        >>> objective_curves([{"reward_extra_info": {"accuracy": a}} for a in (1.0, 0.0)], ["g", "g"], [{}, {}])
        {'objectives/accuracy/mean': 0.5, 'objectives/accuracy/constant_group_frac': 0.0}
    """
    from verl_crpo.advantage import objective_metrics
    from verl_crpo.rewards import OBJECTIVES

    infos = _reward_infos(extra_fields)
    names = [name for name in OBJECTIVES if infos and all(name in info for info in infos)]
    if not names:
        return {}
    real = _real_samples(tags)
    scores = torch.tensor(
        [[float(info[name]) for info, keep in zip(infos, real, strict=True) if keep] for name in names]
    )
    return objective_metrics(scores, np.asarray(uids, dtype=object)[real], names)


def _real_samples(tags) -> np.ndarray:
    # Synthetic padding samples (verl's upsample_batch_to_divisible_size) copy a real sample's
    # scores: keep them out of the statistics, as verl's _compute_metrics does.
    real = np.array([not (tag or {}).get("is_padding", False) for tag in tags], dtype=bool)
    if not real.any():
        real[:] = True
    return real


class CRPOAdvantageMixin:
    """Gives a verl V1 ``PPOTrainer`` the per-objective scores for ``crpo``; put it first in the bases.

    Contract: for ``algorithm.adv_estimator != "crpo"`` the trainer computes advantages exactly
    as without the mixin (``super()._compute_advantage``) and, when the reward is ours
    (:func:`verl_crpo.validation.reward_is_ours`), adds :func:`objective_curves` to ``metrics``.
    For ``crpo``, ``_compute_advantage`` writes the same TransferQueue fields as verl's
    (``advantages``, ``returns`` and, when verl would, the KL-penalised ``token_level_rewards``,
    ``response_mask``, ``rollout_is_weights``) and adds the same :func:`objective_curves`, plus
    ``crpo/<objective>/{mean,constant_group_frac,adv_share}`` and ``crpo/no_signal_group_frac``
    over the weighted objectives, to ``metrics``; all over the non-padding samples. The constructor runs
    :func:`verl_crpo.validation.check_crpo_config`.
    """

    def __init__(self, config, *args, **kwargs):
        check_crpo_config(config)
        super().__init__(config, *args, **kwargs)

    def _compute_advantage(self, batch, metrics: dict):
        if self.config.algorithm.adv_estimator == ADV_ESTIMATOR:
            return _crpo_advantage_step(self, batch, metrics)
        result = super()._compute_advantage(batch, metrics)
        if reward_is_ours(self.config):
            metrics.update(_fetched_objective_curves(batch))
        return result


def _crpo_advantage_step(trainer, batch, metrics: dict):
    # Mirrors verl 0.9.1 PPOTrainer._compute_advantage (v1/trainer_base.py), reusing its helpers;
    # the differences are marked "crpo:".
    import transfer_queue as tq
    from tensordict import TensorDict
    from verl.protocol import DataProto
    from verl.trainer.ppo.ray_trainer import apply_kl_penalty
    from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_add_to_batch
    from verl.workers.utils.padding import response_to_nested

    from verl_crpo.advantage import CRPOConfig

    algorithm = trainer.config.algorithm
    crpo = CRPOConfig.from_algorithm_config(algorithm)
    fields = ["uid", "response_mask", "rm_scores", "rollout_log_probs", "old_log_probs", "ref_log_prob", "values"]
    fields.append("extra_fields")  # crpo: the reward_extra_info of every sample
    data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)
    if "extra_fields" not in data:
        raise ValueError(
            "crpo needs the per-sample reward_extra_info, but TransferQueue holds no 'extra_fields' for this batch: "
            "use verl's agent loop (AgentLoopManagerTQ) with a reward that returns the objectives "
            "(reward.reward_manager.name=clinical)"
        )
    extra_fields = data.pop("extra_fields")
    objectives = objectives_from_extra_fields(extra_fields, crpo.names, keys=batch.keys)

    response_mask = data["response_mask"]
    data = DataProto(batch=data.to_padded_tensor())
    data.batch["token_level_scores"] = data.batch["rm_scores"]
    data.non_tensor_batch["uid"] = np.array(data.batch.pop("uid").tolist(), dtype=object)
    data.non_tensor_batch.update(objectives)  # crpo
    metrics.update(objective_curves(extra_fields, data.non_tensor_batch["uid"], batch.tags))  # crpo

    # 1. apply kl penalty to rewards
    if algorithm.use_kl_in_reward:
        data, kl_metrics = apply_kl_penalty(data, kl_ctrl=trainer.kl_ctrl_in_reward, kl_penalty=algorithm.kl_penalty)
        metrics.update(kl_metrics)
    else:
        data.batch["token_level_rewards"] = data.batch["token_level_scores"]

    # 2. rollout correction (decoupled mode only)
    rollout_corr_config = algorithm.get("rollout_correction", None)
    bypass_recomputing_logprobs = rollout_corr_config and rollout_corr_config.get("bypass_mode", False)
    rollout_correction = (
        rollout_corr_config is not None and "rollout_log_probs" in data.batch and not bypass_recomputing_logprobs
    )
    if rollout_correction:
        data, is_metrics = compute_rollout_correction_and_add_to_batch(data, rollout_corr_config)
        metrics.update(is_metrics)

    # 3. advantages: verl's compute_advantage_for_multi_trajectories sends every estimator but grpo
    # straight to compute_advantage; crpo: ours forwards non_tensor_batch.
    data = compute_advantage(
        data,
        adv_estimator=algorithm.adv_estimator,
        gamma=algorithm.gamma,
        lam=algorithm.lam,
        num_repeat=trainer.config.actor_rollout_ref.rollout.n,
        norm_adv_by_std_in_grpo=algorithm.get("norm_adv_by_std_in_grpo", True),
        config=algorithm,
    )
    metrics.update(_step_metrics(data.non_tensor_batch, batch.tags, crpo))  # crpo

    # 4. write nested advantages and returns back to TransferQueue
    out_fields = ["advantages", "returns"]
    if algorithm.use_kl_in_reward:
        out_fields.append("token_level_rewards")
    if rollout_correction:
        out_fields.append("response_mask")
        if "rollout_is_weights" in data.batch:
            out_fields.append("rollout_is_weights")
    output = {field: response_to_nested(data.batch[field], response_mask) for field in out_fields}
    output = TensorDict(output, batch_size=len(batch))
    return tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=output)


def _step_metrics(non_tensor_batch, tags, crpo) -> dict[str, float]:
    import dataclasses

    from verl_crpo.advantage import crpo_scalar_advantage, crpo_step_metrics, objective_scores

    real = _real_samples(tags)
    index = non_tensor_batch["uid"][real]
    subset = {name: np.asarray(non_tensor_batch[name])[real] for name in crpo.names}
    scores = objective_scores(subset, crpo.names, int(real.sum()), "cpu")
    # The components are taken before whitening, which therefore needs no mask here.
    _, normalized = crpo_scalar_advantage(scores, index, None, dataclasses.replace(crpo, whiten=False))
    return crpo_step_metrics(scores, normalized, index, crpo)


def _fetched_objective_curves(batch) -> dict[str, float]:
    import transfer_queue as tq

    data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["uid", "extra_fields"])
    if "extra_fields" not in data:
        return {}  # an agent loop that stores no reward_extra_info: nothing to log, nothing to break
    return objective_curves(data["extra_fields"], _as_list(data["uid"]), batch.tags)


def _install_v1(package) -> None:
    from verl.trainer.ppo.v1 import trainer_base

    registry = trainer_base.TRAINER_REGISTRY
    installed = []
    for mode in SUPPORTED_TRAINER_MODES:
        base = registry.get(mode)
        if base is None:
            logger.warning("verl_crpo: verl has no V1 trainer %r to extend; crpo is unavailable there", mode)
            continue
        if not issubclass(base, CRPOAdvantageMixin):
            # Same __name__/__qualname__ as verl's class, so logs and the registry key read as before;
            # assigned directly because register_trainer refuses to re-register a name.
            registry[mode] = type(
                base.__name__,
                (CRPOAdvantageMixin, base),
                {"__module__": __name__, "__qualname__": base.__qualname__, "__doc__": base.__doc__},
            )
        installed.append(mode)
    _state["v1_modes"] = tuple(installed)
    logger.debug("verl_crpo: V1 trainers extended for crpo: %s", installed)


# ---------------------------------------------------------------- validate_config hook


def _install_validate(module) -> None:
    original = module.validate_config
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def validate_config(*args, **kwargs):
        config = kwargs["config"] if "config" in kwargs else (args[0] if args else None)
        check_reward_config(config)
        check_crpo_config(config)
        return original(*args, **kwargs)

    setattr(validate_config, _MARK, True)
    module.validate_config = validate_config
    _state["validate"] = True


# ---------------------------------------------------------------- install / status


def install() -> None:
    """Arm the three installs (each runs when its verl module is imported, or now if it is loaded).

    Idempotent: a second call, or a second import of a hooked module, changes nothing.
    """
    if _state["armed"]:
        return
    _state["armed"] = True
    wrapt.register_post_import_hook(_install_validate, _CONFIG_UTILS)
    wrapt.register_post_import_hook(_install_backport, _RAY_TRAINER)
    wrapt.register_post_import_hook(_install_v1, _V1_PACKAGE)


def integration_status() -> str:
    """One line saying what the trainer integration has installed, or armed to install on import.

    Example:
        >>> integration_status().startswith("V1 trainer")
        True
    """
    modes = ", ".join(SUPPORTED_TRAINER_MODES)
    if _state["v1_modes"]:
        v1 = f"V1 trainer: crpo integration installed for trainer modes {', '.join(_state['v1_modes'])}"
    elif _state["armed"]:
        v1 = f"V1 trainer: crpo integration armed, installs on import of {_V1_PACKAGE} for trainer modes {modes}"
    else:
        v1 = "V1 trainer: crpo integration not armed (call verl_crpo.trainer.install())"
    backport = "installed" if _state["backport"] else ("armed" if _state["armed"] else "not armed")
    validate = "installed" if _state["validate"] else ("armed" if _state["armed"] else "not armed")
    return f"{v1}; compute_advantage backport (legacy trainer): {backport}; config check in validate_config: {validate}"


install()
