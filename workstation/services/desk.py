"""Opening a desk: data directory, database (migrated), blob store, catalogue, station and first admin."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from workstation.config import Settings
from workstation.domain.catalogue import Catalogue, load_catalogue
from workstation.domain.errors import DomainError
from workstation.domain.qc import QcPolicy, default_qc_policy
from workstation.domain.stages import HallMode, Stage, stage_plan
from workstation.errors import ConfigError, DataDirError, StoreError
from workstation.services import audit
from workstation.services.changes import Recorder, desk_recorder
from workstation.services.clocks import ClockService
from workstation.services.dossiers import DossierService
from workstation.services.events import EventBus
from workstation.services.intake import IntakeService
from workstation.services.qc import QcService
from workstation.services.qc_desk import NotConnectedQc, QcDesk
from workstation.services.records import RecordsService
from workstation.services.review import RegistryPoolReview, ReviewService
from workstation.services.syncstate import SyncService
from workstation.services.users import UserService
from workstation.store import migrate
from workstation.store.blobs import BlobStore
from workstation.store.db import Database, describe_db_error
from workstation.store.models import Station

if TYPE_CHECKING:
    from workstation.services.ocr_jobs import OcrRunner


def ensure_data_dir(path: Path) -> Path:
    """Create the data directory and prove it is writable, or say in one line why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataDirError(
            f"data directory {path} is not usable ({reason}); choose another with --data-dir or WS_DATA_DIR"
        ) from None
    return path


@dataclass
class Desk:
    """The services of one desk, sharing one database and blob store."""

    settings: Settings
    db: Database
    blobs: BlobStore
    catalogue: Catalogue
    stages: tuple[Stage, ...]
    users: UserService
    dossiers: DossierService
    events: EventBus
    intake: IntakeService
    review: ReviewService
    qc: QcDesk  # QcService here; with a registry, its QC over HTTP once attached (`sync.qc.RegistryQc`)
    clocks: ClockService
    records: RecordsService
    sync: SyncService
    recorder: Recorder
    first_admin_password: str | None = None

    @property
    def has_registry(self) -> bool:
        """A registry is configured: it decides from 受理 on and provisions the people (see `open_desk`)."""
        return isinstance(self.review, RegistryPoolReview)

    def ocr_runner(self, engine: str | None = None, workers: int | None = None) -> OcrRunner:
        """The OCR queue's runner on this desk's engine: a process pool, or a recorded replay for tests."""
        from ocr.engines.replay import ReplayEngine
        from workstation.services.ocr_jobs import OcrRunner, inline_submitter, pool_submitter

        name = engine or self.settings.ocr_engine
        if name.startswith("replay:"):
            submit, close = inline_submitter(ReplayEngine.load(name.removeprefix("replay:")))
        else:
            submit, close = pool_submitter(name, workers or self.settings.ocr_workers)
        return OcrRunner(
            self.db,
            self.blobs,
            station_id=self.settings.station_id,
            events=self.events,
            submit=submit,
            close=close,
            recorder=self.recorder,
        )

    def verify_audit(self) -> audit.ChainReport:
        with self.db.read() as session:
            return audit.verify(session)

    def close(self) -> None:
        self.db.dispose()


def open_desk(settings: Settings) -> Desk:
    data_dir = ensure_data_dir(Path(settings.data_dir))
    try:
        catalogue = load_catalogue(stages_override=settings.workflow_stages)
        stages = stage_plan(catalogue, HallMode(settings.hall_mode.value))
    except DomainError as exc:
        raise ConfigError(str(exc)) from None
    url = settings.database_url
    # With a registry the desk reviews the registry's pool and its people are the registry's; alone, it is its own
    # registry.
    with_registry = bool(settings.registry_url and settings.registry_token is not None)
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
        _ensure_station(db, settings)
        users = UserService(db, settings.station_id, with_registry=with_registry)
        admin_secret = settings.admin_password.get_secret_value() if settings.admin_password else None
        generated = users.ensure_first_admin(admin_secret)
    except (DBAPIError, SQLAlchemyError) as exc:
        db.dispose()
        raise StoreError(describe_db_error(url, exc)) from None
    blobs = BlobStore(data_dir / "blobs")
    recorder = desk_recorder(settings.station_id)
    dossiers = DossierService(
        db,
        blobs,
        catalogue,
        station_id=settings.station_id,
        hall_mode=HallMode(settings.hall_mode.value),
        stages=stages,
        recorder=recorder,
        same_reviewer_seconds=settings.review_same_reviewer_minutes * 60,
    )
    events = EventBus()
    try:
        qc_policy = qc_policy_of(settings)
    except DomainError as exc:
        raise ConfigError(str(exc)) from None
    review = (RegistryPoolReview if with_registry else ReviewService)(
        db,
        catalogue,
        station_id=settings.station_id,
        qc_policy=qc_policy,
        lease_seconds=settings.review_lease_minutes * 60,
        queue_size=settings.review_queue_size,
        recorder=recorder,
        same_reviewer_seconds=settings.review_same_reviewer_minutes * 60,
    )
    return Desk(
        review=review,
        qc=NotConnectedQc() if with_registry else QcService(db, station_id=settings.station_id, recorder=recorder),
        clocks=ClockService(db, catalogue, station_id=settings.station_id, recorder=recorder, mirrored=with_registry),
        records=RecordsService(db, station_id=settings.station_id, recorder=recorder),
        sync=SyncService(db, settings.station_id),
        recorder=recorder,
        events=events,
        intake=IntakeService(db, blobs, station_id=settings.station_id, events=events, recorder=recorder),
        settings=settings,
        db=db,
        blobs=blobs,
        catalogue=catalogue,
        stages=stages,
        users=users,
        dossiers=dossiers,
        first_admin_password=generated,
    )


def qc_policy_of(settings: Settings) -> QcPolicy:
    """The packaged QC policy with the office's rate and key from the settings, where given."""
    policy = default_qc_policy()
    rate = settings.qc_rate if settings.qc_rate is not None else policy.rate
    key = settings.qc_key.get_secret_value().encode("utf-8") if settings.qc_key else policy.key
    return QcPolicy(rate=rate, key=key)


def _ensure_station(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        station = session.get(Station, settings.station_id)
        if station is None:
            session.add(Station(id=settings.station_id, name=settings.station_name, kind=settings.station_kind.value))
        elif (station.name, station.kind) != (settings.station_name, settings.station_kind.value):
            station.name, station.kind = settings.station_name, settings.station_kind.value
