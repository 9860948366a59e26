"""Running the registry's API under uvicorn: in the foreground (`registry serve`) or on a background thread
(the embedded default of `make run`, and tests, on loopback)."""

from __future__ import annotations

import os
import threading
import time

import uvicorn

from sync.server.app import create_app
from sync.server.factory import REGISTRY_DB_ENV
from sync.server.registry import Registry
from workstation.config import Settings


class BackgroundServer:
    """uvicorn on a daemon thread; `url` once started. Port 0 picks a free port."""

    def __init__(self, registry: Registry, *, host: str = "127.0.0.1", port: int = 0):
        config = uvicorn.Config(create_app(registry), host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="registry-http", daemon=True)
        self.host = host
        self.port = port

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the registry's HTTP server did not start")
            time.sleep(0.02)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def serve_forever(registry: Registry, host: str, port: int, *, access_log: bool = False) -> None:
    uvicorn.run(create_app(registry), host=host, port=port, log_level="info", access_log=access_log)


def serve_workers(
    settings: Settings,
    db_url: str | None,
    host: str,
    port: int,
    workers: int,
    *,
    config_file: str | None = None,
    access_log: bool = False,
) -> None:
    """N worker processes on one port, each building the app from the settings (`factory.app_factory`); the
    settings reach them through the environment, as every command reads them."""
    os.environ["WS_DATA_DIR"] = str(settings.data_dir)
    if config_file:
        os.environ["WS_CONFIG"] = str(config_file)
    if db_url:
        os.environ[REGISTRY_DB_ENV] = db_url
    uvicorn.run(
        "sync.server.factory:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )
