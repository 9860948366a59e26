"""Automatic assignment (R14–R16): eligibility, order, and online work first."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.assignment import PoolItem, eligible, order_key, pick_next
from workstation.domain.errors import DomainError
from workstation.domain.permissions import Actor

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=BEIJING)


def reviewer(online: bool = True, offline: bool = False, roles: frozenset[str] = frozenset({"reviewer"})) -> Actor:
    return Actor("u-1", "wang", roles, can_review_online=online, can_review_offline=offline)  # type: ignore[arg-type]


def item(
    dossier_id: str, kind: str = "individual", minutes: int = 0, digitized: bool = True, leased: bool = False
) -> PoolItem:
    return PoolItem(dossier_id, kind, T0 + timedelta(minutes=minutes), digitized, leased)


actors = st.builds(
    reviewer,
    online=st.booleans(),
    offline=st.booleans(),
    roles=st.sampled_from(
        [frozenset({"reviewer"}), frozenset({"reviewer", "admin"}), frozenset({"clerk"}), frozenset({"qc"})]
    ),
)

pool_items = st.builds(
    PoolItem,
    dossier_id=st.text(alphabet="ABC0123", min_size=1, max_size=4),
    applicant_kind=st.sampled_from(["enterprise", "individual"]),
    applied_at=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2024, 1, 3), timezones=st.sampled_from([UTC, BEIJING])
    ),
    digitized=st.booleans(),
    leased=st.booleans(),
)
pools = st.lists(pool_items, max_size=30, unique_by=lambda i: i.dossier_id)


def _dual(actor: Actor) -> bool:
    return actor.can_review_online and actor.can_review_offline


@given(pools, actors)
def test_pick_is_the_first_eligible_in_its_class(pool: list[PoolItem], actor: Actor) -> None:
    pick = pick_next(pool, actor)
    candidates = [i for i in pool if eligible(i, actor)]
    if pick is None:
        assert candidates == []
        return
    assert pick in pool
    assert eligible(pick, actor)
    assert not pick.leased
    if _dual(actor) and any(i.digitized for i in candidates):
        assert pick.digitized  # R16: online work first
        candidates = [i for i in candidates if i.digitized]
    assert not [i for i in candidates if order_key(i) < order_key(pick)]


@given(pools, actors, st.randoms(use_true_random=False))
def test_pick_does_not_depend_on_pool_order(pool: list[PoolItem], actor: Actor, rnd: random.Random) -> None:
    shuffled = list(pool)
    rnd.shuffle(shuffled)
    assert pick_next(shuffled, actor) == pick_next(pool, actor)


@given(pools, actors)
def test_never_picks_a_leased_dossier_and_paper_needs_offline_grant(pool: list[PoolItem], actor: Actor) -> None:
    pick = pick_next(pool, actor)
    if pick is not None:
        assert not pick.leased
        assert actor.can_review_online if pick.digitized else actor.can_review_offline


def test_enterprise_dossier_is_assigned_before_older_individual_one() -> None:
    older_individual = item("D-1", "individual", minutes=0)
    newer_enterprise = item("D-2", "enterprise", minutes=90)
    assert pick_next([older_individual, newer_enterprise], reviewer()) == newer_enterprise


def test_same_kind_goes_by_application_time_then_id() -> None:
    later = item("D-1", minutes=5)
    earlier_b = item("D-3", minutes=0)
    earlier_a = item("D-2", minutes=0)
    assert pick_next([later, earlier_b, earlier_a], reviewer()) == earlier_a


def test_a_reviewer_with_both_permissions_gets_offline_work_only_when_no_online_work_remains() -> None:
    both = reviewer(online=True, offline=True)
    paper_enterprise = item("P-1", "enterprise", minutes=0, digitized=False)
    online_individual = item("O-1", "individual", minutes=60, digitized=True)
    assert pick_next([paper_enterprise, online_individual], both) == online_individual
    leased_online = item("O-1", "individual", minutes=60, digitized=True, leased=True)
    assert pick_next([paper_enterprise, leased_online], both) == paper_enterprise


def test_paper_dossier_never_goes_to_an_online_only_reviewer() -> None:
    paper = item("P-1", "enterprise", digitized=False)
    assert not eligible(paper, reviewer(online=True, offline=False))
    assert pick_next([paper], reviewer(online=True, offline=False)) is None
    assert pick_next([paper], reviewer(online=False, offline=True)) == paper


def test_a_grant_without_the_reviewer_role_is_not_enough() -> None:
    clerk = reviewer(online=True, offline=True, roles=frozenset({"clerk"}))
    assert pick_next([item("D-1")], clerk) is None


def test_naive_application_time_is_refused() -> None:
    with pytest.raises(DomainError, match="time zone"):
        PoolItem("D-1", "individual", datetime(2024, 1, 1), True)
    with pytest.raises(DomainError, match="enterprise or individual"):
        PoolItem("D-1", "government", T0, True)
