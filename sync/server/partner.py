"""Online applications over HTTP: partners file them under `/v1/partner` (and answer a return there with a
supplement, 补正), registry people pre-review them under `/v1/prereview`; a worker of the registry process reads their
pages and tells partners the outcomes.

Partner routes take a partner's token (`registry partner add`; `Authorization: Bearer wse_…`). A station's token
is refused there (403 `not_allowed`), as a partner's token is at every station route (401: it is no station's).
Pre-review routes act for a person, as a claim does: the station's token and the person's (`X-Person-Token`).
The rules are `workstation.services.partner`'s; every refusal is a 4xx with the registry's Problem shape, never a
5xx for what a partner or a person sent.

The worker (one thread per registry process, running while the app serves; it looks every `idle_seconds` for
work another process or a command left, at once when a request brings some) runs the desk's OCR queue
(`OcrRunner`, the settings' `ocr_engine`) on the registry's database, moves applications from received to reading
to pre-review, and POSTs each outcome event to its partner's callback until a 2xx answer, backing off between
tries. An event is delivered at least once and recorded delivered once: a crash between the partner's answer and
that record sends it again with the same `event_id`, which partners dedup on.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, and the person dependency is
# imported from the app when the routes are added (the app imports this module).

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sync.partner_protocol import (
    APPLICATIONS_PATH,
    REFERENCE,
    SUPPLEMENT,
    AcceptRequest,
    ApplicationIn,
    ApplicationOut,
    ApplicationReceived,
    AttachmentIn,
    EventOut,
    EventsResponse,
    FileOut,
    NoticeLink,
    PartnerCode,
    PartnerProblem,
    PrereviewList,
    PrereviewOut,
    RefuseRequest,
    ReturnItemOut,
    ReturnRequest,
    RoundOut,
    SupplementIn,
    SupplementOut,
)
from sync.protocol import MAX_INT, ErrorCode
from sync.server.registry import REGISTRY, Registry
from workstation.config import Settings
from workstation.domain.errors import DomainError, IllegalTransition, MissingMaterials, PermissionDenied
from workstation.domain.permissions import Actor
from workstation.errors import NotFound, UsageError, WorkstationError
from workstation.services import partner as service
from workstation.services.changes import Recorder
from workstation.services.events import PageEvent
from workstation.services.ocr_jobs import OcrRunner
from workstation.services.partner import ApplicationView, PartnerService, PartnerView
from workstation.store.blobs import BlobStore
from workstation.store.types import utcnow

log = logging.getLogger("sync.partner")
OPERATOR = "registry-admin"  # who provisions partners on the registry's host
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": PartnerProblem} for status in (400, 401, 403, 404, 409, 413, 422, 503)
}
Reference = Annotated[str, Path(pattern=REFERENCE, description="the partner's own reference of the application")]
Ref = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$", description="the dossier's number, or the id")]
NoticeKind = Literal["receipt", "supplement", "refuse-intake"]
_PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {"schema": {"type": "string"}}}}}


class PartnerApiError(Exception):
    """A refusal of the partner or pre-review routes: an HTTP status, a code and one line."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class PartnerDesk:
    """The registry's partner side: `PartnerService` on its database, and the worker (OCR, pre-review readiness,
    callbacks). `tick_seconds`: how often the worker looks while pages are being read; `idle_seconds`: while
    nothing is, for work another registry process (or a command) left; callbacks retry after `retry_seconds`,
    doubling up to `retry_cap_seconds`. Without `background` (a command that ends at once) no worker starts: the
    serving registry's takes up what the command left (pages to read, outcomes to deliver)."""

    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        *,
        retry_seconds: float = 5.0,
        retry_cap_seconds: float = 3600.0,
        tick_seconds: float = 0.2,
        idle_seconds: float = 5.0,
        callback_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        background: bool = True,
    ):
        blobs = registry.blobs
        if not isinstance(blobs, BlobStore):
            raise TypeError("online applications need the registry's filesystem blob store (their pages are read)")
        self.registry = registry
        self.settings = settings
        self.service = PartnerService(
            registry.db,
            blobs,
            registry.catalogue,
            settings=settings,
            station_id=REGISTRY,
            recorder=registry.recorder,
            quiet=Recorder(REGISTRY),
            qc_policy=registry.qc_policy,
            retry_seconds=retry_seconds,
            retry_cap_seconds=retry_cap_seconds,
        )
        self._blobs = blobs
        self._tick = tick_seconds
        self._idle = idle_seconds
        self._timeout = callback_timeout
        self._transport = transport
        self._background = background
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._runner: OcrRunner | None = None

    # -- partners (the registry operator's) -------------------------------------------------------------

    def add_partner(self, partner_id: str, name: str, kind: str, callback_url: str | None = None) -> str:
        """Provision a partner; returns its token, shown once (only its digest is kept)."""
        return self.service.add_partner(OPERATOR, partner_id, name, kind, callback_url)

    def revoke_partner(self, partner_id: str) -> None:
        self.service.revoke_partner(OPERATOR, partner_id)

    def partners(self) -> list[PartnerView]:
        return self.service.partners()

    # -- what partners do -------------------------------------------------------------------------------

    def receive(self, partner_id: str, body: ApplicationIn) -> ApplicationReceived:
        application = service.ApplicationIn(
            reference=body.reference,
            business=body.business,
            applicant_kind=body.applicant_kind,
            conditions=tuple(body.conditions),
            parties=tuple(service.PartyIn(p.role, p.kind, p.name, p.id_value) for p in body.parties),
            attachments=_attachments(body.attachments),
            fields=dict(body.fields),
        )
        view, created = self.service.receive(partner_id, application)
        if created:
            self.start()
            self.poke()
        return ApplicationReceived(**application_out(view).model_dump(), created=created)

    def supplement(self, partner_id: str, reference: str, body: SupplementIn) -> SupplementOut:
        """A returned application's answer (补正); a retry of the same body is answered as it was the first time."""
        supplement = service.SupplementIn(_attachments(body.attachments), body.note, dict(body.fields))
        view, created = self.service.supplement(partner_id, reference, supplement)
        if created:
            self.start()
            self.poke()  # its pages are read now
        return SupplementOut(
            reference=view.reference,
            round=view.round,
            received_at=view.received_at,
            note=view.note,
            files=[FileOut.model_validate(f) for f in view.files],
            application=stored_application_out(view.application),
        )

    def application(self, partner_id: str, reference: str) -> ApplicationOut:
        return application_out(self.service.application(partner_id, reference))

    def notice(self, partner_id: str, reference: str, kind: str) -> bytes:
        return self.service.notice(partner_id, reference, kind)

    def events(self, partner_id: str, after: int, limit: int) -> EventsResponse:
        events, cursor, more = self.service.events(partner_id, after, limit)
        return EventsResponse(events=[event_out(e.to_json()) for e in events], cursor=str(cursor), more=more)

    # -- pre-review (网上预审) ----------------------------------------------------------------------------

    def prereview_list(self, actor: Actor, limit: int = 500) -> PrereviewList:
        views = self.service.waiting(actor, limit=limit)
        return PrereviewList(applications=[PrereviewOut.model_validate(v.to_json()) for v in views])

    def prereview_accept(self, actor: Actor, ref: str, note: str = "") -> ApplicationOut:
        return self._decided(self.service.accept(actor, ref, note))

    def prereview_return(self, actor: Actor, ref: str, items: list[str], note: str = "") -> ApplicationOut:
        return self._decided(self.service.send_back(actor, ref, items, note))

    def prereview_refuse(self, actor: Actor, ref: str, reason_code: str, note: str = "") -> ApplicationOut:
        return self._decided(self.service.refuse(actor, ref, reason_code, note))

    def _decided(self, view: ApplicationView) -> ApplicationOut:
        self.start()
        self.poke()  # its event goes out now
        return application_out(view)

    # -- the worker --------------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._background:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="registry-partners", daemon=True)
            self._thread.start()

    def poke(self) -> None:
        self._wake.set()
        runner = self._runner
        if runner is not None:
            runner.poke()

    def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            runner, self._runner = self._runner, None
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
        if runner is not None:
            runner.stop(timeout)

    def _loop(self) -> None:
        http = httpx.Client(timeout=self._timeout, transport=self._transport)
        try:
            while not self._stop.is_set():
                self._wake.clear()  # before the look: a poke during it makes the next one come at once
                wait = self._idle
                try:
                    wait = self._pass(http)
                except Exception:
                    log.exception("the partner worker's pass failed; it looks again in %.0f s", self._idle)
                self._wake.wait(wait)
        finally:
            http.close()

    def _pass(self, http: httpx.Client) -> float:
        """One look: start reading pages if some wait, move applications on, send what is due; the next wait."""
        if self._runner is None and self.service.pages_waiting():
            self._start_runner()
        self.service.advance()
        reading = self.service.reading()
        self._deliver(http)
        if reading:
            return self._tick
        due = self.service.next_delivery_at()
        if due is None:
            return self._idle
        return min(max((due - utcnow()).total_seconds(), 0.0) + 0.01, self._idle)

    def _start_runner(self) -> None:
        from ocr.engines.replay import ReplayEngine
        from workstation.services.events import EventBus
        from workstation.services.ocr_jobs import inline_submitter, pool_submitter

        name = self.settings.ocr_engine
        if name.startswith("replay:"):
            submit, close = inline_submitter(ReplayEngine.load(name.removeprefix("replay:")))
        else:
            submit, close = pool_submitter(name, self.settings.ocr_workers)
        events = EventBus()

        def on_page(event: PageEvent) -> None:
            if event.state in ("done", "failed"):
                self._wake.set()  # an application may be ready for pre-review now

        events.subscribe(on_page)
        runner = OcrRunner(
            self.registry.db,
            self._blobs,
            station_id=REGISTRY,
            events=events,
            submit=submit,
            close=close,
            recorder=Recorder(REGISTRY),  # drafts of the registry's own: audited, mirrored by no desk
        )
        with self._lock:
            if self._stop.is_set():
                close()
                return
            self._runner = runner
        runner.start()

    def _deliver(self, http: httpx.Client) -> int:
        sent = 0
        for delivery in self.service.due_deliveries():
            try:
                answer = http.post(
                    delivery.url,
                    json=event_out(delivery.body).model_dump(mode="json"),
                    headers={"Idempotency-Key": delivery.event_id, "X-Event-Id": delivery.event_id},
                )
            except httpx.HTTPError as exc:
                self.service.failed(delivery.event_id, f"{type(exc).__name__}: {exc}")
                continue
            if 200 <= answer.status_code < 300:
                self.service.delivered(delivery.event_id)
                sent += 1
            else:
                self.service.failed(delivery.event_id, f"the callback answered {answer.status_code}")
        return sent


_DESKS: "weakref.WeakKeyDictionary[Registry, PartnerDesk]" = weakref.WeakKeyDictionary()
_DESKS_LOCK = threading.Lock()


def attach_partners(registry: Registry, settings: Settings, **options: Any) -> PartnerDesk:
    """The registry's partner side with the registry's settings (its OCR engine, the pre-review deadline); `options`
    tune the worker (see PartnerDesk). Call before the app serves; the one attached is the one every route uses."""
    desk = PartnerDesk(registry, settings, **options)
    with _DESKS_LOCK:
        old = _DESKS.get(registry)
        _DESKS[registry] = desk
    if old is not None:
        old.stop()
    return desk


def partner_desk(registry: Registry) -> PartnerDesk:
    """The partner side attached to `registry`, or one on the default settings (attached now)."""
    with _DESKS_LOCK:
        desk = _DESKS.get(registry)
        if desk is None:
            desk = _DESKS[registry] = PartnerDesk(registry, Settings())
        return desk


def _links(reference: str, kind: str | None) -> list[NoticeLink]:
    if kind is None:
        return []
    return [NoticeLink(kind=kind, url=f"{APPLICATIONS_PATH}/{reference}/notices/{kind}")]  # type: ignore[arg-type]


def _attachments(attachments: list[AttachmentIn]) -> tuple[service.Attachment, ...]:
    return tuple(
        service.Attachment(a.name, a.media_type, service.decode_attachment(a.name, a.data_base64), a.material)
        for a in attachments
    )


def stored_application_out(told: dict[str, Any]) -> ApplicationOut:
    """An application as the registry stored what it told (`ApplicationView.to_json`), with its notice's link."""
    links = _links(str(told.get("reference") or ""), told.get("notice"))
    return ApplicationOut.model_validate({**told, "notices": [link.model_dump() for link in links]})


def event_out(event: dict[str, Any]) -> EventOut:
    """An outcome event as partners get it (the feed and the callback alike), from what the registry stored."""
    return EventOut(
        seq=event["seq"],
        event_id=event["event_id"],
        reference=event["reference"],
        outcome=event["outcome"],
        round=event.get("round", 1),  # events stored before supplements existed decided the first round
        at=event["at"],
        application=stored_application_out(dict(event.get("application") or {})),
    )


def application_out(view: ApplicationView) -> ApplicationOut:
    notices = _links(view.reference, view.notice)
    return ApplicationOut(
        reference=view.reference,
        number=view.number,
        business=view.business,
        status=view.status,  # type: ignore[arg-type]
        received_at=view.received_at,
        due_at=view.due_at,
        outcome=view.outcome,  # type: ignore[arg-type]
        items=[ReturnItemOut.model_validate(i) for i in view.items],
        reason=view.reason,
        note=view.note,
        decided_at=view.decided_at,
        notices=notices,
        round=view.round,
        history=[RoundOut.model_validate(h) for h in view.history],
    )


@contextmanager
def refusals() -> Iterator[None]:
    """The service's refusals as the API's: each a 4xx with its code."""
    try:
        yield
    except service.PartnerAuthError as exc:
        status, code = {
            "missing": (401, ErrorCode.AUTH_MISSING.value),
            "revoked": (401, ErrorCode.AUTH_REVOKED.value),
            "station": (403, ErrorCode.NOT_ALLOWED.value),
        }.get(exc.reason, (401, ErrorCode.AUTH_INVALID.value))
        raise PartnerApiError(status, code, str(exc)) from None
    except service.BadAttachment as exc:
        raise PartnerApiError(422, PartnerCode.BAD_ATTACHMENT.value, str(exc)) from None
    except service.DuplicateReference as exc:
        raise PartnerApiError(409, PartnerCode.DUPLICATE_REFERENCE.value, str(exc)) from None
    except service.NotReady as exc:
        raise PartnerApiError(409, PartnerCode.NOT_READY.value, str(exc)) from None
    except service.NotReturned as exc:
        raise PartnerApiError(409, PartnerCode.NOT_RETURNED.value, str(exc)) from None
    except service.AlreadyDecided as exc:
        raise PartnerApiError(409, ErrorCode.ALREADY_DONE.value, str(exc)) from None
    except MissingMaterials as exc:
        raise PartnerApiError(409, ErrorCode.INCOMPLETE.value, str(exc)) from None
    except IllegalTransition as exc:
        raise PartnerApiError(409, ErrorCode.ILLEGAL_TRANSITION.value, str(exc)) from None
    except NotFound as exc:
        raise PartnerApiError(404, ErrorCode.NOT_FOUND.value, str(exc)) from None
    except PermissionDenied as exc:
        raise PartnerApiError(403, ErrorCode.NOT_ALLOWED.value, str(exc)) from None
    except (UsageError, DomainError) as exc:
        raise PartnerApiError(422, ErrorCode.INVALID.value, str(exc)) from None
    except WorkstationError as exc:  # the registry's own trouble (a damaged blob, no fonts): not the sender's
        log.error("partner API: %s", exc)
        raise PartnerApiError(503, ErrorCode.UNAVAILABLE.value, str(exc)) from None


def _call(fn: Any, *args: Any) -> Any:
    with refusals():
        return fn(*args)


async def _partner(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The partner the bearer token belongs to; 401 (403 for a station's token) with a code otherwise."""
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    desk = partner_desk(request.app.state.registry)
    return await run_in_threadpool(_call, desk.service.authenticate, token)


PartnerId = Annotated[str, Depends(_partner)]


def add_partner_routes(app: FastAPI, registry: Registry | None) -> None:
    """`/v1/partner/*` and `/v1/prereview/*` on the registry's database; the worker runs while the app does."""
    from sync.server.app import StationPerson

    @app.exception_handler(PartnerApiError)
    async def _refused(_request: Request, exc: PartnerApiError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)

    def desk() -> PartnerDesk:
        assert registry is not None  # routes are served only for a registry
        return partner_desk(registry)

    @app.post(
        APPLICATIONS_PATH,
        status_code=201,
        responses={**_ERRORS, 200: {"model": ApplicationReceived, "description": "received before (a replay)"}},
        tags=["partner"],
    )
    async def file_application(body: ApplicationIn, partner_id: PartnerId, response: Response) -> ApplicationReceived:
        """File an online application: 201 when new, 200 with the same answer when this reference and body came
        before; 409 `duplicate_reference` for another body under a used reference; 422 `bad_attachment`."""
        answer: ApplicationReceived = await run_in_threadpool(_call, desk().receive, partner_id, body)
        response.status_code = 201 if answer.created else 200
        return answer

    @app.get(f"{APPLICATIONS_PATH}/{{reference}}", responses=_ERRORS, tags=["partner"])
    async def application(reference: Reference, partner_id: PartnerId) -> ApplicationOut:
        """Where the application stands; once decided, its outcome and the link to its notice."""
        return await run_in_threadpool(_call, desk().application, partner_id, reference)

    @app.post(f"{APPLICATIONS_PATH}/{{reference}}/{SUPPLEMENT}", responses=_ERRORS, tags=["partner"])
    async def supplement(reference: Reference, body: SupplementIn, partner_id: PartnerId) -> SupplementOut:
        """补正: answer a returned application with what its return asked for. The attachments are checked as an
        application's (422 `bad_attachment`, nothing changed; a file the application holds already is refused too)
        and join its dossier, which is read and pre-reviewed again (a new `round`, due in full); the return stays in
        the application's `history`. The same body again (a retry) is answered with the same 200 and applied once.
        409 `not_returned` while the application is not returned; 404 for a reference the partner never filed."""
        return await run_in_threadpool(_call, desk().supplement, partner_id, reference, body)

    @app.get(
        f"{APPLICATIONS_PATH}/{{reference}}/notices/{{kind}}",
        responses={**_ERRORS, **_PDF},
        response_class=Response,
        tags=["partner"],
    )
    async def notice(reference: Reference, kind: NoticeKind, partner_id: PartnerId) -> Response:
        """The outcome's notice as a PDF: 受理凭证 (receipt), 补正材料通知书 (supplement) or 不予受理告知书."""
        data = await run_in_threadpool(_call, desk().notice, partner_id, reference, kind)
        return Response(content=data, media_type="application/pdf")

    @app.get("/v1/partner/events", responses=_ERRORS, tags=["partner"])
    async def events(
        partner_id: PartnerId,
        after: Annotated[str, Query(max_length=20, pattern=r"^[0-9]+$")] = "0",
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> EventsResponse:
        """The partner's outcome events after its cursor (`after`), oldest first: the same ones its callback gets."""
        return await run_in_threadpool(_call, desk().events, partner_id, min(int(after), MAX_INT), limit)

    @app.get("/v1/prereview", responses=_ERRORS, tags=["prereview"])
    async def prereview_list(who: StationPerson, limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> PrereviewList:
        """Online applications read and waiting for pre-review, the most overdue first, each with what its
        checklist lacks and its findings."""
        return await run_in_threadpool(_call, desk().prereview_list, who[1], limit)

    @app.post("/v1/prereview/{ref}/accept", responses=_ERRORS, tags=["prereview"])
    async def prereview_accept(ref: Ref, body: AcceptRequest, who: StationPerson) -> ApplicationOut:
        """受理: the dossier is submitted and joins the review pool (409 `incomplete` while its checklist lacks
        anything: return it instead)."""
        return await run_in_threadpool(_call, desk().prereview_accept, who[1], ref, body.note)

    @app.post("/v1/prereview/{ref}/return", responses=_ERRORS, tags=["prereview"])
    async def prereview_return(ref: Ref, body: ReturnRequest, who: StationPerson) -> ApplicationOut:
        """补正: back to the partner with the checklist's missing items and these, all at once (一次性告知)."""
        return await run_in_threadpool(_call, desk().prereview_return, who[1], ref, body.items, body.note)

    @app.post("/v1/prereview/{ref}/refuse", responses=_ERRORS, tags=["prereview"])
    async def prereview_refuse(ref: Ref, body: RefuseRequest, who: StationPerson) -> ApplicationOut:
        """不予受理, with a reason of the notice rules."""
        return await run_in_threadpool(_call, desk().prereview_refuse, who[1], ref, body.reason_code, body.note)

    if registry is None:
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Any) -> Any:
        partners = partner_desk(registry)
        partners.start()  # takes up what was left: pages unread, outcomes undelivered, a command's decisions
        try:
            async with inner(served) as state:
                yield state
        finally:
            await run_in_threadpool(partners.stop)

    app.router.lifespan_context = lifespan
