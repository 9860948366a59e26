"""Summary statistics of durations for the per-person and per-unit records (R17). Pure.

One reading of a percentile, stated once: linear interpolation between the closest ranks of the sorted values
(the q-th percentile of n values sits at rank (n - 1) * q / 100, counted from 0). The median is the 50th
percentile, so it agrees with `statistics.median`. The benchmarks use the same reading (bench/stats.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import DomainError


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`, linear between the closest ranks; DomainError for no values."""
    if not values:
        raise DomainError("a percentile of no values is undefined")
    if not 0 <= q <= 100:
        raise DomainError(f"a percentile is between 0 and 100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    if fraction == 0 or ordered[low] == ordered[high]:
        return ordered[low]
    between = ordered[low] + (ordered[high] - ordered[low]) * fraction
    # Rounding (or an overflowing difference) must not carry the result outside its two neighbours.
    return min(max(between, ordered[low]), ordered[high])


@dataclass(frozen=True)
class Spread:
    """The median and the 90th percentile of a set of durations, and how many there were."""

    count: int
    median: float
    p90: float


def spread(values: Iterable[float]) -> Spread | None:
    """Median and p90 of `values`; None when there are none (nothing to summarise, not zero)."""
    listed = list(values)
    if not listed:
        return None
    return Spread(count=len(listed), median=percentile(listed, 50), p90=percentile(listed, 90))
