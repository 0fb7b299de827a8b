"""The ``algorithm.crpo`` section: :class:`CRPOConfig`, validated when it is built.

Every error is a ``ValueError`` whose message names the key to change and shows the override.
The estimator itself lives in :mod:`verl_crpo.advantage`, which re-exports :class:`CRPOConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from verl_crpo.weights import is_weight, validate_weights

__all__ = ["AGGREGATIONS", "CRPOConfig"]

AGGREGATIONS = ("decoupled", "sum")
_CRPO_KEYS = ("weights", "aggregation", "whiten", "epsilon")
_WEIGHTS_HINT = (
    "set algorithm.crpo.weights, e.g. +algorithm.crpo.weights.accuracy=10.0 "
    "+algorithm.crpo.weights.faithfulness=1.0 +algorithm.crpo.weights.comprehensiveness=1.0 "
    "(without the '+' in a recipe YAML)"
)


@dataclass(frozen=True)
class CRPOConfig:
    """Validated settings of the ``crpo`` estimator (``algorithm.crpo`` plus one verl key).

    Attributes:
        weights: Ordered objective name -> weight (finite, >= 0, not all 0); stored read-only.
            Every named objective must be present in ``non_tensor_batch``, even with weight 0
            (its metrics are still logged).
        aggregation: ``"decoupled"`` (normalise each objective within its group, then weight and
            add) or ``"sum"`` (GRPO on the weighted total).
        whiten: Whiten the aggregated advantage over the batch's valid tokens (as verl's gdpo).
        epsilon: Added to the group std before dividing (> 0).
        norm_by_std: verl's ``algorithm.norm_adv_by_std_in_grpo``; False keeps ``r - mean``
            (Dr. GRPO).

    Raises:
        ValueError: On any invalid value; the message names the key to change.
    """

    weights: Mapping[str, float]
    aggregation: str = "decoupled"
    whiten: bool = True
    epsilon: float = 1e-6
    norm_by_std: bool = True

    def __post_init__(self) -> None:
        clean = validate_weights(self.weights, "algorithm.crpo.weights", hint=_WEIGHTS_HINT)
        object.__setattr__(self, "weights", MappingProxyType(clean))
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"algorithm.crpo.aggregation must be one of {', '.join(AGGREGATIONS)}; got {self.aggregation!r}"
            )
        if not isinstance(self.whiten, (bool, np.bool_)):
            raise ValueError(f"algorithm.crpo.whiten must be true or false, got {self.whiten!r}")
        object.__setattr__(self, "whiten", bool(self.whiten))
        if not is_weight(self.epsilon) or not math.isfinite(self.epsilon) or self.epsilon <= 0:
            raise ValueError(f"algorithm.crpo.epsilon must be a finite number > 0 (e.g. 1.0e-6), got {self.epsilon!r}")
        object.__setattr__(self, "epsilon", float(self.epsilon))
        if not isinstance(self.norm_by_std, (bool, np.bool_)):
            raise ValueError(f"algorithm.norm_adv_by_std_in_grpo must be true or false, got {self.norm_by_std!r}")
        object.__setattr__(self, "norm_by_std", bool(self.norm_by_std))

    def __hash__(self) -> int:
        return hash((tuple(self.weights.items()), self.aggregation, self.whiten, self.epsilon, self.norm_by_std))

    def __reduce__(self):
        # A mappingproxy does not pickle: rebuild from a plain dict (configs cross process boundaries).
        return (type(self), (dict(self.weights), self.aggregation, self.whiten, self.epsilon, self.norm_by_std))

    @property
    def names(self) -> tuple[str, ...]:
        """Objective names, in the order of ``weights``."""
        return tuple(self.weights)

    @classmethod
    def from_algorithm_config(cls, algorithm_config: Any) -> CRPOConfig:
        """Build from verl's ``algorithm`` config section.

        Args:
            algorithm_config: The ``algorithm`` section as an omegaconf ``DictConfig``, a plain dict,
                or verl's ``AlgoConfig`` (anything with ``.get``). Reads ``crpo`` (keys ``weights``,
                ``aggregation``, ``whiten``, ``epsilon``) and ``norm_adv_by_std_in_grpo`` (default true).

        Returns:
            The validated config.

        Raises:
            ValueError: If the section or its weights are missing, or any value is invalid.
        """
        if algorithm_config is None or not hasattr(algorithm_config, "get"):
            raise ValueError(
                "the crpo advantage estimator needs the algorithm config (got "
                f"{type(algorithm_config).__name__}); pass config=<algorithm section> and {_WEIGHTS_HINT}"
            )
        section = algorithm_config.get("crpo", None)
        if section is None:
            raise ValueError(
                "algorithm.crpo is missing: adv_estimator=crpo needs objective weights; "
                f"{_WEIGHTS_HINT}. (verl's AlgoConfig dataclass drops unknown keys: pass the DictConfig.)"
            )
        section = _to_plain(section)
        if not isinstance(section, Mapping):
            raise ValueError(f"algorithm.crpo must be a mapping, got {type(section).__name__}; {_WEIGHTS_HINT}")
        unknown = sorted(set(section) - set(_CRPO_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key(s) under algorithm.crpo: {', '.join(map(str, unknown))}; allowed: {', '.join(_CRPO_KEYS)}"
            )
        if section.get("weights") is None:
            raise ValueError(f"algorithm.crpo.weights is missing; {_WEIGHTS_HINT}")
        norm = algorithm_config.get("norm_adv_by_std_in_grpo", True)
        kwargs = {key: section[key] for key in ("aggregation", "whiten", "epsilon") if section.get(key) is not None}
        return cls(weights=section["weights"], norm_by_std=True if norm is None else norm, **kwargs)


def _to_plain(value: Any) -> Any:
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf ships with verl
        return value
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value
