r"""A softmax policy over fixed candidate pools, trained by policy gradient with verl's estimators.

Every case ``c`` has a pool of ``K`` candidates whose objective scores ``S[c, k, j]`` come from
our real reward (:func:`score_pools`). The policy is ``pi_c = softmax(theta_c)``, starting
uniform. One step, for every case at once:

1. draw a group of ``G`` candidates from ``pi_c`` (with replacement; all groups share one
   seeded generator);
2. hand the group's scores to a real verl advantage estimator, looked up in verl's registry, as
   verl's trainer does (:class:`Arm`): ``grpo`` gets one scalar reward per response at its last
   token; ``crpo`` gets the objectives in ``non_tensor_batch`` and ``algorithm.crpo``;
3. ascend the REINFORCE gradient with those advantages ``A_i``:
   ``theta_c += lr / G * sum_{i in group c} A_i (onehot(k_i) - pi_c)``.

The quantity we follow is each objective's expected value under the policy,
``E_j = mean_c sum_k pi_c[k] S[c, k, j]``, exact rather than sampled.

Responses are one token long for the estimators (``response_mask`` all ones): in a real run the
token count only weights ``crpo``'s optional whitening, and a bandit has no tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from verl.trainer.ppo.core_algos import get_adv_estimator_fn

from verl_crpo.data.cases import ClinicalCase, to_rl_row
from verl_crpo.rewards import OBJECTIVES, compute_score
from verl_crpo.study.candidates import candidate_pool

__all__ = ["Arm", "score_pools", "train"]


@dataclass(frozen=True)
class Arm:
    """One way of turning objective scores into advantages.

    Attributes:
        name: the arm's label in tables and JSON.
        estimator: a verl ``algorithm.adv_estimator`` name (``grpo`` or ``crpo``).
        weights: objective -> weight. ``grpo`` gets the weighted total as its one reward; ``crpo``
            gets the weights as ``algorithm.crpo.weights``.
        aggregation, whiten: ``algorithm.crpo`` settings (``crpo`` only).
        norm_by_std: ``algorithm.norm_adv_by_std_in_grpo``.
    """

    name: str
    estimator: str
    weights: Mapping[str, float]
    aggregation: str = "decoupled"
    whiten: bool = True
    norm_by_std: bool = True
    _fn: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.estimator not in ("grpo", "crpo"):
            raise ValueError(f"study arms use verl's 'grpo' or our 'crpo' estimator, got {self.estimator!r}")
        unknown = set(self.weights) - set(OBJECTIVES)
        if unknown:
            raise ValueError(f"unknown objective(s) {sorted(unknown)} in arm {self.name!r}; use {OBJECTIVES}")
        object.__setattr__(self, "_fn", get_adv_estimator_fn(self.estimator))

    def advantages(self, scores: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Per-response advantages ``(n,)`` of responses with objective scores ``(n, len(OBJECTIVES))``."""
        n = scores.shape[0]
        mask = torch.ones(n, 1, dtype=torch.int64)
        weights = np.array([self.weights.get(name, 0.0) for name in OBJECTIVES])
        if self.estimator == "grpo":
            rewards = torch.from_numpy((scores @ weights).astype(np.float32)).unsqueeze(-1)
            adv, _ = self._fn(rewards, mask, index, norm_adv_by_std_in_grpo=self.norm_by_std)
        else:
            config = {
                "norm_adv_by_std_in_grpo": self.norm_by_std,
                "crpo": {"weights": dict(self.weights), "aggregation": self.aggregation, "whiten": self.whiten},
            }
            batch = {name: scores[:, j] for j, name in enumerate(OBJECTIVES)}
            adv, _ = self._fn(torch.zeros(n, 1), mask, index, config=config, non_tensor_batch=batch)
        return adv[:, 0].double().numpy()


def score_pools(cases: Sequence[ClinicalCase], seed: int = 0) -> np.ndarray:
    """Score every case's :func:`~verl_crpo.study.candidates.candidate_pool` with the reward.

    Returns:
        ``(cases, candidates, len(OBJECTIVES))`` float array, objectives in :data:`OBJECTIVES` order,
        each in [0, 1].
    """
    table = []
    for i, case in enumerate(cases):
        row = to_rl_row(case, "study", i)
        truth, info = row["reward_model"]["ground_truth"], row["extra_info"]
        pool = candidate_pool(case, seed=seed + i)
        scored = [compute_score(row["data_source"], c.response, truth, info) for c in pool]
        table.append([[s[name] for name in OBJECTIVES] for s in scored])
    return np.asarray(table, dtype=np.float64)


def _softmax(theta: np.ndarray) -> np.ndarray:
    z = np.exp(theta - theta.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def train(
    scores: np.ndarray, arm: Arm, *, steps: int, group_size: int = 5, lr: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Train the policy on ``scores`` with ``arm``'s advantages; return the trajectory.

    Args:
        scores: ``(cases, candidates, objectives)`` from :func:`score_pools`.
        arm: the advantage estimator and its settings.
        steps: policy-gradient steps (>= 0).
        group_size: responses drawn per case per step (verl's ``rollout.n``; >= 2).
        lr: step size of the update on the logits (> 0).
        seed: seeds the sampling; the same seed gives every arm the same first draws.

    Returns:
        ``(steps + 1, objectives)``: each objective's expected value under the policy before the
        first step and after every step.

    Example:
        >>> s = np.zeros((1, 2, len(OBJECTIVES))); s[0, 1] = 1.0  # candidate 1 wins every objective
        >>> trajectory = train(s, Arm("acc", "grpo", {"accuracy": 1.0}), steps=30)
        >>> float(trajectory[0, 0]), bool(trajectory[-1, 0] > 0.9)
        (0.5, True)
    """
    if steps < 0 or group_size < 2 or not lr > 0:
        raise ValueError(f"need steps >= 0, group_size >= 2 and lr > 0; got {steps}, {group_size}, {lr}")
    cases, pool, _ = scores.shape
    rng = np.random.default_rng(seed)
    theta = np.zeros((cases, pool))
    rows = np.repeat(np.arange(cases), group_size)
    index = np.array([f"case-{c}" for c in rows], dtype=object)
    trajectory = np.empty((steps + 1, scores.shape[2]))
    for step in range(steps + 1):
        pi = _softmax(theta)
        trajectory[step] = np.einsum("ck,ckj->j", pi, scores) / cases
        if step == steps:
            break
        drawn = (pi.cumsum(axis=1)[rows] < rng.random(rows.size)[:, None]).sum(axis=1).clip(max=pool - 1)
        adv = arm.advantages(scores[rows, drawn], index)
        grad = -pi[rows] * adv[:, None]
        grad[np.arange(rows.size), drawn] += adv
        theta += lr / group_size * np.add.reduceat(grad, np.arange(0, rows.size, group_size), axis=0)
    return trajectory
