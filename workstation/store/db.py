"""Engines and sessions for SQLite (the desk's embedded default) and PostgreSQL (the registry at scale)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from workstation.errors import StoreError
from workstation.store.models import Base, Counter

# A pooled server connection that sat unused this long is checked (one round trip) before it is handed out: one
# the server closed meanwhile (a restart, an idle timeout, a failover) is replaced instead of failing a request.
# A connection in steady use goes out unchecked: under load a check before every transaction was a round trip in
# ten. A server lost while its connections are busy fails the transactions in flight (503; desks retry), and the
# pool then replaces every connection it held.
PING_AFTER_IDLE_SECONDS = 2.0


def make_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        partial_indexes_on_postgresql()
    try:
        # Enough connections for a busy registry (uvicorn's thread pool runs up to 40 requests at once).
        engine = create_engine(url, pool_size=20, max_overflow=60)
    except Exception as exc:  # a malformed URL or missing driver: report it, no traceback
        raise StoreError(f"cannot use database URL {parsed.render_as_string(hide_password=True)}: {exc}") from None
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _made(_dbapi_conn: Any, record: Any) -> None:
        record.info[_USED_AT] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _back(_dbapi_conn: Any, record: Any) -> None:
        record.info[_USED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        used_at = record.info.get(_USED_AT)
        if used_at is not None and time.monotonic() - used_at < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            alive = False
            if not engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise
        if not alive:  # the pool drops it and hands out a new connection instead
            raise DisconnectionError("the database closed this pooled connection")
        record.info[_USED_AT] = time.monotonic()


_USED_AT = "ws.used_at"


def partial_indexes_on_postgresql() -> None:
    """Give every partial index of the models its SQLite predicate on PostgreSQL too.

    The models name a partial index's predicate once (`sqlite_where`): naming it for PostgreSQL there would load
    the PostgreSQL dialect on every desk at import. An index that already has a PostgreSQL predicate keeps it."""
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            where = index.dialect_options["sqlite"]["where"]
            if where is not None and index.dialect_options["postgresql"]["where"] is None:
                index.dialect_options["postgresql"]["where"] = where


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        if path.exists() and path.stat().st_size and not _looks_like_sqlite(path):
            raise StoreError(
                f"database {path} is not a SQLite database (corrupt or another file); "
                "move it aside and restore a backup"
            )
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy drive transactions (pysqlite's implicit BEGIN would defer the write lock).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # FULL: a committed intake survives a power cut at the window, not only a crash of the process.
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: two writers never deadlock upgrading from a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _looks_like_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def describe_db_error(url: str, exc: BaseException) -> str:
    shown = make_url(url).render_as_string(hide_password=True)
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, DatabaseError) and ("not a database" in text or "malformed" in text):
        return f"database {shown} is corrupt ({text}); move it aside and restore a backup"
    if isinstance(exc, OperationalError):
        return f"cannot open database {shown}: {text}"
    return f"database {shown} failed: {text}"


class Database:
    """An engine plus a session factory; `transaction()` is the one unit of work services use."""

    def __init__(self, url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS):
        self.url = url
        self.engine = make_engine(url, ping_after_idle=ping_after_idle)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and every transaction here takes the write lock (BEGIN IMMEDIATE).
        # Threads of this process queue on a lock instead of in SQLite's busy handler, which sleeps in
        # growing steps (up to 100 ms) and lets a late arrival overtake: with 50 threads that made p99 latency
        # seconds. Other processes still meet the busy timeout.
        self._local_writer: threading.RLock | None = threading.RLock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Everything inside commits together or not at all."""
        with self._serialised(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._serialised(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _serialised(self) -> Iterator[None]:
        if self._local_writer is None:
            yield
            return
        with self._local_writer:
            yield

    def dispose(self) -> None:
        self.engine.dispose()


def next_counter(session: Session, name: str) -> int:
    """Next value of a gap-free counter, inside the caller's transaction (rolled back with it)."""
    session.execute(_insert_ignore(session, Counter, name=name, value=0))
    value = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar_one()
    return int(value)


def _insert_ignore(session: Session, model: type[Any], **values: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING, spelled the same on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model).values(**values).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(model).values(**values).on_conflict_do_nothing()


def counter_value(session: Session, name: str) -> int:
    return int(session.execute(select(Counter.value).where(Counter.name == name)).scalar_one_or_none() or 0)
