"""Offline sync under faults: nothing lost, nothing twice (issue "offline sync: nothing lost, nothing twice").

Every test is a seeded loop against a real registry (uvicorn on loopback, SQLite) with `tests.faultproxy.FaultProxy`
between the desk's SyncAgent and the registry. A desk that must die hard runs its agent in a child process (`_CHILD`,
started with `subprocess`) that is SIGKILLed; "restarting" it opens the same data directory again. Desks are made
from a copy of one blank desk (migrated, with clerk1) so the seeds spend their time on syncing, not on password hashes,
and live on a RAM disk when there is one (see `ram_dir`).
"""

from __future__ import annotations

import faulthandler
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sync.client import SyncAgent, Transient, read_cursor
from sync.protocol import SCHEMA_VERSION, OpHead, OpsBatch
from sync.server.registry import Registry
from tests.faultproxy import FaultProxy
from tests.review_helpers import IDN, USCC
from tests.sync_helpers import make_desk, provision, running_registry
from workstation.config import load_settings
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk, open_desk
from workstation.services.views import DossierDetail
from workstation.store.blobs import BlobStore
from workstation.store.db import Database
from workstation.store.models import (
    AppliedOp,
    AuditEvent,
    ChangeRecord,
    Dossier,
    OutboxOp,
    Page,
    Party,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STATION = "JN-01"
# Fixed application times: dossier numbers carry the year, and the review pool is ordered by them.
APPLIED_AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
SYNC_ACTIONS = ("sync.applied", "sync.conflict", "sync.skipped")

# The desk's agent in a child process, so the test can SIGKILL it anywhere. Prints "ready" once its agent is built and
# "done" when its work is finished. `shift_days` moves the desk's clock (workstation.store.types.utcnow, patched before
# anything imports it); `page_limit` asks the change feed for small pages, so one pull is many transactions.
_CHILD = r"""
import json, sys, time
cfg = json.loads(sys.argv[1])
if cfg["shift_days"]:
    from datetime import timedelta
    import workstation.store.types as types
    _real_utcnow = types.utcnow
    types.utcnow = lambda: _real_utcnow() + timedelta(days=cfg["shift_days"])
import httpx
from sync.client import SyncAgent, Transient
from workstation.store.blobs import BlobStore
from workstation.store.db import Database

class PagedTransport(httpx.HTTPTransport):
    def handle_request(self, request):
        if cfg["page_limit"] and request.url.path == "/v1/changes":
            request.url = request.url.copy_set_param("limit", str(cfg["page_limit"]))
        return super().handle_request(request)

agent = SyncAgent(
    Database(cfg["db"]), BlobStore(cfg["blobs"]), station_id=cfg["station"], url=cfg["url"], token=cfg["token"],
    batch_size=cfg["batch_size"], timeout=15.0, transport=PagedTransport(),
)
step = {"sync": agent.sync_once, "push": agent.push, "pull": agent.pull}[cfg["mode"]]
print("ready", flush=True)
while True:
    try:
        step()
        break
    except Transient:
        time.sleep(0.02)
print("done", flush=True)
"""


# -- desks -------------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """A sync bug can make an agent loop for ever: dump every thread's stack and end the run instead of hanging CI."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module", autouse=True)
def _no_ws_environment() -> Iterator[None]:
    """Desks and registries here are configured by the tests alone (SQLite in tmp dirs), not by WS_* variables."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("WS_") and not key.startswith("WS_TEST_") and key != "WS_PASSWORD_COST":
                mp.delenv(key)
        yield


@pytest.fixture(scope="module")
def ram_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the desks and registries of this module live: a RAM disk when there is one.

    These tests kill processes, they do not cut the power: what a killed process wrote is in the page cache either
    way, so fsync's durability is not under test here, and on a RAM disk its latency (milliseconds a call on a
    virtual disk, and very uneven) no longer decides the wall time.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix="ws-sync-faults-", dir=shm))
        yield root
        shutil.rmtree(root, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("sync-faults")


@pytest.fixture
def workdir(ram_dir: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A test's own directory on `ram_dir`, removed after it."""
    path = ram_dir / request.node.name[:60]
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def blank_desk(ram_dir: Path) -> Path:
    """A migrated desk with admin and clerk1, closed: copy it to get a fresh desk in milliseconds."""
    root = ram_dir / "blank-desk"
    make_desk(root, STATION).close()
    return root


def fresh_desk(blank: Path, root: Path) -> Desk:
    shutil.copytree(blank, root)
    return open_desk(load_settings(data_dir=root, admin_password="admin-pass-1", station_id=STATION))


def desk_url(root: Path) -> str:
    return f"sqlite:///{root / 'workstation.db'}"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def with_required_parties(desk: Desk, clerk: Actor, d: DossierDetail) -> DossierDetail:
    """Every role the business requires, as `submitted()` fills them."""
    for role in desk.catalogue.business(d.business).roles:
        if role.min_count and not any(p.role == role.name for p in d.parties):
            kind = "individual" if "individual" in role.kinds else "enterprise"
            id_value = IDN if kind == "individual" else USCC
            d = desk.dossiers.add_party(clerk, d.number, role=role.name, kind=kind, name="赵建国", id_value=id_value)
    return d


def capture(
    desk: Desk,
    rng: random.Random,
    *,
    pages: int,
    page_bytes: int,
    at: datetime = APPLIED_AT,
    channel: str = "window",
    submit: bool = True,
    delete_one: bool = False,
) -> DossierDetail:
    """A dossier with `pages` pages of distinct random bytes spread over the required slots, submitted if asked."""
    clerk = desk.users.actor("clerk1")
    d = desk.dossiers.new(
        clerk,
        business="RESALE_TRANSFER",
        applicant_kind="individual",
        applicant_name="王小明",
        applicant_id=IDN,
        applied_at=at,
        channel=channel,
    )
    d = with_required_parties(desk, clerk, d)
    slots = [s for s in d.slots if s.required]
    for i in range(pages):
        slot = slots[i % len(slots)]
        desk.dossiers.attach_page(
            clerk,
            d.number,
            data=rng.randbytes(page_bytes),
            source_name=f"page-{i + 1:02d}.png",
            media_type="image/png",
            material=slot.material,
            party_key=slot.party_key,
        )
    if delete_one:
        extra = desk.dossiers.attach_page(
            clerk, d.number, data=rng.randbytes(page_bytes), source_name="wrong.png", media_type="image/png"
        )
        desk.dossiers.delete_page(clerk, d.number, extra.id, reason="scanned the wrong sheet")
    return desk.dossiers.submit(clerk, d.number) if submit else desk.dossiers.show(d.number)


# -- driving agents ----------------------------------------------------------------------------------------------------


def drain(agent: SyncAgent, *, timeout: float = 90.0) -> int:
    """sync_once until a pass succeeds (push everything, pull everything); returns the failed passes."""
    deadline = time.monotonic() + timeout
    failures = 0
    while True:
        try:
            agent.sync_once()
            return failures
        except Transient:
            failures += 1
            assert time.monotonic() < deadline, "the agent never got a pass through"
            time.sleep(0.01)


def desk_agent(root: Path, url: str, token: str, **kwargs: Any) -> SyncAgent:
    """The agent of a restarted desk: a new engine on the desk's files."""
    return SyncAgent(
        Database(desk_url(root)), BlobStore(root / "blobs"), station_id=STATION, url=url, token=token, **kwargs
    )


@dataclass
class Kill:
    requests: int  # requests of the child the proxy had read when it died
    label: str  # what the last of them was: before | ops | missing | blob | changes
    finished: bool  # the child finished its work before the kill came


def request_label(method: str, target: str) -> str:
    if target.startswith("/v1/ops"):
        return "ops"
    if target.startswith("/v1/blobs/missing"):
        return "missing"
    if method == "PUT" and target.startswith("/v1/blobs/"):
        return "blob"
    if target.startswith("/v1/changes"):
        return "changes"
    return f"{method} {target}"


def run_and_kill(
    cfg: dict[str, Any],
    proxy: FaultProxy,
    log: Path,
    *,
    after_requests: int = 0,
    after_responses: int = 0,
    extra: float = 0.0,
) -> Kill:
    """Start the child agent; SIGKILL it `extra` s after the proxy has read `after_requests` of its requests and
    answered `after_responses` of them (or when it is done, if that comes first)."""
    base = proxy.stats["requests"]
    answered = len(proxy.records)
    with log.open("a") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(cfg)], cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True
        )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline().strip()
        assert first == "ready", f"the child agent did not start: {log.read_text()[-2000:]}"
        deadline = time.monotonic() + 30
        while (
            proxy.stats["requests"] < base + after_requests or len(proxy.records) < answered + after_responses
        ) and proc.poll() is None:
            assert time.monotonic() < deadline, "the child agent stalled"
            time.sleep(0.0005)
        if extra > 0:
            time.sleep(extra)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert code in (0, -signal.SIGKILL), f"the child agent failed ({code}): {log.read_text()[-2000:]}"
    finished = code == 0  # it had done its work (and exited) before the kill came
    # The proxy finishes what the child had sent: wait until every request it read has its record.
    deadline = time.monotonic() + 15
    while len(proxy.records) < proxy.stats["requests"] and time.monotonic() < deadline:
        time.sleep(0.005)
    mine = [r for r in proxy.records if r.seq > base]
    label = request_label(mine[-1].method, mine[-1].target) if mine else "before"
    return Kill(requests=len(mine), label=label, finished=finished)


def child_cfg(root: Path, url: str, token: str, *, mode: str, **overrides: Any) -> dict[str, Any]:
    return {
        "db": desk_url(root),
        "blobs": str(root / "blobs"),
        "station": STATION,
        "url": url,
        "token": token,
        "mode": mode,
        "batch_size": 100,
        "shift_days": 0,
        "page_limit": None,
        **overrides,
    }


# -- looking at the registry -------------------------------------------------------------------------------------------


def registry_outcome(registry: Registry) -> dict[str, tuple[Any, ...]]:
    """Per dossier number: (stage, status, version, parties, pages as (sha256, deleted) in position order)."""
    out: dict[str, tuple[Any, ...]] = {}
    with registry.db.read() as s:
        for d in s.execute(select(Dossier)).scalars():
            pages = s.execute(
                select(Page.sha256, Page.deleted).where(Page.dossier_id == d.id).order_by(Page.position)
            ).all()
            parties = s.execute(select(func.count(Party.id)).where(Party.dossier_id == d.id)).scalar_one()
            out[d.number] = (d.stage, d.status, d.version, parties, tuple((p.sha256, p.deleted) for p in pages))
    return out


def applied_ops(registry: Registry, station: str = STATION) -> dict[str, tuple[int, str, str, int | None]]:
    """op_id → (seq, kind, status, version) of what the registry holds from `station`."""
    with registry.db.read() as s:
        rows = s.execute(select(AppliedOp).where(AppliedOp.station_id == station)).scalars()
        return {a.op_id: (a.seq, a.kind, a.status, a.version) for a in rows}


def sync_audit(registry: Registry) -> Counter[str]:
    """How many sync.* audit events the registry wrote per op id."""
    with registry.db.read() as s:
        return Counter(
            s.execute(select(AuditEvent.entity_id).where(AuditEvent.action.in_(SYNC_ACTIONS))).scalars().all()
        )


def desk_ops(db: Database) -> dict[str, tuple[int, str]]:
    """op_id → (seq, state) of the desk's outbox."""
    with db.read() as s:
        return {o.op_id: (o.seq, o.state) for o in s.execute(select(OutboxOp)).scalars()}


def assert_nothing_lost_nothing_twice(registry: Registry, desk_db: Database) -> None:
    ops = desk_ops(desk_db)
    held = applied_ops(registry)
    assert {op_id: seq for op_id, (seq, _) in ops.items()} == {op_id: v[0] for op_id, v in held.items()}
    assert sorted(v[0] for v in held.values()) == list(range(1, len(ops) + 1))
    assert {state for _, state in ops.values()} == {"sent"}, "an op is still pending, parked or in conflict"
    assert {v[2] for v in held.values()} == {"applied"}
    assert sync_audit(registry) == Counter(dict.fromkeys(ops, 1)), "not exactly one registry audit event per op"


# -- 1. a desk killed anywhere in a 50-page push -----------------------------------------------------------------------


def push_order(n_ops: int, batch: int, n_blobs: int) -> list[str]:
    """The requests of one clean `sync_once` from a fresh outbox whose last op (the submission) carries the pages."""
    batches = -(-n_ops // batch)
    return ["ops"] * (batches - 1) + ["missing"] + ["blob"] * n_blobs + ["ops", "changes"]


def test_a_desk_killed_anywhere_in_a_50_page_push_delivers_the_dossier_exactly_once(
    workdir: Path, blank_desk: Path
) -> None:
    """20 seeds: the desk's agent (a child process) is SIGKILLed once or twice at a seeded point of the push of one
    50-page dossier (~50 KB of distinct random bytes a page): before any request, during the blob uploads, while the
    registry applies a batch of ops, or anywhere. The proxy delays every request a little so the kills land mid-push.
    After each kill the registry and the desk must agree on what was delivered; after a restart the push finishes and
    the registry holds the dossier once, every page once with its blob verified, and every op once."""
    landed: Counter[str] = Counter()
    phases = ("before", "blob", "ops", "any")
    for seed in range(20):
        rng = random.Random(seed)
        root = workdir / f"seed{seed}"
        desk = fresh_desk(blank_desk, root / "desk")
        d = capture(desk, rng, pages=50, page_bytes=50_000)
        desk.close()
        shas = [p.sha256 for p in d.pages]
        assert len(set(shas)) == 50
        with (
            running_registry(root / "registry") as (registry, url),
            FaultProxy("127.0.0.1", port_of(url), seed=seed) as proxy,
        ):
            token = registry.add_station(STATION, STATION)
            desk_db = Database(desk_url(root / "desk"))
            n_ops = len(desk_ops(desk_db))
            for round_ in range(2 if rng.random() < 0.4 else 1):
                batch = rng.choice((7, 20, 100))
                slow = rng.choice((0.005, 0.01, 0.025))
                proxy.delay = (0.002, slow)
                phase = phases[seed % len(phases)] if round_ == 0 else "any"
                order = push_order(n_ops, batch, len(shas))
                if phase == "before":
                    after, extra = 0, rng.uniform(0, 0.003)
                elif phase in ("blob", "ops"):
                    after = rng.choice([i + 1 for i, kind in enumerate(order) if kind == phase])
                    extra = rng.uniform(0, slow if phase == "blob" else slow + 0.001 * min(batch, n_ops))
                else:
                    after, extra = rng.randint(0, len(order) if round_ == 0 else 15), rng.uniform(0, slow)
                kill = run_and_kill(
                    child_cfg(root / "desk", proxy.url, token, mode="sync", batch_size=batch),
                    proxy,
                    root / "child.log",
                    after_requests=after,
                    extra=extra,
                )
                landed["finished" if kill.finished else kill.label] += 1
                assert_consistent_after_a_crash(registry, desk_db, shas)
            proxy.reset_faults()
            agent = desk_agent(root / "desk", proxy.url, token)
            drain(agent)
            agent.stop()
            with registry.db.read() as s:
                rows = s.execute(select(Dossier).where(Dossier.number == d.number)).scalars().all()
                assert len(rows) == 1, f"seed {seed}: the dossier is at the registry {len(rows)} times"
                stored = s.execute(select(Page.sha256).where(Page.dossier_id == rows[0].id)).scalars().all()
                assert (rows[0].stage, rows[0].status, rows[0].version) == (d.stage, d.status, d.version)
            assert sorted(stored) == sorted(shas), f"seed {seed}: pages at the registry differ from the desk's"
            assert all(blob_intact(registry, sha) for sha in shas)
            assert not list((root / "registry" / "blobs" / "tmp").glob("put-*")), "an upload left a temp file"
            assert_nothing_lost_nothing_twice(registry, desk_db)
            desk_db.dispose()
    print(f"\nwhere the kills landed: {dict(sorted(landed.items()))}")
    assert landed["blob"] >= 3 and landed["ops"] >= 3 and landed["before"] >= 1, landed


def blob_intact(registry: Registry, sha: str) -> bool:
    """The registry has the blob and its bytes still hash to its name."""
    return hashlib.sha256(registry.blobs.read(sha)).hexdigest() == sha


def assert_consistent_after_a_crash(registry: Registry, desk_db: Database, shas: list[str]) -> None:
    """What must hold at any instant: ops are held gap-free, the desk never thinks an op delivered that is not, and
    the registry never shows a submitted dossier with a page missing."""
    held = applied_ops(registry)
    assert sorted(v[0] for v in held.values()) == list(range(1, len(held) + 1))
    sent = {op_id for op_id, (_, state) in desk_ops(desk_db).items() if state == "sent"}
    assert sent <= held.keys(), "the desk marked ops sent that the registry does not hold"
    assert sync_audit(registry) == Counter(dict.fromkeys(held, 1))
    with registry.db.read() as s:
        submitted_ = s.execute(select(Dossier.id).where(Dossier.status == "submitted")).scalars().all()
        for dossier_id in submitted_:
            stored = s.execute(select(Page.sha256).where(Page.dossier_id == dossier_id)).scalars().all()
            assert sorted(stored) == sorted(shas)
            assert all(blob_intact(registry, sha) for sha in stored)


# -- 2. lost responses; duplicated and reordered requests --------------------------------------------------------------


def capture_mix(desk: Desk, rng: random.Random, n: int) -> None:
    """n dossiers of a seeded mix: submitted (a deleted page among them), drafts with a page, withdrawn ones."""
    clerk = desk.users.actor("clerk1")
    for i in range(n):
        flavour = rng.choice(("submitted", "draft", "withdrawn"))
        at = APPLIED_AT + timedelta(minutes=i)
        d = capture(
            desk,
            rng,
            pages=rng.randint(1, 6) if flavour == "draft" else rng.randint(7, 12),
            page_bytes=rng.randint(2_000, 8_000),
            at=at,
            submit=flavour != "draft",
            delete_one=flavour == "submitted" and rng.random() < 0.5,
        )
        if flavour == "withdrawn":
            desk.dossiers.withdraw(clerk, d.number, reason="the applicants changed their minds")


def push_two_desks(desks: list[Path], registry: Registry, url: str, *, batch_size: int) -> int:
    """Both desks push at once (their requests interleave at the proxy); returns the failed passes."""
    agents = []
    for i, root in enumerate(desks):
        station = f"JN-0{i + 1}"
        token = registry.add_station(station, station)
        agents.append(
            SyncAgent(
                Database(desk_url(root)),
                BlobStore(root / "blobs"),
                station_id=station,
                url=url,
                token=token,
                batch_size=batch_size,
            )
        )
    with ThreadPoolExecutor(len(agents)) as pool:
        failures = sum(f.result() for f in [pool.submit(drain, a) for a in agents])
    for a in agents:
        assert a.status().outbox_depth == 0
        a.stop()
        a.db.dispose()
    return failures


Outcome = tuple[dict[str, tuple[Any, ...]], dict[str, dict[str, tuple[int, str, str, int | None]]], dict[str, int]]


def run_two_desks(
    base: Path, name: str, fault: Callable[[FaultProxy], None] | None, *, seed: int, batch_size: int
) -> Outcome:
    """Copy the two desks' capture, push both to a fresh registry (through the proxy with `fault`, or straight), and
    return the registry's outcome, its ops per station and the proxy's stats."""
    roots = []
    for i in range(2):
        root = base / name / f"JN-0{i + 1}"
        shutil.copytree(base / "capture" / f"JN-0{i + 1}", root)
        roots.append(root)
    stats: dict[str, int] = {}
    with running_registry(base / name / "registry") as (registry, url):
        if fault is None:
            push_two_desks(roots, registry, url, batch_size=batch_size)
        else:
            with FaultProxy("127.0.0.1", port_of(url), seed=seed, reorder_window=0.1) as proxy:
                fault(proxy)
                push_two_desks(roots, registry, proxy.url, batch_size=batch_size)
                stats = proxy.stats
        outcome = registry_outcome(registry)
        ops = {s: applied_ops(registry, s) for s in ("JN-01", "JN-02")}
        audit = sync_audit(registry)
    desk_op_ids: set[str] = set()
    for root in roots:
        db = Database(desk_url(root))
        desk_op_ids |= desk_ops(db).keys()
        assert {state for _, state in desk_ops(db).values()} == {"sent"}
        db.dispose()
    assert audit == Counter(dict.fromkeys(desk_op_ids, 1)), f"{name}: not one sync audit event per op"
    return outcome, ops, stats


def test_lost_responses_and_duplicated_reordered_requests_leave_the_registry_as_a_clean_run_does(
    workdir: Path, blank_desk: Path
) -> None:
    """3 seeds. Two desks capture a seeded mix of dossiers (the same capture is copied for every run), then push
    concurrently: once straight to the registry (the clean run), once with 30 % of the responses lost after the
    registry committed, once with every request sent twice and half of them held back so a later one overtakes them
    (an agent waits for each answer, so what overtakes is the other desk's request). The registry must end exactly as
    in the clean run: every dossier's (number, stage, status, version, parties, pages as (sha256, deleted)) and every
    op's (op id, seq, kind, status, version), with exactly one sync audit event per op."""

    def lose_responses(proxy: FaultProxy) -> None:
        proxy.drop_response = 0.3

    def duplicate_and_reorder(proxy: FaultProxy) -> None:
        proxy.duplicate, proxy.reorder = 1.0, 0.5

    faults = {"lost responses": lose_responses, "duplicated and reordered": duplicate_and_reorder}
    totals: Counter[str] = Counter()
    for seed in range(3):
        rng = random.Random(seed)
        base = workdir / f"seed{seed}"
        for i in range(2):  # the two desks' capture, copied into every run below
            station = f"JN-0{i + 1}"
            shutil.copytree(blank_desk, base / "capture" / station)
            desk = open_desk(
                load_settings(data_dir=base / "capture" / station, admin_password="admin-pass-1", station_id=station)
            )
            capture_mix(desk, rng, 4)
            desk.close()
        batch_size = rng.choice((3, 8, 25))

        clean_outcome, clean_ops, _ = run_two_desks(base, "clean", None, seed=seed, batch_size=batch_size)
        assert len(clean_outcome) == 8 and all(len(v) > 0 for v in clean_ops.values())
        for name, fault in faults.items():
            outcome, ops, stats = run_two_desks(base, name.replace(" ", "-"), fault, seed=seed, batch_size=batch_size)
            assert outcome == clean_outcome, f"seed {seed}, {name}: the registry differs from the clean run"
            assert ops == clean_ops, f"seed {seed}, {name}: the ops held differ from the clean run"
            totals.update({k: v for k, v in stats.items() if k in ("dropped_responses", "duplicated", "reordered")})
    print(f"\nfaults that struck: {dict(totals)}")
    assert totals["dropped_responses"] >= 10 and totals["duplicated"] >= 30 and totals["reordered"] >= 3, totals


# -- 5. a long partition while the desk keeps capturing ----------------------------------------------------------------


def test_a_long_partition_slows_no_capture_and_heals_by_itself(workdir: Path, blank_desk: Path) -> None:
    """The "two-hour" partition is simulated: the proxy refuses every connection while the clerk captures 200 small
    dossiers (opened with their seller) and the agent's background loop keeps failing and backing off (its backoff
    capped at 0.5 s instead of minutes, so the test takes seconds; what matters is the number of failed passes and
    that nothing waits on them). Every capture completes while the registry is unreachable; the capture medians
    online and offline are printed, not asserted (a wall-clock ratio between two phases of a loaded test machine says
    more about the machine: `workstation bench sync` measures capture beside the sync figures). When the partition
    heals, the outbox drains to zero with nobody doing anything (no wake, no `sync now`), and every dossier (5
    warm-up, 100 online, 200 offline) is at the registry once."""
    desk = fresh_desk(blank_desk, workdir / "desk")
    clerk = desk.users.actor("clerk1")
    seq = iter(range(10_000))

    def small_dossier() -> float:
        start = time.perf_counter()
        d = desk.dossiers.new(
            clerk,
            business="RESALE_TRANSFER",
            applicant_kind="individual",
            applicant_name="王小明",
            applicant_id=IDN,
            applied_at=APPLIED_AT + timedelta(seconds=next(seq)),
        )
        desk.dossiers.add_party(clerk, d.number, role="seller", kind="individual", name="赵建国", id_value=IDN)
        return time.perf_counter() - start

    with (
        running_registry(workdir / "registry") as (registry, url),
        FaultProxy("127.0.0.1", port_of(url), seed=5) as proxy,
    ):
        token = registry.add_station(STATION, STATION)
        agent = SyncAgent(
            desk.db,
            desk.blobs,
            station_id=STATION,
            url=proxy.url,
            token=token,
            interval=0.2,
            backoff_base=0.05,
            backoff_cap=0.5,
            seed=5,
        )
        for _ in range(5):  # warm up
            small_dossier()
        online = [small_dossier() for _ in range(100)]  # the agent is idle: not started yet
        drain(agent)
        assert agent.status().outbox_depth == 0

        proxy.partitioned = True
        agent.start()
        partition_began = time.monotonic()
        offline = [small_dossier() for _ in range(200)]
        while agent.failures < 10:  # let the loop fail and back off a good many times on its own
            time.sleep(0.05)
            assert time.monotonic() - partition_began < 30
        status = agent.status()
        assert not status.online and "unreachable" in (status.last_error or "")
        assert status.outbox_depth == 400  # 200 × (dossier.create + dossier.party_add), none lost, none sent
        failed_passes = agent.failures

        proxy.partitioned = False
        healed = time.monotonic()
        while (status := agent.status()).outbox_depth or not status.online:  # drained, and the pass has ended
            assert time.monotonic() - healed < 60, "the outbox did not drain after the partition healed"
            time.sleep(0.05)
        drained_in = time.monotonic() - healed
        agent.stop()
        with registry.db.read() as s:
            versions = Counter(s.execute(select(Dossier.version)).scalars().all())
        assert versions == {2: 305}, "every dossier, with its seller added (version 2), once"
        assert_nothing_lost_nothing_twice(registry, desk.db)
    desk.close()
    on, off = statistics.median(online), statistics.median(offline)
    print(
        f"\ncapture median online {on * 1000:.1f} ms, offline {off * 1000:.1f} ms; "
        f"{failed_passes} failed passes in {healed - partition_began:.1f} s; drained {drained_in:.1f} s after the heal"
    )
    assert len(offline) == 200 and failed_passes >= 10  # captured while the agent failed and backed off throughout


# -- 7. a pull killed mid-way; a desk clock a year off --------------------------------------------------------------


def shift_desk_clock(root: Path, days: int) -> None:
    """The desk wrote its ops with a clock `days` off (their created_at is what the registry records as desk_at)."""
    db = Database(desk_url(root))
    with db.transaction() as s:
        for op in s.execute(select(OutboxOp)).scalars():
            op.created_at += timedelta(days=days)
    db.dispose()


def shifted_created_at(root: Path) -> dict[str, datetime]:
    db = Database(desk_url(root))
    with db.read() as s:
        out = {o.op_id: o.created_at for o in s.execute(select(OutboxOp)).scalars()}
    db.dispose()
    return out


def change_feed(registry: Registry) -> list[tuple[str, str, str, dict[str, Any]]]:
    with registry.db.read() as s:
        rows = s.execute(select(ChangeRecord).order_by(ChangeRecord.seq)).scalars()
        return [(c.kind, c.entity_id, c.station_id, c.payload) for c in rows]


def station_feed(registry: Registry, station: str) -> list[tuple[int, str, str, str, dict[str, Any]]]:
    """The changes one station may read: (seq, kind, dossier id, where it came from, payload)."""
    with registry.db.read() as s:
        rows = s.execute(
            select(ChangeRecord)
            .where((ChangeRecord.audience == station) | (ChangeRecord.audience2 == station))
            .order_by(ChangeRecord.seq)
        ).scalars()
        return [(c.seq, c.kind, c.entity_id, c.station_id, c.payload) for c in rows]


def desk_state(root: Path) -> tuple[str, dict[str, tuple[str, str, int]]]:
    """The desk's cursor and its dossiers' (stage, status, version)."""
    db = Database(desk_url(root))
    with db.read() as s:
        dossiers = {d.id: (d.stage, d.status, d.version) for d in s.execute(select(Dossier)).scalars()}
    cursor = read_cursor(db)
    db.dispose()
    return cursor, dossiers


def first_missing_change(registry: Registry, dossiers: dict[str, tuple[str, str, int]]) -> int | None:
    """The lowest change seq whose effect is not in the desk's database (a dossier.state of one of its dossiers with a
    version it does not have yet), or None."""
    with registry.db.read() as s:
        rows = s.execute(
            select(ChangeRecord).where(ChangeRecord.kind == "dossier.state").order_by(ChangeRecord.seq)
        ).scalars()
        for c in rows:
            mine = dossiers.get(c.entity_id)
            if mine is not None and mine[2] < int(c.payload["version"]):
                return c.seq
    return None


def state_changes(registry: Registry, dossier_ids: Iterable[str]) -> dict[int, tuple[str, int]]:
    """seq → (dossier id, version) of every dossier.state change of these dossiers in the registry's feed."""
    with registry.db.read() as s:
        rows = s.execute(
            select(ChangeRecord).where(
                ChangeRecord.kind == "dossier.state", ChangeRecord.entity_id.in_(list(dossier_ids))
            )
        ).scalars()
        return {c.seq: (c.entity_id, int(c.payload["version"])) for c in rows}


class CursorWatch:
    """While a pull runs, read the desk's cursor and dossier versions every millisecond or so (in one SQLite statement:
    one snapshot) and keep each snapshot in which the cursor has passed a change whose effect is not there."""

    def __init__(self, root: Path, changes: dict[int, tuple[str, int]]):
        self._path = root / "workstation.db"
        self._changes = sorted(changes.items())
        self.snapshots = 0
        self.violations: list[tuple[int, int]] = []  # (stored cursor, seq of the change it passed without its effect)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cursor-watch", daemon=True)

    def __enter__(self) -> CursorWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=10)
        try:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT (SELECT cursor FROM sync_cursors WHERE name = 'changes'), id, version FROM dossiers"
                ).fetchall()
                cursor = int(rows[0][0] or 0) if rows else 0
                versions = {row[1]: row[2] for row in rows}
                self.snapshots += 1
                for seq, (dossier_id, version) in self._changes:
                    if seq > cursor:
                        break
                    if versions.get(dossier_id, 0) < version:
                        self.violations.append((cursor, seq))
                        break
                time.sleep(0.0005)
        finally:
            conn.close()


def review_some(registry: Registry, n: int, seq: list[int]) -> None:
    """rev1, logged in at JN-REV, claims and approves n dossiers (digitised ones first, i.e. desk B's)."""
    reviewer = registry.people.verify("JN-REV", registry.people.login("JN-REV", "rev1", "person-pass-1").token)
    for _ in range(n):
        lease = registry.claim("JN-REV", reviewer).lease
        assert lease is not None
        seq[0] += 1
        with registry.db.read() as s:
            version = s.execute(select(Dossier.version).where(Dossier.id == lease.dossier_id)).scalar_one()
        op = OpHead.model_validate(
            {
                "op_id": f"decision-{seq[0]}",
                "seq": seq[0],
                "kind": "review.decision",
                "entity_id": lease.dossier_id,
                "base_version": version,
                "actor": "rev1",
                "payload": {"decision": "approve", "lease_id": lease.lease_id, "fence": lease.fence},
            }
        )
        answer = registry.apply_batch("JN-REV", OpsBatch(schema_version=SCHEMA_VERSION, station_id="JN-REV", ops=[op]))
        assert [r.status for r in answer.results] == ["applied"]


@contextmanager
def registry_with_proxy(root: Path, seed: int) -> Iterator[tuple[Registry, FaultProxy]]:
    with running_registry(root) as (registry, url), FaultProxy("127.0.0.1", port_of(url), seed=seed) as proxy:
        yield registry, proxy


def test_a_pull_killed_mid_way_and_a_desk_clock_a_year_off_change_nothing(workdir: Path, blank_desk: Path) -> None:
    """Desk B captures 12 digitised dossiers (the capture is copied for each run below).

    The clock: B's copies push (in a child process whose clock, and whose ops' created_at, are -365, 0 and +365 days
    off) to three registries; the registries end identical (dossiers, ops, change feed in registry seq order), their
    AppliedOp.desk_at is the desk's time as sent, and received_at is the registry's own, rising with seq.

    The pull: on the registry of the true-clock run, desk A pushes 30 dossiers in three rounds while a reviewer approves
    4 of B's dossiers after each round. Then B pulls the ~120 changes in pages of 2–5 (one transaction each) in a child
    process with its clock ±1 year off, SIGKILLed at seeded points while it takes a page carrying an approval (and once
    with a response cut short). After every kill the stored cursor is below the first change whose effect is missing
    from B's database, and a watcher reading B's database about every millisecond during each pull never sees it
    otherwise. A last pull finishes, and B equals a copy of itself that pulled cleanly."""
    rng = random.Random(7)
    capture_root = workdir / "capture-b"
    desk_b = fresh_desk(blank_desk, capture_root)
    for i in range(12):
        capture(desk_b, rng, pages=7, page_bytes=3_000, at=APPLIED_AT + timedelta(minutes=i), channel="online")
    desk_b.close()

    outcomes: dict[int, Any] = {}
    with ExitStack() as stack:
        for days in (-365, 0, 365):
            root = workdir / f"clock{days:+d}" / "desk"
            shutil.copytree(capture_root, root)
            shift_desk_clock(root, days)
            registry, proxy = stack.enter_context(registry_with_proxy(root.parent / "registry", seed=7))
            token = registry.add_station(STATION, STATION)
            started = datetime.now(UTC)
            kill = run_and_kill(
                child_cfg(root, proxy.url, token, mode="push", batch_size=20, shift_days=days),
                proxy,
                root.parent / "child.log",
                after_requests=10_000,
                extra=0,
            )
            assert kill.finished
            with registry.db.read() as s:
                held_rows = (
                    s.execute(select(AppliedOp).where(AppliedOp.station_id == STATION).order_by(AppliedOp.seq))
                    .scalars()
                    .all()
                )
            desk_at = shifted_created_at(root)
            assert {a.op_id: a.desk_at for a in held_rows} == desk_at, "desk_at is not the desk's time as sent"
            received = [a.received_at for a in held_rows]
            assert received == sorted(received) and started <= received[0] and received[-1] <= datetime.now(UTC)
            for held_op in held_rows:  # the desk's time as sent (a year off) beside the registry's own
                assert held_op.desk_at is not None
                drift = held_op.desk_at - held_op.received_at - timedelta(days=days)
                assert abs(drift) < timedelta(minutes=10)
            outcomes[days] = (registry_outcome(registry), applied_ops(registry), change_feed(registry))
            if days == 0:
                main_registry, main_proxy, b_root, b_token = registry, proxy, root, token
        assert outcomes[-365] == outcomes[0] == outcomes[365], "a desk clock a year off changed the registry"

        # Changes to pull: desk A's dossiers (noise for B) and approvals of B's dossiers, interleaved.
        desk_a = make_desk(workdir / "desk-a", "JN-02")
        agent_a = SyncAgent(
            desk_a.db,
            desk_a.blobs,
            station_id="JN-02",
            url=main_proxy.url,
            token=main_registry.add_station("JN-02", "JN-02"),
        )
        main_registry.add_station("JN-REV", "审核")
        provision(main_registry, "rev1")
        clerk_a, decisions = desk_a.users.actor("clerk1"), [0]
        for round_ in range(3):
            for i in range(10):  # opened and withdrawn again: two changes each, no pages to wait for
                draft = desk_a.dossiers.new(
                    clerk_a,
                    business="RESALE_TRANSFER",
                    applicant_kind="individual",
                    applied_at=APPLIED_AT + timedelta(hours=1, minutes=10 * round_ + i),
                )
                desk_a.dossiers.add_party(clerk_a, draft.number, role="seller", kind="individual", name="赵建国")
                desk_a.dossiers.withdraw(clerk_a, draft.number, reason="wrong business")
            drain(agent_a)
            review_some(main_registry, 4, decisions)
        agent_a.stop()
        desk_a.close()
        # B reads its own dossiers' changes only: nothing of desk A's, whose changes are interleaved with them.
        feed = station_feed(main_registry, STATION)
        seqs = [seq for seq, *_ in feed]
        a_ids = {entity for kind, entity, station, _ in change_feed(main_registry) if station == "JN-02"}
        assert not a_ids & {entity for _, _, entity, _, _ in feed}
        assert len(feed) >= 36 and seqs[-1] > len(feed)  # submitted, claimed and approved: 12 each
        moved = sum(1 for _, kind, _, _, p in feed if kind == "dossier.state" and p["cause"].startswith("review."))

        clean_root = workdir / "pull-clean"
        shutil.copytree(b_root, clean_root)
        clean_agent = desk_agent(clean_root, main_proxy.url, b_token)
        # Every claim and approval of B's dossiers reached B once, and each submission its registry clock (受理).
        assert moved == 24
        assert clean_agent.pull() == moved + 12
        clean_agent.stop()
        clean_agent.db.dispose()
        clean_cursor, clean_dossiers = desk_state(clean_root)
        assert clean_cursor == str(seqs[-1])
        assert sum(v[0] == "REVIEW" for v in clean_dossiers.values()) == 0

        # The network cuts a response short: the page is not taken, the cursor stays where it was.
        main_proxy.cut_response_after = 2_000
        cut_agent = desk_agent(b_root, main_proxy.url, b_token)
        with pytest.raises(Transient):
            cut_agent.pull()
        assert cut_agent.cursor() == "0"
        cut_agent.stop()
        cut_agent.db.dispose()
        main_proxy.reset_faults()

        # Kill B while it takes a page that carries an approval of one of its dossiers: the moment a cursor stored
        # apart from (or before) the changes it covers would show.
        approvals = {seq for seq, kind, _, _, p in feed if kind == "dossier.state" and p["cause"] == "review.approve"}
        assert len(approvals) == 12
        cursors, snapshots = [], 0
        b_changes = state_changes(main_registry, clean_dossiers)
        main_proxy.delay = (0.001, 0.004)
        for k in range(12):
            cursor = int(desk_state(b_root)[0])
            limit = rng.choice((2, 3, 5))
            after = [seq for seq in seqs if seq > cursor]
            pages = [after[i : i + limit] for i in range(0, len(after), limit)]  # as the registry pages B's feed
            targets = [i for i, page in enumerate(pages, start=1) if approvals & set(page)]
            if not targets:
                break
            with CursorWatch(b_root, b_changes) as watch:
                kill = run_and_kill(
                    child_cfg(
                        b_root, main_proxy.url, b_token, mode="pull", page_limit=limit, shift_days=(-365, 365)[k % 2]
                    ),
                    main_proxy,
                    b_root.parent / "pull.log",
                    after_responses=rng.choice(targets[:3]),
                    extra=rng.uniform(0, 0.015),
                )
            assert watch.snapshots > 0 and not watch.violations, (
                f"cursor passed changes not applied: {watch.violations}"
            )
            snapshots += watch.snapshots
            cursor_now, dossiers = desk_state(b_root)
            cursors.append((int(cursor_now), kill.finished))
            missing = first_missing_change(main_registry, dossiers)
            assert missing is None or int(cursor_now) < missing, f"cursor {cursor_now} passed change {missing}"
        main_proxy.reset_faults()
        last = desk_agent(b_root, main_proxy.url, b_token)
        last.pull()  # restart: the pull completes
        last.stop()
        last.db.dispose()
        print(f"\ncursors after the kills (of {seqs[-1]}): {cursors}; {snapshots} snapshots of B watched")
        assert any(0 < c < seqs[-1] and not done for c, done in cursors), "no kill landed mid-pull"
        assert desk_state(b_root) == (clean_cursor, clean_dossiers), "B differs from a clean pull"
