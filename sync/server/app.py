"""The registry's HTTP API (FastAPI), version 1. Every route but the health check needs a station token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route

from sync.protocol import (
    SCHEMA_VERSION,
    SHA256,
    BlobsMissingRequest,
    BlobsMissingResponse,
    BlobStored,
    ChangesResponse,
    ClaimRequest,
    ClaimResponse,
    ErrorCode,
    HeartbeatRequest,
    HeartbeatResponse,
    OpsBatch,
    OpsRefused,
    OpsResponse,
    PoolResponse,
    Problem,
    ReleaseRequest,
    ReleaseResponse,
)
from sync.server.registry import ApiError, Registry

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem},
    401: {"model": Problem},
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": OpsRefused},
    411: {"model": Problem},
    413: {"model": Problem},
    422: {"model": Problem},
}

# A blob is named by the lower-case sha256 of its bytes; its body is read raw, so the schema states it here.
BlobName = Annotated[str, Path(pattern=SHA256, description="the lower-case sha256 of the blob's bytes")]
_BLOB_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def _station(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The station the bearer token belongs to; 401 with a code otherwise."""
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    registry: Registry = request.app.state.registry
    return await run_in_threadpool(registry.authenticate, token)


StationId = Annotated[str, Depends(_station)]


def create_app(registry: Registry) -> FastAPI:
    app = FastAPI(
        title="不动产登记 registry",
        version=f"{SCHEMA_VERSION}",
        description="Desks push ops and blobs, pull changes, and claim review work. Errors carry a `code`.",
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

    app.state.registry = registry

    @app.get("/v1/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "schema_version": SCHEMA_VERSION}

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
        chunks = await _collect(request.stream(), registry.max_blob_bytes)
        if sum(len(c) for c in chunks) != content_length:
            raise ApiError(400, ErrorCode.BLOB_MISMATCH, "the body is shorter or longer than its Content-Length")
        created = await run_in_threadpool(registry.put_blob, sha256, iter(chunks))
        return BlobStored(sha256=sha256, size=content_length, created=created)

    @app.get("/v1/blobs/{sha256}", responses=_ERRORS)
    async def get_blob(sha256: BlobName, _station: StationId) -> Response:
        data = await run_in_threadpool(registry.read_blob, sha256)
        return Response(content=data, media_type="application/octet-stream")

    @app.post("/v1/ops", responses=_ERRORS)
    async def ops(batch: OpsBatch, station_id: StationId) -> OpsResponse:
        return await run_in_threadpool(registry.apply_batch, station_id, batch)

    @app.get("/v1/changes", responses=_ERRORS)
    async def changes(
        _station: StationId,
        after: Annotated[str, Query(max_length=20, pattern=r"^[0-9]+$")] = "0",
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> ChangesResponse:
        return await run_in_threadpool(registry.changes, int(after), limit)

    @app.post("/v1/review/claim", responses=_ERRORS)
    async def claim(body: ClaimRequest, station_id: StationId) -> ClaimResponse:
        return await run_in_threadpool(registry.claim, station_id, body.reviewer, body.held)

    @app.post("/v1/review/release", responses=_ERRORS)
    async def release(body: ReleaseRequest, station_id: StationId) -> ReleaseResponse:
        return await run_in_threadpool(registry.release, station_id, body.reviewer, body.lease_id)

    @app.get("/v1/review/pool", responses=_ERRORS)
    async def pool(_station: StationId) -> PoolResponse:
        return PoolResponse(**await run_in_threadpool(registry.review.pool_counts))

    @app.post("/v1/review/heartbeat", responses=_ERRORS)
    async def heartbeat(body: HeartbeatRequest, station_id: StationId) -> HeartbeatResponse:
        return await run_in_threadpool(registry.heartbeat, station_id, body.reviewer, body.lease_ids)

    @app.get("/v1/conflicts", responses=_ERRORS)
    async def conflicts(station_id: StationId) -> list[dict[str, Any]]:
        return await run_in_threadpool(registry.conflicts, station_id)

    return app


def _allowed_methods(request: Request) -> str:
    """The methods some route serves at the request's path (Starlette's own 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _collect(stream: AsyncIterator[bytes], limit: int) -> list[bytes]:
    """The whole body, or ApiError: too large (413), or cut short by the client going away (400, nothing kept)."""
    chunks, size = [], 0
    try:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise ApiError(413, ErrorCode.BLOB_TOO_LARGE, f"blobs are limited to {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, ErrorCode.BLOB_MISMATCH, "the upload was cut short; nothing was stored") from None
    return chunks
