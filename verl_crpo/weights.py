"""Objective weights: the one validator used by the reward, the estimator and the config checks.

A weighting maps objective names to finite, non-negative numbers (Python or numpy; booleans are
not numbers here), at least one of them positive. Every error is a ``ValueError`` that names the
config key (``where``) and the objective.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["is_weight", "validate_weights"]


def is_weight(value: Any) -> bool:
    """Whether ``value`` is a real number (int, float, numpy scalar) and not a boolean.

    Example:
        >>> is_weight(1), is_weight(np.float32(0.5)), is_weight(True), is_weight("1")
        (True, True, False, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def validate_weights(weights: Any, where: str, known: Sequence[str] | None = None, hint: str = "") -> dict[str, float]:
    """Check a weighting and return it as ``{name: float}``, in the given order.

    Args:
        weights: The mapping to check.
        where: The config key it came from, named in every message (``"algorithm.crpo.weights"``).
        known: The objective names allowed, or None for any non-empty string.
        hint: Appended to the messages about a missing, empty or all-zero weighting (how to set it).

    Raises:
        ValueError: not a mapping, empty, an unknown or empty name, a weight that is not a real
            number, not finite or negative, or all weights zero.

    Example:
        >>> validate_weights({"accuracy": 10, "format": np.float32(0)}, "weights")
        {'accuracy': 10.0, 'format': 0.0}
        >>> validate_weights({"accuracy": -1}, "algorithm.crpo.weights")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: algorithm.crpo.weights.accuracy must be finite and >= 0, got -1.0; ...
    """
    tail = f"; {hint}" if hint else ""
    if not isinstance(weights, Mapping):
        raise ValueError(f"{where} must be a mapping objective -> weight, got {type(weights).__name__}{tail}")
    if not weights:
        raise ValueError(f"{where} is empty{tail}")
    clean: dict[str, float] = {}
    for name, value in weights.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: objective names must be non-empty strings, got {name!r}")
        if known is not None and name not in known:
            raise ValueError(f"unknown objective {name!r} in {where}; use names from {tuple(known)}")
        if not is_weight(value):
            raise ValueError(f"{where}.{name} must be a number, got {value!r} ({type(value).__name__})")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"{where}.{name} must be finite and >= 0, got {value}; an objective to avoid belongs in the "
                "reward function (score it so that higher is better), not in a negative weight"
            )
        clean[name] = value
    if not any(clean.values()):
        raise ValueError(f"{where} are all zero: at least one weight must be positive{tail}")
    return clean
