"""Shared fixtures. Store tests run on SQLite and, where WS_TEST_PG_URL names a server, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from workstation.config import Settings, load_settings
from workstation.services.desk import Desk, open_desk

PG_URL = os.environ.get("WS_TEST_PG_URL")
REQUIRE_PG = os.environ.get("WS_TEST_REQUIRE_PG") == "1"
ADMIN_PASSWORD = "admin-pass-1"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


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
