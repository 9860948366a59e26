"""Sample users and dossiers for `workstation demo` (and `make run`): the whole flow on one machine."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from workstation.config import Settings
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk, open_desk
from workstation.services.people import PeopleService
from workstation.store.types import utcnow

DEMO_PASSWORD = "demo1234"
# The sample scans of the repository (an ENT_NONRES_TRANSFER case), when the desk runs from a checkout.
SAMPLES = Path(__file__).resolve().parents[2] / "samples"

_USERS = (("clerk1", ["clerk"], "窗口受理员 王敏", False, False),)  # the desk's own
# The city's people, provisioned at the registry: they log in there from the desk.
_PEOPLE = (
    ("reviewer1", ["reviewer", "registrar"], "审核员 李强", True, True),
    ("qc1", ["qc"], "质检员 张华", False, False),
)


def provision_people(people: PeopleService) -> int:
    """The demo's reviewer and QC inspector, at its registry (once)."""
    known = {p.username for p in people.list()}
    added = 0
    for username, roles, name, online, offline in _PEOPLE:
        if username not in known:
            people.add(
                "registry-admin", username, DEMO_PASSWORD, roles, online=online, offline=offline, display_name=name
            )
            added += 1
    return added


# (business, applicant kind, applicant name, applicant id, extra parties, hours ago, sample case of its scans)
_DOSSIERS: tuple[tuple[str, str, str, str, tuple[tuple[str, str, str, str], ...], int, str | None], ...] = (
    (
        "ENT_NONRES_TRANSFER",
        "enterprise",
        "济南泉城商贸有限公司",
        "91350100M000100Y43",
        (("seller", "individual", "赵建国", "370102199001011231"),),
        5,
        "case-01",
    ),
    (
        "RESALE_TRANSFER",
        "individual",
        "孙丽",
        "11010519491231002X",
        (("seller", "individual", "赵建国", "370102199001011231"),),
        27,
        None,
    ),
    (
        "MORT_CANCEL",
        "enterprise",
        "鲁泉银行股份有限公司济南章丘支行",
        "91370114163667475B",
        (("mortgagor", "individual", "冯子豪", "370114199604184671"),),
        50,
        "case-03",
    ),
)


# The dossiers after the first are the window's finished work: submitted (受理), so the reviewer's pool has work.
DEMO_WAIVER = "演示：原件已在窗口核验 demo: originals seen at the window"


def _sample_case(name: str = "case-01") -> dict[str, Any] | None:
    path = SAMPLES / "cases" / f"{name}.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


def _submit_for_review(desk: Desk, clerk: Actor, number: str, case: str | None) -> None:
    """The case's sample scans in their checklist slots, what has no scan waived (seen on paper), then 受理."""
    detail = desk.dossiers.show(number)
    scans = sorted(p for p in (SAMPLES / "scans").glob(f"{case}-M*.jpg")) if case else []
    for path in scans:
        material = path.name.split("-")[2]  # case-03-M09-proof.jpg
        slot = next((s for s in detail.slots if s.material == material), None)
        if slot is None:
            continue
        desk.dossiers.attach_page(
            clerk,
            number,
            data=path.read_bytes(),
            source_name=path.name,
            media_type="image/jpeg",
            material=material,
            party_key=slot.party_key,
        )
    for slot in desk.dossiers.show(number).slots:
        if slot.required and not slot.satisfied and not slot.waived:
            desk.dossiers.waive(clerk, number, material=slot.material, party_key=slot.party_key, reason=DEMO_WAIVER)
    desk.dossiers.submit(clerk, number)


def _drop_sample_scans(folder: Path) -> int:
    """The case's scans into the dossier's sub-folder of the hot folder, as the window's scanner would."""
    folder.mkdir(parents=True, exist_ok=True)
    scans = sorted(p for p in (SAMPLES / "scans").glob("case-01-*") if p.suffix != ".json")
    for path in scans:
        shutil.copy(path, folder / path.name)
    return len(scans)


def seed_demo(settings: Settings) -> str:
    """Create the demo users and a few draft dossiers, once per data directory."""
    desk = open_desk(settings)
    try:
        admin = desk.users.actor("admin")
        existing = {u.username for u in desk.users.list()}
        for username, roles, name, online, offline in _USERS:
            if username not in existing:
                desk.users.add(
                    admin,
                    username=username,
                    password=DEMO_PASSWORD,
                    roles=roles,
                    display_name=name,
                    can_review_online=online,
                    can_review_offline=offline,
                )
        if desk.dossiers.count():
            return f"{desk.dossiers.count()} dossiers already there"
        clerk = desk.users.actor("clerk1")
        now = utcnow()
        dossiers = list(_DOSSIERS)
        case = _sample_case()
        if case is not None:
            buyer = next(p for p in case["parties"] if p["role"] == "buyer")
            seller = next(p for p in case["parties"] if p["role"] == "seller")
            dossiers[0] = (
                "ENT_NONRES_TRANSFER",
                "enterprise",
                buyer["org_name"],
                buyer["uscc"],
                (("seller", "individual", seller["name"], seller["id_number"]),),
                5,
                "case-01",
            )
        first = None
        for business, kind, name, ident, parties, hours, sample in dossiers:
            detail = desk.dossiers.new(
                clerk,
                business=business,
                applicant_kind=kind,
                applicant_name=name,
                applicant_id=ident,
                applied_at=now - timedelta(hours=hours),
            )
            for role, pkind, pname, pid in parties:
                desk.dossiers.add_party(clerk, detail.number, role=role, kind=pkind, name=pname, id_value=pid)
            if first is None:
                first = detail.number  # the window's dossier: its scans come through the hot folder
            else:
                _submit_for_review(desk, clerk, detail.number, sample)
        scanned = _drop_sample_scans(settings.inbox_dir / first) if case is not None and first else 0
        desk.intake.set_active(clerk, first)
        waiting = len(desk.dossiers.list(status="submitted"))
        return (
            f"{len(_USERS) + 1} users, {desk.dossiers.count()} dossiers ({waiting} submitted for review), "
            f"{scanned} sample scans in the hot folder"
        )
    finally:
        desk.close()
