"""The audit trail: an append-only, keyed hash chain written in the same transaction as the change it records.

Each event's hash covers the previous event's hash, its own columns and a digest of every audited row its
transaction inserted, changed or deleted. Events are keyed (HMAC-SHA256) with a secret kept outside the database,
in `<data dir>/keys/audit.key` (0600, in a 0700 directory; the registry keeps its own under its data directory), so
a chain recomputed without the key, cut short or rewritten does not verify. Links written before the chain had a
key keep their plain SHA-256 (`alg` "sha256"); none may follow a keyed link, and the key file records where the
unkeyed part ended.

Chains: a desk keeps one, "main", whose links are the events' numbers. A registry (`attach(..., per_station=True)`)
keeps one per station, so that stations never queue behind one another: an event's place is its chain and its
`link` there, and its number (`seq`, from a sequence) only orders the database's events. Events are linked when
their transaction commits: each chain's head row is locked, in the chains' order, only while the committing
transaction links its events after it and writes them; events appended in a savepoint rolled back are dropped.

Row digests are taken automatically: the session notes every audited row a flush or an ORM UPDATE/DELETE touches,
and at commit the transaction's last event is given the digest of each (a tombstone for a deleted row). A
transaction that touched audited rows without appending an event gets an event of its own ("rows.write"), so no
service has to remember. `verify(session, deep=True)` then checks every audited row against the last event that
covered it.

Who and where: besides the person (`actor`), each event records the operating-system account of the process and
the interface it came through; set them with `origin(...)` (a context manager, for the current thread or task) or
`set_origin(...)` (the whole process).
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Select, Table, bindparam, event, func, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from workstation.errors import StoreError
from workstation.store.db import _insert_ignore
from workstation.store.models import (
    AuditEvent,
    AuditHead,
    Base,
    Dossier,
    Field,
    Finding,
    MaterialSlot,
    Page,
    Party,
    RegisterEntry,
    User,
)
from workstation.store.types import utcnow

if TYPE_CHECKING:
    from workstation.store.db import Database

log = logging.getLogger("workstation.audit")

CHAIN = "main"
GENESIS = "0" * 64
ALG_PLAIN = "sha256"  # links written before the chain had a key
ALG_KEYED = "hmac-sha256"  # a desk's one chain: the hash covers the event's number
ALG_CHAINED = "hmac-sha256-ch"  # a registry's chain per station: the hash covers the chain and the link
KEY_FILE = Path("keys") / "audit.key"
TOMBSTONE = "-"
UNKNOWN = "unknown"
AUTO_ACTION = "rows.write"
BASELINE_ACTION = "audit.keyed"
_BASELINE_BATCH = 500

# The rows whose state each event vouches for.
AUDITED: dict[str, type[Base]] = {
    model.__tablename__: model for model in (Dossier, Party, MaterialSlot, Page, Field, Finding, User, RegisterEntry)
}
# Columns left out of a row's digest: renewed by every heartbeat of a lease, not a state anyone decides (the lease
# itself, with its expiry, is the assignment's).
_NOT_DIGESTED: dict[str, frozenset[str]] = {"dossiers": frozenset({"lease_expires_at"})}
# How a problem names a row: by a column people know it by, where it has one.
_LABELS = {"dossiers": "number", "users": "username", "register_entries": "unit_number"}
_SINGULAR = {
    "dossiers": "dossier",
    "parties": "party",
    "material_slots": "slot",
    "pages": "page",
    "fields": "field",
    "findings": "finding",
    "users": "user",
    "register_entries": "register entry",
}


class AuditKeyError(StoreError):
    """The chain's key is missing or unreadable: nothing can be appended until it is restored."""


class AuditGap(StoreError):
    """Audited rows were changed in a transaction that appended no event (raised only with WS_AUDIT_STRICT=1)."""


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


# -- who and where ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    interface: str  # tui | cli | sync | registry | intake | …
    os_user: str


def process_os_user() -> str:
    """The operating-system account this process runs as (by its uid, not by what the environment claims)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, OSError):
        try:
            return getpass.getuser()
        except Exception:
            return UNKNOWN


_ORIGIN: contextvars.ContextVar[Origin | None] = contextvars.ContextVar("audit_origin", default=None)
_PROCESS_ORIGIN: Origin | None = None


def _origin_of(interface: str, os_user: str | None) -> Origin:
    name = (interface or UNKNOWN).strip()[:16] or UNKNOWN
    return Origin(name, ((os_user or process_os_user()).strip() or UNKNOWN)[:64])


@contextlib.contextmanager
def origin(interface: str, os_user: str | None = None) -> Iterator[Origin]:
    """Events appended inside (this thread or task) record `interface` and `os_user` (default: the process's)."""
    value = _origin_of(interface, os_user)
    token = _ORIGIN.set(value)
    try:
        yield value
    finally:
        _ORIGIN.reset(token)


def set_origin(interface: str, os_user: str | None = None) -> Origin:
    """The origin of every event this process appends outside an `origin(...)` block, in any thread."""
    global _PROCESS_ORIGIN
    _PROCESS_ORIGIN = _origin_of(interface, os_user)
    return _PROCESS_ORIGIN


def current_origin(default_interface: str | None = None) -> Origin:
    """`origin(...)` if inside one; else the database's own interface (the registry's); else `set_origin`'s; else
    interface "unknown" and the process's OS user."""
    inner = _ORIGIN.get()
    if inner is not None:
        return inner
    if default_interface:
        return _origin_of(default_interface, None)
    if _PROCESS_ORIGIN is not None:
        return _PROCESS_ORIGIN
    return _origin_of(UNKNOWN, None)


# -- the key ------------------------------------------------------------------------------------------------------


@dataclass
class Keyring:
    """The key of one database's chain, and where the chain's unkeyed links (from before the key) end."""

    path: Path | None
    key: bytes | None
    since_seq: int = 0
    since_hash: str = GENESIS
    interface: str | None = None  # the interface of events written here when no origin says otherwise
    station_id: str = ""  # for the events this module appends by itself
    problem: str | None = None  # why there is no key
    per_station: bool = False  # a registry: one chain per station (else one chain, "main")


_KEYRINGS: dict[str, Keyring] = {}
_KEYRINGS_LOCK = threading.Lock()


def _url_of(bind: Any) -> str:
    engine = bind if isinstance(bind, Engine) else bind.engine
    return str(engine.url.render_as_string(hide_password=False))


def key_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / KEY_FILE


def attach(
    db: Database,
    data_dir: str | Path,
    *,
    interface: str | None = None,
    station_id: str = "",
    per_station: bool = False,
) -> Keyring:
    """Open (or, on a chain that never had one, create) the key of `db`'s chain in `data_dir`; call once the schema
    is migrated and before anything is appended. `per_station`: a registry's, where each station's events form a
    chain of their own (one key for all). A chain that already has keyed links but no key file is not
    re-keyed: the keyring has no key, `verify` reports it and `append` refuses. A chain whose links are all from
    before keys gets, once keyed, an event vouching for every audited row as it stands."""
    path = key_path(data_dir)
    url = _url_of(db.engine)
    with db.transaction() as session:
        ring = _open_keyring(session, path, interface=interface, station_id=station_id)
        ring.per_station = per_station
        with _KEYRINGS_LOCK:
            known = _KEYRINGS.get(url)
            if ring.key is None and known is not None and known.key is not None and known.path != path:
                # The same database opened again in this process under another directory (a registry command on
                # the desk's own database): its chain keeps the key it was opened with.
                ring = known
            _KEYRINGS[url] = ring
        if ring.key is not None:
            _baseline(session, ring)
    return ring


def keyring_of(session: Session) -> Keyring:
    """The keyring attached for this session's database; a SQLite file's own `keys/` beside it when none was; else
    (a database opened without a data directory) a key that lives as long as this process."""
    url = _url_of(session.get_bind())
    with _KEYRINGS_LOCK:
        ring = _KEYRINGS.get(url)
    if ring is not None:
        return ring
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and database and database != ":memory:":
        ring = _open_keyring(session, Path(database).resolve().parent / KEY_FILE)
    elif (refusal := _why_not_create(session)) is not None:
        ring = Keyring(path=None, key=None, problem=f"key missing: no data directory was attached ({refusal})")
    else:
        shown = make_url(url).render_as_string(hide_password=True)
        log.warning("audit chain of %s: no data directory attached; its key lasts as long as this process", shown)
        ring = Keyring(path=None, key=os.urandom(32))
    with _KEYRINGS_LOCK:
        return _KEYRINGS.setdefault(url, ring)


def _open_keyring(session: Session, path: Path, *, interface: str | None = None, station_id: str = "") -> Keyring:
    ring = Keyring(path=path, key=None, interface=interface, station_id=station_id)
    if not path.exists():
        refusal = _why_not_create(session)
        if refusal is not None:
            ring.problem = f"key missing: {path} ({refusal}); restore it from a backup"
            return ring
        head = session.get(AuditHead, CHAIN)
        since_seq, since_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
        _create_key_file(path, since_seq, since_hash)
    try:
        _tighten(path)
        data = json.loads(path.read_text(encoding="ascii"))
        ring.key = bytes.fromhex(data["key"])
        ring.since_seq, ring.since_hash = int(data["since_seq"]), str(data["since_hash"])
        if len(ring.key) < 16:
            raise ValueError("key too short")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        ring.key = None
        ring.problem = f"key unreadable: {path} ({exc.__class__.__name__}); restore it from a backup"
    return ring


def _why_not_create(session: Session) -> str | None:
    """None when a chain may be given a new key: it has no keyed link. (An empty chain over audited rows is keyed,
    and reported by `verify` all the same.)"""
    keyed = session.execute(select(AuditEvent.seq).where(AuditEvent.alg != ALG_PLAIN).limit(1)).first()
    if keyed is not None:
        return f"the chain has keyed events from event {keyed[0]}"
    return None


def append_here(
    session: Session, *, actor: str, action: str, entity: str, entity_id: str, payload: dict[str, Any]
) -> AuditEvent:
    """`append` under the station this database's chain was attached for (the desk's own)."""
    station = keyring_of(session).station_id
    return append(
        session, station_id=station, actor=actor, action=action, entity=entity, entity_id=entity_id, payload=payload
    )


def _create_key_file(path: Path, since_seq: int, since_hash: str) -> None:
    """Written whole under a temporary name, then linked into place: exclusive (a second process racing finds the
    winner's key and uses it) and never seen half-written."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(folder, 0o700)
    body = canonical(
        {
            "v": 1,
            "alg": ALG_KEYED,
            "key": os.urandom(32).hex(),
            "since_seq": since_seq,
            "since_hash": since_hash,
            "created_at": utcnow().isoformat(timespec="seconds"),
        }
    ).encode("ascii")
    temp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _tighten(path: Path, mode: int = 0o600) -> None:
    """Readable by this OS user only: a looser mode left by a copy or a restore is narrowed."""
    with contextlib.suppress(OSError):
        st = path.stat()
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            os.chmod(path, mode)


# -- hashes -------------------------------------------------------------------------------------------------------


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    station_id: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    payload: str,
) -> str:
    """The unkeyed formula of the links written before the chain had a key."""
    body = canonical(
        {
            "prev": prev_hash,
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "station": station_id,
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "payload": payload,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def keyed_hash(key: bytes, event: AuditEvent) -> str:
    if event.alg == ALG_CHAINED:
        place: dict[str, Any] = {"alg": ALG_CHAINED, "chain": event.chain, "link": event.link}
    else:
        place = {"alg": ALG_KEYED, "seq": event.seq}
    body = canonical(
        {
            **place,
            "prev": event.prev_hash,
            "at": event.at.isoformat(timespec="microseconds"),
            "station": event.station_id,
            "actor": event.actor,
            "os_user": event.os_user,
            "interface": event.interface,
            "action": event.action,
            "entity": event.entity,
            "entity_id": event.entity_id,
            "payload": event.payload,
            "rows": event.rows,
        }
    )
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def _hash_of(event: AuditEvent, key: bytes | None = None) -> str:
    """The event's hash by its `alg`: keyed with `key`, or by the unkeyed formula when it is plain or no key is
    given (what someone without the key can compute)."""
    if event.alg in (ALG_KEYED, ALG_CHAINED) and key is not None:
        return keyed_hash(key, event)
    return event_hash(
        prev_hash=event.prev_hash,
        seq=event.seq,
        at=event.at,
        station_id=event.station_id,
        actor=event.actor,
        action=event.action,
        entity=event.entity,
        entity_id=event.entity_id,
        payload=event.payload,
    )


# -- row digests --------------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, float):
        return "f:" + repr(value)
    if isinstance(value, dict | list):
        return "j:" + canonical(value)
    return value


def row_entry(columns: list[str], values: Mapping[Any, Any]) -> str:
    """A row's digest (SHA-256 over its columns, canonically encoded) and a short tag per column, in `columns`'
    order, that names the column a later difference is in."""
    encoded = [_encode(values.get(name)) for name in columns]
    digest = hashlib.sha256(canonical([columns, encoded]).encode("utf-8")).hexdigest()
    tags = "".join(
        hashlib.sha256(canonical([name, value]).encode("utf-8")).hexdigest()[:4]
        for name, value in zip(columns, encoded, strict=True)
    )
    return f"{digest}:{tags}"


def _columns(table: Table) -> list[str]:
    skip = _NOT_DIGESTED.get(table.name, frozenset())
    return sorted(column.key for column in table.c if column.key not in skip)


def _table(name: str) -> Table:
    table = AUDITED[name].__table__
    assert isinstance(table, Table)
    return table


_ROWS_BY_ID: dict[str, Select[Any]] = {}  # per audited table, built once


def digest_rows(session: Session, touched: Mapping[str, Iterable[str]]) -> dict[str, dict[str, Any]]:
    """{table: {"c": columns, "r": {id: entry or TOMBSTONE}}} for the rows named, as the database holds them now."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(touched):
        ids = sorted(set(touched[name]))
        if not ids:
            continue
        table = _table(name)
        columns = _columns(table)
        found: dict[str, str] = {}
        query = _ROWS_BY_ID.get(name)
        if query is None:
            _ROWS_BY_ID[name] = query = select(table).where(table.c.id.in_(bindparam("ids", expanding=True)))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in session.execute(query, {"ids": chunk}).mappings():
                found[str(row["id"])] = row_entry(columns, row)
        out[name] = {"c": columns, "r": {i: found.get(i, TOMBSTONE) for i in ids}}
    return out


# -- noting what a transaction touched ----------------------------------------------------------------------------

_TOUCHED = "audit.touched"  # session.info: {table: {id, …}} of the current transaction
_PENDING = "audit.pending"  # session.info: the events appended in the current transaction, not yet linked
_FINALIZING = "audit.finalizing"


def _touched(session: Session) -> dict[str, set[str]]:
    value: dict[str, set[str]] = session.info.setdefault(_TOUCHED, {})
    return value


def _note(session: Session, table_name: str, ids: Iterable[Any]) -> None:
    bucket = _touched(session).setdefault(table_name, set())
    bucket.update(str(i) for i in ids if i is not None)


def _dependents(session: Session, table_name: str, ids: list[str]) -> None:
    """Audited rows the database itself changes when rows of `table_name` go (ON DELETE CASCADE or SET NULL)."""
    if not ids:
        return
    for name in AUDITED:
        child = _table(name)
        for fk in child.foreign_keys:
            if fk.column.table.name != table_name or fk.ondelete is None:
                continue
            with session.no_autoflush:
                found = [str(i) for i in session.execute(select(child.c.id).where(fk.parent.in_(ids))).scalars().all()]
            _note(session, name, found)
            if fk.ondelete.upper() == "CASCADE":
                _dependents(session, name, found)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    for obj in list(session.deleted):
        name = sa_inspect(obj).mapper.local_table.name
        if name in AUDITED:
            _dependents(session, name, [str(obj.id)])


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    for dirty, group in ((False, session.new), (True, session.dirty), (False, session.deleted)):
        for obj in group:
            state = sa_inspect(obj)
            name = state.mapper.local_table.name
            if name not in AUDITED:
                continue
            if dirty and name in _NOT_DIGESTED:
                skip = _NOT_DIGESTED[name]
                keys = state.mapper.column_attrs.keys()
                if not any(state.attrs[k].history.has_changes() for k in keys if k not in skip):
                    continue
            identity = state.identity
            _note(session, name, [identity[0] if identity else obj.id])


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    statement: Any = state.statement
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name not in AUDITED:
        return
    if state.is_insert:
        _note(state.session, name, _inserted_ids(statement, state.parameters))
        return
    target = _table(name)
    query = select(target.c.id)
    if statement.whereclause is not None:
        query = query.where(statement.whereclause)
    ids = [str(i) for i in state.session.execute(query).scalars().all()]
    _note(state.session, name, ids)
    if state.is_delete:
        _dependents(state.session, name, ids)


def _inserted_ids(statement: Any, parameters: Any) -> list[Any]:
    """The ids an INSERT statement names (in its parameters or its VALUES); rows it leaves to the column default
    are not known here."""
    rows = parameters if isinstance(parameters, list) else [parameters] if parameters else []
    ids = [row.get("id") for row in rows if isinstance(row, Mapping)]
    for column, value in (getattr(statement, "_values", None) or {}).items():
        if getattr(column, "key", column) == "id":
            ids.append(getattr(value, "value", value))
    for row in getattr(statement, "_multi_values", None) or ():
        for values in row:
            if isinstance(values, Mapping):
                ids.extend(getattr(v, "value", v) for k, v in values.items() if getattr(k, "key", k) == "id")
    return ids


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction() or session.info.get(_FINALIZING):
        return
    session.info[_FINALIZING] = True
    try:
        _finalize(session)
    finally:
        session.info.pop(_FINALIZING, None)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_TOUCHED, None)
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back takes the events appended inside it with it."""
    pending: list[_Pending] | None = session.info.get(_PENDING)
    if pending and previous.nested:
        session.info[_PENDING] = [p for p in pending if not _within(p.savepoint, previous)]


def _within(inner: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while inner is not None:
        if inner is outer:
            return True
        inner = inner.parent
    return False


def _finalize(session: Session) -> None:
    """Give the transaction's last event the digests of the audited rows it touched (or append one for them),
    then link every event the transaction appended into its chain and write them."""
    session.flush()
    touched = session.info.pop(_TOUCHED, {})
    rows = digest_rows(session, touched) if touched else {}
    if rows:
        pending: list[_Pending] = session.info.get(_PENDING) or []
        if pending:
            last = pending[-1].event
            merged = json.loads(last.rows) if last.rows else {}
            for name, spec in rows.items():
                if name in merged and merged[name]["c"] == spec["c"]:
                    merged[name]["r"].update(spec["r"])
                else:
                    merged[name] = spec
            last.rows = canonical(merged)
        else:
            if os.environ.get("WS_AUDIT_STRICT") == "1":
                raise AuditGap(f"audited rows changed without an audit event: {canonical(sorted(rows))}")
            first = sorted(rows)[0]
            append(
                session,
                station_id=keyring_of(session).station_id,
                actor="system",
                action=AUTO_ACTION,
                entity=_SINGULAR.get(first, first),
                entity_id=sorted(rows[first]["r"])[0],
                payload={"rows": {name: len(spec["r"]) for name, spec in rows.items()}},
                rows=rows,
            )
    _link(session)


# -- appending ----------------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    event: AuditEvent  # not yet linked: chain, link, prev_hash, hash (and seq) are given at commit
    savepoint: SessionTransaction | None  # the savepoint it was appended in, if any


def append(
    session: Session,
    *,
    station_id: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    payload: dict[str, Any],
    rows: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one keyed event; it is linked into its chain and written when the caller's transaction commits
    (with the digests of the audited rows the transaction touched, on its last event), or rolled back with it.

    The chain is "main" on a desk; at a registry (`attach(..., per_station=True)`) it is the station the event
    came from, so stations never wait for one another's appends. A chain's head row is locked only while the
    committing transaction links its events."""
    ring = keyring_of(session)
    if ring.key is None:
        raise AuditKeyError(f"cannot write the audit trail: {ring.problem or 'key missing'}")
    who = current_origin(ring.interface)
    chain = (station_id or CHAIN)[:32] if ring.per_station else CHAIN
    event = AuditEvent(
        chain=chain,
        # Microseconds are the finest both SQLite and PostgreSQL keep, so the hash survives a round trip.
        at=utcnow(),
        station_id=station_id,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        payload=canonical(payload),
        alg=ALG_CHAINED if ring.per_station else ALG_KEYED,
        os_user=who.os_user,
        interface=who.interface,
        rows=canonical(rows) if rows else None,
    )
    pending: list[_Pending] = session.info.setdefault(_PENDING, [])
    pending.append(_Pending(event, session.get_nested_transaction()))
    return event


def _link(session: Session) -> None:
    """Lock the head of each chain the transaction appended to (in the chains' order, so two transactions never
    wait on each other crosswise), link the events after it and write them in one statement per kind."""
    pending: list[_Pending] = session.info.pop(_PENDING, None) or []
    if not pending:
        return
    ring = keyring_of(session)
    if ring.key is None:
        raise AuditKeyError(f"cannot write the audit trail: {ring.problem or 'key missing'}")
    events = [p.event for p in pending]
    heads = _lock_heads(session, sorted({e.chain for e in events}))
    numbered: list[dict[str, Any]] = []
    chained: list[dict[str, Any]] = []
    for ev in events:
        link, prev = heads[ev.chain]
        ev.link, ev.prev_hash = link + 1, prev
        if ev.alg == ALG_KEYED:  # a desk's one chain: its links are the events' numbers
            ev.seq = ev.link
        ev.hash = keyed_hash(ring.key, ev)
        heads[ev.chain] = (ev.link, ev.hash)
        (numbered if ev.alg == ALG_KEYED else chained).append(_values(ev))
    if numbered:
        session.execute(_NUMBERED_INSERT, numbered)
    if chained:
        session.execute(_CHAINED_INSERT[session.get_bind().dialect.name == "postgresql"], chained)
    session.execute(_HEAD_UPDATE, [{"c": chain, "s": link, "h": hash_} for chain, (link, hash_) in heads.items()])
    for chain, (link, hash_) in heads.items():  # a head this session holds as an object shows the new values
        if (held := session.identity_map.get(identity_key(AuditHead, chain))) is not None:
            set_committed_value(held, "seq", link)
            set_committed_value(held, "hash", hash_)


def _values(event: AuditEvent) -> dict[str, Any]:
    names = [c.key for c in _table_of(AuditEvent).c if not (c.key == "seq" and event.alg == ALG_CHAINED)]
    return {name: getattr(event, name) for name in names}


def _table_of(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_EVENTS = _table_of(AuditEvent)
# A registry's events take their numbers from the database as they are written: on PostgreSQL from a sequence;
# on SQLite (one writer at a time) the next after the last.
_NUMBERED_INSERT = insert(_EVENTS)
_CHAINED_INSERT = {
    True: insert(_EVENTS).values(seq=func.nextval("audit_events_seq")),
    False: insert(_EVENTS).values(seq=select(func.coalesce(func.max(_EVENTS.c.seq), 0) + 1).scalar_subquery()),
}


_HEADS = _table_of(AuditHead)
_HEAD_LOCKED = (
    select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.chain == bindparam("chain")).with_for_update()
)
_HEADS_LOCKED = (
    select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.chain.in_(bindparam("chains", expanding=True)))
    .order_by(_HEADS.c.chain)
    .with_for_update()
)
_HEAD_UPDATE = update(_HEADS).where(_HEADS.c.chain == bindparam("c")).values(seq=bindparam("s"), hash=bindparam("h"))


def _lock_heads(session: Session, chains: list[str]) -> dict[str, tuple[int, str]]:
    """Each chain's head (its last link and hash), locked until commit; a chain's first append makes its row."""

    def locked() -> dict[str, tuple[int, str]]:
        if len(chains) == 1:
            rows = session.execute(_HEAD_LOCKED, {"chain": chains[0]})
        else:
            rows = session.execute(_HEADS_LOCKED, {"chains": chains})
        return {chain: (seq, hash_) for chain, seq, hash_ in rows}

    heads = locked()
    if len(heads) < len(chains):
        # A chain's first append creates its head row, race-free (two first appends on a fresh PostgreSQL would
        # both insert it).
        for chain in chains:
            if chain not in heads:
                session.execute(_insert_ignore(session, AuditHead, chain=chain, seq=0, hash=GENESIS))
        heads = locked()
    return heads


def _baseline(session: Session, ring: Keyring) -> None:
    """Once a chain from before keys is keyed: events vouching for every audited row as it stands."""
    head = session.execute(select(AuditHead).where(AuditHead.chain == CHAIN).with_for_update()).scalar_one_or_none()
    if head is None or head.seq == 0:
        return
    last = session.get(AuditEvent, head.seq)
    if last is None or last.alg != ALG_PLAIN:
        return
    batch: dict[str, list[str]] = {}
    size = 0
    for name in AUDITED:
        table = _table(name)
        for row_id in session.execute(select(table.c.id).order_by(table.c.id)).scalars():
            batch.setdefault(name, []).append(str(row_id))
            size += 1
            if size >= _BASELINE_BATCH:
                _baseline_event(session, ring, batch)
                batch, size = {}, 0
    if size or not _has_keyed(session):
        _baseline_event(session, ring, batch)


def _has_keyed(session: Session) -> bool:
    return session.execute(select(AuditEvent.seq).where(AuditEvent.alg == ALG_KEYED).limit(1)).first() is not None


def _baseline_event(session: Session, ring: Keyring, batch: Mapping[str, list[str]]) -> None:
    rows = digest_rows(session, batch)
    append(
        session,
        station_id=ring.station_id,
        actor="system",
        action=BASELINE_ACTION,
        entity="chain",
        entity_id=CHAIN,
        payload={"rows": {name: len(ids) for name, ids in batch.items()}},
        rows=rows,
    )


# -- verifying ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    problem: str | None = None
    at_seq: int | None = None
    row: str | None = None  # "table/id" of a row that differs from what the trail says
    problems: tuple[str, ...] = field(default=())  # with deep, every row found (the first is `problem`)
    chains: int = 0  # how many chains were verified (a desk: 1; a registry: one per station that wrote)


def _tables_holding_rows(session: Session) -> list[str]:
    held = []
    for name in AUDITED:
        table = _table(name)
        if session.execute(select(table.c.id).limit(1)).first() is not None:
            held.append(name)
    return held


def _name(ev: AuditEvent) -> str:
    return f"event {ev.link}" if ev.chain == CHAIN else f"event {ev.link} of chain {ev.chain}"


def verify(session: Session, deep: bool = False) -> ChainReport:
    """Recompute every chain: the first edit, deletion, insertion or reordering of an event is reported, as are a
    missing key, an unkeyed link after the key, a head that does not match its chain's last event, and an empty
    trail over audited rows. With `deep`, every audited row is also checked against the digest in the last event
    (in the database's order of events) that covered it."""
    ring = keyring_of(session)
    if ring.key is None:
        return ChainReport(False, 0, f"audit chain {ring.problem or 'key missing'}", None)
    heads = {h.chain: h for h in session.execute(select(AuditHead)).scalars()}
    events: Iterable[AuditEvent] = session.execute(
        select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.link)
    ).scalars()
    count = 0
    chain: str | None = None
    prev, expected, keyed_from = GENESIS, 1, None
    seen: set[str] = set()

    def ends(name: str | None, last: int, last_hash: str) -> ChainReport | None:
        if name is None:
            return None
        seen.add(name)
        if name == CHAIN and last < ring.since_seq:
            problem = f"the chain ends at event {last} but its key was made after event {ring.since_seq}"
            return ChainReport(False, count, problem, last + 1)
        head = heads.get(name)
        label = "the chain" if name == CHAIN else f"chain {name}"
        if head is None:
            return ChainReport(False, count, f"{label} head record is missing", last)
        if head.seq != last or head.hash != last_hash:
            return ChainReport(
                False, count, f"{label} ends at event {last} but its head records event {head.seq}", last
            )
        return None

    for ev in events:
        count += 1
        if ev.chain != chain:
            if (broken := ends(chain, expected - 1, prev)) is not None:
                return broken
            chain, prev, expected, keyed_from = ev.chain, GENESIS, 1, None
        where = "" if ev.chain == CHAIN else f" of chain {ev.chain}"
        if ev.link != expected:
            problem = f"event {expected}{where} is missing (next is {ev.link})"
            return ChainReport(False, count, problem, expected if ev.chain == CHAIN else ev.seq)
        if ev.prev_hash != prev:
            return ChainReport(False, count, f"{_name(ev)} does not follow event {ev.link - 1}{where}", ev.seq)
        if ev.alg in (ALG_KEYED, ALG_CHAINED):
            keyed_from = keyed_from or ev.link
            if ev.alg == ALG_KEYED and ev.seq != ev.link:
                return ChainReport(False, count, f"{_name(ev)} was moved from event {ev.seq}", ev.link)
            if not hmac.compare_digest(keyed_hash(ring.key, ev), ev.hash):
                return ChainReport(False, count, f"{_name(ev)} was altered after it was written", ev.seq)
        elif ev.alg == ALG_PLAIN:
            if ev.chain != CHAIN or ev.seq != ev.link:
                return ChainReport(False, count, f"{_name(ev)} is not keyed", ev.seq)
            if keyed_from is not None:
                problem = f"event {ev.seq} is not keyed but follows keyed event {keyed_from}"
                return ChainReport(False, count, problem, ev.seq)
            if ev.seq > ring.since_seq:
                since = ring.since_seq + 1
                problem = f"event {ev.seq} is not keyed but was written after the chain's key (from event {since})"
                return ChainReport(False, count, problem, ev.seq)
            if event_hash(
                prev_hash=ev.prev_hash,
                seq=ev.seq,
                at=ev.at,
                station_id=ev.station_id,
                actor=ev.actor,
                action=ev.action,
                entity=ev.entity,
                entity_id=ev.entity_id,
                payload=ev.payload,
            ) != ev.hash or (ev.os_user, ev.interface, ev.rows) != (None, None, None):
                return ChainReport(False, count, f"event {ev.seq} was altered after it was written", ev.seq)
        else:
            return ChainReport(False, count, f"{_name(ev)} has an unknown hash algorithm {ev.alg!r}", ev.seq)
        if ev.chain == CHAIN and ev.link == ring.since_seq and ev.hash != ring.since_hash:
            problem = f"event {ev.seq} is not the event the chain's key was made after (rewritten before it)"
            return ChainReport(False, count, problem, ev.seq)
        prev, expected = ev.hash, expected + 1
    if (broken := ends(chain, expected - 1, prev)) is not None:
        return broken
    if CHAIN not in seen and ring.since_seq > 0:
        problem = f"the chain ends at event 0 but its key was made after event {ring.since_seq}"
        return ChainReport(False, count, problem, 1)
    for name, head in sorted(heads.items()):
        if name not in seen and head.seq > 0:
            label = "the chain" if name == CHAIN else f"chain {name}"
            return ChainReport(False, count, f"{label} has no events but its head records event {head.seq}", None)
    if count == 0:
        held = _tables_holding_rows(session)
        if held:
            return ChainReport(False, 0, f"the audit chain is empty but the database holds {', '.join(held)}", None)
    if deep:
        covered, unreadable = _covered(session)
        if unreadable is not None:
            return ChainReport(False, count, f"event {unreadable} has unreadable row digests", unreadable)
        problems = _check_rows(session, covered)
        if problems:
            (row, seq, text) = problems[0]
            return ChainReport(False, count, text, seq, row, tuple(p[2] for p in problems), len(seen))
    return ChainReport(True, count, chains=len(seen))


def _covered(session: Session) -> tuple[dict[tuple[str, str], tuple[str, list[str], int]], int | None]:
    """Each audited row's digest in the last event that covered it, in the database's order of events (a row's
    writers hold its lock to commit, so its events are numbered in the order they committed)."""
    covered: dict[tuple[str, str], tuple[str, list[str], int]] = {}
    found = session.execute(
        select(AuditEvent.seq, AuditEvent.rows).where(AuditEvent.rows.is_not(None)).order_by(AuditEvent.seq)
    )
    for seq, rows in found:
        try:
            for name, spec in json.loads(rows or "{}").items():
                for row_id, entry in spec["r"].items():
                    covered[(name, row_id)] = (entry, spec["c"], seq)
        except (ValueError, KeyError, TypeError, AttributeError):
            return covered, seq
    return covered, None


def _check_rows(
    session: Session, covered: dict[tuple[str, str], tuple[str, list[str], int]]
) -> list[tuple[str, int | None, str]]:
    problems: list[tuple[str, int | None, str]] = []
    for name in AUDITED:
        table = _table(name)
        present = set(_columns(table))
        label = _LABELS.get(name)
        for row in session.execute(select(table).order_by(table.c.id)).mappings():
            row_id = str(row["id"])
            shown = f"{_SINGULAR[name]} {row[label] if label else row_id}"
            if label:
                shown += f" ({row_id})"
            record = covered.pop((name, row_id), None)
            if record is None:
                problems.append(
                    (
                        f"{name}/{row_id}",
                        None,
                        f"{shown}: not covered by any audit event (written outside the audit trail)",
                    )
                )
                continue
            entry, columns, seq = record
            if entry == TOMBSTONE:
                problems.append(
                    (
                        f"{name}/{row_id}",
                        seq,
                        f"{shown}: deleted by event {seq} but present (restored outside the audit trail)",
                    )
                )
                continue
            if not set(columns) <= present:
                gone = ", ".join(sorted(set(columns) - present))
                problems.append((f"{name}/{row_id}", seq, f"{shown}: column {gone} no longer exists (event {seq})"))
                continue
            now = row_entry(columns, row)
            if now != entry:
                changed = _changed_columns(columns, entry, now)
                what = f"{', '.join(changed)} changed" if changed else "changed"
                problems.append(
                    (f"{name}/{row_id}", seq, f"{shown}: {what} outside the audit trail (last recorded by event {seq})")
                )
    for (name, row_id), (entry, _, seq) in sorted(covered.items()):
        if entry != TOMBSTONE:
            shown = f"{_SINGULAR.get(name, name)} {row_id}"
            problems.append(
                (f"{name}/{row_id}", seq, f"{shown}: deleted outside the audit trail (last recorded by event {seq})")
            )
    return problems


def _changed_columns(columns: list[str], recorded: str, now: str) -> list[str]:
    old_tags, new_tags = recorded.partition(":")[2], now.partition(":")[2]
    if len(old_tags) != 4 * len(columns) or len(new_tags) != 4 * len(columns):
        return []
    return [name for i, name in enumerate(columns) if old_tags[4 * i : 4 * i + 4] != new_tags[4 * i : 4 * i + 4]]
