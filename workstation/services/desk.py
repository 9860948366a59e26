"""Opening a desk: data directory, database (migrated), blob store, catalogue, station and first admin.

A desk's use cases are built the first time something asks for them: a command that lists dossiers imports and
builds the dossier service only, not review, QC, records or intake with everything they bring in.
"""

from __future__ import annotations

import functools
import gc
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import configure_mappers

from workstation.domain.catalogue import Catalogue, load_catalogue
from workstation.domain.errors import DomainError
from workstation.domain.qc import QcPolicy, default_qc_policy
from workstation.domain.stages import HallMode, Stage, stage_plan
from workstation.errors import ConfigError, DataDirError, StoreError
from workstation.services.changes import Recorder, desk_recorder
from workstation.services.events import EventBus
from workstation.services.users import UserService
from workstation.store import migrate
from workstation.store.blobs import BlobStore
from workstation.store.db import Database, describe_db_error
from workstation.store.models import Station

if TYPE_CHECKING:
    from workstation.config import Settings
    from workstation.services.audit import ChainReport
    from workstation.services.clocks import ClockService
    from workstation.services.dossiers import DossierService
    from workstation.services.intake import IntakeService
    from workstation.services.ocr_jobs import OcrRunner
    from workstation.services.qc_desk import QcDesk
    from workstation.services.records import RecordsService
    from workstation.services.register import RegisterBook
    from workstation.services.review import ReviewService
    from workstation.services.settle import SettleService
    from workstation.services.syncstate import SyncService

_T = TypeVar("_T")


@functools.cache
def _loaded_for_good() -> None:
    """Once per process, before its first desk opens: set up the models' mappers (as the first query would) and
    move everything loaded so far out of the cyclic garbage collector's sight (`gc.freeze`).

    SQLAlchemy, the models and the services are tens of thousands of objects that live as long as the process and
    are never garbage; left in view, the collector walks them all again at every full collection, and once more
    as the process exits, a large part of a short command's time. What the desk creates from here on (engine,
    sessions, rows) is collected as usual."""
    configure_mappers()
    gc.freeze()


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
    """The services of one desk, sharing one database and blob store.

    `users` is ready when the desk opens (the first admin is made then); every other service is built, once, the
    first time it is asked for. Assigning one (`desk.qc = …` when a registry is attached) replaces it.
    """

    settings: Settings
    db: Database
    blobs: BlobStore
    catalogue: Catalogue
    stages: tuple[Stage, ...]
    users: UserService
    events: EventBus
    recorder: Recorder
    qc_policy: QcPolicy
    # With a registry the desk reviews the registry's pool and its people are the registry's; alone, it is its own
    # registry.
    with_registry: bool = False
    first_admin_password: str | None = None
    _building: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)
    _built: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _once(self, name: str, build: Callable[[], _T]) -> _T:
        """The service called `name`, built by `build` the first time: the same object for every thread."""
        with self._building:
            if name not in self._built:
                self._built[name] = build()
            service: _T = self._built[name]
            return service

    @property
    def has_registry(self) -> bool:
        """A registry is configured: it decides from 受理 on and provisions the people (see `open_desk`)."""
        return self.with_registry

    @cached_property
    def dossiers(self) -> DossierService:
        def build() -> DossierService:
            from workstation.services.dossiers import DossierService

            return DossierService(
                self.db,
                self.blobs,
                self.catalogue,
                station_id=self.settings.station_id,
                hall_mode=HallMode(self.settings.hall_mode.value),
                stages=self.stages,
                recorder=self.recorder,
                same_reviewer_seconds=self.settings.review_same_reviewer_minutes * 60,
                station_kind=self.settings.station_kind.value,
                counter_refuses=self.settings.counter_refuses,
                self_service_hint=self.settings.self_service_hint,
            )

        return self._once("dossiers", build)

    @cached_property
    def review(self) -> ReviewService:
        """The desk's own review pool, or (with a registry) the registry's, leased to this desk."""

        def build() -> ReviewService:
            from workstation.services.review import RegistryPoolReview, ReviewService

            return (RegistryPoolReview if self.with_registry else ReviewService)(
                self.db,
                self.catalogue,
                station_id=self.settings.station_id,
                qc_policy=self.qc_policy,
                lease_seconds=self.settings.review_lease_minutes * 60,
                queue_size=self.settings.review_queue_size,
                recorder=self.recorder,
                same_reviewer_seconds=self.settings.review_same_reviewer_minutes * 60,
            )

        return self._once("review", build)

    @cached_property
    def qc(self) -> QcDesk:
        """QcService here; with a registry, its QC over HTTP once attached (`sync.qc.RegistryQc`)."""

        def build() -> QcDesk:
            if self.with_registry:
                from workstation.services.qc_desk import NotConnectedQc

                return NotConnectedQc()
            from workstation.services.qc import QcService

            return QcService(self.db, station_id=self.settings.station_id, recorder=self.recorder)

        return self._once("qc", build)

    @cached_property
    def clocks(self) -> ClockService:
        def build() -> ClockService:
            from workstation.services.clocks import ClockService

            return ClockService(
                self.db,
                self.catalogue,
                station_id=self.settings.station_id,
                recorder=self.recorder,
                mirrored=self.with_registry,
            )

        return self._once("clocks", build)

    @cached_property
    def register(self) -> RegisterBook:
        """The register (登记簿): this desk's own when it is its own registry, else its mirror of the registry's."""

        def build() -> RegisterBook:
            from workstation.services.register import RegisterBook

            return RegisterBook(self.db, allocates=not self.with_registry)

        return self._once("register", build)

    @cached_property
    def settle(self) -> SettleService:
        """Fees, payment and delivery between 登簿 and 发证."""

        def build() -> SettleService:
            from workstation.services.settle import SettleService

            return SettleService(self.db, self.catalogue, recorder=self.recorder, mirrored=self.with_registry)

        return self._once("settle", build)

    @cached_property
    def records(self) -> RecordsService:
        def build() -> RecordsService:
            from workstation.services.records import RecordsService

            return RecordsService(self.db, station_id=self.settings.station_id, recorder=self.recorder)

        return self._once("records", build)

    @cached_property
    def sync(self) -> SyncService:
        def build() -> SyncService:
            from workstation.services.syncstate import SyncService

            return SyncService(self.db, self.settings.station_id)

        return self._once("sync", build)

    @cached_property
    def intake(self) -> IntakeService:
        def build() -> IntakeService:
            from workstation.services.intake import IntakeService

            return IntakeService(
                self.db, self.blobs, station_id=self.settings.station_id, events=self.events, recorder=self.recorder
            )

        return self._once("intake", build)

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

    def verify_audit(self, deep: bool = False) -> ChainReport:
        """The audit chain recomputed with its key; with `deep`, every audited row checked against the trail."""
        from workstation.services import audit

        with self.db.read() as session:
            return audit.verify(session, deep=deep)

    def close(self) -> None:
        self.db.dispose()


def open_desk(settings: Settings) -> Desk:
    _loaded_for_good()
    data_dir = ensure_data_dir(Path(settings.data_dir))
    try:
        catalogue = load_catalogue(stages_override=settings.workflow_stages)
        stages = stage_plan(catalogue, HallMode(settings.hall_mode.value))
        qc_policy = qc_policy_of(settings)
    except DomainError as exc:
        raise ConfigError(str(exc)) from None
    url = settings.database_url
    with_registry = bool(settings.registry_url and settings.registry_token is not None)
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
        _attach_audit_key(db, data_dir, settings.station_id)
        _ensure_station(db, settings)
        users = UserService(db, settings.station_id, with_registry=with_registry)
        admin_secret = settings.admin_password.get_secret_value() if settings.admin_password else None
        generated = users.ensure_first_admin(admin_secret)
    except (DBAPIError, SQLAlchemyError) as exc:
        db.dispose()
        raise StoreError(describe_db_error(url, exc)) from None
    return Desk(
        settings=settings,
        db=db,
        blobs=BlobStore(data_dir / "blobs"),
        catalogue=catalogue,
        stages=stages,
        users=users,
        events=EventBus(),
        recorder=desk_recorder(settings.station_id),
        qc_policy=qc_policy,
        with_registry=with_registry,
        first_admin_password=generated,
    )


def qc_policy_of(settings: Settings) -> QcPolicy:
    """The packaged QC policy with the office's rate and key from the settings, where given."""
    policy = default_qc_policy()
    rate = settings.qc_rate if settings.qc_rate is not None else policy.rate
    key = settings.qc_key.get_secret_value().encode("utf-8") if settings.qc_key else policy.key
    return QcPolicy(rate=rate, key=key)


def _attach_audit_key(db: Database, data_dir: Path, station_id: str) -> None:
    """The audit chain's key, kept in the data directory outside the database (created on first start)."""
    from workstation.services import audit

    audit.attach(db, data_dir, station_id=station_id)


def _ensure_station(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        station = session.get(Station, settings.station_id)
        if station is None:
            session.add(Station(id=settings.station_id, name=settings.station_name, kind=settings.station_kind.value))
        elif (station.name, station.kind) != (settings.station_name, settings.station_kind.value):
            station.name, station.kind = settings.station_name, settings.station_kind.value
