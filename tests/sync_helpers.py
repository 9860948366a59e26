"""A registry on loopback (real uvicorn) and desks that sync with it, for the sync tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sync.client import SyncAgent
from sync.server.open import open_registry
from sync.server.registry import Registry
from sync.server.serve import BackgroundServer
from workstation.config import load_settings
from workstation.services.desk import Desk, open_desk


@contextmanager
def running_registry(root: Path, db_url: str | None = None, **settings: object) -> Iterator[tuple[Registry, str]]:
    """A registry with its own data dir (SQLite, or `db_url`) served on 127.0.0.1:<free port>."""
    registry = open_registry(load_settings(data_dir=root, admin_password="admin-pass-1", **settings), db_url)
    server = BackgroundServer(registry).start()
    try:
        yield registry, server.url
    finally:
        server.stop()
        registry.db.dispose()


def make_desk(root: Path, station: str, db_url: str | None = None) -> Desk:
    desk = open_desk(load_settings(data_dir=root, admin_password="admin-pass-1", station_id=station, db_url=db_url))
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
    return desk


def agent_for(desk: Desk, registry: Registry, url: str, **kwargs: object) -> SyncAgent:
    station = desk.settings.station_id
    token = registry.add_station(station, station)
    return SyncAgent(desk.db, desk.blobs, station_id=station, url=url, token=token, **kwargs)  # type: ignore[arg-type]
