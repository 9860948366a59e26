"""Shared fixtures. Store tests run on SQLite and, where WS_TEST_PG_URL names a server, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from workstation.config import Settings, load_settings
from workstation.services.desk import Desk, open_desk


def _worker_database(url: str | None) -> str | None:
    """Under parallel workers (`pytest -n`), each worker its own PostgreSQL database (`<name>_gw0`, …), created
    here if missing, so one worker's reset never drops another's tables. The URL is put back into the
    environment, where every test module and child process reads it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    mine = base.set(database=name).render_as_string(hide_password=False)
    os.environ["WS_TEST_PG_URL"] = mine
    return mine


PG_URL = _worker_database(os.environ.get("WS_TEST_PG_URL"))
REQUIRE_PG = os.environ.get("WS_TEST_REQUIRE_PG") == "1"
ADMIN_PASSWORD = "admin-pass-1"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def registry_db() -> str | None:
    """A registry's database for the city runs: PostgreSQL (reset) where the tests have one (CI), else None for
    the registry's own SQLite."""
    if not PG_URL:
        return None
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
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
        if key.startswith("WS_") and not key.startswith("WS_TEST_"):
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
