"""Means with bootstrap intervals, and paired differences between two runs on their common items.

Method: the percentile bootstrap (Efron & Tibshirani 1993, ch. 13). The interval at ``level``
is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the statistic over ``n_boot``
resamples drawn with replacement from a seeded :class:`numpy.random.Generator`, so the same
inputs and seed give the same interval.

* NaN marks a missing value (a judge that gave no score): it is left out, never read as 0, and
  ``n`` counts the values present. With no value present, mean and interval are ``None``.
* Several responses per item (``--n`` samples) are not independent: with ``clusters`` the
  resampling unit is the item (a cluster bootstrap), and the statistic is the mean over the
  present responses of the resampled items.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["bootstrap_mean", "paired_difference"]

# Resamples are drawn in blocks of at most this many item draws, to bound memory (about 100 MB).
_BLOCK_CELLS = 4_000_000


def bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[Hashable] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float | int | None]:
    """Mean of the present values with its percentile bootstrap interval.

    Args:
        values: one value per response; NaN (or None) is missing.
        clusters: one item id per response; resample items rather than responses. Default:
            every response is its own item.
        n_boot: number of bootstrap resamples (at least 1).
        seed: seed of the resampling.
        level: coverage of the interval, in (0, 1).

    Returns:
        ``{"mean", "ci_low", "ci_high", "n"}``: floats (``None`` when no value is present) and
        the number of present values.

    Raises:
        ValueError: ``clusters`` of another length than ``values``, or bad ``n_boot``/``level``.

    Example:
        >>> r = bootstrap_mean([1.0, 0.0, 1.0, float("nan"), 1.0], n_boot=1000)
        >>> r["mean"], r["n"], r["ci_low"] <= r["mean"] <= r["ci_high"]
        (0.75, 4, True)
        >>> r == bootstrap_mean([1.0, 0.0, 1.0, float("nan"), 1.0], n_boot=1000)  # seeded
        True
        >>> bootstrap_mean([float("nan")])
        {'mean': None, 'ci_low': None, 'ci_high': None, 'n': 0}
    """
    _check(n_boot, level)
    x = _as_floats(values)
    if clusters is None:
        ids = np.arange(len(x))
    else:
        if len(clusters) != len(x):
            raise ValueError(f"clusters has {len(clusters)} entries for {len(x)} values; give one item id per value")
        ids = _codes(clusters)
    present = ~np.isnan(x)
    n = int(present.sum())
    if n == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    # Per-item sums and counts of present values; items with none present drop out.
    _, item = np.unique(ids[present], return_inverse=True)
    sums = np.bincount(item, weights=x[present])
    counts = np.bincount(item).astype(float)
    mean = float(sums.sum() / counts.sum())
    low, high = _interval(_resample_ratio(sums, counts, n_boot, seed), level, mean)
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n}


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    items_a: Sequence[Hashable],
    items_b: Sequence[Hashable],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float | int | None]:
    """Mean over common items of ``b - a``, with its percentile bootstrap interval over items.

    Each run's responses are first averaged per item (missing values left out); an item is
    common when both runs have a present value for it. The difference is run ``b`` minus run
    ``a`` per common item; items are resampled.

    Args:
        a, b: one value per response of each run; NaN (or None) is missing.
        items_a, items_b: the item id of each of those responses.
        n_boot, seed, level: as for :func:`bootstrap_mean`.

    Returns:
        ``{"mean", "ci_low", "ci_high", "n"}`` with ``n`` the number of common items; the
        others ``None`` when there is none.

    Example:
        >>> d = paired_difference([0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], ["q1", "q2", "q3"],
        ...                       ["q1", "q1", "q2", "q9"], n_boot=500)
        >>> d["mean"], d["n"]  # q1: 1 - 0, q2: 1 - 1; q3 and q9 are not common
        (0.5, 2)
        >>> d["ci_low"] <= d["mean"] <= d["ci_high"]
        True
    """
    _check(n_boot, level)
    means_a, means_b = _item_means(a, items_a, "a"), _item_means(b, items_b, "b")
    common = [item for item in means_a if item in means_b]
    if not common:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    diff = np.array([means_b[item] - means_a[item] for item in common])
    mean = float(diff.mean())
    low, high = _interval(_resample_ratio(diff, np.ones_like(diff), n_boot, seed), level, mean)
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": len(common)}


def _check(n_boot: int, level: float) -> None:
    if not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.95, got {level!r}")


def _as_floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float).reshape(-1)


def _codes(ids: Sequence[Hashable]) -> np.ndarray:
    codes: dict[Hashable, int] = {}
    return np.fromiter((codes.setdefault(i, len(codes)) for i in ids), dtype=np.int64, count=len(ids))


def _item_means(values, items: Sequence[Hashable], name: str) -> dict[Hashable, float]:
    x = _as_floats(values)
    if len(items) != len(x):
        raise ValueError(f"items_{name} has {len(items)} entries for {len(x)} values; give one item id per value")
    sums: dict[Hashable, float] = {}
    counts: dict[Hashable, int] = {}
    for item, value in zip(items, x.tolist(), strict=True):
        if value == value:  # not NaN
            sums[item] = sums.get(item, 0.0) + value
            counts[item] = counts.get(item, 0) + 1
    return {item: sums[item] / counts[item] for item in sums}


def _resample_ratio(sums: np.ndarray, counts: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``sum(sums) / sum(counts)`` over ``n_boot`` resamples of the items, with replacement."""
    rng = np.random.default_rng(seed)
    k = len(sums)
    block = max(1, _BLOCK_CELLS // k)
    out = np.empty(n_boot)
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        drawn = rng.integers(0, k, size=(rows, k))
        out[start : start + rows] = sums[drawn].sum(axis=1) / counts[drawn].sum(axis=1)
    return out


def _interval(boot: np.ndarray, level: float, mean: float) -> tuple[float, float]:
    low, high = (float(q) for q in np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]))
    # A resample summed in another order can differ from the estimate in the last bits; when every
    # value is the same, that rounding alone would put the interval beside the mean.
    if low > mean and np.isclose(low, mean, rtol=1e-12, atol=1e-12):
        low = mean
    if high < mean and np.isclose(high, mean, rtol=1e-12, atol=1e-12):
        high = mean
    return low, high
