"""A desk's side of the city's QC (R3–R4): the registry's checks and correction cases, over HTTP.

QC lives at the registry: it opens a check at 登簿 and keeps every result, so an inspector at any desk sees the same
list and a correction reaches its registrar wherever they log in. `RegistryQc` serves the QC screens and
`workstation qc` (`QcDesk`) with the same views as `QcService`. Every request carries the station's token and a
person's: the acting person's for a change, and for a list the person who last logged in at this desk (the one
working it), as `DeskLogins` remembers. QC never blocks the flow: when the registry cannot be reached a call raises
`Offline` in one line, and nothing is kept to send later.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from sync.client import RETRYABLE_STATUS
from sync.people import RegistryPeople
from sync.protocol import (
    CorrectionOut,
    CorrectionsResponse,
    ErrorCode,
    QcCheckOut,
    QcChecksResponse,
    QcCountsResponse,
    first_error,
)
from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor
from workstation.domain.qc import QcResult
from workstation.errors import AuthError, NotFound, Offline, UsageError
from workstation.services.qc import CorrectionView, QcCheckView
from workstation.services.users import RemotePerson

_Answer = TypeVar("_Answer", bound=BaseModel)
_PERSON_CODES = (ErrorCode.PERSON_EXPIRED, ErrorCode.PERSON_INVALID, ErrorCode.PERSON_MISSING)


class DeskLogins:
    """The registry's people as they log in at this desk (`PersonDirectory`), and who logged in last.

    A list of checks names no person, yet the registry serves it to a person only: it goes with the login of the
    one who last logged in here. A failed login (wrong password, or the registry unreachable) forgets them, so a
    list never goes out under someone who has left the desk.
    """

    def __init__(self, people: RegistryPeople):
        self.people = people
        self._current: str | None = None
        self._unreached: str | None = None  # who last logged in while the registry could not be reached
        self._lock = threading.Lock()

    def login(self, username: str, password: str) -> RemotePerson:
        try:
            person = self.people.login(username, password)
        except Offline:
            self._set(None, username)
            raise
        except Exception:
            self._set(None, None)
            raise
        self._set(username, None)
        return person

    def current(self) -> str:
        """Who the desk's lists go out under; Offline or AuthError (one line) when nobody can be named."""
        with self._lock:
            current, unreached = self._current, self._unreached
        if current is not None:
            return current
        if unreached is not None:
            raise Offline(
                f"the registry could not be reached when {unreached} logged in; QC waits for the network "
                "(log in again once it is back)"
            )
        raise AuthError("QC is kept at the registry: log in there (the registry reachable) to work it")

    def _set(self, current: str | None, unreached: str | None) -> None:
        with self._lock:
            self._current, self._unreached = current, unreached


class RegistryQc:
    """`QcDesk` over the registry's `/v1/qc/*` (see `sync/server/qc.py`)."""

    def __init__(
        self,
        logins: DeskLogins,
        *,
        url: str,
        token: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self.logins = logins
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    # -- reading ---------------------------------------------------------------------------------------

    def pending(self, limit: int = 200) -> list[QcCheckView]:
        return self.checks("pending", limit=limit)

    def checks(
        self, state: str | None = None, *, limit: int = 200, offset: int = 0, pending_first: bool = False
    ) -> list[QcCheckView]:
        params = {"state": state or "all", "limit": limit, "offset": offset, "pending_first": pending_first}
        answer = self._get("/v1/qc/checks", QcChecksResponse, params)
        return [_check_view(c) for c in answer.checks]

    def count(self) -> dict[str, int]:
        answer = self._get("/v1/qc/counts", QcCountsResponse)
        return {"pending": answer.pending, "done": answer.done}

    def check(self, check_id: str) -> QcCheckView:
        return _check_view(self._get(f"/v1/qc/checks/{_segment(check_id)}", QcCheckOut))

    def corrections(
        self, state: str | None = None, assigned_to_username: str | None = None, *, limit: int = 500
    ) -> list[CorrectionView]:
        params: dict[str, Any] = {"state": state or "all", "limit": limit}
        if assigned_to_username is not None:
            params["assignee"] = assigned_to_username
        answer = self._get("/v1/qc/corrections", CorrectionsResponse, params)
        return [_correction_view(c) for c in answer.corrections]

    def correction(self, correction_id: str) -> CorrectionView:
        return _correction_view(self._get(f"/v1/qc/corrections/{_segment(correction_id)}", CorrectionOut))

    # -- changing --------------------------------------------------------------------------------------

    def record(
        self,
        actor: Actor,
        check_id: str,
        result: QcResult | str,
        *,
        defects: Iterable[str] = (),
        notes: str = "",
        assign_to: str | None = None,
    ) -> QcCheckView:
        """Record an inspection at the registry (`check_id` may be the dossier's 受理号); a major result opens a
        correction case there. Sent again after a lost answer, the registry answers as the first time."""
        if isinstance(defects, str):
            raise UsageError("defects are a list of short descriptions, not one string")
        body: dict[str, Any] = {"result": str(result), "defects": list(defects), "notes": (notes or "").strip()}
        if assign_to is not None:
            body["assign_to"] = assign_to
        answer = self._call("POST", f"/v1/qc/checks/{_segment(check_id)}/result", actor.username, body=body)
        return _check_view(_parse(QcCheckOut, answer))

    def resolve_correction(self, actor: Actor, correction_id: str, resolution: str) -> CorrectionView:
        text = (resolution or "").strip()
        if not text:
            raise UsageError("a resolution is required: say what was corrected")
        path = f"/v1/qc/corrections/{_segment(correction_id)}/resolution"
        answer = self._call("POST", path, actor.username, body={"resolution": text})
        return _correction_view(_parse(CorrectionOut, answer))

    # -- internals -------------------------------------------------------------------------------------

    def _get(self, path: str, model: type[_Answer], params: dict[str, Any] | None = None) -> _Answer:
        return _parse(model, self._call("GET", path, self.logins.current(), params=params))

    def _call(
        self,
        method: str,
        path: str,
        username: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        headers = self.logins.people.headers_for(username)
        try:
            response = self._http.request(method, path, json=body, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise Offline(f"registry unreachable ({type(exc).__name__}); QC waits for the network") from None
        if response.status_code in RETRYABLE_STATUS:
            raise Offline(f"registry answered {response.status_code}; QC waits for the network")
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code == 200:
            return data
        problem = data if isinstance(data, dict) else {}
        message = " ".join(str(problem.get("message") or response.text[:200]).split())[:300]
        code = problem.get("code")
        if code in _PERSON_CODES:
            self.logins.people.forget(username)
            raise AuthError(f"the registry does not know {username}'s login ({message}); log in again")
        if response.status_code == 404:
            raise NotFound(message)
        if response.status_code == 403:
            raise PermissionDenied(message)
        if code in (ErrorCode.INVALID, ErrorCode.ALREADY_DONE):  # what the person sent: said as the registry says it
            raise UsageError(message)
        raise UsageError(f"the registry refused: {message}")


def _parse(model: type[_Answer], data: Any) -> _Answer:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"the registry's QC answer is malformed: {first_error(exc)}") from None


def _segment(ref: str) -> str:
    """A check's or case's id (or 受理号) as one path segment, whatever the user typed."""
    return quote(ref, safe="") or "-"


def _check_view(c: QcCheckOut) -> QcCheckView:
    return QcCheckView(
        id=c.id,
        dossier_id=c.dossier_id,
        number=c.number,
        business=c.business,
        basis=c.basis,
        state=c.state,
        result=c.result,
        defects=tuple(c.defects),
        notes=c.notes,
        created_at=c.created_at,
        registered_at=c.registered_at,
        registrar=c.registrar,
        inspector=c.inspector,
        inspected_at=c.inspected_at,
        correction_id=c.correction_id,
    )


def _correction_view(c: CorrectionOut) -> CorrectionView:
    return CorrectionView(
        id=c.id,
        dossier_id=c.dossier_id,
        number=c.number,
        business=c.business,
        qc_check_id=c.qc_check_id,
        state=c.state,
        description=c.description,
        assigned_to=c.assigned_to,
        opened_by=c.opened_by,
        opened_at=c.opened_at,
        resolved_by=c.resolved_by,
        resolved_at=c.resolved_at,
        resolution=c.resolution,
    )
