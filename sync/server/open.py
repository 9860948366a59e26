"""Opening the registry: its database (migrated), blob store and catalogue, from the desk's settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sync.server.registry import REGISTRY, Registry
from workstation.config import Settings
from workstation.domain.catalogue import load_catalogue
from workstation.domain.errors import DomainError
from workstation.errors import ConfigError, StoreError
from workstation.services import audit
from workstation.services.desk import ensure_data_dir, qc_policy_of
from workstation.store import migrate
from workstation.store.blobs import BlobStore
from workstation.store.db import Database, describe_db_error


def registry_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "registry"


def open_registry(settings: Settings, db_url: str | None = None, *, migrate_schema: bool = True) -> Registry:
    """The registry on `db_url` (PostgreSQL at scale), else SQLite under <data dir>/registry.

    `migrate_schema=False`: a worker process of `registry serve --workers N`, started after its parent migrated the
    schema and made the audit key; N workers never race to migrate."""
    root = ensure_data_dir(registry_dir(settings))
    url = db_url or f"sqlite:///{root / 'registry.db'}"
    try:
        catalogue = load_catalogue(stages_override=settings.workflow_stages)
        policy = qc_policy_of(settings)
    except DomainError as exc:
        raise ConfigError(str(exc)) from None
    db = Database(url)
    try:
        if migrate_schema:
            migrate.upgrade(db.engine)
        else:
            migrate.check_current(db.engine)
        audit.attach(db, root, interface=REGISTRY, station_id=REGISTRY, per_station=True)
    except (DBAPIError, SQLAlchemyError) as exc:
        db.dispose()
        raise StoreError(describe_db_error(url, exc)) from None
    except RuntimeError as exc:
        db.dispose()
        raise StoreError(str(exc)) from None
    return Registry(
        db,
        BlobStore(root / "blobs"),
        catalogue,
        qc_policy=policy,
        lease_seconds=settings.review_lease_minutes * 60,
        queue_size=settings.review_queue_size,
        same_reviewer_seconds=settings.review_same_reviewer_minutes * 60,
        person_token_minutes=settings.person_login_minutes,
    )
