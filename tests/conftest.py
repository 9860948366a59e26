"""Shared fixtures. Store tests run on SQLite and, where WS_TEST_PG_URL names a server, on PostgreSQL.

Two things keep the suite quick without changing what it proves:
- Passwords are hashed at the lowest argon2id cost (`WS_PASSWORD_COST=test`, set here before the users service is
  imported, and inherited by the processes the tests start unless a test clears WS_* for them); production keeps
  its cost (`test_password_cost.py`).
- The schema is migrated once per test session (per xdist worker) into a template: a SQLite file copied into each
  fresh SQLite database a test opens in-process, and a PostgreSQL database each test's database is created from
  (`CREATE DATABASE … TEMPLATE …`). The template is what the real migrations produce; `test_store.py` still checks
  it against the models and the migration chain.
"""

from __future__ import annotations

import os

os.environ.setdefault("WS_PASSWORD_COST", "test")  # before any workstation import: the users service reads it once

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url, text

from workstation.config import Settings, load_settings
from workstation.services.desk import Desk, open_desk
from workstation.store import migrate
from workstation.store.db import Database


def _worker_database(url: str | None) -> tuple[str | None, str | None]:
    """The tests' own PostgreSQL database, `<name>_gw0`, … under parallel workers (`pytest -n`) and `<name>_main`
    without, so that one worker's reset never drops another's tables; the database WS_TEST_PG_URL names is only
    connected to, to create and drop the others. The URL is put back into the environment, where every test module
    and child process reads it (the one named stays in WS_TEST_PG_BASE_URL, for xdist's workers and a second
    import). Returns (the tests' URL, the URL to connect to for CREATE/DROP DATABASE)."""
    url = os.environ.get("WS_TEST_PG_BASE_URL") or url
    if not url:
        return None, None
    os.environ["WS_TEST_PG_BASE_URL"] = url
    base = make_url(url)
    mine = base.set(database=f"{base.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    rendered = mine.render_as_string(hide_password=False)
    os.environ["WS_TEST_PG_URL"] = rendered
    return rendered, base.render_as_string(hide_password=False)


PG_URL, PG_ADMIN_URL = _worker_database(os.environ.get("WS_TEST_PG_URL"))
REQUIRE_PG = os.environ.get("WS_TEST_REQUIRE_PG") == "1"
ADMIN_PASSWORD = "admin-pass-1"
_PG_TEMPLATE_READY: set[str] = set()
_REAL_UPGRADE = migrate.upgrade


def _pg_admin() -> Engine:
    assert PG_ADMIN_URL is not None
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _reset_postgres(url: str) -> None:
    """A fresh, migrated database at `url`: dropped (the tests' own sessions on it ended first) and created from the
    session's template, which the real migrations built the first time this is called in the session."""
    name = make_url(url).database
    template = f"{name}_template"
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            if template not in _PG_TEMPLATE_READY:
                _drop_database(conn, template)
                conn.execute(text(f'CREATE DATABASE "{template}"'))
                built = Database(make_url(url).set(database=template).render_as_string(hide_password=False))
                try:
                    _REAL_UPGRADE(built.engine)
                finally:
                    built.dispose()
                _PG_TEMPLATE_READY.add(template)
            _drop_database(conn, name)
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()


def _drop_database(conn: Connection, name: str) -> None:
    """Ends the tests' own sessions left on `name` (a previous test's pool), then drops it. Not `WITH (FORCE)`: that
    needs rights over every session there, autovacuum's included; a plain DROP waits a few seconds for autovacuum."""
    conn.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty desk database, migrated by the real migrations once per session (per worker), closed cleanly."""
    path = tmp_path_factory.mktemp("template-db") / "workstation.db"
    built = Database(f"sqlite:///{path}")
    try:
        _REAL_UPGRADE(built.engine)
    finally:
        built.dispose()
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template database did not close cleanly: {leftovers}"
    return path


@pytest.fixture(scope="session", autouse=True)
def _migrate_from_template(sqlite_template: Path) -> Iterator[None]:
    """Every brand-new SQLite database a test opens in-process (a desk, a registry) gets the template's schema by
    SQLite's online backup instead of running the migrations again; anything else (PostgreSQL, a database that
    already has tables or a version) goes through the real `migrate.upgrade`."""

    def upgrade(engine: Engine) -> bool:
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return _REAL_UPGRADE(engine)
        if migrate.current_revision(engine) is not None:  # first, as the real one: its errors come out the same
            return _REAL_UPGRADE(engine)
        raw = engine.raw_connection()
        try:
            target = raw.driver_connection
            assert isinstance(target, sqlite3.Connection)
            if target.execute("SELECT count(*) FROM sqlite_master").fetchone() != (0,):
                return _REAL_UPGRADE(engine)
            source = sqlite3.connect(sqlite_template)
            try:
                source.backup(target)
            finally:
                source.close()
        finally:
            raw.close()
        return True

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migrate, "upgrade", upgrade)
        yield


@pytest.fixture
def registry_db() -> str | None:
    """A registry's database for the city runs: PostgreSQL (reset) where the tests have one (CI), else None for
    the registry's own SQLite."""
    if not PG_URL:
        return None
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "workstation.db")
        return f"sqlite:///{tmp_path / 'workstation.db'}"
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("WS_TEST_REQUIRE_PG=1 but WS_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL configured: set WS_TEST_PG_URL (CI does)")
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def settings(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("WS_") and not key.startswith("WS_TEST_") and key != "WS_PASSWORD_COST":
            monkeypatch.delenv(key)
    return load_settings(data_dir=tmp_path / "data", db_url=db_url, admin_password=ADMIN_PASSWORD)


@pytest.fixture
def desk(settings: Settings) -> Iterator[Desk]:
    opened = open_desk(settings)
    yield opened
    opened.close()


@pytest.fixture
def clerk(desk: Desk):  # type: ignore[no-untyped-def]
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
    return desk.users.actor("clerk1")


@pytest.fixture
def reviewer(desk: Desk):  # type: ignore[no-untyped-def]
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="rev1", password="rev-pass-01", roles=["reviewer"], can_review_online=True)
    return desk.users.actor("rev1")
