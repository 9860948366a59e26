"""A claim at the registry is one short transaction of few statements: counted here, so a change that adds a
round trip to every claim is seen (the README quotes the figure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, select

from bench.queue import add_reviewers, seed_pool
from sync.server.open import open_registry
from sync.server.registry import Registry
from tests.sync_helpers import decision, provision, running_registry, station
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


# Over HTTP, per backend: a claim is one transaction (station and login read in it, then the claim above, the
# manifest's five reads and the clock); a decision sent as an op is two (the station's token, then the op: its
# station's sequence row, the op's replay check, the dossier, the lease, the person, the decision's
# replay check, the open errors it overrides, one write each of decision, lease and dossier, the clock and the
# change, the op's record and the sequence, the digest, the head locked, the events, the head). SQLite adds the
# feed counter's 2 to each.
HTTP_MOST = {"postgresql": (21, 1, 19, 2), "sqlite": (23, 1, 21, 2)}
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def test_a_claim_over_http_is_one_transaction_and_its_decision_two(tmp_path: Path, registry_db: str | None) -> None:
    with running_registry(tmp_path / "registry", registry_db) as (opened, url):
        seed_pool(opened.db, 5, station_id="JN-01", seed=3, catalogue=load_catalogue())
        provision(opened, "rev1")
        desk = station(opened, url, "JN-RV-01")
        backend = opened.db.engine.dialect.name
        try:
            assert desk.login("rev1").status_code == 200
            begun: list[int] = []
            event.listen(opened.db.engine, "begin", lambda _conn: begun.append(1))
            for _ in range(2):  # the second time: nothing left to make (the chain's head, the station's sequence)
                counter = _counted(opened)
                seen = next(counter)
                begun.clear()
                answer = desk.claim()
                claim = ([s for s in seen if s not in _TRANSACTION_CONTROL], len(begun))
                seen.clear()
                begun.clear()
                body = answer.json()
                lease = SimpleNamespace(**body["lease"])
                result = desk.result(decision(lease, body["dossier"]["version"]))
                decide = ([s for s in seen if s not in _TRANSACTION_CONTROL], len(begun))
                next(counter, None)
                assert answer.status_code == 200 and result["status"] == "applied", (answer.text, result)
            most = HTTP_MOST[backend]
            assert len(claim[0]) <= most[0] and claim[1] == most[1], claim
            assert len(decide[0]) <= most[2] and decide[1] == most[3], decide
        finally:
            desk.close()
