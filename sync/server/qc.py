"""The city's quality inspection (R3–R4) over HTTP: inspectors and registrars work it from any desk.

The registry opens a check at 登簿 (`ReviewService.register_in`). Here, under `/v1/qc`, people list the checks and
correction cases, record a result and resolve a case. Every route takes the station's token and the person's
(`X-Person-Token`), as a claim does. The rules are `QcService`'s, on the registry's database: QC_INSPECT to record,
a finding names its defect, the registrar of a dossier may not inspect it, a major result opens a correction in
the same transaction, only its assignee or an inspector resolves it. Its audit events carry the acting station
and person.

A check or case is recorded once. The same request again (the answer was lost on the way) gets the same answer;
a different one is a conflict (409 `already_done`) and the first record stands. Every refusal is a 4xx with a code.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, and the authentication
# dependency is imported from the app when the routes are added (the app imports this module).

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from starlette.concurrency import run_in_threadpool

from sync.protocol import (
    MAX_INT,
    PERSON,
    QC_REF,
    CorrectionOut,
    CorrectionsResponse,
    ErrorCode,
    Problem,
    QcCheckOut,
    QcChecksResponse,
    QcCountsResponse,
    QcRecordRequest,
    QcResolveRequest,
)
from sync.server.registry import REGISTRY, ApiError, Registry, feed_sink
from workstation.domain.errors import DomainError, PermissionDenied
from workstation.domain.permissions import Actor, Permission, require
from workstation.errors import NotFound, UsageError
from workstation.services.changes import Recorder
from workstation.services.qc import CorrectionView, QcCheckView, QcService
from workstation.services.qc_desk import check_id_of, correction_id_of
from workstation.store.db import Database

MAX_LIST = 1000  # checks or cases per page
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem} for status in (400, 401, 403, 404, 409, 413, 422, 503)
}
Ref = Annotated[str, Path(pattern=QC_REF, description="the id, or the 受理号 of its dossier")]


class CityQc:
    """QC at the registry: `QcService` on its database, the acting desk's station on every audit event."""

    def __init__(self, registry: Registry):
        self._registry = registry  # read when a request comes (the app is also built without one, for its schema)

    @property
    def _db(self) -> Database:
        return self._registry.db

    @property
    def _reader(self) -> QcService:
        return QcService(self._db, station_id=REGISTRY)

    def _at(self, station_id: str) -> QcService:
        # The registry's own sink (its change feed); the audit event names the station the person acts from.
        return QcService(self._db, station_id=REGISTRY, recorder=Recorder(station_id, feed_sink))

    # -- reading ---------------------------------------------------------------------------------------

    def checks(self, actor: Actor, state: str, limit: int, offset: int, pending_first: bool) -> QcChecksResponse:
        with _refusals():
            require(actor, Permission.DOSSIER_VIEW)
            views = self._reader.checks(
                None if state == "all" else state, limit=limit, offset=offset, pending_first=pending_first
            )
        return QcChecksResponse(checks=[_check_out(v) for v in views])

    def counts(self, actor: Actor) -> QcCountsResponse:
        with _refusals():
            require(actor, Permission.DOSSIER_VIEW)
            counts = self._reader.count()
        return QcCountsResponse(pending=counts.get("pending", 0), done=counts.get("done", 0))

    def check(self, actor: Actor, ref: str) -> QcCheckOut:
        with _refusals():
            require(actor, Permission.DOSSIER_VIEW)
            return _check_out(self._reader.check(check_id_of(self._db, ref)))

    def corrections(self, actor: Actor, state: str, assignee: str | None, limit: int) -> CorrectionsResponse:
        with _refusals():
            require(actor, Permission.DOSSIER_VIEW)
            views = self._reader.corrections(
                None if state == "all" else state, assigned_to_username=assignee, limit=limit
            )
        return CorrectionsResponse(corrections=[_correction_out(v) for v in views])

    def correction(self, actor: Actor, ref: str) -> CorrectionOut:
        with _refusals():
            require(actor, Permission.DOSSIER_VIEW)
            return _correction_out(self._reader.correction(correction_id_of(self._db, ref)))

    # -- changing --------------------------------------------------------------------------------------

    def record(self, station_id: str, actor: Actor, ref: str, body: QcRecordRequest) -> QcCheckOut:
        with _refusals():
            require(actor, Permission.QC_INSPECT)  # first: the grant, whatever the check's state
            check_id = check_id_of(self._db, ref)
            check = self._reader.check(check_id)
            if check.state != "done":
                try:
                    recorded = self._at(station_id).record(
                        actor, check_id, body.result, defects=body.defects, notes=body.notes, assign_to=body.assign_to
                    )
                    return _check_out(recorded)
                except UsageError:
                    check = self._reader.check(check_id)
                    if check.state != "done":
                        raise
                    # recorded meanwhile (the same request twice at once, or another inspector): judged below
            if self._same_record(check, actor, body):
                return _check_out(check)
        raise ApiError(
            409,
            ErrorCode.ALREADY_DONE,
            f"QC check {check.id} of {check.number} was recorded already ({check.result}, by {check.inspector}); "
            "a check is recorded once",
        )

    def resolve(self, station_id: str, actor: Actor, ref: str, body: QcResolveRequest) -> CorrectionOut:
        with _refusals():
            case_id = correction_id_of(self._db, ref)
            case = self._reader.correction(case_id)
            if case.state == "open":
                try:
                    return _correction_out(self._at(station_id).resolve_correction(actor, case_id, body.resolution))
                except UsageError:
                    case = self._reader.correction(case_id)
                    if case.state == "open":
                        raise
            if case.resolved_by == actor.username and case.resolution == body.resolution.strip():
                return _correction_out(case)
        raise ApiError(
            409,
            ErrorCode.ALREADY_DONE,
            f"correction {case.id} of {case.number} was resolved already (by {case.resolved_by}); it stands",
        )

    def _same_record(self, check: QcCheckView, actor: Actor, body: QcRecordRequest) -> bool:
        """Whether `body` from `actor` is the request that recorded `check` (compared as the check keeps it)."""
        if (check.inspector, check.result) != (actor.username, body.result):
            return False
        if check.defects != _as_kept(body.defects) or check.notes != body.notes.strip():
            return False
        if body.assign_to is None:
            return True
        if check.correction_id is None:
            return False
        return self._reader.correction(check.correction_id).assigned_to == body.assign_to


@contextmanager
def _refusals() -> Iterator[None]:
    """The service's refusals as the API's: 404, 403, and 422 for the rest of what a person can get wrong."""
    try:
        yield
    except NotFound as exc:
        raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from None
    except PermissionDenied as exc:
        raise ApiError(403, ErrorCode.NOT_ALLOWED, str(exc)) from None
    except (UsageError, DomainError) as exc:
        raise ApiError(422, ErrorCode.INVALID, str(exc)) from None


def _as_kept(defects: Iterable[str]) -> tuple[str, ...]:
    """Defects as a check keeps them (blanks dropped, white space collapsed, each once): to compare a replay."""
    kept: list[str] = []
    for defect in defects:
        text = " ".join(defect.split())
        if text and text not in kept:
            kept.append(text)
    return tuple(kept)


def _check_out(view: QcCheckView) -> QcCheckOut:
    return QcCheckOut.model_validate(view.to_json())


def _correction_out(view: CorrectionView) -> CorrectionOut:
    return CorrectionOut.model_validate(view.to_json())


def add_qc_routes(app: FastAPI, registry: Registry) -> None:
    """The `/v1/qc` routes, on the registry's database."""
    from sync.server.app import StationPerson

    qc = CityQc(registry)

    @app.get("/v1/qc/checks", responses=_ERRORS, tags=["qc"])
    async def qc_checks(
        who: StationPerson,
        state: Literal["pending", "done", "all"] = "all",
        limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
        pending_first: bool = False,
    ) -> QcChecksResponse:
        """Checks opened at 登簿 (all, pending or done), oldest first; `pending_first` puts the work on top."""
        return await run_in_threadpool(qc.checks, who[1], state, limit, offset, pending_first)

    @app.get("/v1/qc/counts", responses=_ERRORS, tags=["qc"])
    async def qc_counts(who: StationPerson) -> QcCountsResponse:
        return await run_in_threadpool(qc.counts, who[1])

    @app.get("/v1/qc/checks/{ref}", responses=_ERRORS, tags=["qc"])
    async def qc_check(ref: Ref, who: StationPerson) -> QcCheckOut:
        return await run_in_threadpool(qc.check, who[1], ref)

    @app.post("/v1/qc/checks/{ref}/result", responses=_ERRORS, tags=["qc"])
    async def qc_record(ref: Ref, body: QcRecordRequest, who: StationPerson) -> QcCheckOut:
        """Record an inspection; a major result opens a correction case (R4). Replayed, the same answer."""
        return await run_in_threadpool(qc.record, who[0], who[1], ref, body)

    @app.get("/v1/qc/corrections", responses=_ERRORS, tags=["qc"])
    async def qc_corrections(
        who: StationPerson,
        state: Literal["open", "resolved", "all"] = "all",
        assignee: Annotated[str | None, Query(pattern=PERSON)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 500,
    ) -> CorrectionsResponse:
        """Correction cases (all, open or resolved; optionally one person's), oldest first."""
        return await run_in_threadpool(qc.corrections, who[1], state, assignee, limit)

    @app.get("/v1/qc/corrections/{ref}", responses=_ERRORS, tags=["qc"])
    async def qc_correction(ref: Ref, who: StationPerson) -> CorrectionOut:
        return await run_in_threadpool(qc.correction, who[1], ref)

    @app.post("/v1/qc/corrections/{ref}/resolution", responses=_ERRORS, tags=["qc"])
    async def qc_resolve(ref: Ref, body: QcResolveRequest, who: StationPerson) -> CorrectionOut:
        """Close a correction case with what was corrected; its assignee or a QC inspector may."""
        return await run_in_threadpool(qc.resolve, who[0], who[1], ref, body)
