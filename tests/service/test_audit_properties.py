"""Property: whatever single change is made to a stored chain or to an audited row, `verify` notices it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, insert, select, update

from workstation.services import audit
from workstation.store import migrate
from workstation.store.db import Database
from workstation.store.models import AuditEvent, AuditHead, Dossier, Party, Station, User

EVENT_FIELDS = (
    "at",
    "station_id",
    "actor",
    "action",
    "entity",
    "entity_id",
    "payload",
    "prev_hash",
    "hash",
    "alg",
    "os_user",
    "interface",
    "rows",
    "chain",
    "link",
)
ROW_FIELDS = {
    "dossiers": ("status", "stage", "number", "business_code", "version", "digitized", "applied_at", "conditions"),
    "parties": ("name", "role", "id_value", "position"),
    "users": ("roles", "username", "active", "password_hash"),
}
MODELS: dict[str, Any] = {"dossiers": Dossier, "parties": Party, "users": User}
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _event(s: Any, i: int, entity_id: str) -> None:
    audit.append(
        s, station_id="s1", actor=f"u{i}", action="x.y", entity="dossier", entity_id=entity_id, payload={"i": i}
    )


def _chain(tmp: Path, names: list[str]) -> Database:
    """A user, then per name a dossier with a party, then a change to each: every transaction with its event."""
    db = Database(f"sqlite:///{tmp / 'a.db'}")
    migrate.upgrade(db.engine)
    audit.attach(db, tmp)
    with db.transaction() as s:
        s.add(Station(id="s1", name="s1", kind="hall"))
        s.add(User(id="user-1", username="clerk", password_hash="h", roles="clerk"))
        _event(s, 0, "user-1")
    for i, name in enumerate(names, start=1):
        with db.transaction() as s:
            s.add(
                Dossier(
                    id=f"d{i}",
                    number=f"N{i}",
                    station_id="s1",
                    business_code="RESALE_TRANSFER",
                    registration_type="transfer",
                    channel="window",
                    applicant_kind="individual",
                    digitized=True,
                    hall_mode="standard",
                    stage_plan="INTAKE REVIEW",
                    conditions=["a"],
                    stage="INTAKE",
                    status="draft",
                    applied_at=T0 + timedelta(minutes=i),
                    created_by="user-1",
                )
            )
            s.flush()
            s.add(
                Party(id=f"p{i}", dossier_id=f"d{i}", key="p1", position=1, role="seller", kind="individual", name=name)
            )
            _event(s, i, f"d{i}")
    for i, name in enumerate(names, start=1):
        with db.transaction() as s:
            s.get(Party, f"p{i}").name = name + "改"  # type: ignore[union-attr]
            s.get(Dossier, f"d{i}").status = "submitted"  # type: ignore[union-attr]
            _event(s, 100 + i, f"d{i}")
    return db


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, list):
        return [*value, "x"]
    if value is None:
        return "x"
    return str(value) + "x"


MUTATIONS = st.one_of(
    st.tuples(st.just("event_edit"), st.integers(0, 99), st.sampled_from(EVENT_FIELDS)),
    st.tuples(st.just("event_delete"), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("event_insert"), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("event_swap"), st.integers(0, 99), st.integers(1, 98)),
    st.tuples(
        st.just("row_edit"),
        st.integers(0, 99),
        st.sampled_from([(t, c) for t, cols in ROW_FIELDS.items() for c in cols]),
    ),
    st.tuples(st.just("row_delete"), st.integers(0, 99), st.sampled_from(["dossiers", "parties"])),
    st.tuples(st.just("row_insert"), st.integers(0, 99), st.just("parties")),
)


def _mutate(db: Database, mutation: tuple[Any, ...], key: bytes) -> str:
    kind, pick, extra = mutation
    table = _table(AuditEvent)
    with db.engine.begin() as conn:
        events = conn.execute(select(table).order_by(table.c.seq)).mappings().all()
        n = len(events)
        if kind == "event_edit":
            row = events[pick % n]
            # (a link moved onto another is refused by the chain's unique index: it is moved past the end instead)
            value = row[extra] + 100_000 if extra == "link" else _changed(row[extra])
            conn.execute(update(table).where(table.c.seq == row["seq"]).values({extra: value}))
        elif kind == "event_delete":
            row = events[pick % n]
            conn.execute(delete(table).where(table.c.seq == row["seq"]))
            if extra and row["seq"] == n:  # the newest, with the head moved back to the one before it
                conn.execute(update(_table(AuditHead)).values(seq=n - 1, hash=events[n - 2]["hash"]))
        elif kind == "event_insert":
            forged = AuditEvent(
                **{**dict(events[pick % n]), "seq": n + 1, "link": n + 1, "prev_hash": events[-1]["hash"]}
            )
            forged.hash = audit.keyed_hash(os.urandom(32), forged) if extra else audit._hash_of(forged)
            forged.alg = audit.ALG_KEYED if extra else audit.ALG_PLAIN
            values = {c.key: getattr(forged, c.key) for c in table.c}
            conn.execute(insert(table).values(values))
            conn.execute(update(_table(AuditHead)).values(seq=n + 1, hash=forged.hash))
        elif kind == "event_swap":
            a = pick % n + 1
            b = (a - 1 + extra % (n - 1) + 1) % n + 1
            conn.execute(update(table).where(table.c.seq == a).values(seq=-1, link=-1))
            conn.execute(update(table).where(table.c.seq == b).values(seq=a, link=a))
            conn.execute(update(table).where(table.c.seq == -1).values(seq=b, link=b))
        elif kind == "row_edit":
            name, column = extra
            model = MODELS[name].__table__
            rows = conn.execute(select(model).order_by(model.c.id)).mappings().all()
            row = rows[pick % len(rows)]
            conn.execute(update(model).where(model.c.id == row["id"]).values({column: _changed(row[column])}))
        elif kind == "row_delete":
            model = MODELS[extra].__table__
            ids = conn.execute(select(model.c.id).order_by(model.c.id)).scalars().all()
            conn.execute(delete(model).where(model.c.id == ids[pick % len(ids)]))
        else:
            dossier = conn.execute(select(_table(Dossier).c.id).order_by(_table(Dossier).c.id)).scalars().all()
            conn.execute(
                insert(_table(Party)).values(
                    id=f"forged-{pick}",
                    dossier_id=dossier[pick % len(dossier)],
                    key="p9",
                    position=9,
                    role="buyer",
                    kind="individual",
                    name="某",
                )
            )
    return kind


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text("甲乙丙丁ab", min_size=1, max_size=4), min_size=1, max_size=4), mutation=MUTATIONS)
def test_any_single_change_to_events_or_audited_rows_is_detected(
    tmp_path_factory: Any, names: list[str], mutation: tuple[Any, ...]
) -> None:
    tmp = tmp_path_factory.mktemp("chain")
    db = _chain(tmp, names)
    try:
        with db.read() as s:
            honest = audit.verify(s, deep=True)
        assert honest.ok, honest.problems
        key = bytes.fromhex(__import__("json").loads(audit.key_path(tmp).read_text())["key"])
        kind = _mutate(db, mutation, key)
        with db.read() as s:
            report = audit.verify(s, deep=True)
        assert not report.ok, (kind, mutation)
        if kind.startswith("row"):
            assert report.row is not None and report.row.split("/")[0] in MODELS
        else:
            assert report.at_seq is not None or report.row is not None
    finally:
        db.dispose()
