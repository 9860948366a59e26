"""A claim at the registry is one short transaction of few statements: counted here, so a change that adds a
round trip to every claim is seen (the README quotes the figure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from bench.queue import add_reviewers, seed_pool
from sync.server.open import open_registry
from sync.server.registry import Registry
from workstation.config import load_settings
from workstation.domain.catalogue import load_catalogue
from workstation.store.models import Assignment, AuditEvent, ChangeRecord

# Per backend: statements in the claim's transaction, BEGIN and COMMIT left out, on a dossier with no unit number
# (one more read with one: the unit's register entries). PostgreSQL: the reviewer's live leases 1; the search for
# a dossier returned by this reviewer (a small index) 1; the pool search, walking the pool index, locking the row
# it finds and skipping rows other claims hold, 1 (2 when the first class is empty); register findings 2 (reads:
# nothing written while the register is unchanged); lease insert and dossier update 2; the clock for the change
# feed 1; the change 1; the dossier row's digest 1; the station chain's head locked, the event, the head 3. SQLite
# adds the feed counter's 2 (its writers take turns).
MOST = {"postgresql": 13, "sqlite": 15}


@pytest.fixture
def registry(tmp_path: Path, registry_db: str | None) -> Iterator[Registry]:
    opened = open_registry(load_settings(data_dir=tmp_path, admin_password="admin-pass-1"), registry_db)
    try:
        opened.add_station("JN-RV-01", "JN-RV-01")
        seed_pool(opened.db, 20, station_id="JN-01", seed=3, catalogue=load_catalogue())
        yield opened
    finally:
        opened.db.dispose()


def _counted(registry: Registry) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(registry.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(registry.db.engine, "before_cursor_execute", count)


def test_a_claim_takes_few_statements_and_leaves_its_lease_its_event_and_its_change(registry: Registry) -> None:
    (reviewer,) = add_reviewers(registry.db, 1, station_id="JN-RV-01")
    backend = registry.db.engine.dialect.name
    assert registry.review.claim_next(reviewer, station_id="JN-RV-01") is not None  # the chain's first: its head
    counts = []
    for _ in range(2):
        counter = _counted(registry)
        seen = next(counter)
        lease = registry.review.claim_next(reviewer, station_id="JN-RV-01")
        next(counter, None)
        assert lease is not None
        counts.append(len([s for s in seen if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]))
    assert max(counts) <= MOST[backend], counts
    with registry.db.read() as s:
        assert len(s.execute(select(Assignment).where(Assignment.state == "active")).scalars().all()) == 3
        claims = s.execute(select(AuditEvent).where(AuditEvent.action == "review.claim")).scalars().all()
        assert {e.chain for e in claims} == {"JN-RV-01"} and sorted(e.link for e in claims) == [1, 2, 3]
        assert len(s.execute(select(ChangeRecord)).scalars().all()) >= 3
