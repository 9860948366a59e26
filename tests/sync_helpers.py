"""A registry on loopback (real uvicorn), its people, and desks that sync with it, for the sync tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from sync.client import SyncAgent
from sync.protocol import PERSON_HEADER, SCHEMA_VERSION
from sync.server.open import open_registry
from sync.server.registry import Registry
from sync.server.serve import BackgroundServer
from workstation.cli_sync import attach_registry
from workstation.config import load_settings
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk, open_desk

PERSON_PASSWORD = "person-pass-1"


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


def provision(
    registry: Registry,
    username: str,
    roles: tuple[str, ...] = ("reviewer",),
    *,
    online: bool = True,
    offline: bool = True,
    unit: str | None = None,
) -> None:
    """A person at the registry (as `registry user add` does), password PERSON_PASSWORD."""
    registry.people.add(
        "registry-admin", username, PERSON_PASSWORD, list(roles), online=online, offline=offline, unit=unit
    )


def desk_with_registry(root: Path, station: str, url: str, token: str, **settings: Any) -> Desk:
    """A desk configured with the registry (reviews its pool, its people log in there), clerk1 its own."""
    desk = open_desk(
        load_settings(
            data_dir=root,
            admin_password="admin-pass-1",
            station_id=station,
            registry_url=url,
            registry_token=token,
            **settings,
        )
    )
    desk.users.add(desk.users.actor("admin"), username="clerk1", password="clerk-pass-1", roles=["clerk"])
    attach_registry(desk.settings, desk)
    return desk


def log_in(desk: Desk, username: str) -> Actor:
    """A registry person logs in at the desk (through the registry)."""
    return desk.users.authenticate(username, PERSON_PASSWORD)


class Station:
    """A station speaking raw HTTP to the registry with its own token, as a hostile one would."""

    def __init__(self, url: str, station_id: str, token: str):
        self.id = station_id
        self.token = token
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.seq = 0
        self.person: str | None = None

    def close(self) -> None:
        self.http.close()

    def login(self, username: str, password: str = PERSON_PASSWORD) -> httpx.Response:
        answer = self.http.post("/v1/auth/login", json={"username": username, "password": password})
        if answer.status_code == 200:
            self.person = answer.json()["token"]
        return answer

    def as_person(self) -> dict[str, str]:
        return {PERSON_HEADER: self.person} if self.person else {}

    def claim(self, held: list[str] | None = None) -> httpx.Response:
        return self.http.post("/v1/review/claim", json={"held": held}, headers=self.as_person())

    def send(self, *ops: dict[str, Any]) -> httpx.Response:
        """Ops in this station's sequence (numbered here)."""
        numbered = []
        for op in ops:
            self.seq += 1
            numbered.append({"seq": self.seq, **op})
        return self.http.post(
            "/v1/ops", json={"schema_version": SCHEMA_VERSION, "station_id": self.id, "ops": numbered}
        )

    def result(self, op: dict[str, Any]) -> dict[str, Any]:
        """Send one op; its result."""
        answer = self.send(op)
        assert answer.status_code == 200, answer.text
        [result] = answer.json()["results"]
        return result  # type: ignore[no-any-return]


def station(registry: Registry, url: str, station_id: str) -> Station:
    return Station(url, station_id, registry.add_station(station_id, station_id))


def reviewer_at(registry: Registry, station_id: str = "JN-REV", username: str = "rev1") -> Actor:
    """A reviewer provisioned at the registry (once) and logged in at `station_id`, as the registry sees them."""
    if username not in {p.username for p in registry.people.list()}:
        provision(registry, username)
    if station_id not in {s["id"] for s in registry.stations()}:
        registry.add_station(station_id, station_id)
    login = registry.people.login(station_id, username, PERSON_PASSWORD)
    return registry.people.verify(station_id, login.token)


def decision(lease: Any, version: int, actor: str = "rev1", decision: str = "approve") -> dict[str, Any]:
    """A review.decision op (without its number in the sequence) under a lease the registry granted."""
    return {
        "op_id": f"decision-{lease.lease_id[-12:]}-{version}",
        "kind": "review.decision",
        "entity_id": lease.dossier_id,
        "base_version": version,
        "actor": actor,
        "payload": {"decision": decision, "lease_id": lease.lease_id, "fence": lease.fence},
    }
