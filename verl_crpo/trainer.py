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
import hashlib
import importlib
import inspect
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import torch
import wrapt

from verl_crpo.patching import importers_of
from verl_crpo.validation import (
    ADV_ESTIMATOR,
    check_crpo_config,
    check_reward_config,
    config_value,
    reward_is_ours,
)

__all__ = [
    "SUPPORTED_TRAINER_MODES",
    "VERL_VERSION",
    "CRPOAdvantageMixin",
    "check_crpo_run",
    "compute_advantage",
    "install",
    "install_report",
    "integration_status",
    "objective_curves",
    "objectives_from_extra_fields",
    "session_finals",
    "verify_installs",
    "verl_drift",
]

logger = logging.getLogger(__name__)

_MARK = "__verl_crpo__"
# The verl release this integration mirrors; any other is reported (verl-crpo check, the log).
VERL_VERSION = "0.9.1"
# verl 0.9.1's built-in V1 trainers; all three share PPOTrainer._compute_advantage.
SUPPORTED_TRAINER_MODES = ("sync", "colocate_async", "separate_async")
_V1_PACKAGE = "verl.trainer.ppo.v1"
_RAY_TRAINER = "verl.trainer.ppo.ray_trainer"
_CONFIG_UTILS = "verl.utils.config"
_UTILS = "verl.utils"
# Modules that bind ``compute_advantage`` by name at their import; patched too if already loaded.
_BY_NAME_IMPORTERS = ("verl.trainer.ppo.v1.utils", "verl.experimental.separation.ray_trainer")
# Install name -> (the verl module whose import runs it, the function that installs). The function
# is looked up by name when the hook runs, so a test can make one fail.
_INSTALLS = {
    "validate_config": (_CONFIG_UTILS, "_install_validate"),
    "verl.utils.validate_config re-export": (_UTILS, "_install_validate_reexport"),
    "compute_advantage backport": (_RAY_TRAINER, "_install_backport"),
    "V1 trainers": (_V1_PACKAGE, "_install_v1"),
}
# The verl code this module mirrors or wraps: sha256 of its source (first 16 hex digits), as in
# VERL_VERSION. A change upstream means trainer.py must be re-read against it (verl_drift).
_MIRRORED = {
    "verl.trainer.ppo.v1.trainer_base:PPOTrainer._compute_advantage": "2a4a2aa4a475b228",
    "verl.trainer.ppo.ray_trainer:compute_advantage": "314695381c755264",
    "verl.trainer.ppo.v1.utils:compute_advantage_for_multi_trajectories": "d973cc8aec79bc3d",
    "verl.utils.config:validate_config": "ab4096deecfec745",
}

_state: dict[str, Any] = {"armed": False, "installed": set(), "failed": {}, "v1_modes": (), "verl_version": None}
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
    importers = importers_of("compute_advantage", current, _BY_NAME_IMPORTERS)
    # Everything that can fail is done: from here on, plain assignments.
    _verl_compute_advantage = current
    compute_advantage.__wrapped__ = current  # what it extends (inspect.unwrap, the drift check)
    for target in (module, *importers):
        target.compute_advantage = compute_advantage
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


def objective_curves(extra_fields, uids, counted) -> dict[str, float]:
    """``objectives/<name>/{mean,constant_group_frac}`` of every objective our reward returned, over counted samples.

    The same statistics under every estimator, so that the two arms of an A/B share their curves.
    Objectives that some counted sample lacks are left out; a batch without any gives ``{}``.

    Args:
        extra_fields: The TransferQueue field ``extra_fields`` of the batch (or its rows).
        uids: ``(bs,)`` group labels.
        counted: ``(bs,)`` bool: the samples to count (not verl's padding, final outputs of sessions).

    Example:
        >>> rows = [{"reward_extra_info": {"accuracy": a}} for a in (1.0, 0.0)]
        >>> objective_curves(rows, ["g", "g"], np.array([True, True]))
        {'objectives/accuracy/mean': 0.5, 'objectives/accuracy/constant_group_frac': 0.0}
    """
    from verl_crpo.advantage import objective_metrics
    from verl_crpo.rewards import OBJECTIVES

    infos = [info for info, keep in zip(_reward_infos(extra_fields), counted, strict=True) if keep]
    names = [name for name in OBJECTIVES if infos and all(name in info for info in infos)]
    if not names:
        return {}
    scores = torch.tensor([[float(info[name]) for info in infos] for name in names])
    return objective_metrics(scores, np.asarray(uids, dtype=object)[counted], names)


def session_finals(keys) -> np.ndarray | None:
    """For each sample, the row of its session's final output; None when every sample is its own.

    verl's agent loop names samples ``{uid}_{session}_{index}``; a session that emitted several
    outputs holds several indices, and verl's ``compute_advantage_for_multi_trajectories`` scores
    only the highest for ``grpo``. Keys in another format are single outputs.

    Example:
        >>> session_finals(["u_0_0", "u_1_0"]) is None
        True
        >>> session_finals(["u_0_0", "u_0_1", "u_1_0"]).tolist()
        [1, 1, 2]
    """
    best: dict[str, tuple[int, int]] = {}
    sessions = []
    for row, key in enumerate(keys):
        fields = str(key).rsplit("_", 2)
        if len(fields) != 3 or not fields[2].isdigit():
            return None
        session, index = f"{fields[0]}_{fields[1]}", int(fields[2])
        sessions.append(session)
        if session not in best or best[session][0] < index:
            best[session] = (index, row)
    if len(best) == len(sessions):
        return None
    return np.array([best[session][1] for session in sessions])


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
        check_crpo_run(config)
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
    # crpo: several outputs per session follow verl's grpo rule: the session's final output is
    # scored and compared, and its advantage goes to every output of the session.
    finals = session_finals(batch.keys)
    rows = _as_list(data.pop("extra_fields"))
    if finals is not None:
        rows = [rows[final] for final in finals]  # intermediate outputs may carry no reward
    objectives = objectives_from_extra_fields(rows, crpo.names, keys=batch.keys)
    counted = _real_samples(batch.tags) & (finals is None or finals == np.arange(len(rows)))

    response_mask = data["response_mask"]
    data = DataProto(batch=data.to_padded_tensor())
    data.batch["token_level_scores"] = data.batch["rm_scores"]
    data.non_tensor_batch["uid"] = np.array(data.batch.pop("uid").tolist(), dtype=object)
    data.non_tensor_batch.update(objectives)  # crpo
    metrics.update(objective_curves(rows, data.non_tensor_batch["uid"], counted))  # crpo

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

    # 3. advantages: as verl's compute_advantage_for_multi_trajectories does for grpo, on the final
    # output of each session, broadcast to the session's other outputs; crpo: our compute_advantage
    # forwards non_tensor_batch.
    def advantage_of(subset):
        return compute_advantage(
            subset,
            adv_estimator=algorithm.adv_estimator,
            gamma=algorithm.gamma,
            lam=algorithm.lam,
            num_repeat=trainer.config.actor_rollout_ref.rollout.n,
            norm_adv_by_std_in_grpo=algorithm.get("norm_adv_by_std_in_grpo", True),
            config=algorithm,
        )

    if finals is None:
        data = advantage_of(data)
    else:
        final_rows, position = np.unique(finals, return_inverse=True)
        final = advantage_of(data.select_idxs(final_rows))
        first_token = final.batch["response_mask"].argmax(dim=1)
        scalars = final.batch["advantages"][torch.arange(len(final)), first_token]
        advantages = scalars[torch.as_tensor(position)].unsqueeze(-1) * data.batch["response_mask"]
        data.batch["advantages"] = advantages
        data.batch["returns"] = advantages
    metrics.update(_step_metrics(data.non_tensor_batch, counted, crpo))  # crpo

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


def _step_metrics(non_tensor_batch, real: np.ndarray, crpo) -> dict[str, float]:
    import dataclasses

    from verl_crpo.advantage import crpo_scalar_advantage, crpo_step_metrics, objective_scores

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
    rows = _as_list(data["extra_fields"])
    finals = session_finals(batch.keys)
    counted = _real_samples(batch.tags) & (finals is None or finals == np.arange(len(rows)))
    return objective_curves(rows, _as_list(data["uid"]), counted)


class _V1Trainers:
    """Namespace of the extended V1 trainer classes, so that pickle finds them (``_V1Trainers.sync``)."""


def _install_v1(package) -> None:
    from verl.trainer.ppo.v1 import trainer_base

    registry = trainer_base.TRAINER_REGISTRY
    extended = {}
    for mode in SUPPORTED_TRAINER_MODES:
        base = registry.get(mode)
        if base is None:
            logger.warning("verl_crpo: verl has no V1 trainer %r to extend; crpo is unavailable there", mode)
            continue
        if not issubclass(base, CRPOAdvantageMixin):
            # verl's __name__, so logs read as before; a __qualname__ pickle can follow to this module.
            extended[mode] = type(
                base.__name__,
                (CRPOAdvantageMixin, base),
                {"__module__": __name__, "__qualname__": f"_V1Trainers.{mode}", "__doc__": base.__doc__},
            )
    # Everything that can fail is done: replace the registry entries together (register_trainer
    # refuses to re-register a name, hence the direct assignment).
    for mode, cls in extended.items():
        setattr(_V1Trainers, mode, cls)
        registry[mode] = cls
    _state["v1_modes"] = tuple(mode for mode in SUPPORTED_TRAINER_MODES if mode in registry)
    logger.debug("verl_crpo: V1 trainers extended for crpo: %s", _state["v1_modes"])


# ---------------------------------------------------------------- validate_config hook


def _install_validate(module) -> None:
    original = module.validate_config
    if getattr(original, _MARK, False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def validate_config(*args, **kwargs):
        # Bound by signature, not position: a reordered or keyword-only verl signature still works.
        config = signature.bind_partial(*args, **kwargs).arguments.get("config")
        check_reward_config(config)
        check_crpo_run(config)
        return original(*args, **kwargs)

    setattr(validate_config, _MARK, True)
    module.validate_config = validate_config


def _install_validate_reexport(module) -> None:
    # verl/utils/__init__.py re-exports validate_config; keep the re-export on the checked version.
    patched = sys.modules[_CONFIG_UTILS].validate_config
    if getattr(patched, _MARK, False) and getattr(module, "validate_config", None) is not patched:
        module.validate_config = patched


# ---------------------------------------------------------------- checks a crpo run needs from the trainer


def check_crpo_run(config: Any) -> list[str]:
    """Everything a ``crpo`` run needs, in the driver before Ray starts; no-op for other estimators.

    :func:`verl_crpo.validation.check_crpo_config` (the estimator and reward settings), then what
    concerns the trainer: every install of this integration succeeded, and the V1 trainer mode's
    class (as verl's registry holds it now) carries :class:`CRPOAdvantageMixin`.

    Returns:
        Warnings (also logged), e.g. for the legacy trainer.

    Raises:
        ValueError: naming the failed install, or the trainer mode and how to change it.
    """
    if config_value(config, "algorithm.adv_estimator") != ADV_ESTIMATOR:
        return []
    if _state["failed"]:
        failures = "; ".join(f"{name}: {cause}" for name, cause in _state["failed"].items())
        raise ValueError(
            f"algorithm.adv_estimator=crpo is unavailable: the verl_crpo integration with verl failed to install "
            f"({failures}). Other estimators are unaffected. Run `verl-crpo check` for the details "
            f"(verl {_state['verl_version']} installed, verl_crpo written for {VERL_VERSION})"
        )
    warnings = check_crpo_config(config)
    if not config_value(config, "trainer.use_v1", True):
        message = (
            "trainer.use_v1=false (legacy trainer): crpo advantages work there (verl_crpo forwards "
            "non_tensor_batch to the estimator), but the per-objective metrics (objectives/*, crpo/*) are logged only "
            "by the V1 trainer; set trainer.use_v1=true to get them"
        )
        logger.warning("verl_crpo: %s", message)
        return [*warnings, message]
    mode = config_value(config, "trainer.v1.trainer_mode", "sync")
    from verl.trainer.ppo.v1 import get_trainer_cls

    try:
        trainer_cls = get_trainer_cls(mode)
    except ValueError:
        trainer_cls = None
    if trainer_cls is None or not issubclass(trainer_cls, CRPOAdvantageMixin):
        raise ValueError(
            f"algorithm.adv_estimator=crpo cannot get the per-objective scores with trainer.v1.trainer_mode={mode!r}: "
            f"its trainer class does not carry the verl_crpo integration (verl_crpo extends verl's built-in V1 "
            f"trainers {', '.join(SUPPORTED_TRAINER_MODES)}). Set trainer.v1.trainer_mode=sync, or make your trainer "
            "class inherit verl_crpo.trainer.CRPOAdvantageMixin first: class MyTrainer(CRPOAdvantageMixin, PPOTrainer)"
        )
    return warnings


# ---------------------------------------------------------------- install / status / drift


def _guarded(name: str):
    """The post-import hook of one install: a failure is logged and recorded, and verl is left as it was."""
    module_name, function_name = _INSTALLS[name]

    def hook(module) -> None:
        try:
            globals()[function_name](module)
        except Exception as error:  # an exception here would make verl's own import fail
            _state["failed"][name] = f"{type(error).__name__}: {error}"
            logger.error(
                "verl_crpo: the %s install (on import of %s) failed and left verl as it was: %s. "
                "algorithm.adv_estimator=crpo will be refused; other estimators are unaffected.",
                name,
                module_name,
                _state["failed"][name],
            )
        else:
            _state["installed"].add(name)

    return hook


def install() -> None:
    """Arm the installs (each runs when its verl module is imported, or now if it is loaded).

    Idempotent: a second call, or a second import of a hooked module, changes nothing. Never
    raises: an install that fails is logged and recorded (:func:`install_report`), verl stays as
    it was, and only ``crpo`` is refused (:func:`check_crpo_run`).
    """
    if _state["armed"]:
        return
    _state["armed"] = True
    try:
        _state["verl_version"] = version("verl")
    except PackageNotFoundError:
        _state["verl_version"] = None
    if _state["verl_version"] != VERL_VERSION:
        logger.warning(
            "verl_crpo's trainer integration was written for verl %s, but verl %s is installed: "
            "run `verl-crpo check` and the drift test before trusting crpo runs",
            VERL_VERSION,
            _state["verl_version"],
        )
    for name, (module_name, _) in _INSTALLS.items():
        wrapt.register_post_import_hook(_guarded(name), module_name)


def install_report() -> dict[str, str]:
    """Each install as ``installed``, ``failed: <cause>`` or ``armed (runs on import of <module>)``.

    Example:
        >>> sorted(install_report())[0]
        'V1 trainers'
    """
    report = {}
    for name, (module_name, _) in _INSTALLS.items():
        if name in _state["failed"]:
            report[name] = f"failed: {_state['failed'][name]}"
        elif name in _state["installed"]:
            report[name] = "installed"
        else:
            report[name] = f"armed (runs on import of {module_name})" if _state["armed"] else "not armed"
    return report


def verify_installs() -> dict[str, str]:
    """Import every hooked verl module, so that every install runs now, and return :func:`install_report`."""
    for module_name, _ in _INSTALLS.values():
        try:
            importlib.import_module(module_name)
        except Exception as error:  # verl's own import failed: say so rather than hide it
            _state["failed"].setdefault(f"import {module_name}", f"{type(error).__name__}: {error}")
    report = install_report()
    report.update({name: f"failed: {cause}" for name, cause in _state["failed"].items() if name not in report})
    return report


def integration_status() -> str:
    """One line saying what the trainer integration has installed, failed or armed.

    Example:
        >>> integration_status().startswith("verl ")
        True
    """
    modes = ", ".join(_state["v1_modes"]) or "none yet"
    installs = "; ".join(f"{name}: {state}" for name, state in install_report().items())
    return (
        f"verl {_state['verl_version']} (written for {VERL_VERSION}); V1 trainer modes with crpo: {modes}; {installs}"
    )


def _fingerprint(target: str) -> str:
    module_name, _, qualname = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return hashlib.sha256(inspect.getsource(inspect.unwrap(obj)).encode()).hexdigest()[:16]


def verl_drift() -> dict[str, str]:
    """The verl code this module mirrors or wraps that differs from the release it was written for.

    Returns:
        ``{target: "expected <hash>, found <hash>"}``; empty when everything matches. Needs the
        verl modules importable (it imports them).
    """
    drift = {}
    for target, expected in _MIRRORED.items():
        found = _fingerprint(target)
        if found != expected:
            drift[target] = f"expected {expected}, found {found}"
    return drift


install()
