"""The review service on both databases: claim order (R14–R16), leases and fences, decisions, 登簿, withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.review_helpers import settle, submitted
from workstation.domain.errors import DomainError, IllegalTransition, PermissionDenied
from workstation.domain.review import ReturnItem
from workstation.errors import ConflictError, UsageError
from workstation.services.desk import Desk
from workstation.store.models import Assignment, AuditEvent, ClockPause, Decision, Dossier, Field, OutboxOp, Page

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _user(desk: Desk, name: str, *, online: bool, offline: bool, roles: tuple[str, ...] = ("reviewer",)):  # type: ignore[no-untyped-def]
    admin = desk.users.actor("admin")
    desk.users.add(
        admin,
        username=name,
        password=f"{name}-pass-1",
        roles=list(roles),
        can_review_online=online,
        can_review_offline=offline,
    )
    return desk.users.actor(name)


@pytest.fixture
def both(desk: Desk):  # type: ignore[no-untyped-def]
    return _user(desk, "both1", online=True, offline=True)


def _expire(desk: Desk, number: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    with desk.db.transaction() as s:
        dossier_id = s.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        s.execute(update(Dossier).where(Dossier.id == dossier_id).values(lease_expires_at=past))
        s.execute(
            update(Assignment)
            .where(Assignment.dossier_id == dossier_id, Assignment.state == "active")
            .values(expires_at=past)
        )


def test_enterprise_first_then_application_time_then_online_before_paper(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    paper_old = submitted(desk, clerk, business="RESALE_TRANSFER", applied_at=T0)  # window resale: paper
    online_ind = submitted(
        desk, clerk, business="RESALE_TRANSFER", channel="online", applied_at=T0 + timedelta(hours=2)
    )
    online_ent_late = submitted(
        desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise", applied_at=T0 + timedelta(hours=3)
    )
    online_ent_early = submitted(
        desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise", applied_at=T0 + timedelta(hours=1)
    )
    assert not paper_old.digitized and online_ind.digitized
    desk.review.queue_size = 10
    order = [desk.review.claim_next(both) for _ in range(5)]
    assert [lease.number if lease else None for lease in order] == [
        online_ent_early.number,  # R15: enterprise first
        online_ent_late.number,
        online_ind.number,  # then individual, by application time
        paper_old.number,  # R16: paper only when no online work is left for someone holding both grants
        None,
    ]
    assert desk.review.pool_counts() == {"online": 0, "offline": 0}


def test_grants_decide_which_dossiers_a_reviewer_may_take(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    paper = submitted(desk, clerk, business="RESALE_TRANSFER")
    online_only = _user(desk, "on1", online=True, offline=False)
    offline_only = _user(desk, "off1", online=False, offline=True)
    neither = _user(desk, "none1", online=False, offline=False)
    assert desk.review.claim_next(online_only) is None  # R14: paper needs the offline grant
    with pytest.raises(PermissionDenied, match="may not review"):
        desk.review.claim_next(neither)
    with pytest.raises(PermissionDenied):
        desk.review.claim_next(clerk)
    lease = desk.review.claim_next(offline_only)
    assert lease is not None and lease.number == paper.number and lease.fence == 1


def test_a_desk_holds_at_most_k_leases_and_fill_tops_up_to_k(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    numbers = [submitted(desk, clerk, applied_at=T0 + timedelta(minutes=i)).number for i in range(5)]
    desk.review.queue_size = 3
    held = desk.review.fill_queue(both)
    assert [lease.number for lease in held] == numbers[:3]
    with pytest.raises(UsageError, match="already holds 3"):
        desk.review.claim_next(both)
    assert [lease.number for lease in desk.review.queue(both)] == numbers[:3]
    assert all(1700 < lease.seconds_left() <= 1800 for lease in held)


def test_heartbeat_renews_and_reports_lost_leases(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    a = submitted(desk, clerk, applied_at=T0)
    b = submitted(desk, clerk, applied_at=T0 + timedelta(minutes=1))
    la, lb = desk.review.claim_next(both), desk.review.claim_next(both)
    assert la and lb and (la.number, lb.number) == (a.number, b.number)
    _expire(desk, b.number)
    beat = desk.review.heartbeat(both, [la.lease_id, lb.lease_id, "no-such-lease"])
    assert [lease.lease_id for lease in beat.renewed] == [la.lease_id]
    assert beat.renewed[0].expires_at > la.expires_at
    lost = dict(beat.lost)
    assert "expired" in lost[lb.lease_id] and "no such lease" in lost["no-such-lease"]


def test_an_expired_lease_returns_to_the_pool_and_its_decision_is_a_recorded_conflict(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    other = _user(desk, "rev2", online=True, offline=True)
    first = desk.review.claim_next(both)
    assert first is not None
    assert desk.review.claim_next(other) is None  # leased: not in the pool
    _expire(desk, d.number)
    second = desk.review.claim_next(other)
    assert second is not None and second.number == d.number and second.fence == first.fence + 1
    with pytest.raises(ConflictError, match="stale") as refused:
        desk.review.decide(both, d.number, "approve", lease_id=first.lease_id, fence=first.fence)
    view = refused.value.record
    assert view.outcome == "conflict" and view.reviewer == "both1"
    shown = desk.review.conflicts()
    assert [c.id for c in shown] == [view.id]
    with desk.db.read() as s:
        states = dict(s.execute(select(Assignment.lease_id, Assignment.state)).all())
        dossier = s.execute(select(Dossier).where(Dossier.number == d.number)).scalar_one()
    assert states == {first.lease_id: "expired", second.lease_id: "active"}
    assert (dossier.stage, dossier.status, dossier.fence) == ("REVIEW", "in_review", 2)
    applied = desk.review.decide(other, d.number, "approve", lease_id=second.lease_id, fence=second.fence)
    assert (applied.outcome, applied.stage_after, applied.status_after) == ("applied", "REGISTER", "submitted")
    assert desk.verify_audit().ok


def test_an_expired_lease_nobody_took_again_still_cannot_decide(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    _expire(desk, d.number)
    with pytest.raises(ConflictError, match="expired"):
        desk.review.decide(both, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    assert desk.review.show_state(d.number) == ("REVIEW", "in_review")


def test_release_puts_the_dossier_back_and_the_next_lease_has_a_new_fence(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    desk.review.release(both, lease.lease_id)
    assert desk.review.show_state(d.number) == ("REVIEW", "submitted")
    with pytest.raises(UsageError, match="no longer live"):
        desk.review.release(both, lease.lease_id)
    again = desk.review.claim_next(both)
    assert again is not None and again.fence == 2
    with pytest.raises(ConflictError, match="stale"):
        desk.review.decide(both, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)


def test_approve_then_register_records_the_registrar_and_time(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    desk.review.decide(both, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence, note="材料齐全")
    with pytest.raises(PermissionDenied):
        desk.review.register(clerk, d.number)
    before = datetime.now(UTC)
    done = desk.review.register(both, d.number)
    assert (done["stage"], done["status"]) == ("ISSUE", "registered")
    with desk.db.read() as s:
        row = s.execute(select(Dossier).where(Dossier.number == d.number)).scalar_one()
    assert row.registered_by == both.user_id and row.registered_at is not None and row.registered_at >= before
    with pytest.raises(IllegalTransition):
        desk.review.register(both, d.number)
    with pytest.raises(DomainError, match="未缴费"):
        desk.review.issue(clerk, d.number)
    settle(desk, clerk, d.number)
    issued = desk.review.issue(clerk, d.number)
    assert issued["status"] == "issued"


def test_return_lists_everything_at_once_pauses_the_clock_and_resubmission_resumes_it(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    with pytest.raises(DomainError, match="list is empty"):
        desk.review.decide(both, d.number, "return", lease_id=lease.lease_id, fence=lease.fence)
    with pytest.raises(DomainError, match="unknown 补正 problem"):
        desk.review.decide(
            both,
            d.number,
            "return",
            lease_id=lease.lease_id,
            fence=lease.fence,
            items=[ReturnItem(problem="ugly", material="M01")],
        )
    with desk.db.transaction() as s:  # the area as OCR read it from the contract (not the page the clerk typed on)
        page_id = s.execute(
            select(Page.id).where(Page.dossier_id == d.id).order_by(Page.position.desc()).limit(1)
        ).scalar_one()
        s.add(Field(dossier_id=d.id, page_id=page_id, key="area_m2", value="98.60", confidence=0.97, valid=True))
    with pytest.raises(DomainError, match=r"item 1: material M99 is not on this dossier's checklist"):
        desk.review.decide(
            both,
            d.number,
            "return",
            lease_id=lease.lease_id,
            fence=lease.fence,
            items=[ReturnItem(problem="missing", material="M99"), ReturnItem(problem="missing", field="price")],
        )
    items = [
        ReturnItem(problem="defective", material="M03", party_key="p1", note="复印件模糊"),
        ReturnItem(problem="inconsistent", field="area_m2", note="合同与测绘报告面积不一致"),
    ]
    view = desk.review.decide(both, d.number, "return", lease_id=lease.lease_id, fence=lease.fence, items=items)
    assert view.status_after == "returned" and [i["material"] for i in view.items] == ["M03", None]
    with desk.db.read() as s:
        pauses = s.execute(select(ClockPause)).scalars().all()
    assert [(p.reason, p.ended_at) for p in pauses] == [("supplement", None)]
    assert desk.review.claim_next(both) is None  # a returned dossier waits for the applicant, not in the pool
    with pytest.raises(DomainError, match=r"2 补正 item\(s\) not addressed yet .*1\. M03 p1 \(defective\).*2\. area"):
        desk.dossiers.submit(clerk, d.number)  # nothing addressed yet: refused, nothing sent
    desk.dossiers.attach_page(  # a clear copy of the ID card: item 1
        clerk,
        d.number,
        data=b"a clear copy",
        source_name="id.png",
        media_type="image/png",
        material="M03",
        party_key="p1",
    )
    with pytest.raises(DomainError, match=r"1 补正 item\(s\) not addressed yet .*2\. area_m2 \(inconsistent\)"):
        desk.dossiers.submit(clerk, d.number)
    desk.dossiers.confirm_field(clerk, d.number, page_id, "area_m2", value="89.60")  # item 2: the area corrected
    again = desk.dossiers.submit(clerk, d.number)
    assert (again.stage, again.status) == ("REVIEW", "submitted")
    with desk.db.read() as s:
        pause = s.execute(select(ClockPause)).scalar_one()
    assert pause.ended_at is not None and pause.ended_by == "clerk1"
    assert desk.review.claim_next(both) is not None


def test_reject_needs_a_reason_from_the_list(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    with pytest.raises(DomainError, match="reason from the list"):
        desk.review.decide(both, d.number, "reject", lease_id=lease.lease_id, fence=lease.fence, reason_code="whim")
    view = desk.review.decide(
        both, d.number, "reject", lease_id=lease.lease_id, fence=lease.fence, reason_code="dispute"
    )
    assert (view.status_after, view.reason_code) == ("rejected", "dispute")
    with pytest.raises(UsageError, match="unknown decision"):
        desk.review.decide(both, d.number, "maybe", lease_id=lease.lease_id, fence=lease.fence)


def test_withdrawal_during_review_ends_the_lease_and_the_late_decision_is_a_conflict(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    desk.dossiers.withdraw(clerk, d.number, reason="申请人撤回")
    with pytest.raises(ConflictError, match="ended"):
        desk.review.decide(both, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    assert desk.review.show_state(d.number) == ("REVIEW", "withdrawn")


def test_withdrawal_after_registration_is_refused(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    desk.review.decide(both, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    desk.review.register(both, d.number)
    with pytest.raises(IllegalTransition):
        desk.dossiers.withdraw(clerk, d.number)


def test_a_replayed_decision_returns_the_first_result_and_is_stored_once(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(both)
    assert lease is not None
    kwargs = {"lease_id": lease.lease_id, "fence": lease.fence, "op_id": "op-1"}
    first = desk.review.decide(both, d.number, "approve", **kwargs)  # type: ignore[arg-type]
    second = desk.review.decide(both, d.number, "approve", **kwargs)  # type: ignore[arg-type]
    assert first == second
    with desk.db.read() as s:
        assert s.execute(select(func.count(Decision.id))).scalar_one() == 1
        assert s.execute(select(func.count()).where(AuditEvent.action == "review.approve")).scalar_one() == 1


def test_a_lease_used_by_someone_else_is_refused(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk)
    other = _user(desk, "rev2", online=True, offline=True)
    lease = desk.review.claim_next(both)
    assert lease is not None
    with pytest.raises(ConflictError, match="another reviewer"):
        desk.review.decide(other, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    assert desk.review.show_state(d.number) == ("REVIEW", "in_review")


def test_a_desk_alone_audits_its_claims_and_decisions_and_sends_none_of_them(desk: Desk, clerk, both) -> None:  # type: ignore[no-untyped-def]
    """Alone, the desk is its own registry: what it decides in review is decided for good, never a request."""
    d = submitted(desk, clerk)
    with desk.db.read() as s:
        queued = s.execute(select(OutboxOp.kind).where(OutboxOp.entity_id == d.id)).scalars().all()
    lease = desk.review.claim_next(both)
    assert lease is not None
    view = desk.review.decide(both, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    with desk.db.read() as s:
        after = s.execute(select(OutboxOp.kind).where(OutboxOp.entity_id == d.id)).scalars().all()
        actions = (
            s.execute(select(AuditEvent.action).where(AuditEvent.entity_id == d.id).order_by(AuditEvent.seq))
            .scalars()
            .all()
        )
    assert after == queued and queued[-1] == "dossier.submit"
    assert actions[-2:] == ["review.claim", "review.approve"] and view.op_id is None
    assert desk.dossiers.show(d.number).version == d.version + 2  # claim and decision: one version each
    assert desk.verify_audit().ok


def test_suggested_return_lists_missing_materials_and_invalid_fields(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
    suggested = desk.review.suggest_return(d.number)
    missing = {(i.material, i.party_key) for i in suggested if i.problem == "missing"}
    required = {(s.material, s.party_key) for s in d.slots if s.required}
    assert missing == required and missing


def test_the_lease_keeper_renews_while_running_and_the_lease_lapses_after(settings, clerk) -> None:  # type: ignore[no-untyped-def]
    import time

    from workstation.services.desk import open_desk
    from workstation.services.review import LeaseKeeper, ReviewService

    desk = open_desk(settings)
    try:
        reviewer = _user(desk, "keep1", online=True, offline=True)
        d = submitted(desk, clerk)
        review = ReviewService(
            desk.db, desk.catalogue, station_id="local", qc_policy=desk.review._qc, lease_seconds=0.8
        )
        lease = review.claim_next(reviewer)
        assert lease is not None
        keeper = LeaseKeeper(review, reviewer, interval=0.15).start()
        time.sleep(1.6)  # twice the lease
        keeper.stop()
        assert keeper.renewals >= 3 and keeper.failures == 0
        assert [x.number for x in review.queue(reviewer)] == [d.number]
        time.sleep(1.0)
        assert review.queue(reviewer) == []
        with pytest.raises(ConflictError, match="expired"):
            review.decide(reviewer, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    finally:
        desk.close()


def test_the_pool_query_orders_applicant_kinds_as_r15_does() -> None:
    """The claim's SQL sorts applicant_kind as text: enterprise must sort before individual."""
    from workstation.domain.assignment import APPLICANT_KINDS

    assert sorted(APPLICANT_KINDS) == list(APPLICANT_KINDS) == ["enterprise", "individual"]


def test_the_supplement_notice_names_the_reviewer_by_name_not_by_login(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    from workstation.services.supplement import supplement_view

    admin = desk.users.actor("admin")
    desk.users.add(
        admin,
        username="li1",
        password="li1-pass-1",
        roles=["reviewer"],
        display_name="李审核",
        can_review_online=True,
        can_review_offline=True,
    )
    reviewer = desk.users.actor("li1")
    d = submitted(desk, clerk)
    lease = desk.review.claim_next(reviewer)
    assert lease is not None and lease.number == d.number
    items = [ReturnItem(problem="defective", material="M03", party_key="p1", note="复印件模糊")]
    desk.review.decide(reviewer, d.number, "return", lease_id=lease.lease_id, fence=lease.fence, items=items)
    with desk.db.read() as s:
        view = supplement_view(s, s.execute(select(Dossier).where(Dossier.number == d.number)).scalar_one())
    assert view is not None and view.reviewer == "李审核"  # the applicant reads a person's name, never a login
