"""The registry's connection pool on PostgreSQL: a connection the server closed while it sat in the pool is
replaced before it is handed out (checked when it was idle a while), and a connection in steady use is handed out
without a round trip first."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from workstation.store.db import Database

pytestmark = pytest.mark.postgres


def _backend_pid(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_the_server_closed_is_replaced_before_use(registry_db: str | None) -> None:
    if registry_db is None:
        pytest.skip("needs PostgreSQL")
    db = Database(registry_db, ping_after_idle=0.0)  # every checkout counts as after an idle spell
    try:
        one, other = db.engine.connect(), db.engine.connect()  # two pooled connections
        first = one.execute(text("SELECT pg_backend_pid()")).scalar_one()
        one.close()  # back in the pool, idle
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one() is True
        other.close()
        seen = {_backend_pid(db) for _ in range(3)}  # no error: the dead one was found and replaced
        assert first not in seen
    finally:
        db.dispose()


@pytest.mark.parametrize(("idle_limit", "pings_expected"), [(3600.0, 0), (0.0, 5)], ids=["steady", "idle"])
def test_a_connection_is_pinged_only_after_an_idle_spell(
    registry_db: str | None, idle_limit: float, pings_expected: int
) -> None:
    """In steady use (a limit of an hour) no checkout costs a round trip; past the limit (0 s) every one does."""
    if registry_db is None:
        pytest.skip("needs PostgreSQL")
    db = Database(registry_db, ping_after_idle=idle_limit)
    pings: list[object] = []
    try:
        _backend_pid(db)  # the connection is made (and used) here
        original = db.engine.dialect.do_ping

        def counted(conn: object) -> bool:
            pings.append(conn)
            return original(conn)

        db.engine.dialect.do_ping = counted  # type: ignore[method-assign]
        for _ in range(5):
            _backend_pid(db)
        assert len(pings) == pings_expected
        assert db.engine.pool.checkedin() == 1  # one connection made, used six times
    finally:
        db.dispose()
