"""Sample users and dossiers for `workstation demo` (and `make run`): the whole flow on one machine."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from workstation.config import Settings
from workstation.services.desk import open_desk
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


# (business, applicant kind, applicant name, applicant id, extra parties, hours ago)
_DOSSIERS: tuple[tuple[str, str, str, str, tuple[tuple[str, str, str, str], ...], int], ...] = (
    (
        "ENT_NONRES_TRANSFER",
        "enterprise",
        "济南泉城商贸有限公司",
        "91350100M000100Y43",
        (("seller", "individual", "赵建国", "370102199001011231"),),
        5,
    ),
    ("RESALE_TRANSFER", "individual", "孙丽", "11010519491231002X", (), 27),
    ("MORT_CANCEL", "enterprise", "中国建设银行股份有限公司济南分行", "91350200776049653A", (), 50),
)


def _sample_case() -> dict[str, Any] | None:
    path = SAMPLES / "cases" / "case-01.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


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
            )
        first = None
        for business, kind, name, ident, parties, hours in dossiers:
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
            first = first or detail.number
        scanned = _drop_sample_scans(settings.inbox_dir / first) if case is not None and first else 0
        desk.intake.set_active(clerk, first)
        return f"{len(_USERS) + 1} users, {desk.dossiers.count()} dossiers, {scanned} sample scans in the hot folder"
    finally:
        desk.close()
