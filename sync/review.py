"""A review desk's side of the registry's pool: leases and their dossiers, pages included, over HTTP.

`RegistryPoolReview` keeps what this returns in the desk's own database, so the reviewer
goes on deciding the dossiers in the local queue through a network drop; decisions travel back through the
outbox as fenced `review.decision` ops, which the registry applies or records as conflicts.

A claim is finished only when every page of the dossier is in the desk's blob store (each verified against
its sha256 as it arrives). If a page cannot be fetched the lease is given back at once, so no dossier sits
leased to a desk that cannot show it; if the claim's answer itself was lost, the next claim names the leases
the desk holds and the registry hands back the one it does not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from sync.client import RETRYABLE_STATUS
from sync.people import RegistryPeople
from sync.protocol import MAX_BLOB_BYTES, ClaimResponse, ErrorCode, HeartbeatResponse, Lease, PoolResponse
from workstation.domain.permissions import Actor
from workstation.errors import AuthError, BlobError, Offline, UsageError
from workstation.services.manifest import manifest_blobs
from workstation.services.review import RegistryClaim, RegistryLease
from workstation.store.blobs import BlobStore

log = logging.getLogger(__name__)


class RegistryLeases:
    """`LeaseSource` over the registry's HTTP API (`/v1/review/*`, `GET /v1/blobs/{sha256}`)."""

    def __init__(
        self,
        blobs: BlobStore,
        people: RegistryPeople,
        *,
        url: str,
        token: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self.blobs = blobs
        self.people = people
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )
        self.pages_fetched = 0
        self.bytes_fetched = 0

    def close(self) -> None:
        self._http.close()

    # -- LeaseSource ---------------------------------------------------------------------------------------

    def claim(self, actor: Actor, held: Sequence[str]) -> RegistryClaim | None:
        answer = self._call("POST", "/v1/review/claim", {"held": list(held)}, actor)
        try:
            body = ClaimResponse.model_validate(answer)
        except ValidationError as exc:
            raise UsageError(f"the registry's claim answer is malformed: {_first(exc)}") from None
        if body.lease is None:
            return None
        lease = _lease(body.lease)
        manifest = body.dossier or {}
        try:
            for sha in manifest_blobs(manifest):
                if not self.blobs.exists(sha):
                    self._fetch(sha)
        except (Offline, BlobError, UsageError, ValueError) as exc:
            self._give_back(actor, lease)
            if isinstance(exc, Offline):
                raise
            raise UsageError(f"dossier {lease.number} could not be fetched whole ({exc}); given back") from None
        return RegistryClaim(lease=lease, manifest=manifest, clock=body.clock)

    def renew(self, actor: Actor, lease_ids: Sequence[str]) -> tuple[list[RegistryLease], list[tuple[str, str]]]:
        try:
            answer = self._call("POST", "/v1/review/heartbeat", {"lease_ids": list(lease_ids)}, actor)
        except AuthError as exc:  # the person's login ran out: their leases stand until they log in again
            raise Offline(str(exc)) from None
        try:
            body = HeartbeatResponse.model_validate(answer)
        except ValidationError as exc:
            raise UsageError(f"the registry's heartbeat answer is malformed: {_first(exc)}") from None
        lost = [(x.lease_id, x.reason) for x in body.lost]
        return [_lease(x) for x in body.renewed], lost

    def release(self, actor: Actor, lease_id: str) -> None:
        self._call("POST", "/v1/review/release", {"lease_id": lease_id}, actor)

    def pool_counts(self) -> dict[str, int]:
        try:
            body = PoolResponse.model_validate(self._call("GET", "/v1/review/pool", None))
        except ValidationError as exc:
            raise UsageError(f"the registry's pool answer is malformed: {_first(exc)}") from None
        return {"online": body.online, "offline": body.offline}

    # -- internals -----------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None, actor: Actor | None = None) -> Any:
        headers = self.people.headers_for(actor.username) if actor is not None else None
        try:
            response = self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise Offline(
                f"registry unreachable ({type(exc).__name__}); the dossiers in your queue can be decided"
            ) from None
        if response.status_code in RETRYABLE_STATUS:
            raise Offline(f"registry answered {response.status_code}; the dossiers in your queue can be decided")
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200:
            problem = data if isinstance(data, dict) else {}
            message = problem.get("message") or response.text[:200]
            if problem.get("code") in (ErrorCode.PERSON_EXPIRED, ErrorCode.PERSON_INVALID, ErrorCode.PERSON_MISSING):
                if actor is not None:
                    self.people.forget(actor.username)
                raise AuthError(f"the registry does not know this login: {message}")
            raise UsageError(f"the registry refused: {message}")
        return data

    def _fetch(self, sha: str) -> None:
        """One page's bytes into the blob store, verified on the way (the store keeps nothing that mismatches)."""
        try:
            with self._http.stream("GET", f"/v1/blobs/{sha}") as response:
                if response.status_code in RETRYABLE_STATUS:
                    raise Offline(f"registry answered {response.status_code} for a page")
                if response.status_code != 200:
                    response.read()
                    raise BlobError(f"registry has no page {sha[:12]} ({response.status_code})")
                self.blobs.put_expected(response.iter_bytes(), sha, max_bytes=MAX_BLOB_BYTES)
        except httpx.TransportError as exc:
            raise Offline(f"registry unreachable while fetching a page ({type(exc).__name__})") from None
        self.pages_fetched += 1
        self.bytes_fetched += self.blobs.path_for(sha).stat().st_size

    def _give_back(self, actor: Actor, lease: RegistryLease) -> None:
        try:
            self.release(actor, lease.lease_id)
        except (Offline, UsageError) as exc:  # it runs out on its own at the registry
            log.warning("lease of %s could not be given back: %s", lease.number, exc)


def _lease(lease: Lease) -> RegistryLease:
    return RegistryLease(
        lease_id=lease.lease_id,
        fence=lease.fence,
        dossier_id=lease.dossier_id,
        number=lease.number,
        expires_at=lease.expires_at,
    )


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(x) for x in error['loc'])}: {error['msg']}"
