"""`audit verify` with the registry as witness: the desk's chain against the last head the registry witnessed.

With a registry configured and reachable, its answer (`GET /v1/audit/head`) is the authority, and the desk keeps it
in its sync state. Unreachable, the desk's own copy of the last acknowledged head is used (it can be edited with the
chain; the registry's cannot). With no registry configured, a desk that runs beside its local registry (the
embedded default, `workstation demo`) asks that registry in-process and has it witness the head it now holds.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx

from sync.client import head_of
from sync.protocol import ErrorCode
from workstation.config import Settings
from workstation.services.witness import (
    Head,
    WitnessReport,
    check_chain,
    event_hash_at,
    local_head,
    note_refusal,
    store_witness,
    stored_witness,
)
from workstation.store.db import Database

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
LOCAL_DB = "registry.db"


def verify_witnessed(settings: Settings, db: Database, *, timeout: float = TIMEOUT_S) -> WitnessReport:
    """The desk's chain (in `db`) against the last head its registry witnessed."""
    if settings.registry_url and settings.registry_token is not None:
        return _with_remote(settings, db, timeout)
    from sync.server.open import registry_dir

    if (registry_dir(settings) / LOCAL_DB).is_file():
        return _with_local(settings, db)
    return _against_copy(db, note=None)


def _with_remote(settings: Settings, db: Database, timeout: float) -> WitnessReport:
    assert settings.registry_url and settings.registry_token is not None
    token = settings.registry_token.get_secret_value()
    try:
        with httpx.Client(
            base_url=settings.registry_url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            answer = http.get("/v1/audit/head")
    except httpx.HTTPError as exc:
        return _against_copy(db, note=f"the registry could not be reached ({type(exc).__name__})")
    seen = head_of(answer.json()) if answer.status_code == 200 and _is_json(answer) else None
    if seen is None:
        return _against_copy(db, note=f"the registry did not say its witnessed head (HTTP {answer.status_code})")
    return _against(db, seen, "registry")


def _with_local(settings: Settings, db: Database) -> WitnessReport:
    from sync.server.open import open_registry
    from sync.server.registry import ApiError

    registry = open_registry(settings)
    try:
        seen = registry.witnessed_head(settings.station_id)
        report = _against(db, Head(seen.seq, seen.hash, seen.witnessed_at), "local registry")
        if not report.ok:
            return report
        with db.read() as session:
            head = local_head(session)
            prior = (seen.seq, event_hash_at(session, seen.seq)) if seen.seq > 0 else None
        try:
            now = registry.witness_head(settings.station_id, head.seq, head.hash, prior)
        except ApiError as exc:
            if exc.code is not ErrorCode.CHAIN_REWOUND:
                raise
            with db.transaction() as session:
                note_refusal(session, exc.message)
            return replace(report, ok=False, problem=exc.message, at_seq=seen.seq)
        with db.transaction() as session:
            store_witness(session, Head(now.seq, now.hash, now.witnessed_at))
        return report
    finally:
        registry.db.dispose()


def _against(db: Database, seen: Head, source: str) -> WitnessReport:
    """Check against the registry's head; the desk's copy is kept up to date, and checked too where it is further."""
    with db.transaction() as session:
        copy = stored_witness(session)
        if seen.seq > 0:
            store_witness(session, seen)
    with db.read() as session:
        report = check_chain(session, seen if seen.seq > 0 else None, source=source if seen.seq > 0 else None)
        if report.ok and copy is not None and copy.seq > seen.seq:
            further = check_chain(session, copy, source="local copy")
            if not further.ok:
                return further
    return report


def _against_copy(db: Database, *, note: str | None) -> WitnessReport:
    with db.read() as session:
        copy = stored_witness(session)
        report = check_chain(session, copy, source="local copy" if copy else None)
    return replace(report, note=note) if note else report


def _is_json(answer: httpx.Response) -> bool:
    try:
        return isinstance(answer.json(), dict)
    except ValueError:
        return False
