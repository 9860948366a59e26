"""How long a login waits after failed attempts: per person and per desk, doubling, capped.

A few mistyped passwords cost nothing; after that each further failure within the window doubles the wait before
the next attempt is even checked, so guessing at a desk (or at one person's name) slows to a crawl while the
person who simply mistyped waits seconds. A successful login clears that person's count; the desk's count only
ages out, so spreading guesses over many names does not help either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)  # failures older than this no longer count
MAX_WAIT_S = 15 * 60


@dataclass(frozen=True)
class Allowance:
    """Failures tolerated before the waits start, for one person's name and for the whole desk."""

    per_person: int = 5
    per_desk: int = 20


ALLOWANCE = Allowance()


def wait_seconds(failures: Iterable[datetime], now: datetime, free: int) -> float:
    """Seconds until the next attempt may be checked, given the failures counted (times, any order).

    Within the window, `free` failures wait nothing; the next waits 2 s after the last failure, then 4, 8 … up to
    `MAX_WAIT_S`. Never negative; more failures never mean a shorter wait.
    """
    recent = [t for t in failures if timedelta(0) <= now - t < WINDOW]
    if len(recent) < free:
        return 0.0
    wait = float(min(2 ** (len(recent) - free + 1), MAX_WAIT_S))
    elapsed = (now - max(recent)).total_seconds()
    return max(0.0, wait - elapsed)
