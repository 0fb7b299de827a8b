"""The learning-signal study: what GRPO and CRPO teach one policy from the same candidates.

Three arms share the cases, the candidate pools, the reward, the seeds and the steps
(:data:`ARMS`): verl's ``grpo`` on accuracy alone (the paper's baseline), verl's ``grpo`` on the
weighted total (what the reward alone adds) and our ``crpo`` with the recipe's settings (what
the estimator adds). A sweep then crosses the accuracy weight, the ``aggregation``,
``norm_adv_by_std_in_grpo`` and ``whiten`` (:func:`sweep_arms`).

:func:`run_study` returns one JSON-ready dict with one key per arm (``grpo_accuracy_only``,
``grpo_total``, ``crpo_decoupled``) and three more:

* ``<arm>``: ``{<objective>: {"mean", "std"}, ..., "trajectory": ..., "steps_to_threshold": ...}``:
  every objective's final expected value over seeds; its ``trajectory``, ``{<objective>: {"mean":
  [...], "std": [...]}}`` per step (step 0 is the uniform policy); and ``steps_to_threshold``,
  ``{<objective>: {"median", "reached"}}``, the median over seeds of the first step whose expected
  value reaches ``thresholds[objective]``, and how many seeds got there;
* ``thresholds``: halfway from the uniform policy's value to the best value any policy can reach
  on that objective alone;
* ``sweep``: one entry per setting, with its final values (empty when the sweep does not run);
* ``settings``: what was run, ``settings["arms"]`` the arms' names in order.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from verl_crpo.data.cases import generate_cases
from verl_crpo.rewards import DEFAULT_WEIGHTS, OBJECTIVES
from verl_crpo.study.training import Arm, score_pools, train

__all__ = ["ARMS", "FAST", "FINDINGS", "FULL", "StudySettings", "check_findings", "run_study", "sweep_arms"]

logger = logging.getLogger(__name__)

# The recipe's weights (recipes/crpo/config/crpo_trainer.yaml) are the reward's defaults.
_RECIPE_WEIGHTS = {name: weight for name, weight in DEFAULT_WEIGHTS.items() if weight}
ARMS = (
    Arm("grpo_accuracy_only", "grpo", {"accuracy": 1.0}),
    Arm("grpo_total", "grpo", _RECIPE_WEIGHTS),
    Arm("crpo_decoupled", "crpo", _RECIPE_WEIGHTS),
)
_RESERVED = ("thresholds", "sweep", "settings")
THRESHOLD_FRACTION = 0.5  # of the way from the uniform policy to the best reachable value


@dataclass(frozen=True)
class StudySettings:
    """What one study runs.

    Attributes:
        cases: synthetic cases (each with a 40-response pool).
        seeds: training seeds per arm.
        steps: policy-gradient steps.
        group_size: responses per case per step (verl's ``rollout.n``; the paper's G = 5).
        lr: step size on the policy's logits.
        sweep_seeds: seeds per sweep setting; 0 skips the sweep.
        case_seed: seed of the case generator.
    """

    cases: int = 60
    seeds: int = 5
    steps: int = 200
    group_size: int = 5
    lr: float = 1.0
    sweep_seeds: int = 5
    case_seed: int = 0


FULL = StudySettings()
FAST = StudySettings(cases=24, seeds=5, steps=120, sweep_seeds=0)


def sweep_arms() -> list[Arm]:
    """``crpo`` over accuracy weight (10, 3, 1; faithfulness and comprehensiveness 1) x
    ``aggregation`` x ``norm_adv_by_std_in_grpo`` x ``whiten`` (24 arms)."""
    arms = []
    grid = itertools.product((10.0, 3.0, 1.0), ("decoupled", "sum"), (True, False), (True, False))
    for accuracy, aggregation, norm, whiten in grid:
        weights = {"accuracy": accuracy, "faithfulness": 1.0, "comprehensiveness": 1.0}
        name = f"acc{accuracy:g}_{aggregation}_{'std' if norm else 'nostd'}_{'whiten' if whiten else 'nowhiten'}"
        arms.append(Arm(name, "crpo", weights, aggregation=aggregation, norm_by_std=norm, whiten=whiten))
    return arms


def run_study(
    settings: StudySettings = FULL, progress: Callable[[str], None] | None = None, arms: Sequence[Arm] = ARMS
) -> dict:
    """Score the pools once, train every arm (and the sweep) over every seed; see the module docstring.

    Args:
        settings: sizes and steps.
        progress: called with a short label before each arm (for a progress bar), or None.
        arms: the compared arms (default :data:`ARMS`).
    """
    clash = {arm.name for arm in arms} & set(_RESERVED)
    if clash:
        raise ValueError(f"arm names {sorted(clash)} are keys of the result; rename the arms")
    scores = score_pools(generate_cases(settings.cases, seed=settings.case_seed), seed=settings.case_seed)
    logger.info("scored %d candidate responses", scores.shape[0] * scores.shape[1])
    thresholds = _thresholds(scores)
    result = {}
    for arm in arms:
        if progress:
            progress(arm.name)
        runs = _runs(scores, arm, settings, settings.seeds)
        trajectory = {
            name: {"mean": _rounded(runs[:, :, j].mean(0)), "std": _rounded(runs[:, :, j].std(0))}
            for j, name in enumerate(OBJECTIVES)
        }
        result[arm.name] = {**_final(runs), "trajectory": trajectory, "steps_to_threshold": _steps_to(runs, thresholds)}
    result["thresholds"] = thresholds
    result["sweep"] = []
    for arm in sweep_arms() if settings.sweep_seeds else ():
        if progress:
            progress(arm.name)
        runs = _runs(scores, arm, settings, settings.sweep_seeds)
        settings_of = {
            "weights": dict(arm.weights),
            "aggregation": arm.aggregation,
            "norm_adv_by_std_in_grpo": arm.norm_by_std,
            "whiten": arm.whiten,
        }
        result["sweep"].append(
            {"name": arm.name, **settings_of, "final": _final(runs), "steps_to_threshold": _steps_to(runs, thresholds)}
        )
    result["settings"] = {
        **asdict(settings),
        "arms": [arm.name for arm in arms],
        "candidates_per_case": int(scores.shape[1]),
        "objectives": list(OBJECTIVES),
    }
    return result


def _runs(scores: np.ndarray, arm: Arm, settings: StudySettings, seeds: int) -> np.ndarray:
    """``(seeds, steps + 1, objectives)`` trajectories of ``arm``."""
    kwargs = {"steps": settings.steps, "group_size": settings.group_size, "lr": settings.lr}
    return np.stack([train(scores, arm, seed=seed, **kwargs) for seed in range(seeds)])


def _thresholds(scores: np.ndarray) -> dict[str, float]:
    uniform = scores.mean(axis=(0, 1))
    best = scores.max(axis=1).mean(axis=0)
    return {
        name: round(float(u + THRESHOLD_FRACTION * (b - u)), 4)
        for name, u, b in zip(OBJECTIVES, uniform, best, strict=True)
    }


def _final(runs: np.ndarray) -> dict[str, dict[str, float]]:
    last = runs[:, -1, :]
    return {
        name: {"mean": round(float(last[:, j].mean()), 4), "std": round(float(last[:, j].std()), 4)}
        for j, name in enumerate(OBJECTIVES)
    }


def _steps_to(runs: np.ndarray, thresholds: dict[str, float]) -> dict[str, dict]:
    out = {}
    for j, name in enumerate(OBJECTIVES):
        reached = runs[:, :, j] >= thresholds[name]
        first = [int(np.argmax(row)) for row in reached if row.any()]
        out[name] = {"median": float(np.median(first)) if first else None, "reached": f"{len(first)}/{len(runs)}"}
    return out


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


# The documented result (README, "What CRPO teaches"): (objective, higher arm, lower arm, margin).
# "higher" must exceed "lower" by at least `margin` and by two standard deviations over seeds
# (the larger of the two arms'), so that no single lucky seed passes it.
FINDINGS = (
    ("faithfulness", "crpo_decoupled", "grpo_accuracy_only", 0.1),
    ("comprehensiveness", "crpo_decoupled", "grpo_accuracy_only", 0.1),
    # Where CRPO does not help: at the recipe's 10:1:1 weights, GRPO on the same weighted total
    # teaches comprehensiveness further than the decoupled estimator.
    ("comprehensiveness", "grpo_total", "crpo_decoupled", 0.05),
)
ACCURACY_TOLERANCE = 0.02  # crpo's final accuracy may trail the accuracy-only baseline by at most this


def check_findings(result: dict) -> list[str]:
    """The documented orderings of the arms that ``result`` breaks (empty when all hold).

    Example:
        >>> arm = lambda a, f, c: {"accuracy": {"mean": a, "std": 0.0}, "faithfulness": {"mean": f, "std": 0.01},
        ...                        "comprehensiveness": {"mean": c, "std": 0.01}}
        >>> check_findings({"grpo_accuracy_only": arm(0.99, 0.4, 0.4), "grpo_total": arm(1, 0.65, 0.9),
        ...                 "crpo_decoupled": arm(1, 0.62, 0.78)})
        []
    """
    arms, broken = result, []
    for objective, high, low, margin in FINDINGS:
        a, b = arms[high][objective], arms[low][objective]
        gap, spread = a["mean"] - b["mean"], 2 * max(a["std"], b["std"])
        if gap < max(margin, spread):
            broken.append(
                f"{objective}: {high} {a['mean']:.3f} ± {a['std']:.3f} should exceed {low} "
                f"{b['mean']:.3f} ± {b['std']:.3f} by max({margin}, 2 std) = {max(margin, spread):.3f}"
            )
    crpo, baseline = arms["crpo_decoupled"]["accuracy"]["mean"], arms["grpo_accuracy_only"]["accuracy"]["mean"]
    if crpo < baseline - ACCURACY_TOLERANCE:
        broken.append(
            f"accuracy: crpo_decoupled {crpo:.3f} trails grpo_accuracy_only {baseline:.3f} "
            f"by more than {ACCURACY_TOLERANCE}"
        )
    return broken
