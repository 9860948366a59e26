from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import func, select

from workstation.config import load_settings
from workstation.domain.errors import CatalogueError, IllegalTransition, MissingMaterials, PermissionDenied
from workstation.errors import NotFound, UsageError
from workstation.services.desk import Desk, open_desk
from workstation.store.models import AuditEvent, Dossier, OutboxOp

BUYER = "济南泉城商贸有限公司"
USCC = "91350100M000100Y43"


def _counts(desk: Desk) -> tuple[int, int, int]:
    with desk.db.read() as s:
        return (
            s.execute(select(func.count(Dossier.id))).scalar_one(),
            s.execute(select(func.count(AuditEvent.seq))).scalar_one(),
            s.execute(select(func.count(OutboxOp.op_id))).scalar_one(),
        )


def _ent_dossier(desk: Desk, clerk):  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(
        clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise", applicant_name=BUYER, applicant_id=USCC
    )
    return desk.dossiers.add_party(
        clerk, d.number, role="seller", kind="individual", name="赵建国", id_value="370102199001011231"
    )


def test_new_dossier_is_a_draft_with_number_checklist_and_applicant(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise", applicant_name=BUYER)
    assert re.fullmatch(r"local-\d{4}-000001", d.number)
    assert (d.status, d.stage) == ("draft", "ACCEPT")
    assert d.stages == ("ACCEPT", "REVIEW", "REGISTER", "ISSUE")
    assert d.digitized is True  # R7: enterprise non-residential purchase, digitised at pre-intake
    assert d.parties[0].role == "buyer" and d.parties[0].name == BUYER
    buyer_slots = {s.material for s in d.slots if s.party_key == "p1"}
    assert {"M05", "M06", "M07"} <= buyer_slots
    assert {"M01", "M02", "M08", "M11", "M12"} <= {s.material for s in d.slots if s.party_key is None}


def test_numbers_are_sequential_and_unique_per_station(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    numbers = [desk.dossiers.new(clerk, business="MORT_CANCEL", applicant_kind="enterprise").number for _ in range(5)]
    assert len(set(numbers)) == 5
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3, 4, 5]


def test_a_window_resale_dossier_stays_on_paper(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    assert desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual").digitized is False
    online = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", channel="online")
    assert online.digitized is True


def test_submit_is_refused_with_the_exact_list_of_missing_materials(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = _ent_dossier(desk, clerk)
    with pytest.raises(MissingMaterials) as err:
        desk.dossiers.submit(clerk, d.number)
    missing = {(m.material, m.party_key) for m in err.value.missing}
    assert missing == {
        ("M01", None),
        ("M02", None),
        ("M08", None),
        ("M11", None),
        ("M12", None),
        ("M05", "p1"),
        ("M06", "p1"),
        ("M07", "p1"),
        ("M03", "p2"),
    }
    assert desk.dossiers.show(d.number).status == "draft"
    assert len(desk.dossiers.show(d.number).missing) == 9


def test_submit_succeeds_once_every_required_slot_is_satisfied_or_waived(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = _ent_dossier(desk, clerk)
    for slot in d.slots:
        if not slot.required:
            continue
        if slot.material == "M02":
            desk.dossiers.waive(clerk, d.number, material="M02", reason="询问笔录在受理时当场制作")
        else:
            desk.dossiers.attach_page(
                clerk,
                d.number,
                data=f"page {slot.material} {slot.party_key}".encode(),
                source_name=f"{slot.material}.png",
                media_type="image/png",
                material=slot.material,
                party_key=slot.party_key,
            )
    done = desk.dossiers.submit(clerk, d.number)
    assert (done.status, done.stage) == ("submitted", "REVIEW")
    assert len(done.pages) == 8
    waived = [s for s in done.slots if s.waived]
    assert [(s.material, s.waiver_reason) for s in waived] == [("M02", "询问笔录在受理时当场制作")]


def test_m10_satisfies_the_m11_slot(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = _ent_dossier(desk, clerk)
    page = desk.dossiers.attach_page(
        clerk, d.number, data=b"contract", source_name="c.pdf", media_type="application/pdf", material="M10"
    )
    assert page.material == "M11"
    assert next(s for s in desk.dossiers.show(d.number).slots if s.material == "M11").satisfied


def test_a_missing_counterparty_is_listed(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise")
    assert any("no party recorded" in item for item in d.missing)


def test_every_change_writes_its_audit_event_and_outbox_op(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    before = _counts(desk)
    d = _ent_dossier(desk, clerk)
    desk.dossiers.withdraw(clerk, d.number, reason="申请人撤回")
    after = _counts(desk)
    assert after[0] - before[0] == 1
    assert after[1] - before[1] == 3 and after[2] - before[2] == 3
    with desk.db.read() as s:
        ops = list(s.execute(select(OutboxOp).order_by(OutboxOp.seq)).scalars())
    assert [o.kind for o in ops] == ["dossier.create", "dossier.party_add", "dossier.withdraw"]
    assert [o.seq for o in ops] == [1, 2, 3]
    assert [o.base_version for o in ops] == [None, 1, 2]
    assert "370102199001011231" not in str(ops[1].payload)  # ID numbers masked in what leaves the row


def test_a_failure_between_the_row_and_the_audit_event_leaves_neither(
    desk: Desk,
    clerk,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from workstation.services import audit

    before = _counts(desk)

    def crash(*_a, **_k):  # type: ignore[no-untyped-def]
        raise OSError("disk full while writing the audit event")

    monkeypatch.setattr(audit, "append", crash)
    with pytest.raises(OSError):
        desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
    assert _counts(desk) == before


def test_a_process_killed_between_the_row_and_the_audit_event_leaves_neither(
    desk: Desk,
    clerk,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    import subprocess
    import sys

    before = _counts(desk)
    script = f"""
import os
from workstation.config import load_settings
from workstation.services import audit
from workstation.services.desk import open_desk

desk = open_desk(load_settings(data_dir={str(desk.settings.data_dir)!r}, db_url={desk.settings.database_url!r}))
clerk = desk.users.actor("clerk1")

def die(session, **kw):
    session.flush()          # the dossier row is written to the database connection
    os._exit(9)              # and the process dies like kill -9, before the audit event

audit.append = die
desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    desk.db.engine.dispose()
    assert _counts(desk) == before
    assert desk.verify_audit().ok


def test_professional_hall_dossiers_have_three_stages(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pro = load_settings(
        data_dir=settings.data_dir,
        db_url=settings.database_url,
        hall_mode="professional",
        admin_password="admin-pass-1",
    )
    desk = open_desk(pro)
    try:
        admin = desk.users.actor("admin")
        desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
        d = desk.dossiers.new(desk.users.actor("clerk1"), business="RESALE_TRANSFER", applicant_kind="individual")
        assert d.stages == ("ACCEPT", "REVIEW", "REGISTER_ISSUE")
        assert d.hall_mode == "professional"
    finally:
        desk.close()


def test_withdraw_is_refused_after_withdrawal(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
    desk.dossiers.withdraw(clerk, d.number)
    with pytest.raises(IllegalTransition):
        desk.dossiers.withdraw(clerk, d.number)
    with pytest.raises(UsageError, match="only a draft or a returned dossier"):
        desk.dossiers.add_party(clerk, d.number, role="seller", kind="individual")


def test_permissions_are_checked_in_the_service(desk: Desk, reviewer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        desk.dossiers.new(reviewer, business="RESALE_TRANSFER", applicant_kind="individual")
    admin = desk.users.actor("admin")
    with pytest.raises(PermissionDenied):
        desk.dossiers.new(admin, business="RESALE_TRANSFER", applicant_kind="individual")


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"business": "NOPE"}, CatalogueError, "unknown business code 'NOPE'"),
        ({"channel": "fax"}, UsageError, "unknown channel"),
        ({"applicant_kind": "robot"}, Exception, "robot"),
        ({"applicant_id": "91350100M000100Y4"}, UsageError, ""),
        (
            {"applicant_id": "370102199002301234", "applicant_kind": "individual", "business": "RESALE_TRANSFER"},
            UsageError,
            "date",
        ),
        ({"applicant_name": "名" * 300}, UsageError, "at most"),
    ],
)
def test_bad_input_is_refused_with_one_line(desk: Desk, clerk, kwargs, error, fragment) -> None:  # type: ignore[no-untyped-def]
    args = {"business": "ENT_NONRES_TRANSFER", "applicant_kind": "enterprise", **kwargs}
    with pytest.raises(error) as err:
        desk.dossiers.new(clerk, **args)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
    assert _counts(desk)[0] == 0


def test_a_uscc_failing_its_check_char_is_kept_as_a_warning_not_refused(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(
        clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise", applicant_id="91350203m0001qay9b"
    )
    assert d.parties[0].id_value == "91350203M0001QAY9B"


def test_unknown_dossier_number_is_not_found(desk: Desk) -> None:
    with pytest.raises(NotFound):
        desk.dossiers.show("local-2026-999999")
    with pytest.raises(UsageError, match="not a dossier number"):
        desk.dossiers.show("../../etc")


def test_a_party_role_the_business_does_not_have_is_refused(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(clerk, business="MORT_CANCEL", applicant_kind="enterprise")
    with pytest.raises(UsageError, match="has no role 'buyer'"):
        desk.dossiers.add_party(clerk, d.number, role="buyer", kind="individual")


def test_a_checklist_asking_twice_for_one_material_gets_two_slots(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(
        clerk, business="CHANGE", applicant_kind="individual", conditions=["name_change", "id_change"]
    )
    assert [s.material for s in d.slots].count("M25") == 2
    for _ in range(2):
        desk.dossiers.attach_page(
            clerk, d.number, data=os.urandom(16), source_name="m25.png", media_type="image/png", material="M25"
        )
    after = desk.dossiers.show(d.number)
    assert all(s.satisfied for s in after.slots if s.material == "M25")
    assert not any("M25" in m for m in after.missing)


def test_change_without_a_reason_is_refused_at_submit(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(clerk, business="CHANGE", applicant_kind="individual")
    with pytest.raises(MissingMaterials, match="select at least one"):
        desk.dossiers.submit(clerk, d.number)
