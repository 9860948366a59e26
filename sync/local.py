"""The embedded default: a registry for this one desk, on loopback, beside the desk (`make run`).

Its data lives under <data dir>/registry; the desk's station token is kept in a file there (mode 0600) so the
same data directory syncs again after a restart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sync.server.open import open_registry, registry_dir
from sync.server.registry import Registry
from sync.server.serve import BackgroundServer
from workstation.config import Settings

TOKEN_FILE = "local-station.token"


@dataclass
class LocalRegistry:
    registry: Registry
    server: BackgroundServer
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.registry.db.dispose()


def start_local_registry(settings: Settings) -> LocalRegistry:
    registry = open_registry(settings)
    path = registry_dir(settings) / TOKEN_FILE
    token = path.read_text("utf-8").strip() if path.is_file() else ""
    try:
        registry.authenticate(token)
    except Exception:
        if any(s["id"] == settings.station_id and not s["revoked"] for s in registry.stations()):
            registry.revoke_station(settings.station_id)
        token = registry.add_station(settings.station_id, settings.station_name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
    server = BackgroundServer(registry).start()
    return LocalRegistry(registry, server, token)
