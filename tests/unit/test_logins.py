"""The wait after failed logins: nothing for a few mistakes, then doubling, capped, never negative."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.logins import MAX_WAIT_S, WINDOW, wait_seconds

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ages = st.lists(st.floats(min_value=0, max_value=WINDOW.total_seconds() * 2), max_size=40)


def _times(seconds_ago: list[float]) -> list[datetime]:
    return [NOW - timedelta(seconds=s) for s in seconds_ago]


def test_a_few_mistakes_cost_nothing_then_each_failure_doubles_the_wait() -> None:
    just_now = [NOW] * 4
    assert wait_seconds(just_now, NOW, free=5) == 0
    assert wait_seconds([NOW] * 5, NOW, free=5) == 2
    assert wait_seconds([NOW] * 6, NOW, free=5) == 4
    assert wait_seconds([NOW] * 9, NOW, free=5) == 32
    assert wait_seconds([NOW] * 40, NOW, free=5) == MAX_WAIT_S


def test_the_wait_runs_from_the_last_failure_and_old_failures_age_out() -> None:
    assert wait_seconds([NOW - timedelta(seconds=1)] * 6, NOW, free=5) == 3
    assert wait_seconds([NOW - WINDOW] * 30, NOW, free=5) == 0


@given(ages, st.integers(min_value=1, max_value=30))
def test_the_wait_is_never_negative_nor_above_the_cap(seconds_ago: list[float], free: int) -> None:
    assert 0 <= wait_seconds(_times(seconds_ago), NOW, free) <= MAX_WAIT_S


@given(ages, st.floats(min_value=0, max_value=WINDOW.total_seconds()), st.integers(min_value=1, max_value=30))
def test_one_more_failure_never_shortens_the_wait(seconds_ago: list[float], extra: float, free: int) -> None:
    before = wait_seconds(_times(seconds_ago), NOW, free)
    assert wait_seconds(_times([*seconds_ago, extra]), NOW, free) >= before


@given(ages, st.floats(min_value=0, max_value=3600), st.integers(min_value=1, max_value=30))
def test_waiting_never_lengthens_the_wait(seconds_ago: list[float], later: float, free: int) -> None:
    times = _times(seconds_ago)
    assert wait_seconds(times, NOW + timedelta(seconds=later), free) <= wait_seconds(times, NOW, free)
