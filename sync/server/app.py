"""The registry's HTTP API (FastAPI), version 2. Every route but the health check needs a station token; the routes
that act for a person (claim, heartbeat, release, logout) also need that person's token (`X-Person-Token`).

Request bodies are capped on every route before they are read (`BodyLimit`); a blob upload streams to disk as it
arrives, so the registry's memory stays flat whatever the upload's size.

The API's pages (/docs, /redoc, and the schema they read) need no token, and load nothing from the internet: their
scripts and styles are served from the installed `fastapi-offline` package's files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.partner_protocol import APPLICATIONS_PATH, MAX_APPLICATION_BYTES
from sync.protocol import (
    MAX_BATCH_BYTES,
    MAX_BLOB_BYTES,
    MAX_JSON_BYTES,
    PERSON_HEADER,
    SCHEMA_VERSION,
    SHA256,
    BlobsMissingRequest,
    BlobsMissingResponse,
    BlobStored,
    ChainHead,
    ChangesResponse,
    ClaimRequest,
    ClaimResponse,
    ErrorCode,
    HeartbeatRequest,
    HeartbeatResponse,
    LoginRequest,
    LoginResponse,
    OpsBatch,
    OpsBatchSchema,
    OpsRefused,
    OpsResponse,
    PoolResponse,
    Problem,
    ReleaseRequest,
    ReleaseResponse,
    WitnessedHeadResponse,
)
from sync.server.partner import add_partner_routes
from sync.server.qc import add_qc_routes
from sync.server.registry import ApiError, Registry
from workstation.domain.permissions import Actor
from workstation.errors import BlobError
from workstation.store.blobs import Upload

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem},
    401: {"model": Problem},
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": OpsRefused},
    411: {"model": Problem},
    413: {"model": Problem},
    422: {"model": Problem},
    503: {"model": Problem},
}

# A blob is named by the lower-case sha256 of its bytes; its body is read raw, so the schema states it here.
BlobName = Annotated[str, Path(pattern=SHA256, description="the lower-case sha256 of the blob's bytes")]
_BLOB_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
# A batch is read loosely (each op is answered for on its own), but documented with every op's own schema.
_OPS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpsBatchSchema"}}},
    }
}


T = TypeVar("T")


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


async def _station(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The station the bearer token belongs to; 401 with a code otherwise."""
    registry: Registry = request.app.state.registry
    return await run_in_threadpool(registry.authenticate, _bearer(authorization))


StationId = Annotated[str, Depends(_station)]


@dataclass(frozen=True)
class _Credentials:
    """A request's station token and personal token, as sent: checked with the work they ask for (`_as_person`),
    in the same trip to the thread pool."""

    token: str | None
    person_token: str | None


async def _credentials(
    authorization: Annotated[str | None, Header()] = None,
    x_person_token: Annotated[str | None, Header(alias=PERSON_HEADER, max_length=200)] = None,
) -> _Credentials:
    return _Credentials(_bearer(authorization), x_person_token)


async def _person(request: Request, who: Annotated[_Credentials, Depends(_credentials)]) -> tuple[str, Actor]:
    """The station, and the person logged in there whose token came with the request (both read at once)."""
    registry: Registry = request.app.state.registry
    return await run_in_threadpool(registry.station_person, who.token, who.person_token)


def _as_person(registry: Registry, who: _Credentials, act: Callable[..., T], *args: Any) -> T:
    """`act(station_id, actor, *args)` for the station and the person logged in there the credentials stand for
    (both read at once, first: 401/403 before anything is done)."""
    station_id, actor = registry.station_person(who.token, who.person_token)
    return act(station_id, actor, *args)


StationPerson = Annotated[tuple[str, Actor], Depends(_person)]
# The tokens alone, for the busiest routes: checked in the route's own trip to the thread pool (`_as_person`).
PersonCredentials = Annotated[_Credentials, Depends(_credentials)]


def body_limit_of(path: str, method: str, max_blob_bytes: int) -> int:
    """The largest request body a route takes."""
    if path == "/v1/ops":
        return MAX_BATCH_BYTES
    if path == APPLICATIONS_PATH or (  # an online application, or its 补正 answer, carries its attachments
        method == "POST" and path.startswith(f"{APPLICATIONS_PATH}/") and path.endswith("/supplement")
    ):
        return MAX_APPLICATION_BYTES
    if method == "PUT" and path.startswith("/v1/blobs/"):
        return max_blob_bytes
    return MAX_JSON_BYTES


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses a request body larger than its route takes (413), by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, registry: Registry | None):
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        blobs = self.registry.max_blob_bytes if self.registry is not None else MAX_BLOB_BYTES
        limit = body_limit_of(scope["path"], scope["method"], blobs)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, send, limit)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except _TooLarge:
            if not started:
                await _too_large(scope, send, limit)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    blob = scope["method"] == "PUT" and scope["path"].startswith("/v1/blobs/")
    code = ErrorCode.BLOB_TOO_LARGE if blob else ErrorCode.TOO_LARGE
    message = f"the request body is larger than this route takes ({limit} bytes)"
    await JSONResponse({"code": code.value, "message": message}, status_code=413)(scope, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _readiness(registry: Registry) -> dict[str, Any]:
    from workstation.store import migrate

    try:
        migrate.check_current(registry.db.engine)
    except RuntimeError as exc:
        raise ApiError(503, ErrorCode.UNAVAILABLE, str(exc)) from None
    return {"ready": True, "database": registry.db.dialect, "worker": os.getpid()}


def create_app(registry: Registry) -> FastAPI:
    app = FastAPI(
        title="不动产登记 registry",
        version=f"{SCHEMA_VERSION}",
        description="Desks push typed ops and blobs, pull their changes, and claim review work for their people. "
        "Errors carry a `code`.",
        docs_url=None,  # served by `_add_docs` from installed files: an office intranet has no internet
        redoc_url=None,
    )

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        body: dict[str, Any] = {"code": exc.code.value, "message": exc.message}
        if exc.detail:
            detail = dict(exc.detail)
            if "results" in detail:
                body["results"] = [r.model_dump(mode="json") for r in detail.pop("results")]
            body.update({k: v for k, v in detail.items() if k in ("seq", "op_id", "expected")})
            rest = {k: v for k, v in detail.items() if k not in ("seq", "op_id", "expected")}
            if rest:
                body["detail"] = rest
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse({"code": ErrorCode.INVALID.value, "message": message[:300]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.INVALID
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # `Allow` lists every method of the path (RFC 9110 §15.5.6), not one route's
            headers["Allow"] = _allowed_methods(request)
        return JSONResponse(
            {"code": code.value, "message": str(exc.detail)}, status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(OperationalError)
    async def _unavailable(_request: Request, _exc: OperationalError) -> JSONResponse:
        return JSONResponse(
            {"code": ErrorCode.UNAVAILABLE.value, "message": "the registry's database cannot be reached now; retry"},
            status_code=503,
        )

    app.state.registry = registry
    app.add_middleware(BodyLimit, registry=registry)

    @app.get("/v1/health")
    async def health() -> dict[str, Any]:
        """Alive: this process answers (a load balancer's liveness check)."""
        return {"ok": True, "schema_version": SCHEMA_VERSION}

    @app.get("/v1/ready", responses={503: {"model": Problem}})
    async def ready() -> dict[str, Any]:
        """Ready for work: the database answers and its schema is the one this process was built for (503 else)."""
        return await run_in_threadpool(_readiness, registry)

    @app.post("/v1/auth/login", responses=_ERRORS)
    async def login(body: LoginRequest, station_id: StationId) -> LoginResponse:
        """A person logs in from this station: a short-lived personal token bound to it."""
        return await run_in_threadpool(registry.login, station_id, body.username, body.password)

    @app.post("/v1/auth/logout", responses=_ERRORS, status_code=204)
    async def logout(
        station_id: StationId,
        x_person_token: Annotated[str | None, Header(alias=PERSON_HEADER, max_length=200)] = None,
    ) -> Response:
        await run_in_threadpool(registry.logout, station_id, x_person_token)
        return Response(status_code=204)

    @app.post("/v1/blobs/missing", responses=_ERRORS)
    async def blobs_missing(body: BlobsMissingRequest, _station: StationId) -> BlobsMissingResponse:
        return BlobsMissingResponse(missing=await run_in_threadpool(registry.missing_blobs, body.sha256))

    @app.put("/v1/blobs/{sha256}", status_code=201, responses=_ERRORS, openapi_extra=_BLOB_BODY)
    async def put_blob(
        sha256: BlobName,
        request: Request,
        _station: StationId,
        content_length: Annotated[int | None, Header()] = None,
    ) -> BlobStored:
        if content_length is None:
            raise ApiError(411, ErrorCode.LENGTH_REQUIRED, "send Content-Length with the blob")
        if content_length > registry.max_blob_bytes:
            raise ApiError(413, ErrorCode.BLOB_TOO_LARGE, f"blobs are limited to {registry.max_blob_bytes} bytes")
        upload = await run_in_threadpool(registry.open_upload, sha256)
        created = upload is not None
        await _receive_blob(request, sha256, content_length, upload)
        return BlobStored(sha256=sha256, size=content_length, created=created)

    @app.get("/v1/blobs/{sha256}", responses=_ERRORS)
    async def get_blob(sha256: BlobName, station_id: StationId) -> Response:
        data = await run_in_threadpool(registry.read_blob, station_id, sha256)
        return Response(content=data, media_type="application/octet-stream")

    @app.post("/v1/ops", responses=_ERRORS, openapi_extra=_OPS_BODY)
    async def ops(request: Request, station_id: StationId) -> OpsResponse:
        batch = _parse_batch(await _read_body(request))
        return await run_in_threadpool(registry.apply_batch, station_id, batch)

    @app.get("/v1/changes", responses=_ERRORS)
    async def changes(
        station_id: StationId,
        after: Annotated[str, Query(max_length=20, pattern=r"^[0-9]+$")] = "0",
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> ChangesResponse:
        return await run_in_threadpool(registry.changes, station_id, int(after), limit)

    @app.post("/v1/review/claim", responses=_ERRORS)
    async def claim(body: ClaimRequest, who: PersonCredentials) -> ClaimResponse:
        return await run_in_threadpool(registry.claim_for, who.token, who.person_token, body.held)

    @app.post("/v1/review/release", responses=_ERRORS)
    async def release(body: ReleaseRequest, who: PersonCredentials) -> ReleaseResponse:
        return await run_in_threadpool(_as_person, registry, who, registry.release, body.lease_id)

    @app.get("/v1/review/pool", responses=_ERRORS)
    async def pool(_station: StationId) -> PoolResponse:
        return PoolResponse(**await run_in_threadpool(registry.review.pool_counts))

    @app.post("/v1/review/heartbeat", responses=_ERRORS)
    async def heartbeat(body: HeartbeatRequest, who: PersonCredentials) -> HeartbeatResponse:
        return await run_in_threadpool(_as_person, registry, who, registry.heartbeat, body.lease_ids)

    @app.post("/v1/audit/head", responses={**_ERRORS, 409: {"model": Problem}})
    async def witness_head(body: ChainHead, station_id: StationId) -> WitnessedHeadResponse:
        """The desk's audit chain head, sent at every sync: kept in the station's head history. A head that goes
        back from the last one witnessed, or changes its hash, is refused (409 `chain_rewound`) and recorded."""
        prior = (body.prior.seq, body.prior.hash) if body.prior is not None else None
        return await run_in_threadpool(registry.witness_head, station_id, body.seq, body.hash, prior)

    @app.get("/v1/audit/head", responses=_ERRORS)
    async def witnessed_head(station_id: StationId) -> WitnessedHeadResponse:
        """The last audit chain head the registry witnessed for this station (seq 0: none yet)."""
        return await run_in_threadpool(registry.witnessed_head, station_id)

    @app.get("/v1/conflicts", responses=_ERRORS)
    async def conflicts(station_id: StationId) -> list[dict[str, Any]]:
        return await run_in_threadpool(registry.conflicts, station_id)

    add_qc_routes(app, registry)
    add_partner_routes(app, registry)
    _add_docs(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            typed = TypeAdapter(OpsBatchSchema).json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(typed.pop("$defs", {}))
            components["OpsBatchSchema"] = typed
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


DOCS_ASSETS = "/docs-assets"


def _add_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts, styles and icon served from the `fastapi-offline`
    package's files, so the pages work where the registry has no way out to the internet."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} — API",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )


async def _read_body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        raise ApiError(400, ErrorCode.INVALID, "the request was cut short") from None


def _parse_batch(body: bytes) -> OpsBatch:
    from pydantic import ValidationError

    from sync.protocol import first_error

    try:
        return OpsBatch.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, ErrorCode.INVALID, first_error(exc)) from None


_WRITE_BYTES = 1 << 20


async def _receive_blob(request: Request, sha256: str, content_length: int, upload: Upload | None) -> None:
    """Stream the body to the blob store (or, for a blob already here, only hash it); nothing kept unless whole."""
    digest = hashlib.sha256() if upload is None else None
    size = 0
    pending: list[bytes] = []  # written a megabyte at a time: one trip to the thread pool per MiB, not per packet
    held = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > content_length:
                raise ApiError(400, ErrorCode.BLOB_MISMATCH, "the body is longer than its Content-Length")
            if upload is not None:
                pending.append(chunk)
                held += len(chunk)
                if held >= _WRITE_BYTES:
                    await run_in_threadpool(upload.write, b"".join(pending))
                    pending, held = [], 0
            elif digest is not None:
                digest.update(chunk)
        if size != content_length:
            raise ApiError(400, ErrorCode.BLOB_MISMATCH, "the body is shorter than its Content-Length")
        if upload is not None:
            if pending:
                await run_in_threadpool(upload.write, b"".join(pending))
            await run_in_threadpool(upload.commit)
        elif digest is not None and digest.hexdigest() != sha256:
            raise ApiError(400, ErrorCode.BLOB_MISMATCH, f"the bytes sent hash to {digest.hexdigest()}, not {sha256}")
    except ClientDisconnect:
        raise ApiError(400, ErrorCode.BLOB_MISMATCH, "the upload was cut short; nothing was stored") from None
    except BlobError as exc:
        code = ErrorCode.BLOB_TOO_LARGE if "larger than" in str(exc) else ErrorCode.BLOB_MISMATCH
        raise ApiError(413 if code is ErrorCode.BLOB_TOO_LARGE else 400, code, str(exc)) from None
    finally:
        if upload is not None:
            upload.abort()  # nothing once committed; otherwise the partial file goes


def _allowed_methods(request: Request) -> str:
    """The methods some route serves at the request's path (Starlette's own 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))
