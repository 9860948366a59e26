"""The registry's ASGI app built from its settings alone, so uvicorn (or gunicorn) can start N worker processes on
one port: `registry serve --workers N`, or `uvicorn --factory sync.server.factory:app_factory --workers N`.

Every worker opens the same database and blob store from the same settings (the WS_* environment and the config
file, as every command reads them; the database URL from WS_REGISTRY_DB when it is not the settings' own). What a
worker holds in memory is a cache of what the database says, never something another worker needs: leases, person
tokens, the sync cursors, the change feed and the partners' deliveries are rows. The schema is migrated once, by
whoever starts the workers, before they start; a worker finding the schema behind refuses to start.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

REGISTRY_DB_ENV = "WS_REGISTRY_DB"


def app_factory() -> FastAPI:
    from sync.server.app import create_app
    from sync.server.open import open_registry
    from sync.server.partner import attach_partners
    from workstation.config import load_settings

    settings = load_settings()
    registry = open_registry(settings, os.environ.get(REGISTRY_DB_ENV) or None, migrate_schema=False)
    attach_partners(registry, settings)  # its OCR engine and pre-review deadline are the settings'
    return create_app(registry)
