"""Who set each field's value travels with the dossier: desk → registry → a reviewer's desk (real HTTP on loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from sqlalchemy import select

from sync.client import _wire
from sync.protocol import FieldSource
from tests.review_helpers import IDN, USCC
from tests.sync_helpers import agent_for, desk_with_registry, log_in, make_desk, provision, running_registry, station
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.manifest import FIELD_SOURCES
from workstation.store.models import Dossier, Field, OutboxOp, User

# key → (source column at the window, confirmed?) and the source the wire and the other desks say
SET_BY = {
    "location": (None, False, "ocr"),
    "area_m2": (None, True, "confirmed"),
    "use": ("clerk", True, "clerk"),
    "contract_number": ("reviewer", True, "reviewer"),
}


def test_the_wire_knows_the_same_sources_as_the_desk() -> None:
    assert get_args(FieldSource) == FIELD_SOURCES


def ready_with_fields(desk: Desk, clerk: Actor, *, business: str = "ENT_NONRES_TRANSFER") -> str:
    """A dossier with every required page and one field set each way; not yet submitted. Returns its number."""
    d = desk.dossiers.new(
        clerk,
        business=business,
        applicant_kind="enterprise",
        applicant_name="济南某某置业有限公司",
        applicant_id=USCC,
    )
    biz = desk.catalogue.business(business)
    for role in biz.roles:
        if role.min_count and not any(p.role == role.name for p in d.parties):
            kind = "individual" if "individual" in role.kinds else "enterprise"
            ident = IDN if kind == "individual" else USCC
            d = desk.dossiers.add_party(clerk, d.number, role=role.name, kind=kind, name="赵建国", id_value=ident)
    for slot in d.slots:
        if slot.required:
            desk.dossiers.attach_page(
                clerk,
                d.number,
                data=f"page {d.number} {slot.material} {slot.party_key}".encode(),
                source_name=f"{slot.material}.png",
                media_type="image/png",
                material=slot.material,
                party_key=slot.party_key,
            )
    d = desk.dossiers.show(d.number)
    page_id = d.pages[0].id
    with desk.db.transaction() as s:
        clerk_id = s.execute(select(User.id).where(User.username == clerk.username)).scalar_one()
        for key, (source, confirmed, _wire_source) in SET_BY.items():
            s.add(
                Field(
                    dossier_id=d.id,
                    page_id=page_id,
                    key=key,
                    value=f"{key}-value",
                    confidence=0.8,
                    valid=True,
                    source=source,
                    confirmed_by=clerk_id if confirmed else None,
                )
            )
    desk.dossiers.confirm_field(clerk, d.number, page_id, "cert_number", value="鲁(2026)济南市不动产权第0000001号")
    return d.number


def test_who_set_each_value_reaches_the_registry_and_the_reviewers_desk(
    tmp_path: Path, registry_db: str | None
) -> None:
    with running_registry(tmp_path / "registry", registry_db) as (registry, url):
        window = make_desk(tmp_path / "window", "JN-01")
        agent = agent_for(window, registry, url)
        number = ready_with_fields(window, window.users.actor("clerk1"))
        window.dossiers.submit(window.users.actor("clerk1"), number)
        with window.db.read() as s:
            sent = [op.payload for op in s.execute(select(OutboxOp).where(OutboxOp.kind == "dossier.submit")).scalars()]
        wire = {f["key"]: f["source"] for f in sent[0]["content"]["fields"]}
        assert wire == {**{k: v[2] for k, v in SET_BY.items()}, "cert_number": "clerk"}
        agent.sync_once()
        assert agent.status().quarantined == []
        with registry.db.read() as s:
            dossier = s.execute(select(Dossier).where(Dossier.number == number)).scalar_one()
            stored = {f.key: f.source for f in s.execute(select(Field).where(Field.dossier_id == dossier.id)).scalars()}
        assert stored == {
            "location": None,
            "area_m2": "confirmed",
            "use": "clerk",
            "contract_number": "reviewer",
            "cert_number": "clerk",
        }

        provision(registry, "rev1")
        review = desk_with_registry(tmp_path / "review", "JN-REV", url, registry.add_station("JN-REV", "审核"))
        try:
            rev1 = log_in(review, "rev1")
            lease = review.review.claim_next(rev1)
            assert lease is not None and lease.number == number
            shown = {f.key: (f.source, f.confirmed) for f in review.dossiers.show(number).fields}
            assert shown == {  # a value confirmed as read shows as OCR's, confirmed; a typed one as typed
                "location": ("ocr", False),
                "area_m2": ("ocr", True),
                "use": ("clerk", True),
                "contract_number": ("reviewer", True),
                "cert_number": ("clerk", True),
            }
        finally:
            review.close()
        agent.stop()
        window.close()


def _without_sources(payload: dict[str, Any]) -> dict[str, Any]:
    content = dict(payload["content"])
    content["fields"] = [{k: v for k, v in f.items() if k != "source"} for f in content["fields"]]
    return {**payload, "content": content}


def test_a_desk_of_an_older_version_that_sends_no_source_is_still_taken(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        window = make_desk(tmp_path / "window", "JN-01")
        agent = agent_for(window, registry, url)
        clerk = window.users.actor("clerk1")
        number = ready_with_fields(window, clerk)
        window.dossiers.submit(clerk, number)
        with window.db.transaction() as s:
            op = s.execute(select(OutboxOp).where(OutboxOp.kind == "dossier.submit")).scalar_one()
            op.payload = _without_sources(op.payload)
        report = agent.sync_once()
        assert report.quarantined == 0 and agent.status().quarantined == []
        with registry.db.read() as s:
            dossier = s.execute(select(Dossier).where(Dossier.number == number)).scalar_one()
            assert (dossier.stage, dossier.status) == ("REVIEW", "submitted")
            sources = set(s.execute(select(Field.source).where(Field.dossier_id == dossier.id)).scalars())
        assert sources == {None}
        agent.stop()
        window.close()


def test_a_station_sending_an_unknown_source_is_refused_with_its_code_never_a_500(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        window = make_desk(tmp_path / "window", "JN-66")
        clerk = window.users.actor("clerk1")
        number = ready_with_fields(window, clerk)
        window.dossiers.submit(clerk, number)
        with window.db.read() as s:
            ops = [_wire(op) for op in s.execute(select(OutboxOp).order_by(OutboxOp.seq)).scalars()]
        for op in ops:
            if op["kind"] == "dossier.submit":
                op["payload"]["content"]["fields"][0]["source"] = "robot"
            op["created_at"] = str(op["created_at"])
        hostile = station(registry, url, "JN-66")
        try:
            answer = hostile.send(*[{k: v for k, v in op.items() if k != "seq"} for op in ops])
            assert 200 <= answer.status_code < 500, answer.text
            results = {r["seq"]: r for r in answer.json()["results"]}
            refused = results[next(op["seq"] for op in ops if op["kind"] == "dossier.submit")]
            assert (refused["status"], refused["code"]) == ("refused", "bad_op")
            assert "source" in refused["message"]
            with registry.db.read() as s:
                dossier = s.execute(select(Dossier).where(Dossier.number == number)).scalar_one()
                assert dossier.status == "draft"
                assert s.execute(select(Field.id).where(Field.dossier_id == dossier.id)).first() is None
        finally:
            hostile.close()
            window.close()
