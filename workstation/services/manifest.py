"""A dossier's full content as plain JSON (parties, slots, pages, fields, findings), and back.

The content travels with submission to the registry (reviewers there never see half a dossier: every page's
blob must be present first); the whole manifest (state and content) travels with a lease to a reviewer's desk,
and only there. Row ids are kept: they are UUIDv7s made where the row was born, unique everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import Session

from workstation.store.models import Dossier, Field, Finding, MaterialSlot, Page, Party, Station
from workstation.store.types import utcnow

MANIFEST_VERSION = 1

_DOSSIER_KEYS = (
    "number",
    "station_id",
    "business_code",
    "registration_type",
    "channel",
    "applicant_kind",
    "digitized",
    "hall_mode",
    "stage_plan",
    "conditions",
    "stage",
    "status",
    "version",
    "fence",
)
_PARTY_KEYS = ("id", "key", "position", "role", "kind", "name", "id_type", "id_value")
_SLOT_KEYS = (
    "id",
    "position",
    "material",
    "accepts",
    "party_key",
    "label",
    "required",
    "satisfied",
    "waived",
    "waiver_reason",
)
_PAGE_KEYS = (
    "id",
    "slot_id",
    "position",
    "sha256",
    "file_page",
    "source_name",
    "media_type",
    "size",
    "rotation",
    "ocr_status",
    "ocr_text",
    "material_guess",
    "material_confidence",
    "ocr_lines",
    "material_basis",
    "slot_by_clerk",
    "ocr_engine",
    "deleted",
)
_FIELD_KEYS = ("id", "page_id", "key", "value", "confidence", "valid", "box")
_FINDING_KEYS = ("id", "rule", "severity", "message", "page_ids", "resolved")
# Who set a field's value, as it travels: read by OCR, confirmed as read, typed by a clerk or by a reviewer. The
# row keeps "clerk" and "reviewer" as typed; at the desk that read it, a confirmed value is an OCR one (no source)
# with `confirmed_by`; a copy from elsewhere (the registry, a reviewer's desk) keeps "confirmed" as its source.
FIELD_SOURCES = ("ocr", "confirmed", "clerk", "reviewer")


def _source_of(source: str | None, confirmed_by: str | None) -> str:
    """The source a field travels with (one of FIELD_SOURCES), from its row's source and confirmation."""
    return _stored_source(source) or ("confirmed" if confirmed_by is not None else "ocr")


def _stored_source(source: Any) -> str | None:
    """A field row's source as the column keeps it (None: read by OCR, or not said by an older desk)."""
    return source if source in FIELD_SOURCES and source != "ocr" else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def dossier_content(session: Session, dossier: Dossier) -> dict[str, Any]:
    """What a window sends at 受理: parties, slots, pages, fields, findings; `blobs` lists every page's sha256."""
    session.flush()  # the rows as they stand in this transaction (read below as plain rows, not as objects)
    pages = _rows(session, Page, _PAGE_KEYS, dossier.id, "position")
    fields = []
    for row in _rows(session, Field, (*_FIELD_KEYS, "source", "confirmed_by"), dossier.id, "id"):
        row["source"] = _source_of(row.pop("source"), row.pop("confirmed_by"))
        fields.append(row)
    return {
        "parties": _rows(session, Party, _PARTY_KEYS, dossier.id, "position"),
        "slots": _rows(session, MaterialSlot, _SLOT_KEYS, dossier.id, "position"),
        "pages": pages,
        "fields": fields,
        "findings": _rows(session, Finding, _FINDING_KEYS, dossier.id, "id"),
        "blobs": sorted({p["sha256"] for p in pages if not p["deleted"]}),
    }


def _rows(
    session: Session, model: type[Any], keys: tuple[str, ...], dossier_id: str, order: str
) -> list[dict[str, Any]]:
    """A dossier's rows of one table as dicts of `keys` (the columns of those names), in `order`."""
    query = _ROWS.get((model, keys, order))
    if query is None:
        table = model.__table__
        query = select(*(table.c[key] for key in keys)).where(table.c.dossier_id == bindparam("dossier"))
        _ROWS[(model, keys, order)] = query = query.order_by(table.c[order])
    return [row._asdict() for row in session.execute(query, {"dossier": dossier_id})]


_ROWS: dict[tuple[type[Any], tuple[str, ...], str], Select[Any]] = {}  # each query built once


def dossier_manifest(session: Session, dossier: Dossier) -> dict[str, Any]:
    """The dossier whole, as a reviewer's desk keeps it: its state and its content (identity numbers included)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "id": dossier.id,
        **{key: getattr(dossier, key) for key in _DOSSIER_KEYS},
        "applied_at": _iso(dossier.applied_at),
        "accepted_at": _iso(dossier.accepted_at),
        "signing": dossier.signing,  # who witnessed the signing away from the hall (optional: None in a hall)
        **dossier_content(session, dossier),
    }


def manifest_blobs(manifest: dict[str, Any]) -> list[str]:
    blobs = manifest.get("blobs")
    if not isinstance(blobs, list) or not all(isinstance(b, str) for b in blobs):
        raise ValueError("manifest: 'blobs' must be a list of sha256 digests")
    return blobs


def replace_content(session: Session, dossier: Dossier, manifest: dict[str, Any]) -> None:
    """Make the dossier's parties, slots, pages, fields and findings exactly those of the manifest.

    Raises ValueError (with one line) on a malformed manifest; the caller's transaction then rolls back.
    """
    try:
        parties = [{key: item[key] for key in _PARTY_KEYS} for item in manifest["parties"]]
        slots = [{key: item[key] for key in _SLOT_KEYS} for item in manifest["slots"]]
        pages = [{key: item[key] for key in _PAGE_KEYS} for item in manifest["pages"]]
        fields = [
            {**{key: item[key] for key in _FIELD_KEYS}, "source": _stored_source(item.get("source"))}
            for item in manifest["fields"]
        ]
        findings = [{key: item[key] for key in _FINDING_KEYS} for item in manifest["findings"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"manifest is missing {exc}") from None
    session.flush()
    for model in (Field, Finding, Page, MaterialSlot, Party):
        session.execute(delete(model).where(model.dossier_id == dossier.id))
    session.expire(dossier)
    for row in parties:
        session.add(Party(dossier_id=dossier.id, **row))
    for row in slots:
        session.add(MaterialSlot(dossier_id=dossier.id, **row))
    session.flush()
    for row in pages:
        session.add(Page(dossier_id=dossier.id, file_id=None, **row))
    session.flush()
    for row in fields:
        session.add(Field(dossier_id=dossier.id, **row))
    for row in findings:
        session.add(Finding(dossier_id=dossier.id, **row))
    session.flush()


def take_dossier(session: Session, manifest: dict[str, Any], *, created_by: Callable[[], str]) -> Dossier:
    """Make the desk's copy of a dossier exactly the manifest's (a lease from the registry): create or update.

    `created_by` gives a local user id for a dossier this desk has never seen. Raises ValueError (one line) on
    a malformed manifest; the caller's transaction then rolls back and nothing of it is kept.
    """
    try:
        if manifest.get("manifest_version") != MANIFEST_VERSION:
            raise ValueError(f"manifest version {manifest.get('manifest_version')!r}, not {MANIFEST_VERSION}")
        dossier_id = str(manifest["id"])
        values = {key: manifest[key] for key in _DOSSIER_KEYS}
        applied_at = _from_iso(manifest["applied_at"])
        accepted_at = _from_iso(manifest.get("accepted_at"))
        if applied_at is None:
            raise ValueError("manifest: 'applied_at' is empty")
    except (KeyError, TypeError) as exc:
        raise ValueError(f"manifest is missing {exc}") from None
    if not isinstance(values["version"], int) or not isinstance(values["fence"], int):
        raise ValueError("manifest: 'version' and 'fence' must be integers")
    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        station = str(values["station_id"])
        if session.get(Station, station) is None:  # a station this desk has not heard of: known by its id
            session.add(Station(id=station, name=station, kind="hall"))
        dossier = Dossier(id=dossier_id, created_by=created_by(), **values)
        session.add(dossier)
    else:
        for key, value in values.items():
            setattr(dossier, key, value)
    dossier.applied_at, dossier.accepted_at = applied_at, accepted_at
    signing = manifest.get("signing")
    dossier.signing = dict(signing) if isinstance(signing, dict) else None
    dossier.updated_at = utcnow()
    session.flush()
    replace_content(session, dossier, manifest)
    return dossier


def _from_iso(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"manifest time {value!r} carries no UTC offset")
    return moment
