"""Property: whatever single change is made to a stored chain, `verify` notices it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from workstation.services import audit
from workstation.store import migrate
from workstation.store.db import Database
from workstation.store.models import AuditEvent

FIELDS = ("at", "station_id", "actor", "action", "entity", "entity_id", "payload", "prev_hash", "hash")


def _chain(tmp: Path, payloads: list[dict[str, str]]) -> Database:
    db = Database(f"sqlite:///{tmp / 'a.db'}")
    migrate.upgrade(db.engine)
    for i, payload in enumerate(payloads):
        with db.transaction() as s:
            audit.append(
                s, station_id="s1", actor=f"u{i}", action="x.y", entity="dossier", entity_id=str(i), payload=payload
            )
    return db


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payloads=st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=8), max_size=3), min_size=2, max_size=6),
    victim=st.integers(min_value=0, max_value=5),
    field=st.sampled_from(FIELDS),
)
def test_any_single_field_edit_is_detected(
    tmp_path_factory, payloads: list[dict[str, str]], victim: int, field: str
) -> None:  # type: ignore[no-untyped-def]
    db = _chain(tmp_path_factory.mktemp("chain"), payloads)
    try:
        with db.read() as s:
            assert audit.verify(s).ok
        seq = victim % len(payloads) + 1
        with db.transaction() as s:
            event = s.execute(select(AuditEvent).where(AuditEvent.seq == seq)).scalar_one()
            if field == "at":
                from datetime import timedelta

                event.at = event.at + timedelta(microseconds=1)
            else:
                old = getattr(event, field)
                setattr(event, field, old + "x" if field != "payload" else old + " ")
        with db.read() as s:
            report = audit.verify(s)
        assert not report.ok
        assert report.at_seq in (seq, seq + 1)
    finally:
        db.dispose()
