"""`workstation bench sync`: push throughput, backlog drain after a reconnect, and what a cut connection costs.

Everything runs in this process over loopback: the registry is the real app under uvicorn (`BackgroundServer`) on
SQLite (a temp file) or, given a URL (`pg_url` / `--pg`, else WS_BENCH_PG_URL), on PostgreSQL in its own schema
`ws_bench_sync` (dropped and created again for every registry, left dropped at the end). The desk is a real desk
(SQLite, WAL, synchronous=FULL) and the agent is the real `SyncAgent`.

Dossiers are captured through the window flow, as `tests/review_helpers.submitted` does: `dossiers.new` (the
applicant), the other required parties, `attach_page` × `pages` (random, incompressible bytes, distinct per page,
`page_kb` KiB each; the first pages fill the required slots, any required slot left over is waived), `submit`.
That is 1 + parties + pages + 1 ops per dossier; the submission carries the content naming every page blob.
Capture is timed apart (it is not a sync figure) and done once: each measurement works on a copy of the captured
desk (database copied, blob files hard-linked: they are immutable and the agent only reads them) against a fresh,
empty registry.

Per run:
(a) push: `SyncAgent.sync_once()` on `dossiers` captured dossiers straight to the registry; dossiers/second and
    MB/second (page bytes uploaded / wall time of the pass, pull included; 1 MB = 10^6 bytes).
(b) drain: `backlog` dossiers, captured while the registry was unreachable (the agent's background loop was
    running against a closed port all through the capture). Each run starts the agent's background loop on a
    copy, with the product's timing (interval 5 s, backoff 0.5 s doubling to 60 s), against the port the registry
    is not listening on yet; after its second failed pass the registry starts listening there (the heal). Reported:
    heal → outbox empty (the figure), split into the wait for the agent's next try (its backoff) and first
    contact → empty (the drain proper).
(c) resume: the same push through a byte-counting relay (`_CutRelay`), once clean and once cut — the relay cuts
    the connection (the registry gets part of a request, the desk a reset) when half the clean pass's bytes have
    gone upstream — followed at once by a second `sync_once` (the resume). Bytes re-sent = bytes upstream over
    both passes − bytes upstream of the clean pass (request heads and bodies: blobs, op batches, blob checks,
    pulls). Also reported, the other kind of cut: past the same point, the next op batch goes through whole and
    the registry applies it, but its answer is lost (`lost_answer`): the resume sends that batch again.
Figures are the medians over the runs; each run's own figures are listed too.

Default settings (3 runs, 20 × 20 pages × 300 KiB, a backlog of 500 such dossiers = 3.07 GB of pages): about
6 minutes on an idle 2-core machine (the capture of the backlog about 80 s, each drain about 70 s), 18.5 minutes
measured on a shared one (load average 4–5): the bench is one Python process whose uvicorn, agent and relay
share the GIL, so the figures fall with the machine's other load. Disk: about 3 GB in the temp directory for the
captured backlog, plus 3 GB for the registry of the drain in progress (removed after each drain).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, text
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from bench.pg import postgres_problem
from sync.client import Refused, SyncAgent, Transient, sync_status
from sync.server.open import open_registry
from sync.server.registry import Registry
from sync.server.serve import BackgroundServer
from workstation.config import load_settings
from workstation.services.desk import Desk, open_desk
from workstation.store.blobs import BlobStore
from workstation.store.db import Database
from workstation.store.models import Dossier, OutboxOp

BUSINESS = "RESALE_TRANSFER"
STATION = "BENCH-SYNC"
PG_SCHEMA = "ws_bench_sync"
MB = 1_000_000
_ADMIN_PASSWORD = "bench-admin-1"
_CLERK_PASSWORD = "clerk-pass-1"
_IDN = "370102199001011231"
_USCC = "91370100MA3C8Q1X2K"
_DESK_DB = "workstation.db"
_PIECE = 256 * 1024
_DRAIN_TIMEOUT = 3600.0


# -- capture ---------------------------------------------------------------------------------------------------


@dataclass
class Captured:
    """A desk's data directory with its captured dossiers, closed: copy it, never open it again."""

    data_dir: Path
    dossiers: int
    pages: int
    page_bytes: int  # bytes of page images (every page distinct)
    ops: int
    seconds: float
    failed_passes: int = 0  # the agent's failed passes while capturing (backlog only)

    @property
    def seconds_per_dossier(self) -> float:
        return self.seconds / self.dossiers if self.dossiers else 0.0


def _settings_dir(root: Path) -> Path:
    """An empty config file beside the data: shields the bench from WS_CONFIG and a config.toml in a data dir."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.toml"
    config.write_text("", "utf-8")
    return config


def _open_bench_desk(data_dir: Path) -> Desk:
    config = _settings_dir(data_dir.parent)
    desk = open_desk(
        load_settings(
            data_dir=data_dir,
            config_file=config,
            db_url=f"sqlite:///{data_dir / _DESK_DB}",
            station_id=STATION,
            admin_password=_ADMIN_PASSWORD,
        )
    )
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="clerk1", password=_CLERK_PASSWORD, roles=["clerk"])
    return desk


def capture_dossier(desk: Desk, rng: random.Random, *, pages: int, page_bytes: int) -> str:
    """One dossier through the window flow, submitted; returns its number."""
    clerk = desk.users.actor("clerk1")
    d = desk.dossiers.new(
        clerk, business=BUSINESS, applicant_kind="individual", applicant_name="王小明", applicant_id=_IDN
    )
    for role in desk.catalogue.business(BUSINESS).roles:
        if role.min_count and not any(p.role == role.name for p in d.parties):
            kind = "individual" if "individual" in role.kinds else "enterprise"
            d = desk.dossiers.add_party(
                clerk,
                d.number,
                role=role.name,
                kind=kind,
                name="赵建国",
                id_value=_IDN if kind == "individual" else _USCC,
            )
    required = [s for s in d.slots if s.required]
    for i in range(pages):
        slot = required[i] if i < len(required) else None
        desk.dossiers.attach_page(
            clerk,
            d.number,
            data=rng.randbytes(page_bytes),
            source_name=f"page-{i + 1:03d}.png",
            media_type="image/png",
            material=slot.material if slot else None,
            party_key=slot.party_key if slot else None,
        )
    for slot in required[pages:]:
        desk.dossiers.waive(
            clerk, d.number, material=slot.material, party_key=slot.party_key, reason="bench: fewer pages than slots"
        )
    desk.dossiers.submit(clerk, d.number)
    return d.number


def capture(
    data_dir: Path, count: int, *, pages: int, page_bytes: int, seed: int, offline_agent: bool = False
) -> Captured:
    """Capture `count` dossiers on a new desk; with `offline_agent`, the agent's loop runs against a closed port."""
    desk = _open_bench_desk(data_dir)
    agent: SyncAgent | None = None
    if offline_agent:
        agent = SyncAgent(desk.db, desk.blobs, station_id=STATION, url=f"http://127.0.0.1:{_closed_port()}", token="x")
        agent.start()
    rng = random.Random(seed)
    try:
        t0 = time.perf_counter()
        for i in range(count):
            capture_dossier(desk, rng, pages=pages, page_bytes=page_bytes)
            if (i + 1) % 100 == 0 and i + 1 < count:
                _progress(f"captured {i + 1} of {count} ({time.perf_counter() - t0:.0f} s)")
        seconds = time.perf_counter() - t0
    finally:
        failed = 0
        if agent is not None:
            agent.stop()
            failed = agent.failures
        with desk.db.read() as session:
            ops = session.execute(sql_select(func.count()).select_from(OutboxOp)).scalar_one()
            pending = session.execute(sql_select(func.count()).where(OutboxOp.state == "pending")).scalar_one()
        desk.close()
    if pending != ops:
        raise RuntimeError(f"{ops - pending} ops left the outbox while the registry was unreachable")
    return Captured(data_dir, count, count * pages, count * pages * page_bytes, int(ops), seconds, failed)


def _closed_port() -> int:
    """A loopback port nobody listens on (a connect is refused) until a server binds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _DeskCopy:
    db: Database
    blobs: BlobStore

    def close(self) -> None:
        self.db.dispose()


@contextmanager
def desk_copy(captured: Captured, root: Path) -> Iterator[_DeskCopy]:
    """A working copy of a captured desk: the database copied, the (read-only) blob files hard-linked."""
    target = root / "desk"

    blobs = captured.data_dir / "blobs"

    def copy(src: str, dst: str) -> object:
        if Path(src).is_relative_to(blobs):
            try:
                os.link(src, dst)
                return dst
            except OSError:
                pass
        return shutil.copy2(src, dst)

    shutil.copytree(captured.data_dir, target, copy_function=copy)
    desk = _DeskCopy(Database(f"sqlite:///{target / _DESK_DB}"), BlobStore(target / "blobs"))
    try:
        yield desk
    finally:
        desk.close()
        shutil.rmtree(target, ignore_errors=True)


# -- the registry ------------------------------------------------------------------------------------------------


class _Registries:
    """Fresh, empty registries: SQLite in a temp dir, or PostgreSQL in the bench's own schema."""

    def __init__(self, pg_url: str | None):
        self.pg_url = pg_url

    @property
    def backend(self) -> str:
        return "postgresql" if self.pg_url else "sqlite"

    @contextmanager
    def fresh(self, root: Path) -> Iterator[Registry]:
        url = None
        if self.pg_url:
            _reset_schema(self.pg_url, PG_SCHEMA, create=True)
            url = _with_search_path(self.pg_url, PG_SCHEMA)
        config = _settings_dir(root)
        registry = open_registry(
            load_settings(data_dir=root / "data", config_file=config, admin_password=_ADMIN_PASSWORD), url
        )
        try:
            yield registry
        finally:
            registry.db.dispose()
            shutil.rmtree(root, ignore_errors=True)

    def close(self) -> None:
        if self.pg_url:
            _reset_schema(self.pg_url, PG_SCHEMA, create=False)


def _reset_schema(url: str, schema: str, *, create: bool) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            if create:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    given = parsed.query.get("options")
    options = " ".join([*([given] if isinstance(given, str) else list(given or ())), f"-csearch_path={schema}"])
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@contextmanager
def _served(registry: Registry, port: int = 0) -> Iterator[BackgroundServer]:
    server = BackgroundServer(registry, port=port).start()
    try:
        yield server
    finally:
        server.stop()


def _registry_dossiers(registry: Registry) -> int:
    with registry.db.read() as session:
        return int(session.execute(sql_select(func.count()).select_from(Dossier)).scalar_one())


def _agent(desk: _DeskCopy, registry: Registry, url: str, **kwargs: Any) -> SyncAgent:
    token = registry.add_station(STATION, "bench")
    return SyncAgent(desk.db, desk.blobs, station_id=STATION, url=url, token=token, **kwargs)


def _outbox(desk: _DeskCopy) -> tuple[int, int]:
    """Pending ops, parked (quarantined or conflict) ops."""
    status = sync_status(desk.db, None)
    return status.outbox_depth, len(status.quarantined) + len(status.conflicts)


# -- the cut ------------------------------------------------------------------------------------------------------


class _CutRelay:
    """A loopback TCP relay in front of the registry that counts the bytes going upstream and, once armed, cuts
    one connection: either the moment that count reaches the mark (upstream gets the request up to that byte, then
    EOF; the desk gets a reset), or, past the mark, after the next request starting with a given prefix has gone
    through whole (the registry does the work; its answer is lost: the desk gets a reset). One thread per
    connection; bytes pass through unchanged."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.bytes_up = 0
        self.cuts = 0
        self._mark: int | None = None
        self._answer_mark: int | None = None
        self._answer_prefix = b""
        self._lock = threading.Lock()
        self._stopping = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="bench-relay", daemon=True)
        self._accepter.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_at(self, mark: int) -> None:
        with self._lock:
            self._mark = mark

    def lose_answer_after(self, mark: int, request_prefix: bytes) -> None:
        with self._lock:
            self._answer_mark, self._answer_prefix = mark, request_prefix

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in [self._accepter, *self._threads]:
            thread.join(timeout=3)

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:
                _abort(client)
                continue
            thread = threading.Thread(target=self._serve, args=(client, upstream), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        cut = lose_answer = False
        try:
            for sock in (client, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self._stopping and not cut:
                readable, _, _ = select.select([client, upstream], [], [], 0.5)
                for sock in readable:
                    data = sock.recv(_PIECE)
                    if not data:
                        return
                    if sock is upstream:
                        if lose_answer:
                            cut = True
                            break
                        client.sendall(data)
                        continue
                    with self._lock:
                        # httpx sends a request only once the previous answer is in: a request starts a recv.
                        armed = self._answer_mark is not None and self.bytes_up >= self._answer_mark
                        if armed and data.startswith(self._answer_prefix):
                            self._answer_mark, lose_answer = None, True
                            self.cuts += 1
                        if self._mark is not None and self.bytes_up + len(data) >= self._mark:
                            data = data[: max(0, self._mark - self.bytes_up)]
                            self._mark, cut = None, True
                            self.cuts += 1
                        self.bytes_up += len(data)
                    if data:
                        upstream.sendall(data)
                    if cut:
                        break
        except OSError:
            pass
        finally:
            if cut:
                _abort(client)
                with contextlib.suppress(OSError):
                    upstream.shutdown(socket.SHUT_WR)  # EOF mid-request; the registry drops it
                time.sleep(0.05)
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()


def _abort(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as a dropped link looks to the other end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


# -- the measurements ---------------------------------------------------------------------------------------------


@dataclass
class PushRun:
    seconds: float
    applied: int
    blobs: int
    blob_bytes: int
    registry_dossiers: int
    pending_after: int
    parked: int


def measure_push(captured: Captured, registries: _Registries, root: Path) -> PushRun:
    with (
        desk_copy(captured, root / "push") as desk,
        registries.fresh(root / "push-registry") as registry,
        _served(registry) as server,
    ):
        agent = _agent(desk, registry, server.url)
        try:
            t0 = time.perf_counter()
            report = agent.sync_once()
            seconds = time.perf_counter() - t0
        finally:
            agent.stop()
        pending, parked = _outbox(desk)
        dossiers = _registry_dossiers(registry)
    return PushRun(seconds, report.applied, report.blobs_sent, report.bytes_sent, dossiers, pending, parked)


class _FirstAnswer(httpx.BaseTransport):
    """The agent's transport, noting when the first answer from the registry came back."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.first: float | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if self.first is None:
            self.first = time.perf_counter()
        return response

    def close(self) -> None:
        self._inner.close()


@dataclass
class DrainRun:
    heal_to_empty: float | None  # None: timed out
    reconnect_wait: float | None  # heal → the first answer the agent got
    failed_passes: int  # before the heal
    registry_dossiers: int
    pending_after: int
    parked: int


def measure_drain(captured: Captured, registries: _Registries, root: Path) -> DrainRun:
    with desk_copy(captured, root / "drain") as desk, registries.fresh(root / "drain-registry") as registry:
        port = _closed_port()
        transport = _FirstAnswer()
        # The product's timing: SyncAgent's defaults, as `make_agent` builds it (interval: the setting's 5 s).
        agent = _agent(desk, registry, f"http://127.0.0.1:{port}", seed=7, transport=transport)
        agent.start()
        healed, empty_at, failed = time.perf_counter(), None, 0
        try:
            deadline = time.monotonic() + 120
            while agent.failures < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            with _served(registry, port=port):
                healed = time.perf_counter()
                failed = agent.failures
                stop_at = time.monotonic() + _DRAIN_TIMEOUT
                while time.monotonic() < stop_at:
                    if _outbox(desk)[0] == 0:
                        empty_at = time.perf_counter()
                        break
                    time.sleep(0.05)
                agent.stop()
        finally:
            agent.stop()
        pending, parked = _outbox(desk)
        dossiers = _registry_dossiers(registry)
    return DrainRun(
        heal_to_empty=empty_at - healed if empty_at is not None else None,
        reconnect_wait=transport.first - healed if transport.first is not None else None,
        failed_passes=failed,
        registry_dossiers=dossiers,
        pending_after=pending,
        parked=parked,
    )


@dataclass
class _RelayedPass:
    bytes_up: int
    seconds: float  # the first pass
    error: str  # why the first pass failed ("" if it did not)
    cut: bool
    resume_seconds: float
    resume_blobs: int
    registry_dossiers: int
    pending_after: int
    parked: int


def _relayed_pass(
    captured: Captured,
    registries: _Registries,
    root: Path,
    *,
    cut_at: int | None = None,
    lose_answer_after: int | None = None,
) -> _RelayedPass:
    """One push through the relay; with a fault armed, a second pass at once: the resume."""
    with (
        desk_copy(captured, root / "resume") as desk,
        registries.fresh(root / "resume-registry") as registry,
        _served(registry) as server,
    ):
        relay = _CutRelay(server.port)
        agent = _agent(desk, registry, relay.url)
        error, resume_seconds, resume_blobs = "", 0.0, 0
        try:
            if cut_at is not None:
                relay.cut_at(cut_at)
            if lose_answer_after is not None:
                relay.lose_answer_after(lose_answer_after, b"POST /v1/ops ")
            t0 = time.perf_counter()
            try:
                agent.sync_once()
            except (Transient, Refused) as exc:
                error = str(exc)
            seconds = time.perf_counter() - t0
            if cut_at is not None or lose_answer_after is not None:
                t1 = time.perf_counter()
                resume_blobs = agent.sync_once().blobs_sent
                resume_seconds = time.perf_counter() - t1
        finally:
            agent.stop()
            relay.stop()
        pending, parked = _outbox(desk)
        return _RelayedPass(
            bytes_up=relay.bytes_up,
            seconds=seconds,
            error=error,
            cut=relay.cuts > 0,
            resume_seconds=resume_seconds,
            resume_blobs=resume_blobs,
            registry_dossiers=_registry_dossiers(registry),
            pending_after=pending,
            parked=parked,
        )


@dataclass
class ResumeRun:
    clean: _RelayedPass
    cut: _RelayedPass  # cut mid-push at half the clean pass's bytes, then resumed
    lost: _RelayedPass  # past that point, one op batch applied whose answer was lost, then resumed

    @property
    def cut_at(self) -> int:
        return self.clean.bytes_up // 2

    @property
    def cut_struck(self) -> bool:
        return self.cut.cut and bool(self.cut.error)

    @property
    def lost_struck(self) -> bool:
        return self.lost.cut and bool(self.lost.error)

    @property
    def resent_bytes(self) -> int:
        return self.cut.bytes_up - self.clean.bytes_up

    @property
    def lost_resent_bytes(self) -> int:
        return self.lost.bytes_up - self.clean.bytes_up


def measure_resume(captured: Captured, registries: _Registries, root: Path) -> ResumeRun:
    clean = _relayed_pass(captured, registries, root)
    mark = clean.bytes_up // 2
    cut = _relayed_pass(captured, registries, root, cut_at=mark)
    lost = _relayed_pass(captured, registries, root, lose_answer_after=mark)
    return ResumeRun(clean, cut, lost)


# -- the report ----------------------------------------------------------------------------------------------------


def _med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _r(value: float, digits: int = 2) -> float:
    return round(value, digits)


@dataclass
class _Problems:
    lines: list[str] = field(default_factory=list)

    def check(self, ok: bool, line: str) -> None:
        if not ok and line not in self.lines:
            self.lines.append(line)


def report(
    *,
    runs: int,
    backend: str,
    database: str,
    pages: int,
    page_kb: int,
    push_desk: Captured,
    backlog_desk: Captured,
    pushes: list[PushRun],
    drains: list[DrainRun],
    resumes: list[ResumeRun],
    wall_seconds: float,
) -> dict[str, Any]:
    problems = _Problems()
    for p in pushes:
        problems.check(
            p.registry_dossiers == push_desk.dossiers, f"push: {p.registry_dossiers} dossiers at the registry"
        )
        problems.check(p.pending_after == 0 and p.parked == 0, f"push: {p.pending_after} pending, {p.parked} parked")
    for d in drains:
        problems.check(d.heal_to_empty is not None, "drain: the outbox did not empty in time")
        problems.check(
            d.registry_dossiers == backlog_desk.dossiers, f"drain: {d.registry_dossiers} dossiers at the registry"
        )
        problems.check(d.pending_after == 0 and d.parked == 0, f"drain: {d.pending_after} pending, {d.parked} parked")
    for c in resumes:
        problems.check(c.cut_struck, "resume: the cut did not strike (the first pass went through)")
        problems.check(c.lost_struck, "resume: no op batch lost its answer (the first pass went through)")
        for name, one in (("clean", c.clean), ("cut", c.cut), ("lost answer", c.lost)):
            problems.check(
                one.registry_dossiers == push_desk.dossiers,
                f"resume ({name}): {one.registry_dossiers} dossiers at the registry",
            )
            problems.check(
                one.pending_after == 0 and one.parked == 0,
                f"resume ({name}): {one.pending_after} pending, {one.parked} parked",
            )

    push_dps = [push_desk.dossiers / p.seconds for p in pushes]
    push_mbps = [p.blob_bytes / MB / p.seconds for p in pushes]
    drained = [d for d in drains if d.heal_to_empty is not None]
    heal = [d.heal_to_empty for d in drained if d.heal_to_empty is not None]
    wait = [d.reconnect_wait for d in drained if d.reconnect_wait is not None]
    proper = [
        d.heal_to_empty - d.reconnect_wait
        for d in drained
        if d.heal_to_empty is not None and d.reconnect_wait is not None
    ]
    resent = [c.resent_bytes for c in resumes]
    return {
        "bench": "sync",
        "runs": runs,
        "registry_db": backend,
        "registry_database": database,
        "cpus": os.cpu_count() or 1,
        "pages_per_dossier": pages,
        "page_kb": page_kb,
        "capture": {
            "dossiers": push_desk.dossiers + backlog_desk.dossiers,
            "seconds": _r(push_desk.seconds + backlog_desk.seconds),
            "seconds_per_dossier": _r(
                (push_desk.seconds + backlog_desk.seconds) / max(1, push_desk.dossiers + backlog_desk.dossiers), 3
            ),
            "backlog_agent_failed_passes": backlog_desk.failed_passes,
        },
        "push": {
            "dossiers": push_desk.dossiers,
            "ops": push_desk.ops,
            "pages": push_desk.pages,
            "mb": _r(push_desk.page_bytes / MB),
            "seconds": _r(_med([p.seconds for p in pushes]), 3),
            "seconds_runs": [_r(p.seconds, 3) for p in pushes],
            "dossiers_per_second": _r(_med(push_dps)),
            "dossiers_per_second_runs": [_r(v) for v in push_dps],
            # Two decimals: a small push (or a slow machine) is still a rate, not 0.0.
            "mb_per_second": _r(_med(push_mbps)),
            "mb_per_second_runs": [_r(v) for v in push_mbps],
            "ops_per_second": _r(_med([push_desk.ops / p.seconds for p in pushes]), 1),
        },
        "drain": {
            "dossiers": backlog_desk.dossiers,
            "ops": backlog_desk.ops,
            "pages": backlog_desk.pages,
            "mb": _r(backlog_desk.page_bytes / MB),
            "heal_to_empty_seconds": _r(_med(heal)) if heal else None,
            "heal_to_empty_seconds_runs": [_r(v) if v is not None else None for v in (d.heal_to_empty for d in drains)],
            "reconnect_wait_seconds": _r(_med(wait)) if wait else None,
            "reconnect_wait_seconds_runs": [_r(v) for v in wait],
            "drain_seconds": _r(_med(proper)) if proper else None,
            "drain_seconds_runs": [_r(v) for v in proper],
            "dossiers_per_second": _r(_med([backlog_desk.dossiers / v for v in proper if v > 0])) if proper else None,
            "mb_per_second": _r(_med([backlog_desk.page_bytes / MB / v for v in proper if v > 0])) if proper else None,
            "failed_passes_before_heal": [d.failed_passes for d in drains],
            "timed_out_runs": len(drains) - len(drained),
        },
        "resume": {
            "clean_bytes": int(_med([c.clean.bytes_up for c in resumes])),
            "cut_at_bytes": int(_med([c.cut_at for c in resumes])),
            "sent_bytes": int(_med([c.cut.bytes_up for c in resumes])),
            "resent_bytes": int(_med(resent)),
            "resent_bytes_runs": resent,
            "resent_percent_of_clean": _r(
                _med([100 * c.resent_bytes / c.clean.bytes_up for c in resumes if c.clean.bytes_up]), 3
            ),
            "page_bytes": push_desk.page_bytes // max(1, push_desk.pages),
            "cut_struck_runs": sum(1 for c in resumes if c.cut_struck),
            "clean_seconds": _r(_med([c.clean.seconds for c in resumes]), 3),
            "resume_seconds": _r(_med([c.cut.resume_seconds for c in resumes]), 3),
            "resume_blobs_sent": [c.cut.resume_blobs for c in resumes],
            "first_pass_errors": sorted({c.cut.error[:200] for c in resumes if c.cut.error}),
            "lost_answer": {
                "resent_bytes": int(_med([c.lost_resent_bytes for c in resumes])),
                "resent_bytes_runs": [c.lost_resent_bytes for c in resumes],
                "struck_runs": sum(1 for c in resumes if c.lost_struck),
                "resume_seconds": _r(_med([c.lost.resume_seconds for c in resumes]), 3),
                "first_pass_errors": sorted({c.lost.error[:200] for c in resumes if c.lost.error}),
            },
        },
        "problems": problems.lines,
        "wall_seconds": _r(wall_seconds, 1),
    }


def _print(r: dict[str, Any]) -> None:
    cap, push, drain, res = r["capture"], r["push"], r["drain"], r["resume"]
    print(
        f"sync bench: registry on {r['registry_database']}, loopback, medians of {r['runs']} runs; "
        f"{r['pages_per_dossier']} pages × {r['page_kb']} KiB per dossier (1 MB = 10^6 bytes)"
    )
    print(
        f"  capture (not a sync figure): {cap['dossiers']} dossiers in {cap['seconds']} s "
        f"({cap['seconds_per_dossier']} s/dossier)"
    )
    print(
        f"  (a) push: {push['dossiers']} dossiers ({push['ops']} ops, {push['pages']} pages, {push['mb']} MB) in "
        f"{push['seconds']} s: {push['dossiers_per_second']} dossiers/s {push['dossiers_per_second_runs']}, "
        f"{push['mb_per_second']} MB/s {push['mb_per_second_runs']}, {push['ops_per_second']} ops/s"
    )
    if drain["heal_to_empty_seconds"] is None:
        print(f"  (b) drain: {drain['dossiers']} dossiers: the outbox never emptied")
    else:
        print(
            f"  (b) drain after reconnect: {drain['dossiers']} dossiers ({drain['ops']} ops, {drain['mb']} MB) "
            f"captured offline; heal → outbox empty {drain['heal_to_empty_seconds']} s "
            f"{drain['heal_to_empty_seconds_runs']} = wait for the agent's next try "
            f"{drain['reconnect_wait_seconds']} s "
            f"(backoff after {drain['failed_passes_before_heal']} failed passes) + drain "
            f"{drain['drain_seconds']} s ({drain['dossiers_per_second']} dossiers/s, {drain['mb_per_second']} MB/s)"
        )
    print(
        f"  (c) resume after a cut at {res['cut_at_bytes']} of {res['clean_bytes']} bytes: "
        f"{res['resent_bytes']} bytes re-sent {res['resent_bytes_runs']} "
        f"({res['resent_percent_of_clean']} % of a clean push; one page is {res['page_bytes']} bytes); "
        f"resume pass {res['resume_seconds']} s, clean pass {res['clean_seconds']} s"
    )
    lost = res["lost_answer"]
    print(
        f"      an op batch applied past that point but its answer lost: {lost['resent_bytes']} bytes re-sent "
        f"{lost['resent_bytes_runs']} (the batch again, replayed by the registry); resume pass "
        f"{lost['resume_seconds']} s"
    )
    for line in r["problems"]:
        print(f"    problem: {line}")
    print(f"  wall time {r['wall_seconds']} s")


def _progress(message: str) -> None:
    print(f"bench sync: {message}", file=sys.stderr, flush=True)


def main(
    *,
    runs: int = 3,
    dossiers: int = 20,
    pages: int = 20,
    page_kb: int = 300,
    backlog: int = 500,
    pg_url: str | None = None,
    as_json: bool = False,
) -> int:
    if min(runs, dossiers, pages, page_kb, backlog) < 1:
        print("workstation: error: runs, dossiers, pages, page_kb and backlog must be at least 1", file=sys.stderr)
        return 2
    started = time.perf_counter()
    url = pg_url or os.environ.get("WS_BENCH_PG_URL") or None
    if url:
        problem = postgres_problem(url)
        if problem:
            print(f"workstation: error: {problem}", file=sys.stderr)
            return 2
        database = f"PostgreSQL {make_url(url).render_as_string(hide_password=True)} (schema {PG_SCHEMA})"
    else:
        database = "SQLite (temp file)"
    registries = _Registries(url)
    page_bytes = page_kb * 1024
    try:
        with tempfile.TemporaryDirectory(prefix="ws-bench-sync-") as tmp:
            root = Path(tmp)
            _progress(f"capturing {dossiers} + {backlog} dossiers of {pages} pages × {page_kb} KiB")
            push_desk = capture(root / "push-desk" / "data", dossiers, pages=pages, page_bytes=page_bytes, seed=1)
            backlog_desk = capture(
                root / "backlog-desk" / "data",
                backlog,
                pages=pages,
                page_bytes=page_bytes,
                seed=2,
                offline_agent=True,
            )
            pushes, drains, resumes = [], [], []
            for i in range(runs):
                _progress(f"run {i + 1} of {runs}: push")
                pushes.append(measure_push(push_desk, registries, root / "work"))
                _progress(f"run {i + 1} of {runs}: drain")
                drains.append(measure_drain(backlog_desk, registries, root / "work"))
                _progress(f"run {i + 1} of {runs}: cut and resume")
                resumes.append(measure_resume(push_desk, registries, root / "work"))
    finally:
        registries.close()
    result = report(
        runs=runs,
        backend=registries.backend,
        database=database,
        pages=pages,
        page_kb=page_kb,
        push_desk=push_desk,
        backlog_desk=backlog_desk,
        pushes=pushes,
        drains=drains,
        resumes=resumes,
        wall_seconds=time.perf_counter() - started,
    )
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print(result)
    return 1 if result["problems"] else 0


__all__ = ["main"]
