r"""The ``crpo`` advantage estimator: several clinical objectives, one advantage per response.

Every response ``i`` of a prompt group ``g`` (the samples sharing one ``uid``) carries one score
``r_{k,i}`` per objective ``k`` (accuracy, faithfulness, ...), read from
``non_tensor_batch[k]``, and each objective has a weight ``w_k >= 0`` (``algorithm.crpo.weights``).

Mathematical formulation:
    Group statistics (per objective, per group; unbiased std as ``torch.std``):
        mu_{k,g} = mean_{i in g} r_{k,i}
        sigma_{k,g} = std_{i in g} r_{k,i}
        A group of one sample uses mu = 0, sigma = 1 (verl's ``grpo`` convention); an
        objective that is constant within a group of two or more contributes exactly 0 there.

    Group normalisation (``norm_adv_by_std_in_grpo`` true / false):
        N_{k,i} = (r_{k,i} - mu_{k,g}) / (sigma_{k,g} + eps)    or    N_{k,i} = r_{k,i} - mu_{k,g}

    Aggregation ``decoupled`` (GDPO-style: every objective is normalised on its own scale):
        a_i = sum_k w_k N_{k,i}

    Aggregation ``sum`` (plain GRPO on the weighted total):
        s_i = sum_k w_k r_{k,i};   a_i = (s_i - mu_g(s)) / (sigma_g(s) + eps)   or   s_i - mu_g(s)

    Optional batch whitening (``whiten: true``), token-weighted exactly like verl's
    ``masked_whiten(a_i * mask, mask)`` with ``L_i`` valid tokens and ``T = sum_i L_i``:
        m = sum_i L_i a_i / T
        v = sum_i L_i (a_i - m)^2 / T * T / (T - 1)
        a_i <- (a_i - m) / sqrt(v + 1e-8)
        (a batch with fewer than two valid tokens has no spread to whiten by: its advantage is 0)

    Advantage of token ``t`` of response ``i``:
        A_{i,t} = a_i * mask_{i,t}

With ``decoupled`` and ``whiten: true`` this equals verl's ``gdpo``; with ``sum`` and
``whiten: false`` it equals verl's ``grpo`` on the weighted total (up to float32 rounding, and
except for groups whose scores are all equal but whose float32 mean is not, where verl leaves
rounding noise divided by ``eps`` and this estimator returns the exact 0).

Everything is computed on per-sample scalars (shape ``(K, bs)``) with scatter/index_add over
groups; the only pass over the ``(bs, response_length)`` tensors is one length count (for
whitening) and the final broadcast.

Example:
    >>> import numpy as np, torch
    >>> cfg = {"crpo": {"weights": {"accuracy": 10.0, "faithfulness": 1.0}, "whiten": False},
    ...        "norm_adv_by_std_in_grpo": False}
    >>> adv, _ = compute_crpo_outcome_advantage(
    ...     token_level_rewards=torch.zeros(4, 3), response_mask=torch.tensor([[1, 1, 0]] * 4),
    ...     index=np.array(["q1", "q1", "q2", "q2"], dtype=object), config=cfg,
    ...     non_tensor_batch={"accuracy": np.array([1.0, 0.0, 1.0, 1.0]),
    ...                       "faithfulness": np.array([0.5, 0.5, 0.0, 1.0])})
    >>> adv  # q1: accuracy differs (+-0.5 * 10); q2: accuracy constant, faithfulness +-0.5
    tensor([[ 5.0000,  5.0000,  0.0000],
            [-5.0000, -5.0000, -0.0000],
            [-0.5000, -0.5000, -0.0000],
            [ 0.5000,  0.5000,  0.0000]])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from verl.trainer.ppo.core_algos import register_adv_est
from verl.utils import as_torch_index

from verl_crpo.advantage_config import AGGREGATIONS, CRPOConfig
from verl_crpo.validation import ADV_ESTIMATOR

__all__ = [
    "AGGREGATIONS",
    "CRPOConfig",
    "compute_crpo_outcome_advantage",
    "crpo_scalar_advantage",
    "crpo_step_metrics",
    "group_normalize",
    "objective_metrics",
    "objective_scores",
    "whiten_scalars",
]

# verl's masked_whiten constant: keep it identical so that `whiten: true` reproduces gdpo.
_WHITEN_EPS = 1e-8
_MASKED_MEAN_EPS = 1e-8


def objective_scores(
    non_tensor_batch: Mapping, names: Sequence[str], batch_size: int, device: torch.device | str | None
) -> torch.Tensor:
    """Stack the per-sample objective scores into a ``(K, bs)`` float32 tensor.

    Args:
        non_tensor_batch: ``DataProto.non_tensor_batch``; ``non_tensor_batch[name]`` holds one real
            number per sample (numpy float or object array, list, ...).
        names: Objective names, in weight order.
        batch_size: Expected number of samples.
        device: Where the result lives.

    Returns:
        ``(len(names), batch_size)`` float32 tensor.

    Raises:
        ValueError: Naming the objective if it is missing, has the wrong length, holds a
            non-number, or a NaN/inf (with the first offending sample index).
    """
    if non_tensor_batch is None:
        raise ValueError(_no_scores_message())
    rows = np.empty((len(names), batch_size), dtype=np.float64)
    for k, name in enumerate(names):
        if name not in non_tensor_batch:
            raise ValueError(
                f"crpo objective '{name}' is missing from the batch (available: {sorted(map(str, non_tensor_batch))}); "
                f"the reward function must return '{name}' in its score dict (reward_extra_info), or drop it from "
                "algorithm.crpo.weights"
            )
        raw = np.asarray(non_tensor_batch[name])
        if raw.ndim != 1 or raw.shape[0] != batch_size:
            raise ValueError(
                f"crpo objective '{name}' must hold one score per sample ({batch_size}), got shape {raw.shape}"
            )
        if raw.dtype.kind in "biuf":
            rows[k] = raw
        else:
            bad = next((i for i, x in enumerate(raw) if not _is_score(x)), None)
            if bad is not None:
                raise ValueError(
                    f"crpo objective '{name}' holds a non-numeric score at sample {bad}: {raw[bad]!r} "
                    f"({type(raw[bad]).__name__}); the reward function must return floats"
                )
            rows[k] = raw.astype(np.float64)
        finite = np.isfinite(rows[k])
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"crpo objective '{name}' has a non-finite score at sample {bad}: {rows[k, bad]}; "
                "fix the reward function so that it always returns a finite number"
            )
    # float64 -> float32 rounds each Python float once, exactly like gdpo's np.asarray(..., float32).
    return torch.from_numpy(rows.astype(np.float32)).to(device)


def _is_score(x: Any) -> bool:
    # Booleans (pass/fail rules) and 0-d numpy/torch values are scores; strings and None are not.
    if isinstance(x, (numbers.Real, np.bool_)):
        return True
    if isinstance(x, np.ndarray):
        return x.ndim == 0 and x.dtype.kind in "biuf"
    return isinstance(x, torch.Tensor) and x.ndim == 0 and not (x.is_complex() or x.is_meta)


@dataclass(frozen=True)
class _Groups:
    """Group structure of a batch, computed once per call and shared by every objective."""

    ids: torch.Tensor  # (bs,) int64 in 0..size-1
    size: int
    count: torch.Tensor  # (size,) float32
    single: torch.Tensor  # (size,) bool: groups of one sample

    @classmethod
    def from_index(cls, index: Any, batch_size: int, device: torch.device) -> _Groups:
        if len(index) != batch_size:
            raise ValueError(f"index has {len(index)} group labels for {batch_size} samples")
        # as_torch_index keeps integer labels as they are (possibly sparse or negative): compact them.
        uniq, ids = torch.unique(as_torch_index(index, device=device), return_inverse=True)
        size = int(uniq.numel())
        count = torch.bincount(ids, minlength=size).float()
        return cls(ids=ids, size=size, count=count, single=count <= 1.0)


def _row_stats(values: torch.Tensor, groups: _Groups) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group mean, unbiased std and "constant" flag of one ``(bs,)`` float32 row.

    One row at a time on purpose: ``(bs,)`` ops stay below torch's intra-op grain size (32,768
    elements) for usual batches and so run serially; ``(K, bs)`` ops would be split over threads,
    and on a busy CPU each of the ~20 small ops then waits for a scheduler slot.
    """
    ids, size = groups.ids, groups.size
    mean = values.new_zeros(size).index_add_(0, ids, values) / groups.count.clamp_min(1.0)
    centred = values - mean[ids]
    var = values.new_zeros(size).index_add_(0, ids, centred * centred) / (groups.count - 1.0).clamp_min(1.0)
    high = values.new_full((size,), -math.inf).scatter_reduce_(0, ids, values, "amax")
    low = values.new_full((size,), math.inf).scatter_reduce_(0, ids, values, "amin")
    return mean, var.sqrt(), high == low


def _normalize_row(values: torch.Tensor, groups: _Groups, epsilon: float, norm_by_std: bool) -> torch.Tensor:
    mean, std, constant = _row_stats(values, groups)
    mean = torch.where(groups.single, 0.0, mean)
    centred = torch.where((constant & ~groups.single)[groups.ids], 0.0, values - mean[groups.ids])
    if not norm_by_std:
        return centred
    return centred / (torch.where(groups.single, 1.0, std)[groups.ids] + epsilon)


def _normalize(scores: torch.Tensor, groups: _Groups, epsilon: float, norm_by_std: bool) -> torch.Tensor:
    return torch.stack([_normalize_row(row, groups, epsilon, norm_by_std) for row in scores])


def group_normalize(scores: torch.Tensor, index: Any, epsilon: float, norm_by_std: bool) -> torch.Tensor:
    """Normalise every objective within every group: ``(r - mean) / (std + eps)`` or ``r - mean``.

    Args:
        scores: ``(K, bs)`` scores (any float dtype; computed in float32).
        index: ``(bs,)`` group labels (verl's ``uid``: uuid strings, ints, a tensor).
        epsilon: Added to the group std.
        norm_by_std: Divide by the group std (False: Dr. GRPO, centring only).

    Returns:
        ``(K, bs)`` float32. Groups of one sample use mean 0 and std 1 (verl's grpo); an
        objective constant within a larger group gives exactly 0 there.

    Raises:
        ValueError: If ``scores`` is not 2-D or ``index`` does not match its length.

    Example:
        >>> import torch
        >>> group_normalize(torch.tensor([[1.0, 0.0, 3.0, 3.0, 2.0]]), ["a", "a", "b", "b", "c"], 1e-6, False)
        tensor([[ 0.5000, -0.5000,  0.0000,  0.0000,  2.0000]])
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape (num_objectives, batch_size), got {tuple(scores.shape)}")
    groups = _Groups.from_index(index, scores.shape[1], scores.device)
    return _normalize(scores.float(), groups, epsilon, norm_by_std)


def whiten_scalars(scalars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Batch whitening of per-sample advantages, numerically as verl's ``masked_whiten``.

    ``masked_whiten(scalars[:, None] * mask, mask)`` on a 0/1 mask with ``lengths = mask.sum(-1)``
    reduces to token-weighted statistics of the per-sample values, computed here in float64 on
    ``bs`` numbers instead of ``bs x response_length`` tokens.

    Args:
        scalars: ``(bs,)`` advantages.
        lengths: ``(bs,)`` valid-token counts.

    Returns:
        ``(bs,)`` float32 whitened advantages; all zeros if the batch has fewer than two valid
        tokens (where ``masked_whiten`` raises: there is no spread to whiten by).
    """
    a = scalars.double()
    n = lengths.double()
    total = n.sum()
    mean = (n * a).sum() / (total + _MASKED_MEAN_EPS)
    centred = a - mean
    var = (n * centred * centred).sum() / (total + _MASKED_MEAN_EPS) * total / (total - 1.0).clamp_min(1.0)
    whitened = centred * torch.rsqrt(var + _WHITEN_EPS)
    return torch.where(total >= 2.0, whitened, 0.0).float()


def crpo_scalar_advantage(
    scores: torch.Tensor, index: Any, response_mask: torch.Tensor | None, cfg: CRPOConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample advantage and its per-objective components, in one pass.

    Args:
        scores: ``(K, bs)`` objective scores in ``cfg.names`` order (see :func:`objective_scores`).
        index: ``(bs,)`` group labels.
        response_mask: ``(bs, response_length)`` 0/1 mask; needed only when ``cfg.whiten``.
        cfg: Estimator settings.

    Returns:
        ``(scalars, normalized)``: ``scalars`` ``(bs,)`` float32 is the advantage every valid token
        of sample ``i`` receives (after whitening when enabled); ``normalized`` ``(K, bs)`` float32
        holds the components ``N_k`` with ``sum_k w_k N_k`` = the advantage before whitening (up to
        rounding). ``decoupled``: ``N_k`` is objective ``k`` normalised in its group. ``sum``:
        ``N_k = (r_k - mean_g(r_k)) / (std_g(sum_j w_j r_j) + eps)`` (no division when
        ``norm_by_std`` is false), i.e. objective ``k``'s share of the GRPO advantage; it is 0
        in groups where the weighted total is constant.

    Raises:
        ValueError: On shape mismatches or a missing mask while ``cfg.whiten`` is set.
    """
    return _advantage(scores, index, response_mask, cfg, components=True)


def _advantage(
    scores: torch.Tensor, index: Any, response_mask: torch.Tensor | None, cfg: CRPOConfig, components: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    if scores.dim() != 2 or scores.shape[0] != len(cfg.weights):
        raise ValueError(f"scores must have shape ({len(cfg.weights)}, batch_size), got {tuple(scores.shape)}")
    if cfg.whiten and response_mask is None:
        raise ValueError("whiten: true needs the response_mask (token counts weight the batch statistics)")
    scores = scores.float()
    groups = _Groups.from_index(index, scores.shape[1], scores.device)
    if cfg.aggregation == "decoupled":
        normalized = _normalize(scores, groups, cfg.epsilon, cfg.norm_by_std)
        scalars = _weighted_sum(normalized, cfg)
    else:
        total = _weighted_sum(scores, cfg)
        scalars = _normalize_row(total, groups, cfg.epsilon, cfg.norm_by_std)
        normalized = _sum_components(scores, total, groups, cfg) if components else None
    if cfg.whiten:
        scalars = whiten_scalars(scalars, _lengths(response_mask))
    return scalars, normalized


def _weighted_sum(rows: torch.Tensor, cfg: CRPOConfig) -> torch.Tensor:
    # Objective by objective, in float32, in weight order: the rounding of verl's gdpo accumulation.
    total = None
    for k, weight in enumerate(cfg.weights.values()):
        term = rows[k] * weight
        total = term if total is None else total + term
    return total


def _sum_components(scores: torch.Tensor, total: torch.Tensor, groups: _Groups, cfg: CRPOConfig) -> torch.Tensor:
    _, std_total, constant_total = _row_stats(total, groups)
    silent = (constant_total & ~groups.single)[groups.ids]
    scale = torch.where(groups.single, 1.0, std_total)[groups.ids] + cfg.epsilon if cfg.norm_by_std else None
    rows = []
    for row in scores:
        mean = torch.where(groups.single, 0.0, _row_stats(row, groups)[0])
        centred = torch.where(silent, 0.0, row - mean[groups.ids])
        rows.append(centred / scale if scale is not None else centred)
    return torch.stack(rows)


def _lengths(response_mask: torch.Tensor) -> torch.Tensor:
    # Integer counts stay exact beyond 2**24 tokens, where a float32 sum would not.
    if response_mask.dtype.is_floating_point:
        return response_mask.sum(dim=-1, dtype=torch.float64)
    return response_mask.sum(dim=-1)


_NO_SCORES_MESSAGE = (
    "the crpo advantage estimator needs the per-objective scores (non_tensor_batch[<objective>]), but none "
    "were passed: verl 0.9.1's compute_advantage hands non_tensor_batch only to the estimator named 'gdpo'. "
    "verl_crpo's trainer integration supplies them: run with algorithm.adv_estimator=crpo and "
    "trainer.use_v1=true with the verl_crpo plugin installed (check with `verl-crpo check`)"
)


def _no_scores_message() -> str:
    from verl_crpo.trainer import install_report

    failed = {name: state for name, state in install_report().items() if state.startswith("failed")}
    if not failed:
        return _NO_SCORES_MESSAGE
    return f"{_NO_SCORES_MESSAGE}. The integration did not install in this process: {failed}"


@register_adv_est(ADV_ESTIMATOR)
def compute_crpo_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any,
    config: Any = None,
    non_tensor_batch: Mapping | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CRPO advantage: per-objective group normalisation, weighted aggregation, optional whitening.

    See the module docstring for the mathematical formulation. Settings come only from
    ``config`` (``algorithm.crpo`` and ``algorithm.norm_adv_by_std_in_grpo``); ``epsilon`` or
    ``norm_adv_by_std_in_grpo`` passed as keyword arguments, and any other extra keyword (e.g.
    ``batch``, ``reward_baselines``), are ignored so that one config drives every caller.

    Args:
        token_level_rewards: ``(bs, response_length)``; only its shape, device and dtype are used
            (the rewards come from ``non_tensor_batch``, so an in-reward KL penalty is not applied).
        response_mask: ``(bs, response_length)`` 0/1 mask of valid response tokens.
        index: ``(bs,)`` group labels (``uid``).
        config: verl's ``algorithm`` config (DictConfig, dict or AlgoConfig); required.
        non_tensor_batch: Must hold ``non_tensor_batch[name]`` for every objective in the weights.
        **kwargs: Ignored.

    Returns:
        ``(advantages, returns)``, the same ``(bs, response_length)`` tensor twice, on the device of
        ``token_level_rewards``, in the dtype verl's ``grpo`` returns for these inputs
        (``token_level_rewards.dtype`` promoted with ``response_mask.dtype``: bf16 rewards with a
        bool/int mask give bf16); computed in float32 whatever the input dtype.

    Raises:
        ValueError: If ``config`` or ``non_tensor_batch`` is missing or invalid, or shapes disagree.
    """
    cfg = CRPOConfig.from_algorithm_config(config)
    if non_tensor_batch is None:
        raise ValueError(_no_scores_message())
    if token_level_rewards.dim() != 2 or response_mask.shape != token_level_rewards.shape:
        raise ValueError(
            f"token_level_rewards {tuple(token_level_rewards.shape)} and response_mask "
            f"{tuple(response_mask.shape)} must both be (batch_size, response_length)"
        )
    batch_size = token_level_rewards.shape[0]
    if len(index) != batch_size:
        raise ValueError(f"index has {len(index)} group labels for {batch_size} samples")
    with torch.no_grad():
        scores = objective_scores(non_tensor_batch, cfg.names, batch_size, token_level_rewards.device)
        scalars, _ = _advantage(scores, index, response_mask, cfg, components=False)
        out_dtype = torch.promote_types(token_level_rewards.dtype, response_mask.dtype)
        if not out_dtype.is_floating_point:
            out_dtype = torch.float32
        advantages = _broadcast(scalars.to(out_dtype), response_mask, out_dtype)
    return advantages, advantages


def _broadcast(scalars: torch.Tensor, response_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``scalars[:, None] * response_mask`` in ``dtype``, without a second full-size tensor on CPU."""
    if response_mask.dtype == dtype or response_mask.device.type != "cpu":
        return scalars.unsqueeze(-1) * response_mask
    # On CPU a mixed-dtype multiply first copies the whole mask into `dtype` (twice the output's
    # memory, one more pass); casting into the output and scaling in place needs neither.
    return (
        torch.empty(response_mask.shape, dtype=dtype, device=response_mask.device)
        .copy_(response_mask)
        .mul_(scalars.unsqueeze(-1))
    )


def crpo_step_metrics(scores: torch.Tensor, normalized: torch.Tensor, index: Any, cfg: CRPOConfig) -> dict[str, float]:
    """Per-objective diagnostics for the trainer's logger.

    Args:
        scores: ``(K, bs)`` raw objective scores (as given to :func:`crpo_scalar_advantage`).
        normalized: ``(K, bs)`` components returned by :func:`crpo_scalar_advantage`.
        index: ``(bs,)`` group labels.
        cfg: Estimator settings (names, weights).

    Returns:
        For every objective ``k``:
        ``crpo/{k}/mean``: mean raw score over the batch's samples.
        ``crpo/{k}/constant_group_frac``: fraction of groups with two or more samples in which the
        objective is constant (no learning signal from it there); 0.0 if there is no such group.
        ``crpo/{k}/adv_share``: ``mean_i |w_k N_{k,i}| / sum_j mean_i |w_j N_{j,i}|`` over samples
        (not tokens), with the components ``N`` of :func:`crpo_scalar_advantage` before whitening
        (whitening rescales all objectives alike). For ``decoupled``, ``N_k`` is the group-normalised
        objective; for ``sum``, objective ``k``'s centred score over the total's group std, i.e. the
        share of ``|w_k (r_k - mean_k)|``. Shares add up to 1, or are all 0.0 when no objective
        moves the advantage.
        Plus ``crpo/no_signal_group_frac``: fraction of groups with two or more samples in which
        every objective with a positive weight is constant (the whole group gets advantage 0
        before whitening).

    Example:
        >>> import torch
        >>> cfg = CRPOConfig(weights={"accuracy": 10.0, "format": 1.0}, whiten=False, norm_by_std=False)
        >>> scores = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0]])
        >>> _, normalized = crpo_scalar_advantage(scores, [0, 0, 1, 1], None, cfg)
        >>> metrics = crpo_step_metrics(scores, normalized, [0, 0, 1, 1], cfg)
        >>> round(metrics["crpo/accuracy/adv_share"], 4)  # 10 * 0.5 on 2 of 4 samples vs 1 * 0.5 on 2 of 4
        0.9091
    """
    scores = scores.float()
    groups = _Groups.from_index(index, scores.shape[1], scores.device)
    constant, multi = _constant_groups(scores, groups)
    n_multi = multi.sum().clamp_min(1)
    weights = torch.tensor(list(cfg.weights.values()), dtype=torch.float32, device=scores.device)
    magnitude = (weights.unsqueeze(1) * normalized.float()).abs().mean(dim=1)
    share = magnitude / magnitude.sum().clamp_min(torch.finfo(torch.float32).tiny)
    no_signal = ((constant | (weights == 0).unsqueeze(1)).all(dim=0) & multi).sum() / n_multi
    metrics = _mean_and_constant(scores, constant, multi, cfg.names, "crpo")
    for name, value in zip(cfg.names, share.cpu().tolist(), strict=True):
        metrics[f"crpo/{name}/adv_share"] = value
    metrics["crpo/no_signal_group_frac"] = float(no_signal)
    return metrics


def objective_metrics(scores: torch.Tensor, index: Any, names: Sequence[str]) -> dict[str, float]:
    """Reward-side statistics of every objective, the same under every estimator.

    Args:
        scores: ``(K, bs)`` objective scores of the batch's real samples.
        index: ``(bs,)`` group labels (``uid``).
        names: The ``K`` objective names.

    Returns:
        ``objectives/{name}/mean`` (mean score) and ``objectives/{name}/constant_group_frac``
        (fraction of groups with two or more samples in which the objective is constant, so that
        a group-relative estimator gets no signal from it there; 0.0 without such groups).

    Example:
        >>> metrics = objective_metrics(torch.tensor([[1.0, 1.0, 1.0, 0.0]]), [0, 0, 1, 1], ["accuracy"])
        >>> metrics["objectives/accuracy/mean"], metrics["objectives/accuracy/constant_group_frac"]
        (0.75, 0.5)
    """
    scores = scores.float()
    groups = _Groups.from_index(index, scores.shape[1], scores.device)
    constant, multi = _constant_groups(scores, groups)
    return _mean_and_constant(scores, constant, multi, names, "objectives")


def _constant_groups(scores: torch.Tensor, groups: _Groups) -> tuple[torch.Tensor, torch.Tensor]:
    """``(K, groups)`` flags of objectives constant within each group, and which groups have 2+ samples."""
    return torch.stack([_row_stats(row, groups)[2] for row in scores]), ~groups.single


def _mean_and_constant(
    scores: torch.Tensor, constant: torch.Tensor, multi: torch.Tensor, names: Sequence[str], prefix: str
) -> dict[str, float]:
    constant_frac = (constant & multi).sum(dim=1) / multi.sum().clamp_min(1)
    means, fracs = torch.stack([scores.mean(dim=1), constant_frac.float()]).cpu().tolist()
    metrics: dict[str, float] = {}
    for name, mean, frac in zip(names, means, fracs, strict=True):
        metrics[f"{prefix}/{name}/mean"] = mean
        metrics[f"{prefix}/{name}/constant_group_frac"] = frac
    return metrics
