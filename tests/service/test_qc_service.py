"""QC after 登簿 (R3–R4) through the real flow: inspections never block, a major error opens a correction case."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.review_helpers import settle, submitted
from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor
from workstation.domain.qc import QcPolicy
from workstation.errors import NotFound, UsageError
from workstation.services.desk import Desk
from workstation.services.qc import QcCheckView, QcService
from workstation.services.review import ReviewService
from workstation.store.models import AuditEvent, Correction, OutboxOp, QcCheck, User

FULL = ("MORT_CIP", "HOUSE_FIRST")
KIND = {"MORT_CIP": "enterprise", "HOUSE_FIRST": "enterprise", "RESALE_TRANSFER": "individual"}


@pytest.fixture
def registrar(desk: Desk) -> Actor:
    admin = desk.users.actor("admin")
    desk.users.add(
        admin,
        username="reg1",
        password="reg-pass-01",
        roles=["reviewer"],
        can_review_online=True,
        can_review_offline=True,
    )
    return desk.users.actor("reg1")


@pytest.fixture
def inspector(desk: Desk) -> Actor:
    desk.users.add(desk.users.actor("admin"), username="qc1", password="qc-pass-001", roles=["qc"])
    return desk.users.actor("qc1")


@pytest.fixture
def svc(desk: Desk) -> QcService:
    return QcService(desk.db, station_id=desk.settings.station_id)


def registered(
    desk: Desk, clerk: Actor, registrar: Actor, business: str = "MORT_CIP", *, review: ReviewService | None = None
) -> str:
    """A dossier taken through submit → claim → approve → 登簿; returns its number."""
    review = review or desk.review
    number = submitted(desk, clerk, business=business, kind=KIND[business]).number
    lease = review.claim_next(registrar)
    assert lease is not None and lease.number == number
    review.decide(registrar, number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    result = review.register(registrar, number)
    assert (result["stage"], result["status"]) == ("ISSUE", "registered")
    return number


def check_of(svc: QcService, number: str) -> QcCheckView:
    found = [c for c in svc.checks() if c.number == number]
    assert len(found) == 1, found
    return found[0]


def events_of(desk: Desk, number: str) -> list[tuple[str, str, dict[str, Any]]]:
    dossier_id = desk.dossiers.show(number).id
    with desk.db.read() as session:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.entity_id == dossier_id).order_by(AuditEvent.seq)
        ).scalars()
        return [(e.action, e.actor, json.loads(e.payload)) for e in rows if e.entity == "dossier"]


def outbox_of(desk: Desk, number: str) -> list[OutboxOp]:
    dossier_id = desk.dossiers.show(number).id
    with desk.db.read() as session:
        return list(
            session.execute(select(OutboxOp).where(OutboxOp.entity_id == dossier_id).order_by(OutboxOp.seq)).scalars()
        )


def correction_count(desk: Desk, check_id: str) -> int:
    with desk.db.read() as session:
        return int(
            session.execute(select(func.count(Correction.id)).where(Correction.qc_check_id == check_id)).scalar_one()
        )


# -- opening: full and sampled, never blocking ------------------------------------------------------------------


@pytest.mark.parametrize("business", FULL)
def test_full_inspection_business_gets_a_check_and_qc_does_not_block(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService, business: str
) -> None:
    assert desk.catalogue.business(business).qc_full
    number = registered(desk, clerk, registrar, business)

    [check] = svc.pending()
    assert (check.number, check.business, check.basis, check.state) == (number, business, "full", "pending")
    assert check.registrar == "reg1" and check.registered_at is not None
    assert check.result is None and check.inspector is None and check.correction_id is None

    # The check is pending, yet 发证 goes ahead: QC holds nothing up.
    settle(desk, clerk, number)
    issued = desk.review.issue(clerk, number)
    assert (issued["stage"], issued["status"]) == ("ISSUE", "issued")
    assert svc.pending()[0].id == check.id

    before = desk.dossiers.show(number)
    done = svc.record(inspector, check.id, "pass")
    after = desk.dossiers.show(number)
    assert done.state == "done" and done.result == "pass" and done.inspector == "qc1"
    # QC is not a change of the dossier: stage, status and version stay as they were.
    assert (after.stage, after.status, after.version) == (before.stage, before.status, before.version)
    assert svc.pending() == []


def test_sampled_business_gets_a_sampled_check(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    assert not desk.catalogue.business("RESALE_TRANSFER").qc_full
    sampling = ReviewService(
        desk.db, desk.catalogue, station_id=desk.settings.station_id, qc_policy=QcPolicy(rate=1.0, key=b"k")
    )
    number = registered(desk, clerk, registrar, "RESALE_TRANSFER", review=sampling)
    [check] = svc.pending()
    assert (check.number, check.basis, check.business) == (number, "sampled", "RESALE_TRANSFER")
    assert [a for a, _, _ in events_of(desk, number)][-2:] == ["dossier.register", "qc.open"]
    assert svc.record(inspector, check.id, "minor", defects=["登簿簿页页码错误"]).result == "minor"


def test_not_sampled_business_gets_no_check(desk: Desk, clerk: Actor, registrar: Actor, svc: QcService) -> None:
    rare = ReviewService(
        desk.db, desk.catalogue, station_id=desk.settings.station_id, qc_policy=QcPolicy(rate=1e-12, key=b"k")
    )
    number = registered(desk, clerk, registrar, "RESALE_TRANSFER", review=rare)
    assert svc.checks() == []
    assert desk.dossiers.show(number).status == "registered"


# -- recording ----------------------------------------------------------------------------------------------------


def test_pass_and_minor_are_recorded_without_a_correction(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    first = registered(desk, clerk, registrar, "MORT_CIP")
    second = registered(desk, clerk, registrar, "HOUSE_FIRST")
    assert [c.number for c in svc.pending()] == [first, second]  # oldest first

    passed = svc.record(inspector, check_of(svc, first).id, "pass", notes="  抽查无误  ")
    assert (passed.state, passed.result, passed.notes, passed.defects) == ("done", "pass", "抽查无误", ())
    assert passed.inspector == "qc1" and passed.inspected_at is not None

    minor = svc.record(
        inspector, check_of(svc, second).id, "minor", defects=["共有情况填写不规范", " 共有情况填写不规范 ", ""]
    )
    assert (minor.result, minor.defects, minor.correction_id) == ("minor", ("共有情况填写不规范",), None)

    assert svc.pending() == []
    assert [c.number for c in svc.checks("done")] == [first, second]
    assert svc.corrections() == []
    with desk.db.read() as session:
        rows = {c.dossier_id: c for c in session.execute(select(QcCheck)).scalars()}
    stored = rows[desk.dossiers.show(second).id]
    assert (stored.state, stored.result, stored.defects, stored.inspector_id) == (
        "done",
        "minor",
        ["共有情况填写不规范"],
        inspector.user_id,
    )


def test_major_opens_one_correction_assigned_to_the_registrar(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    number = registered(desk, clerk, registrar, "HOUSE_FIRST")
    check = check_of(svc, number)
    view = svc.record(inspector, check.id, "major", defects=["权利人名称与证明材料不一致"], notes="影响权属")

    assert view.result == "major" and view.correction_id is not None
    assert correction_count(desk, check.id) == 1
    [case] = svc.corrections()
    assert case.id == view.correction_id and case.qc_check_id == check.id
    assert (case.number, case.business, case.state) == (number, "HOUSE_FIRST", "open")
    assert (case.assigned_to, case.opened_by) == ("reg1", "qc1")
    assert "权利人名称与证明材料不一致" in case.description and "影响权属" in case.description
    assert case.resolved_by is None and case.resolution == ""
    assert svc.corrections("open", "reg1") == [case]
    assert svc.corrections("resolved") == []
    # The dossier goes on regardless.
    settle(desk, clerk, number)
    assert desk.review.issue(clerk, number)["status"] == "issued"


def test_major_goes_to_a_named_assignee(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    desk.users.add(desk.users.actor("admin"), username="rev2", password="rev-pass-02", roles=["reviewer"])
    number = registered(desk, clerk, registrar, "MORT_CIP")
    view = svc.record(inspector, check_of(svc, number).id, "major", notes="抵押范围与测绘报告不符", assign_to="rev2")
    [case] = svc.corrections()
    assert case.id == view.correction_id
    assert (case.assigned_to, case.description) == ("rev2", "抵押范围与测绘报告不符")
    assert svc.corrections(assigned_to_username="rev2") == [case]
    assert svc.corrections(assigned_to_username="reg1") == []
    assert any(a == "correction.open" and p["assigned_to"] == "rev2" for a, _, p in events_of(desk, number))


def test_bad_assignee_is_refused_and_nothing_is_written(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    desk.users.add(desk.users.actor("admin"), username="gone", password="gone-pass-1", roles=["reviewer"])
    with desk.db.transaction() as session:
        session.execute(update(User).where(User.username == "gone").values(active=False))
    number = registered(desk, clerk, registrar, "MORT_CIP")
    check = check_of(svc, number)
    audit_before = len(events_of(desk, number))

    with pytest.raises(NotFound, match="no user 'nobody'"):
        svc.record(inspector, check.id, "major", defects=["x"], assign_to="nobody")
    with pytest.raises(UsageError, match="'gone' is disabled"):
        svc.record(inspector, check.id, "major", defects=["x"], assign_to="gone")

    assert check_of(svc, number).state == "pending"
    assert correction_count(desk, check.id) == 0
    assert len(events_of(desk, number)) == audit_before


def test_disabled_registrar_needs_a_named_assignee(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    number = registered(desk, clerk, registrar, "MORT_CIP")
    with desk.db.transaction() as session:
        session.execute(update(User).where(User.username == "reg1").values(active=False))
    check = check_of(svc, number)
    with pytest.raises(UsageError, match=r"registrar .* 'reg1', is disabled; name the assignee"):
        svc.record(inspector, check.id, "major", defects=["x"])
    assert svc.record(inspector, check.id, "major", defects=["x"], assign_to="qc1").correction_id is not None


def test_every_change_is_audited_and_none_is_sent_qc_being_the_registrys(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    number = registered(desk, clerk, registrar, "MORT_CIP")
    version = desk.dossiers.show(number).version
    check = check_of(svc, number)
    view = svc.record(inspector, check.id, "major", defects=["抵押权人错误"])
    assert view.correction_id is not None
    svc.resolve_correction(registrar, view.correction_id, "已更正登记簿并重新制证")

    qc_events = [(a, actor, p) for a, actor, p in events_of(desk, number) if a.startswith(("qc.", "correction."))]
    assert [(a, actor) for a, actor, _ in qc_events] == [
        ("qc.open", "reg1"),
        ("qc.record", "qc1"),
        ("correction.open", "qc1"),
        ("correction.resolve", "reg1"),
    ]
    record, opened, resolved = (p for _, _, p in qc_events[1:])
    assert (record["qc_check_id"], record["result"], record["defects"]) == (check.id, "major", ["抵押权人错误"])
    assert (record["number"], record["version"]) == (number, version)
    assert (opened["correction_id"], opened["assigned_to"]) == (view.correction_id, "reg1")
    assert (resolved["correction_id"], resolved["resolution"]) == (view.correction_id, "已更正登记簿并重新制证")

    # QC is no stage (no new version) and the registry's own (R3): nothing of it goes into the outbox.
    assert [op.kind for op in outbox_of(desk, number) if op.kind.startswith(("qc.", "correction."))] == []
    assert desk.dossiers.show(number).version == version
    assert desk.verify_audit().ok


# -- refusals -----------------------------------------------------------------------------------------------------


def test_recording_twice_is_refused(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    number = registered(desk, clerk, registrar, "MORT_CIP")
    check = check_of(svc, number)
    svc.record(inspector, check.id, "pass")
    with pytest.raises(UsageError, match="already done") as refused:
        svc.record(inspector, check.id, "major", defects=["x"])
    assert "\n" not in str(refused.value)
    again = check_of(svc, number)
    assert (again.result, again.correction_id) == ("pass", None)
    assert correction_count(desk, check.id) == 0


def test_only_qc_inspectors_record_and_never_their_own_registration(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    number = registered(desk, clerk, registrar, "MORT_CIP")
    check = check_of(svc, number)
    with pytest.raises(PermissionDenied, match=r"clerk1.*may not qc_inspect"):
        svc.record(clerk, check.id, "pass")
    with pytest.raises(PermissionDenied, match="may not qc_inspect"):
        svc.record(registrar, check.id, "pass")

    # A user who is both reviewer and inspector may not inspect a dossier they registered themselves.
    desk.users.add(
        desk.users.actor("admin"),
        username="both",
        password="both-pass-1",
        roles=["reviewer", "qc"],
        can_review_online=True,
        can_review_offline=True,
    )
    both = desk.users.actor("both")
    own = registered(desk, clerk, both, "HOUSE_FIRST")
    with pytest.raises(PermissionDenied, match=r"registered .* may not inspect it"):
        svc.record(both, check_of(svc, own).id, "pass")
    assert svc.record(both, check.id, "pass").inspector == "both"  # someone else's registration is fine
    assert [c.number for c in svc.pending()] == [own]


def test_bad_input_is_refused_in_one_line(
    desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService
) -> None:
    number = registered(desk, clerk, registrar, "MORT_CIP")
    check = check_of(svc, number)
    with pytest.raises(UsageError, match="unknown QC result 'bad'; results: pass, minor, major"):
        svc.record(inspector, check.id, "bad")
    for result in ("minor", "major"):
        with pytest.raises(UsageError, match=f"a {result} result needs at least one defect or a note"):
            svc.record(inspector, check.id, result, defects=["  "], notes=" ")
    with pytest.raises(UsageError, match="a pass lists no defects"):
        svc.record(inspector, check.id, "pass", defects=["x"])
    with pytest.raises(UsageError, match="only a major result opens a correction"):
        svc.record(inspector, check.id, "minor", defects=["x"], assign_to="reg1")
    with pytest.raises(NotFound, match="no QC check"):
        svc.record(inspector, "no-such-check", "pass")
    with pytest.raises(UsageError, match="unknown QC check state"):
        svc.checks("open")
    with pytest.raises(UsageError, match="unknown correction state"):
        svc.corrections("pending")
    with pytest.raises(NotFound, match="no user 'nobody'"):
        svc.corrections(assigned_to_username="nobody")
    assert check_of(svc, number).state == "pending"
    assert [a for a, _, _ in events_of(desk, number)][-1] == "qc.open"


# -- correction cases ---------------------------------------------------------------------------------------------


def test_resolve_flow(desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService) -> None:
    first = registered(desk, clerk, registrar, "MORT_CIP")
    second = registered(desk, clerk, registrar, "HOUSE_FIRST")
    one = svc.record(inspector, check_of(svc, first).id, "major", defects=["抵押人错误"]).correction_id
    two = svc.record(inspector, check_of(svc, second).id, "major", defects=["面积错误"]).correction_id
    assert one is not None and two is not None
    assert [c.id for c in svc.corrections("open")] == [one, two]

    with pytest.raises(PermissionDenied, match="only its assignee 'reg1' or a QC inspector may"):
        svc.resolve_correction(clerk, one, "改好了")
    with pytest.raises(UsageError, match="a resolution is required"):
        svc.resolve_correction(registrar, one, "   ")
    with pytest.raises(NotFound, match="no correction"):
        svc.resolve_correction(registrar, "nope", "done")

    done = svc.resolve_correction(registrar, one, " 已更正抵押人并换发证明 ")
    assert (done.state, done.resolved_by, done.resolution) == ("resolved", "reg1", "已更正抵押人并换发证明")
    assert done.resolved_at is not None
    with pytest.raises(UsageError, match="already resolved"):
        svc.resolve_correction(registrar, one, "again")
    assert svc.correction(one).resolution == "已更正抵押人并换发证明"

    # A QC inspector who is not the assignee may close a case too.
    by_qc = svc.resolve_correction(inspector, two, "复核确认已更正")
    assert (by_qc.resolved_by, by_qc.assigned_to) == ("qc1", "reg1")
    assert svc.corrections("open") == []
    assert [c.id for c in svc.corrections("resolved", "reg1")] == [one, two]
    with desk.db.read() as session:
        states = {c.id: (c.state, c.resolved_by) for c in session.execute(select(Correction)).scalars()}
    assert states == {one: ("resolved", registrar.user_id), two: ("resolved", inspector.user_id)}
    assert desk.verify_audit().ok


def test_views_serialise(desk: Desk, clerk: Actor, registrar: Actor, inspector: Actor, svc: QcService) -> None:
    number = registered(desk, clerk, registrar, "MORT_CIP")
    view = svc.record(inspector, check_of(svc, number).id, "major", defects=["x"])
    data = json.loads(json.dumps(view.to_json()))
    assert (data["number"], data["result"], data["defects"], data["correction_id"]) == (
        number,
        "major",
        ["x"],
        view.correction_id,
    )
    [case] = svc.corrections()
    assert json.loads(json.dumps(case.to_json()))["assigned_to"] == "reg1"
