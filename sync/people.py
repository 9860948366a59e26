"""A desk's door to the registry's people: a person logs in there and the desk keeps their personal token.

The token is short-lived and bound to this desk's station; it goes with every request made for the person (a claim,
a heartbeat, a release). It lives in this process's memory only: a person logs in again after a restart, and while
the registry cannot be reached the desk lets them in on the verifier kept from their last login there (to decide
the leases they hold; nothing new is claimed without the registry).
"""

from __future__ import annotations

import threading
from datetime import datetime

import httpx
from pydantic import ValidationError

from sync.client import RETRYABLE_STATUS
from sync.protocol import PERSON_HEADER, LoginResponse, first_error
from workstation.errors import AuthError, Offline, UsageError
from workstation.services.users import RemotePerson
from workstation.store.types import utcnow


class RegistryPeople:
    """`PersonDirectory` over the registry's `/v1/auth/*`, and the tokens of the people logged in at this desk."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def login(self, username: str, password: str) -> RemotePerson:
        try:
            response = self._http.post("/v1/auth/login", json={"username": username, "password": password})
        except httpx.TransportError as exc:
            raise Offline(f"registry unreachable ({type(exc).__name__})") from None
        if response.status_code in RETRYABLE_STATUS:
            raise Offline(f"registry answered {response.status_code}")
        if response.status_code in (401, 422):
            raise AuthError(_message(response) or "wrong user name or password")
        if response.status_code != 200:
            raise UsageError(f"the registry refused the login: {_message(response)}")
        try:
            body = LoginResponse.model_validate(response.json())
        except (ValidationError, ValueError) as exc:
            detail = first_error(exc) if isinstance(exc, ValidationError) else "not JSON"
            raise UsageError(f"the registry's login answer is malformed: {detail}") from None
        with self._lock:
            self._tokens[username] = (body.token, body.expires_at)
        p = body.person
        return RemotePerson(
            username=p.username,
            display_name=p.display_name,
            roles=tuple(p.roles),
            can_review_online=p.can_review_online,
            can_review_offline=p.can_review_offline,
            unit=p.unit,
        )

    def headers_for(self, username: str) -> dict[str, str]:
        """The person's token header; AuthError when they have no live login at the registry from this desk."""
        with self._lock:
            held = self._tokens.get(username)
        if held is None:
            raise AuthError(
                f"{username} is not logged in at the registry from this desk (logged in while it was unreachable?); "
                "log in again"
            )
        token, expires_at = held
        if expires_at <= utcnow():
            raise AuthError(f"{username}'s login at the registry has expired; log in again")
        return {PERSON_HEADER: token}

    def forget(self, username: str) -> None:
        with self._lock:
            self._tokens.pop(username, None)


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    return str(data.get("message", ""))[:300] if isinstance(data, dict) else str(data)[:200]
