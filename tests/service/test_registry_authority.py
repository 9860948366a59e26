"""The registry as the city's authority, tried as a hostile station would: its own valid token, raw HTTP.

Every attack is refused with a 4xx code or a per-op refusal, is audited (station and person), and leaves the
victim's dossier and its sync untouched; nothing makes the registry answer 5xx. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from sync.client import SyncAgent
from sync.protocol import MAX_INT, op_kinds
from sync.server.registry import Registry
from tests.review_helpers import submitted
from tests.sync_helpers import (
    PERSON_PASSWORD,
    Station,
    make_desk,
    provision,
    running_registry,
    station,
)
from workstation.services.desk import Desk
from workstation.services.views import DossierDetail
from workstation.store.models import AppliedOp, AuditEvent, ChangeRecord, Dossier, Party, PersonSession
from workstation.store.types import utcnow


@dataclass
class City:
    registry: Registry
    url: str
    desk: Desk  # station JN-01, the victim, honest
    desk_token: str
    agent: SyncAgent
    submitted: DossierDetail  # in the review pool
    draft: DossierDetail  # still at the window
    hostile: Station  # JN-66: a valid station token of its own
    review: Station  # JN-REV: an honest review desk, rev1 logged in there


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def city(tmp_path: Path, db_url: str) -> Iterator[City]:
    with running_registry(tmp_path / "registry", db_url) as (registry, url):
        errors = _Errors()
        logging.getLogger("uvicorn.error").addHandler(errors)
        desk = make_desk(tmp_path / "desk", "JN-01")
        desk_token = registry.add_station("JN-01", "历下")
        agent = SyncAgent(desk.db, desk.blobs, station_id="JN-01", url=url, token=desk_token)
        clerk = desk.users.actor("clerk1")
        d = submitted(desk, clerk)
        draft = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="李四")
        agent.sync_once()
        assert agent.status().quarantined == [] and agent.status().conflicts == []
        provision(registry, "rev1")
        provision(registry, "qc1", ("qc",), online=False, offline=False)
        provision(registry, "reg1", ("registrar",), online=False, offline=False)
        hostile = station(registry, url, "JN-66")
        review = station(registry, url, "JN-REV")
        assert review.login("rev1").status_code == 200
        try:
            yield City(registry, url, desk, desk_token, agent, d, draft, hostile, review)
        finally:
            # The registry never answered with a server error, whatever was sent.
            assert [r.getMessage() for r in errors.records] == []
            logging.getLogger("uvicorn.error").removeHandler(errors)
            hostile.close()
            review.close()
            agent.stop()
            desk.close()


def at_registry(city: City, dossier_id: str) -> tuple[int, str, str, list[tuple[str, str | None]]]:
    """The dossier as the registry holds it: version, stage, status, parties."""
    with city.registry.db.read() as s:
        d = s.get(Dossier, dossier_id)
        assert d is not None
        parties = s.execute(select(Party.role, Party.name).where(Party.dossier_id == d.id).order_by(Party.key)).all()
        return d.version, d.stage, d.status, [(r, n) for r, n in parties]


def audited(city: City, op_id: str) -> tuple[str, str, str]:
    """The registry's audit event of an op: (action, station, actor)."""
    with city.registry.db.read() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.entity_id == op_id)).scalar_one()
        return event.action, event.station_id, event.actor


def op(kind: str, entity_id: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op_id": str(uuid.uuid4()), "kind": kind, "entity_id": entity_id, "payload": payload, **extra}


def victim_syncs_clean(city: City) -> None:
    """The victim's own sync is as if nothing had happened: nothing parked, nothing in conflict, no stray feed."""
    report = city.agent.sync_once()
    status = city.agent.status()
    assert (report.quarantined, report.conflicts, status.quarantined, status.conflicts) == (0, 0, [], [])
    with city.registry.db.read() as s:
        stray = s.execute(
            select(func.count())
            .select_from(ChangeRecord)
            .where(ChangeRecord.station_id == city.hostile.id, ChangeRecord.audience == "JN-01")
        ).scalar_one()
    assert stray == 0


EMPTY: dict[str, list[Any]] = {"parties": [], "slots": [], "pages": [], "fields": [], "findings": [], "blobs": []}


# -- ownership ------------------------------------------------------------------------------------------------------


def draft_ops(city: City, version: int) -> list[dict[str, Any]]:
    d = city.draft
    page = str(uuid.uuid4())
    sha = "a" * 64
    party = {"key": "p9", "position": 9, "role": "seller", "kind": "individual", "name": "冒名"}
    return [
        op("dossier.party_add", d.id, {"party": party}, base_version=version),
        op(
            "dossier.page_add",
            d.id,
            {"page_id": page, "sha256": sha, "source_name": "x.png", "position": 1},
            base_version=version,
        ),
        op(
            "dossier.pages_add",
            d.id,
            {
                "file_id": page,
                "sha256": sha,
                "source": "x.pdf",
                "pages": [{"page_id": page, "position": 1, "file_page": 1}],
            },
            base_version=version,
        ),
        op("dossier.waive", d.id, {"material": "M01", "reason": "x"}, base_version=version),
        op("page.rotate", d.id, {"page_id": page, "rotation": 90}, base_version=version),
        op("field.confirm", d.id, {"page_id": page, "key": "name", "value": "冒名"}, base_version=version),
        op("dossier.withdraw", d.id, {"reason": "恶意撤回"}, base_version=version),
    ]


def test_another_station_can_neither_edit_nor_withdraw_nor_resubmit_a_dossier_it_did_not_create(city: City) -> None:
    draft_before, pool_before = at_registry(city, city.draft.id), at_registry(city, city.submitted.id)
    refused = []
    for attempt in [
        *draft_ops(city, draft_before[0]),
        op("dossier.withdraw", city.submitted.id, {"reason": "x"}, base_version=pool_before[0]),
        op("dossier.submit", city.draft.id, {"content": EMPTY}, base_version=draft_before[0]),
        op("dossier.resubmit", city.submitted.id, {"content": EMPTY}, base_version=pool_before[0]),
        op("dossier.issue", city.submitted.id, {}, base_version=pool_before[0]),
        op("clock.pause", city.submitted.id, {"reason": "announcement"}),
        op("dossier.evaluate", city.submitted.id, {"evaluation_id": str(uuid.uuid4()), "score": 1}),
    ]:
        result = city.hostile.result({**attempt, "actor": "clerk1"})
        assert (result["status"], result["code"]) == ("refused", "not_owner"), (attempt["kind"], result)
        assert result["version"] is None  # nothing of the dossier is told to a station that may not see it
        refused.append(attempt["op_id"])
    assert at_registry(city, city.draft.id) == draft_before
    assert at_registry(city, city.submitted.id) == pool_before
    # Each refusal is on record, with the station and the person it claimed to act for.
    assert {audited(city, op_id) for op_id in refused} == {("sync.refused", "JN-66", "clerk1")}
    victim_syncs_clean(city)
    # The victim's own edits and withdrawal still go through, each one version up.
    clerk = city.desk.users.actor("clerk1")
    city.desk.dossiers.withdraw(clerk, city.draft.number, reason="申请人撤回")
    victim_syncs_clean(city)
    assert at_registry(city, city.draft.id)[:3] == (draft_before[0] + 1, "ACCEPT", "withdrawn")


def test_a_create_under_another_stations_number_or_a_number_taken_is_refused(city: City) -> None:
    theirs = {
        "business": "RESALE_TRANSFER",
        "applicant_kind": "individual",
        "channel": "window",
        "applied_at": utcnow().isoformat(),
        "parties": [],
    }
    under_a = city.hostile.result(op("dossier.create", str(uuid.uuid4()), {**theirs, "number": city.submitted.number}))
    assert (under_a["status"], under_a["code"]) == ("refused", "not_owner")
    # A number used twice, or an id taken, even under the station's own prefix: refused, never a 500 later.
    h = city.hostile
    mine = h.result(op("dossier.create", str(uuid.uuid4()), {**theirs, "number": "JN-66-2026-000001"}))
    again = h.result(op("dossier.create", str(uuid.uuid4()), {**theirs, "number": "JN-66-2026-000001"}))
    same_id = h.result(op("dossier.create", city.submitted.id, {**theirs, "number": "JN-66-2026-000002"}))
    assert mine["status"] == "applied"
    assert (again["status"], again["code"]) == ("refused", "duplicate")
    assert (same_id["status"], same_id["code"]) == ("refused", "duplicate")
    with city.registry.db.read() as s:
        numbers = s.execute(select(Dossier.number).order_by(Dossier.number)).scalars().all()
        owner = s.execute(select(Dossier.station_id).where(Dossier.id == city.submitted.id)).scalar_one()
    assert numbers == sorted([city.submitted.number, city.draft.number, "JN-66-2026-000001"])
    assert owner == "JN-01"
    victim_syncs_clean(city)


@pytest.mark.parametrize(
    "extra",
    [{"stage": "REGISTER", "status": "registered"}, {"stage": "PWNED"}, {"version": MAX_INT}, {"status": "issued"}],
)
def test_a_create_is_a_draft_whatever_state_it_asks_for(city: City, extra: dict[str, Any]) -> None:
    entity = str(uuid.uuid4())
    payload = {
        "number": "JN-66-2026-000009",
        "business": "RESALE_TRANSFER",
        "applicant_kind": "individual",
        "channel": "window",
        "applied_at": utcnow().isoformat(),
        "parties": [],
        **extra,
    }
    result = city.hostile.result(op("dossier.create", entity, payload))
    assert (result["status"], result["code"]) == ("refused", "bad_op")
    assert next(iter(extra)) in result["message"]
    with city.registry.db.read() as s:
        assert s.get(Dossier, entity) is None
    honest = city.hostile.result(op("dossier.create", entity, {k: v for k, v in payload.items() if k not in extra}))
    assert honest["status"] == "applied" and honest["version"] == 1
    with city.registry.db.read() as s:
        created = s.get(Dossier, entity)
        assert created is not None and (created.stage, created.status, created.version) == ("ACCEPT", "draft", 1)


def test_a_version_bomb_is_a_recorded_conflict_and_versions_only_ever_move_by_one(city: City) -> None:
    version, stage, status, _ = at_registry(city, city.draft.id)
    # The owner itself, raw: an edit made on a version the registry never had is a conflict, not a jump.
    raw = Station(city.url, "JN-01", city.desk_token)
    raw.seq = city.registry.last_seq("JN-01")
    bomb = raw.result(
        op("page.rotate", city.draft.id, {"page_id": str(uuid.uuid4()), "rotation": 90}, base_version=MAX_INT)
    )
    assert (bomb["status"], bomb["code"], bomb["version"]) == ("conflict", "stale_version", version)
    carried = raw.result(
        op(
            "page.rotate",
            city.draft.id,
            {"page_id": str(uuid.uuid4()), "rotation": 90, "version": MAX_INT},
            base_version=version,
        )
    )
    assert (carried["status"], carried["code"]) == ("refused", "bad_op")
    missing = raw.result(op("page.rotate", city.draft.id, {"page_id": str(uuid.uuid4()), "rotation": 90}))
    assert (missing["status"], missing["code"]) == ("refused", "bad_op") and "base_version" in missing["message"]
    assert at_registry(city, city.draft.id)[:3] == (version, stage, status)
    good = raw.result(
        op("page.rotate", city.draft.id, {"page_id": str(uuid.uuid4()), "rotation": 180}, base_version=version)
    )
    assert (good["status"], good["version"]) == ("applied", version + 1)
    raw.close()
    assert city.registry.conflicts("JN-01")[0]["code"] == "stale_version"


def test_a_move_outside_the_stage_machine_is_refused(city: City) -> None:
    raw = Station(city.url, "JN-01", city.desk_token)
    raw.seq = city.registry.last_seq("JN-01")
    v = at_registry(city, city.submitted.id)[0]
    issue = raw.result(op("dossier.issue", city.submitted.id, {}, base_version=v))
    again = raw.result(
        op(
            "dossier.submit",
            city.submitted.id,
            {"content": EMPTY},
            base_version=v,
        )
    )
    assert (issue["status"], issue["code"]) == ("refused", "illegal_transition")
    assert (again["status"], again["code"]) == ("refused", "illegal_transition")
    # An incomplete submission of the draft: the registry counts the checklist itself.
    dv = at_registry(city, city.draft.id)[0]
    empty = raw.result(
        op(
            "dossier.submit",
            city.draft.id,
            {"content": EMPTY},
            base_version=dv,
        )
    )
    assert (empty["status"], empty["code"]) == ("refused", "incomplete")
    assert at_registry(city, city.submitted.id)[:3] == (v, "REVIEW", "submitted")
    assert at_registry(city, city.draft.id)[:3] == (dv, "ACCEPT", "draft")
    for kind in ("review.approve", "review.claim", "qc.record", "qc.open"):
        result = raw.result(op(kind, city.submitted.id, {"stage": "REGISTER"}))
        assert (result["status"], result["code"]) == ("refused", "not_allowed"), kind
    raw.close()


# -- people ---------------------------------------------------------------------------------------------------------


def test_review_needs_a_person_the_registry_provisioned_and_logged_in_at_that_station(city: City) -> None:
    h = city.hostile
    assert (h.claim().status_code, h.claim().json()["code"]) == (401, "person_missing")
    h.person = "wsp_invented"
    assert h.claim().json()["code"] == "person_invalid"
    h.person = None
    grants = {"username": "ghost", "roles": ["reviewer"], "can_review_online": True, "can_review_offline": True}
    elevated = h.http.post("/v1/review/claim", json={"reviewer": grants}, headers=city.review.as_person())
    assert elevated.status_code in (403, 422)  # another station's person token, and a body the route does not take
    assert h.http.post("/v1/review/claim", json={"held": []}, headers=city.review.as_person()).json()["code"] == (
        "station_mismatch"
    )
    wrong = h.login("rev1", "not-the-password")
    invented = h.login("ghost", PERSON_PASSWORD)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "person_invalid")
    assert (invented.status_code, invented.json()["code"]) == (401, "person_invalid")
    assert h.login("qc1").status_code == 200
    not_a_reviewer = h.claim()
    assert (not_a_reviewer.status_code, not_a_reviewer.json()["code"]) == (403, "not_allowed")
    with city.registry.db.read() as s:
        refused_logins = (
            s.execute(
                select(AuditEvent.actor).where(
                    AuditEvent.action == "person.login_refused", AuditEvent.station_id == "JN-66"
                )
            )
            .scalars()
            .all()
        )
    assert sorted(refused_logins) == ["ghost", "rev1"]
    # Nobody was leased anything; the pool is as it was.
    assert at_registry(city, city.submitted.id)[1:3] == ("REVIEW", "submitted")
    # An expired login and a disabled person are refused too.
    with city.registry.db.transaction() as s:
        s.execute(update(PersonSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert city.review.claim().json()["code"] == "person_expired"
    city.review.login("rev1")
    city.registry.people.disable("registry-admin", "rev1")
    assert city.review.claim().json()["code"] == "person_invalid"
    victim_syncs_clean(city)


def test_a_decision_counts_only_under_the_lease_its_person_holds_at_its_station(city: City) -> None:
    claimed = city.review.claim()
    lease = claimed.json()["lease"]
    assert lease["number"] == city.submitted.number
    version = at_registry(city, city.submitted.id)[0]
    decision = {"decision": "approve", "lease_id": lease["lease_id"], "fence": lease["fence"]}
    # Another station sends a decision under rev1's lease, as rev1: refused, and nothing moves.
    stolen = city.hostile.result(op("review.decision", city.submitted.id, decision, base_version=version, actor="rev1"))
    assert (stolen["status"], stolen["code"]) == ("refused", "not_allowed")
    # At the lease's own station, but for someone else: refused.
    city.review.person = None
    other = city.review.result(op("review.decision", city.submitted.id, decision, base_version=version, actor="qc1"))
    assert (other["status"], other["code"]) == ("refused", "not_allowed")
    invented = city.review.result(
        op(
            "review.decision",
            city.submitted.id,
            {**decision, "lease_id": str(uuid.uuid4())},
            base_version=version,
            actor="rev1",
        )
    )
    assert (invented["status"], invented["code"]) == ("refused", "not_allowed")
    assert at_registry(city, city.submitted.id)[:3] == (version, "REVIEW", "in_review")
    # The holder's own decision applies, one version up.
    mine = city.review.result(op("review.decision", city.submitted.id, decision, base_version=version, actor="rev1"))
    assert (mine["status"], mine["version"]) == ("applied", version + 1)
    assert at_registry(city, city.submitted.id)[1:3] == ("REGISTER", "submitted")
    victim_syncs_clean(city)
    assert city.desk.dossiers.show(city.submitted.number).stage == "REGISTER"  # the owner learns of it


def test_registration_needs_a_registrar_logged_in_at_the_sending_station(city: City) -> None:
    lease = city.review.claim().json()["lease"]
    v = at_registry(city, city.submitted.id)[0]
    decision = {"decision": "approve", "lease_id": lease["lease_id"], "fence": lease["fence"]}
    assert (
        city.review.result(op("review.decision", city.submitted.id, decision, base_version=v, actor="rev1"))["status"]
        == "applied"
    )
    v += 1
    for actor in ("reg1", "ghost", None):  # provisioned but not logged in here; invented; nobody
        result = city.hostile.result(op("dossier.register", city.submitted.id, {}, base_version=v, actor=actor))
        assert (result["status"], result["code"]) == ("refused", "not_allowed"), actor
    assert at_registry(city, city.submitted.id)[:3] == (v, "REGISTER", "submitted")
    assert city.hostile.login("reg1").status_code == 200  # a city registrar logs in there: now it is 登簿
    done = city.hostile.result(op("dossier.register", city.submitted.id, {}, base_version=v, actor="reg1"))
    assert (done["status"], done["version"]) == ("applied", v + 1)
    assert at_registry(city, city.submitted.id)[1:3] == ("ISSUE", "registered")


# -- privacy --------------------------------------------------------------------------------------------------------


def test_identity_numbers_and_pages_reach_only_the_holder_of_a_live_lease(city: City) -> None:
    with city.registry.db.read() as s:
        ids = s.execute(select(Party.id_value).where(Party.dossier_id == city.submitted.id)).scalars().all()
    assert any(ids)  # the registry holds the full numbers since 受理
    sha = city.submitted.pages[0].sha256
    assert city.hostile.http.get(f"/v1/blobs/{sha}").status_code == 404
    assert city.review.http.get(f"/v1/blobs/{sha}").status_code == 404  # no lease yet
    # The feed of a station holds its own dossiers and its people's leases, never the city's.
    assert city.hostile.http.get("/v1/changes").json()["changes"] == []
    assert city.review.http.get("/v1/changes").json()["changes"] == []
    claimed = city.review.claim().json()
    manifest = claimed["dossier"]
    assert [p["id_value"] for p in manifest["parties"]] == ids  # the holder sees them
    assert city.review.http.get(f"/v1/blobs/{sha}").status_code == 200
    assert city.hostile.http.get(f"/v1/blobs/{sha}").status_code == 404
    feed = city.review.http.get("/v1/changes").json()["changes"]
    assert {c["entity_id"] for c in feed} == {city.submitted.id}
    assert all("id_value" not in str(c["payload"]) for c in feed)
    assert city.hostile.http.get("/v1/changes").json()["changes"] == []
    assert city.hostile.http.get("/v1/conflicts").json() == []


def test_nul_characters_anywhere_in_an_op_are_refused_and_recorded_never_a_500(city: City) -> None:
    """PostgreSQL text holds no NUL: what a station sends is never stored as it came where it could break that."""
    for attempt in [
        op("dossier.\x00withdraw", city.submitted.id, {"reason": "x"}),
        op("dossier.withdraw", "e\x00", {"reason": "x"}, base_version=1),
        op("dossier.withdraw", city.draft.id, {"\x00": "x"}, base_version=1),
        op("dossier.withdraw", city.hostile.id, {"reason": "撤回\x00"}, base_version=1),
    ]:
        result = city.hostile.result(attempt)
        assert result["status"] == "refused", result
        assert "\x00" not in (result["message"] or "")
    # A value that reaches a text column: stored where the database can (SQLite), refused where it cannot.
    party = {"key": "p1", "position": 1, "role": "buyer", "kind": "individual", "name": "王\x00五"}
    created = city.hostile.result(
        op(
            "dossier.create",
            str(uuid.uuid4()),
            {
                "number": "JN-66-2026-000077",
                "business": "RESALE_TRANSFER",
                "applicant_kind": "individual",
                "channel": "window",
                "applied_at": utcnow().isoformat(),
                "parties": [party],
            },
        )
    )
    assert (created["status"], created["code"]) in (("applied", None), ("refused", "bad_op"))
    victim_syncs_clean(city)


# -- malformed payloads of every kind ------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
KINDS = sorted(op_kinds())


@pytest.mark.slow
def test_malformed_payloads_of_every_op_kind_are_refused_per_op_and_never_a_500(city: City) -> None:
    targets = [city.submitted.id, city.draft.id, str(uuid.uuid4())]
    sent: list[str] = []

    @settings(max_examples=4 * len(KINDS), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        kind=st.sampled_from(KINDS),
        payload=st.dictionaries(st.text(max_size=12), JSON, max_size=5) | JSON,
        target=st.sampled_from(targets),
        base=st.none() | st.integers(min_value=-2, max_value=MAX_INT + 2) | st.text(max_size=3),
        actor=st.none() | st.sampled_from(["rev1", "clerk1", "(applicant)", "x" * 80, ""]),
    )
    def attack(kind: str, payload: Any, target: str, base: Any, actor: Any) -> None:
        attempt = op(kind, target, payload, base_version=base, actor=actor)
        city.hostile.seq = city.registry.last_seq("JN-66")
        answer = city.hostile.send(attempt)
        assert answer.status_code < 500
        if answer.status_code == 200:
            [result] = answer.json()["results"]
            assert result["status"] in ("refused", "conflict"), (kind, payload, result)
            sent.append(attempt["op_id"])
        else:  # the envelope itself was not an op (its number unused): the station resends from its sequence
            assert answer.json()["code"] in ("invalid", "bad_op"), answer.text

    attack()
    assert sent
    with city.registry.db.read() as s:
        refused = s.execute(
            select(func.count()).where(AppliedOp.station_id == "JN-66", AppliedOp.status.in_(("refused", "conflict")))
        ).scalar_one()
        events = s.execute(
            select(func.count()).where(AuditEvent.station_id == "JN-66", AuditEvent.action.like("sync.%"))
        ).scalar_one()
    assert refused == events == len(sent)
    assert at_registry(city, city.submitted.id)[1:3] == ("REVIEW", "submitted")
    victim_syncs_clean(city)


def test_a_return_must_name_the_checklist_and_a_resubmission_must_answer_it_at_the_registry_too(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease = city.review.claim().json()["lease"]
    version = at_registry(city, city.submitted.id)[0]

    def returning(*items: dict[str, Any]) -> dict[str, Any]:
        payload = {"decision": "return", "lease_id": lease["lease_id"], "fence": lease["fence"], "items": list(items)}
        return op("review.decision", city.submitted.id, payload, base_version=version, actor="rev1")

    off_list = city.review.result(returning({"problem": "missing", "material": "M99"}))
    assert (off_list["status"], off_list["code"]) == ("refused", "bad_op") and "M99" in off_list["message"]
    assert at_registry(city, city.submitted.id)[:3] == (version, "REVIEW", "in_review")  # the lease still holds
    good = city.review.result(
        returning(
            {"problem": "missing", "material": "M01"}, {"problem": "defective", "material": "M03", "party_key": "p1"}
        )
    )
    assert good["status"] == "applied"
    victim_syncs_clean(city)
    shown = city.desk.dossiers.show(city.submitted.number)
    assert shown.status == "returned" and shown.supplement is not None and len(shown.supplement.items) == 2

    # A careless desk that skips its own check (answers one item, adds nothing) is refused at the registry too.
    monkeypatch.setattr("workstation.services.dossiers.check_addressed", lambda *a, **k: None)
    clerk = city.desk.users.actor("clerk1")
    city.desk.dossiers.answer(clerk, city.submitted.number, 1, "申请书已补签")
    city.desk.dossiers.submit(clerk, city.submitted.number)
    report = city.agent.sync_once()
    assert report.quarantined == 1
    parked = city.agent.status().quarantined
    assert [p["kind"] for p in parked] == ["dossier.resubmit"]
    assert "incomplete" in parked[0]["reason"] and "2. M03 p1 (defective)" in parked[0]["reason"]
    assert at_registry(city, city.submitted.id)[2] == "returned"
    assert city.desk.dossiers.show(city.submitted.number).status == "returned"  # the desk's copy follows
