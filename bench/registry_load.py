"""`workstation bench registry`: the registry under load over HTTP, as an office works it.

Usage: `workstation bench registry` runs the three scenarios below, 3 runs each, and prints a table per scenario
(`--json` for scripts); `--scenario saturation --runs 1 --duration 20` is a quick look; `--upload` runs instead the
earlier measurement of the registry's memory while one large page is uploaded (`bench.registry`). PostgreSQL only:
`--pg-url`, else WS_BENCH_PG_URL, else WS_TEST_PG_URL, whose role may create databases. Linux only (/proc). A run
takes the warm-up and the duration plus about 15 s (provisioning, logins, start-up and stop).

Each run starts the registry as an operator does (`workstation registry serve --workers N --db URL`) on a fresh
database (`ws_bench_reg_<pid>_<n>` on the server the URL names, dropped after the run) and a temp data directory,
provisioned by the service functions behind `registry station add` and `registry user add --role reviewer --online
--offline`: one station per reviewer's desk, each reviewer holding both review grants (R14), one station per pushing
desk, and a review pool seeded straight at 审核 (`bench.queue.seed_pool`), sized so that nobody runs dry (`--pool`;
the same size for both servers compared, printed with the figures, since a claim's cost may grow with the pool).
None of this shell's WS_* settings reach the server: passwords are hashed at the production cost.

The load comes from `--client-procs` processes (asyncio, one httpx client per desk). Each reviewer logs in (POST
/v1/auth/login), then loops: POST /v1/review/claim (the claim latency); its decision under that lease, sent as a
desk's sync agent sends it — a fenced `review.decision` op in POST /v1/ops from the reviewer's station (the decide
latency): mostly 审核通过, 7 % 补正 with one item, 3 % 不予登记, the queue bench's mix; then a think time uniform in
[0.5, 1.5] × `--think` (each first waits a random part of it, so reviewers do not claim in lockstep). Each desk
loops: 2–4 page scans of 200 KB–1 MB (random bytes), the blob check and PUT /v1/blobs/{sha} for each, one batch of
ops as the outbox sends them (dossier.create, then one dossier.pages_add per scanned file), then `--desk-think`,
jittered the same way. What starts in the `--duration` after `--warmup` is counted; errors are counted from the
first request: any answer but a 2xx, an op the registry does not apply, a failed connection (a claim answered
"nothing to claim" is reported apart: the pool ran dry).

Reported per run, with the medians over `--runs`: claims, claims/s, claim and decide latency p50/p95/p99/max (ms),
errors and their first distinct messages (and the registry's own error output), the desks' pushes (latency of the
whole push, ops/s and MB/s accepted), the registry's CPU (its process and workers: utime + stime from /proc over the
window, in seconds and % of one core) and memory (VmRSS at the end; VmHWM in the window and before it — the logins
before it cost an argon2 hash of 64 MiB each), the CPU of the PostgreSQL backends of the run's database (and of
every postgres process), the client processes' own CPU (one near a full core holds the figures back: more
`--client-procs`), and the load average before and after: on a shared machine, other work shows in every figure.

Scenarios (`--scenario`): `think`, 50 reviewers thinking 10 s; `saturation`, 50 reviewers with no think time;
`mixed`, the `think` reviewers while 10 desks push with 1 s between pushes; all on 2 workers, 60 s measured after
5 s of warm-up; `--reviewers`, `--think`, `--desks`, `--desk-think`, `--workers`, `--duration`, `--warmup` replace
their values. Saturation also runs against a baseline server, `--baseline REF` (default `BASELINE_REF`): that
commit of this repository, extracted with `git archive` into a temp directory and served from there (its own
fresh database, provisioned by its own code); the clients stay this tree's, the HTTP API being the same; both rows
are printed with the ratio of their claims/s. `--baseline none` skips it; `--with-baseline`, or a REF named, runs
it in every scenario.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from bench.pg import pg_url_from_env, postgres_problem
from bench.stats import percentile

# The registry before the per-station audit chains, the change feed numbered by transaction and the shorter claim
# (every write queued for the one audit chain head and the one feed counter): "today's code path", which the
# saturation figures are compared with.
BASELINE_REF = "fb566edcc656fb7b7bf45fc6358ac394bdf98803"
REPO = Path(__file__).resolve().parents[1]

RETURN_SHARE = 0.07  # 补正 with one item; the office's mix of bench.queue
REJECT_SHARE = 0.03  # 不予登记 for a dispute
RETURN_MATERIAL = "M01"  # on every seeded dossier's checklist (seed_pool gives each its application form's slot)
REJECT_REASON = "dispute"
PAGE_BYTES = (200_000, 1_000_000)
PAGES_PER_DOSSIER = (2, 4)
DESK_CLERK = "clerk1"
DESK_BUSINESS = "ENT_NONRES_TRANSFER"  # R7: an enterprise buying non-residential property, digitised at the window
DESK_BUYER_MASKED_USCC = "913701********1X2K"  # a create carries identity numbers masked, as the desk sends it
POOL_STATION = "BENCH-POOL"
# Claims per second per worker the pool is sized for when nobody thinks: a claim and its decision cost the registry
# some 15 ms of CPU, so this is several times what a worker can do. Seeding is not timed; running dry spoils the run.
CLAIMS_PER_SECOND_PER_WORKER = 150
# Logins at once per client process: each costs the registry an argon2 hash of 64 MiB (RFC 9106's low-memory
# profile), so 50 at once would take 3 GB before the load starts.
LOGINS_AT_ONCE = 4
MAX_MESSAGES = 5
CLIENT_BUSY = 0.8  # a client process above this share of a core may be holding the figures back
READY_TIMEOUT_S = 120.0
HTTP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Scenario:
    name: str
    reviewers: int
    think: float  # seconds a reviewer thinks after a decision (jittered ×0.5–1.5)
    desks: int
    desk_think: float  # seconds between a desk's pushes (jittered the same way)
    workers: int
    duration: float  # seconds measured
    warmup: float  # seconds before, not counted

    def describe(self) -> str:
        desks = f", {self.desks} desks pushing every {self.desk_think:g} s" if self.desks else ""
        return (
            f"{self.reviewers} reviewers thinking {self.think:g} s{desks}, {self.workers} workers, "
            f"{self.duration:g} s measured after {self.warmup:g} s warm-up"
        )


SCENARIOS = {
    "think": Scenario("think", reviewers=50, think=10.0, desks=0, desk_think=1.0, workers=2, duration=60, warmup=5),
    "saturation": Scenario(
        "saturation", reviewers=50, think=0.0, desks=0, desk_think=1.0, workers=2, duration=60, warmup=5
    ),
    "mixed": Scenario("mixed", reviewers=50, think=10.0, desks=10, desk_think=1.0, workers=2, duration=60, warmup=5),
}


class BenchFailed(Exception):
    """The run could not be made (the server did not start, provisioning failed): one line, plus what it said."""


# -- pure parts ----------------------------------------------------------------------------------------------


def pool_size(s: Scenario) -> int:
    """Dossiers to seed so that no reviewer runs dry: the most claims the scenario can make, with a margin."""
    per_second: float = s.workers * CLAIMS_PER_SECOND_PER_WORKER
    if s.think > 0:
        per_second = min(per_second, s.reviewers / (0.5 * s.think))
    return int(per_second * (s.warmup + s.duration) * 1.25) + 3 * s.reviewers


def decision_kind(draw: float) -> str:
    """The decision for a uniform draw in [0, 1): the office's mix."""
    if draw < RETURN_SHARE:
        return "return"
    if draw < RETURN_SHARE + REJECT_SHARE:
        return "reject"
    return "approve"


def latencies(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max of milliseconds, rounded to 0.01 ms (0.0 for none)."""
    return {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values, default=0.0), 2),
    }


def parse_stat(text: str) -> tuple[str, int, int]:
    """/proc/PID/stat → (command name, parent pid, utime + stime in clock ticks). The name may hold spaces and
    parentheses: the fields after it start at its last ')'."""
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is the state (stat field 3): ppid is field 4, utime 14, stime 15
    return name, int(fields[1]), int(fields[11]) + int(fields[12])


def status_kb(text: str) -> dict[str, int]:
    """/proc/PID/status → its "kB" lines (VmRSS, VmHWM, …) as integers."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            out[key] = int(parts[0])
    return out


def serves_database(cmdline: str, database: str) -> bool:
    """Whether a PostgreSQL process is a backend connected to `database`: its title (its command line) reads
    "postgres: 15/main: USER DATABASE HOST(PORT) STATE"."""
    words = cmdline.split()
    return len(words) >= 4 and words[0] == "postgres:" and words[3] == database


def descendants(parents: Mapping[int, int], root: int) -> set[int]:
    """`root` and every process below it, from a pid → parent pid map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_ticks(before: Mapping[int, int], after: Mapping[int, int]) -> int:
    """CPU ticks spent between two readings by the processes alive at the second (one born since counts whole;
    one gone since is lost, hence processes that live through the window are what this measures well)."""
    return sum(max(0, ticks - before.get(pid, 0)) for pid, ticks in after.items())


def median_tree(items: Sequence[Any]) -> Any:
    """The median of several runs' reports, key by key: numbers → median (whole numbers: the lower median, a real
    run's count), dicts → recursively, lists of text → their distinct entries (the first few), lists of numbers of
    one length → element-wise, anything else → the first run's."""
    present = [x for x in items if x is not None]
    if not present:
        return None
    first = present[0]
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for x in present if isinstance(x, dict) for k in x))
        return {k: median_tree([x.get(k) for x in present if isinstance(x, dict)]) for k in keys}
    if isinstance(first, bool) or not isinstance(first, int | float | list):
        return first
    if isinstance(first, list):
        if all(isinstance(v, str) for x in present for v in x):
            return list(dict.fromkeys(v for x in present for v in x))[:MAX_MESSAGES]
        if len({len(x) for x in present}) == 1 and all(
            v is None or isinstance(v, int | float) for x in present for v in x
        ):
            return [median_tree(column) for column in zip(*present, strict=True)]
        return first
    numbers = [x for x in present if isinstance(x, int | float) and not isinstance(x, bool)]
    if all(isinstance(x, int) for x in numbers):
        return statistics.median_low(numbers)
    return round(statistics.median(numbers), 3)


def server_problems(log: str, lines: int = 20) -> list[str]:
    """The last lines of a server's output that are not uvicorn's routine INFO lines (requests, start, stop):
    its warnings, errors and tracebacks."""
    return [line for line in log.splitlines() if line.strip() and not line.startswith("INFO:")][-lines:]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


# -- the wire: ops built from the protocol's models, as a desk's outbox sends them ----------------------------


def decision_batch(
    station_id: str,
    seq: int,
    *,
    reviewer: str,
    lease: Mapping[str, Any],
    base_version: int,
    kind: str,
    now: datetime,
) -> dict[str, Any]:
    """A `review.decision` op under `lease` (the claim's answer), from the reviewer's station, in a batch of one:
    what `RegistryPoolReview.decide` queues and the sync agent pushes."""
    from sync.protocol import SCHEMA_VERSION, DecisionOp, DecisionPayload, OpsBatchSchema, ReturnItemIn
    from workstation.store.ids import new_id

    payload = DecisionPayload(
        decision=kind,  # type: ignore[arg-type]  # checked by the model
        lease_id=str(lease["lease_id"]),
        fence=int(lease["fence"]),
        items=[ReturnItemIn(problem="missing", material=RETURN_MATERIAL)] if kind == "return" else [],
        reason_code=REJECT_REASON if kind == "reject" else None,
    )
    op = DecisionOp(
        op_id=new_id(),
        seq=seq,
        kind="review.decision",
        entity_id=str(lease["dossier_id"]),
        base_version=base_version,
        created_at=now,
        actor=reviewer,
        payload=payload,
    )
    batch = OpsBatchSchema(schema_version=SCHEMA_VERSION, station_id=station_id, ops=[op])
    return batch.model_dump(mode="json")


def desk_batch(
    station_id: str,
    seq: int,
    *,
    number: str,
    dossier_id: str,
    pages: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """A new dossier with its scanned pages, as a window desk's outbox sends it: `dossier.create`, then one
    `dossier.pages_add` per scanned file (sha256 in `pages`), each on the version the one before made."""
    from sync.protocol import (
        SCHEMA_VERSION,
        CreateOp,
        CreatePayload,
        FilePage,
        OpsBatchSchema,
        PagesAddOp,
        PagesAddPayload,
        PartyIn,
    )
    from workstation.store.ids import new_id

    buyer = PartyIn(
        id=new_id(),
        key="p1",
        position=1,
        role="buyer",
        kind="enterprise",
        name="济南示例置业有限公司",
        id_type="uscc",
        id_value=DESK_BUYER_MASKED_USCC,
    )
    create = CreateOp(
        op_id=new_id(),
        seq=seq,
        kind="dossier.create",
        entity_id=dossier_id,
        created_at=now,
        actor=DESK_CLERK,
        payload=CreatePayload(
            number=number,
            business=DESK_BUSINESS,
            applicant_kind="enterprise",
            channel="window",
            applied_at=now,
            parties=[buyer],
        ),
    )
    ops: list[Any] = [create]
    for i, sha in enumerate(pages, start=1):
        ops.append(
            PagesAddOp(
                op_id=new_id(),
                seq=seq + i,
                kind="dossier.pages_add",
                entity_id=dossier_id,
                base_version=i,  # a create makes version 1; each file added makes the next
                created_at=now,
                actor=DESK_CLERK,
                payload=PagesAddPayload(
                    file_id=new_id(),
                    sha256=sha,
                    source=f"inbox/scan-{i:04d}.jpg",
                    pages=[FilePage(page_id=new_id(), position=i, file_page=1)],
                ),
            )
        )
    return OpsBatchSchema(schema_version=SCHEMA_VERSION, station_id=station_id, ops=ops).model_dump(mode="json")


# -- /proc ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcRow:
    name: str
    ppid: int
    ticks: int


def read_procs() -> dict[int, ProcRow]:
    """Every process this user can see: name, parent and CPU ticks so far."""
    out: dict[int, ProcRow] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, ppid, ticks = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        out[int(entry.name)] = ProcRow(name, ppid, ticks)
    return out


def _reset_peaks(pids: Sequence[int]) -> bool:
    """Set each process's peak resident memory (VmHWM) to what it holds now, so that a later reading is the peak of
    what came after (Linux: /proc/PID/clear_refs; the same user). False if any could not be reset."""
    done = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            done = False
    return done


def _memory_kb(pids: Sequence[int]) -> tuple[int, int]:
    rss = hwm = 0
    for pid in pids:
        try:
            kb = status_kb(Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
        rss += kb.get("VmRSS", 0)
        hwm += kb.get("VmHWM", 0)
    return rss, hwm


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes a served registry started (its children running multiprocessing's spawn)."""
    return [p for p, row in read_procs().items() if row.ppid == pid and "spawn_main" in _cmdline(p)]


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


# -- provisioning (in a process of the tree being served: this one's, or the baseline's) -------------------------


def provision(db_url: str, *, reviewers: int, desks: int, pool: int, seed: int) -> dict[str, Any]:
    """Migrate the registry's database, add the stations and people as the registry's commands do, seed the pool.
    Runs where the server's code is (`python -m bench.registry_load provision`), with the server's data dir."""
    import secrets

    import workstation
    from bench.queue import seed_pool
    from sync.server.open import open_registry
    from workstation.config import load_settings

    registry = open_registry(load_settings(), db_url)
    operator = "registry-admin:bench"
    try:
        people = []
        for i in range(reviewers):
            station = f"BENCH-R{i:03d}"
            token = registry.add_station(station, f"审核工作站 {i}", kind="hall")
            username, password = f"bench-rev-{i:03d}", secrets.token_urlsafe(12)
            registry.people.add(operator, username, password, ["reviewer"], online=True, offline=True)
            people.append({"station": station, "token": token, "username": username, "password": password})
        stations = []
        for i in range(desks):
            station = f"BENCH-D{i:02d}"
            stations.append({"station": station, "token": registry.add_station(station, f"窗口 {i}", kind="hall")})
        seeded = len(seed_pool(registry.db, pool, station_id=POOL_STATION, seed=seed))
    finally:
        registry.db.dispose()
    return {"reviewers": people, "desks": stations, "pool": seeded, "tree": str(Path(workstation.__file__).parents[1])}


# -- the clients (processes of this tree) --------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    url: str
    reviewers: list[dict[str, str]]
    desks: list[dict[str, str]]
    think: float
    desk_think: float
    seed: int


@dataclass(frozen=True)
class Schedule:
    start: float  # time.time() at which the load starts
    warm_end: float  # counting starts
    end: float  # counting ends; nothing new starts after it


@dataclass
class Tally:
    """What one client process saw; merged by the parent."""

    claim_ms: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)
    decisions: dict[str, int] = field(default_factory=dict)
    empty_claims: int = 0
    pushes: int = 0
    ops_accepted: int = 0
    bytes_accepted: int = 0
    errors: int = 0
    messages: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def error(self, message: str) -> None:
        self.errors += 1
        if message not in self.messages and len(self.messages) < MAX_MESSAGES:
            self.messages.append(message[:240])


def _problem(what: str, response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return f"{what}: HTTP {response.status_code} {body.get('code')}: {body.get('message')}"
    return f"{what}: HTTP {response.status_code} {response.text[:120]}"


def _refusal(what: str, results: Sequence[Mapping[str, Any]]) -> str | None:
    """The first op of a 200 answer the registry did not apply, as an error line (None: all applied)."""
    for r in results:
        if r.get("status") != "applied":
            return f"{what}: op {r.get('status')} {r.get('code')}: {r.get('message')}"
    return None


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.time()))


async def _pause(rnd: random.Random, think: float, end: float) -> None:
    if think > 0:
        await asyncio.sleep(max(0.0, min(rnd.uniform(0.5, 1.5) * think, end - time.time())))


async def _post_ops(http: httpx.AsyncClient, batch: dict[str, Any], tally: Tally, what: str) -> list[Any] | None:
    """Send a batch as the sync agent does: a lost answer or a 5xx is sent again, the same ops (the registry
    answers a replay with the first result). None after three failures."""
    for _attempt in range(3):
        try:
            response = await http.post("/v1/ops", json=batch)
        except httpx.HTTPError as exc:
            tally.error(f"{what}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.5)
            continue
        if response.status_code == 200:
            results = response.json().get("results", [])
            return results if isinstance(results, list) else []
        tally.error(_problem(what, response))
        if response.status_code < 500:
            return None
        await asyncio.sleep(0.5)
    return None


async def _login(http: httpx.AsyncClient, me: Mapping[str, str], gate: asyncio.Semaphore) -> str:
    async with gate:
        answer = await http.post("/v1/auth/login", json={"username": me["username"], "password": me["password"]})
    if answer.status_code != 200:
        raise BenchFailed(_problem(f"login of {me['username']}", answer))
    return str(answer.json()["token"])


async def _reviewer(
    http: httpx.AsyncClient,
    me: Mapping[str, str],
    person: str,
    when: Schedule,
    think: float,
    rnd: random.Random,
    t: Tally,
) -> None:
    from sync.protocol import PERSON_HEADER

    headers = {PERSON_HEADER: person}
    seq = 0
    await _sleep_until(when.start)
    if think > 0:
        await asyncio.sleep(rnd.uniform(0, think))  # reviewers who think do not all click at the same moment
    while time.time() < when.end:
        counted = time.time() >= when.warm_end
        t0 = time.perf_counter()
        try:
            answer = await http.post("/v1/review/claim", json={"held": []}, headers=headers)
        except httpx.HTTPError as exc:
            t.error(f"claim: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.5)
            continue
        claim_ms = (time.perf_counter() - t0) * 1000
        if answer.status_code != 200:
            t.error(_problem("claim", answer))
            await asyncio.sleep(0.5)
            continue
        try:
            body = answer.json()
            lease = body["lease"]
            version = None if lease is None else int(body["dossier"]["version"])
        except (ValueError, KeyError, TypeError) as exc:
            t.error(f"claim: an answer the desk cannot read ({type(exc).__name__}: {exc}): {answer.text[:100]}")
            await asyncio.sleep(0.5)
            continue
        if lease is None or version is None:  # nothing to claim: the pool ran dry (reported apart, not an error)
            if counted:
                t.empty_claims += 1
            await asyncio.sleep(1.0)
            continue
        if counted:
            t.claim_ms.append(claim_ms)
        kind = decision_kind(rnd.random())
        seq += 1
        batch = decision_batch(
            me["station"],
            seq,
            reviewer=me["username"],
            lease=lease,
            base_version=version,
            kind=kind,
            now=datetime.now(UTC),
        )
        counted = time.time() >= when.warm_end
        t0 = time.perf_counter()
        results = await _post_ops(http, batch, t, "decide")
        decide_ms = (time.perf_counter() - t0) * 1000
        if results is None:
            t.error(f"decide: {me['username']} stops: its station's op sequence is unknown now")
            return
        refused = _refusal("decide", results)
        if refused:
            t.error(refused)
        elif counted:
            t.decide_ms.append(decide_ms)
            t.decisions[kind] = t.decisions.get(kind, 0) + 1
        await _pause(rnd, think, when.end)


async def _desk(
    http: httpx.AsyncClient, me: Mapping[str, str], when: Schedule, think: float, rnd: random.Random, t: Tally
) -> None:
    from workstation.store.ids import new_id

    seq = 0
    made = 0
    year = datetime.now(UTC).year
    await _sleep_until(when.start)
    if think > 0:
        await asyncio.sleep(rnd.uniform(0, think))
    while time.time() < when.end:
        scans = [os.urandom(rnd.randint(*PAGE_BYTES)) for _ in range(rnd.randint(*PAGES_PER_DOSSIER))]
        shas = [hashlib.sha256(scan).hexdigest() for scan in scans]
        made += 1
        batch = desk_batch(
            me["station"],
            seq + 1,
            number=f"{me['station']}-{year}-{made:06d}",
            dossier_id=new_id(),
            pages=shas,
            now=datetime.now(UTC),
        )
        counted = time.time() >= when.warm_end
        t0 = time.perf_counter()
        sent = await _send_blobs(http, dict(zip(shas, scans, strict=True)), t)
        if sent is None:
            await _pause(rnd, think, when.end)
            continue
        results = await _post_ops(http, batch, t, "push")
        push_ms = (time.perf_counter() - t0) * 1000
        if results is None:
            t.error(f"push: {me['station']} stops: its op sequence is unknown now")
            return
        seq += len(batch["ops"])
        refused = _refusal("push", results)
        if refused:
            t.error(refused)
        if counted:
            t.push_ms.append(push_ms)
            t.pushes += 1
            t.ops_accepted += sum(1 for r in results if r.get("status") == "applied")
            t.bytes_accepted += sent
        await _pause(rnd, think, when.end)


async def _send_blobs(http: httpx.AsyncClient, scans: Mapping[str, bytes], t: Tally) -> int | None:
    """The blob check, then PUT each page the registry lacks; the bytes it took (None on a failure)."""
    try:
        answer = await http.post("/v1/blobs/missing", json={"sha256": sorted(scans)})
        if answer.status_code != 200:
            t.error(_problem("blob check", answer))
            return None
        sent = 0
        for sha in answer.json()["missing"]:
            put = await http.put(
                f"/v1/blobs/{sha}", content=scans[sha], headers={"Content-Type": "application/octet-stream"}
            )
            if put.status_code not in (200, 201):
                t.error(_problem("blob", put))
                return None
            sent += len(scans[sha])
        return sent
    except httpx.HTTPError as exc:
        t.error(f"blob: {type(exc).__name__}: {exc}")
        return None


async def _cpu_over(when: Schedule, t: Tally) -> None:
    await _sleep_until(when.warm_end)
    before = sum(os.times()[:2])
    await _sleep_until(when.end)
    t.cpu_seconds = sum(os.times()[:2]) - before


async def _client(spec: ClientSpec, pipe: Connection) -> None:
    timeout = httpx.Timeout(HTTP_TIMEOUT_S)

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=spec.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    reviewers = [(me, client(me["token"])) for me in spec.reviewers]
    desks = [(me, client(me["token"])) for me in spec.desks]
    tally = Tally()
    try:
        try:
            gate = asyncio.Semaphore(LOGINS_AT_ONCE)
            people = await asyncio.gather(*(_login(http, me, gate) for me, http in reviewers))
        except (BenchFailed, httpx.HTTPError) as exc:
            pipe.send(("failed", str(exc)))
            return
        pipe.send(("ready", None))
        when: Schedule = await asyncio.to_thread(pipe.recv)
        base = spec.seed * 1000
        try:
            await asyncio.gather(
                _cpu_over(when, tally),
                *(
                    _reviewer(http, me, person, when, spec.think, random.Random(base + i), tally)
                    for i, ((me, http), person) in enumerate(zip(reviewers, people, strict=True))
                ),
                *(
                    _desk(http, me, when, spec.desk_think, random.Random(base + 500 + i), tally)
                    for i, (me, http) in enumerate(desks)
                ),
            )
        except Exception as exc:  # the bench's own fault: said at once rather than waited for
            pipe.send(("failed", f"{type(exc).__name__}: {exc}"))
            return
        pipe.send(("done", asdict(tally)))
    finally:
        for _me, http in (*reviewers, *desks):
            await http.aclose()


def client_process(spec: ClientSpec, pipe: Connection) -> None:
    """A process of simulated desks (multiprocessing's target)."""
    asyncio.run(_client(spec, pipe))


def _shares(items: Sequence[Any], parts: int) -> list[list[Any]]:
    return [list(items[i::parts]) for i in range(parts)]


# -- one run -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(tree: Path, data_dir: Path) -> dict[str, str]:
    """The operator's environment: none of this shell's WS_* settings; the tree's code first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env["WS_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(tree)
    return env


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


@contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """A new, empty database `name` on the server of `admin_url` (its URL), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as exc:
            why = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
            raise BenchFailed(f"cannot create the run's database {name} (the role needs CREATEDB): {why}") from None
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def analyze(db_url: str) -> None:
    """Give the planner the statistics of the seeded tables, as a registry in service has them (autovacuum
    analyzes a table a minute or more after a bulk load: later than a run begins). Without them the generic plan
    of a prepared search can walk the whole pool for a query that finds nothing."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for (table,) in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")):
                conn.execute(text(f'ANALYZE "{table}"'))
    finally:
        engine.dispose()


def _provision_in(tree: Path, data_dir: Path, db_url: str, s: Scenario, pool: int, seed: int) -> dict[str, Any]:
    request = {"db": db_url, "reviewers": s.reviewers, "desks": s.desks, "pool": pool, "seed": seed}
    done = subprocess.run(
        [sys.executable, "-m", "bench.registry_load", "provision"],
        cwd=tree,
        env=_server_env(tree, data_dir),
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise BenchFailed(f"provisioning the registry failed:\n{done.stderr.strip()[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout)
    if Path(answer["tree"]).resolve() != tree.resolve():
        raise BenchFailed(f"provisioning ran the code of {answer['tree']}, not of {tree}")
    return answer


def _start_server(
    tree: Path, data_dir: Path, db_url: str, workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workstation",
                "registry",
                "serve",
                "--workers",
                str(workers),
                "--port",
                str(port),
                "--db",
                db_url,
            ],
            cwd=tree,
            env=_server_env(tree, data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/v1/ready", timeout=5).status_code == 200 and len(workers_of(server.pid)) == workers:
                return server, url
        if server.poll() is not None or time.monotonic() > deadline:
            _stop(server)
            raise BenchFailed(f"the registry did not become ready on {url}; it said:\n{_tail(log)}")
        time.sleep(0.2)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _receive(pipe: Connection, timeout: float, what: str) -> Any:
    if not pipe.poll(timeout):
        raise BenchFailed(f"a client process did not answer ({what}) within {timeout:g} s")
    return pipe.recv()


def run_once(
    s: Scenario, *, tree: Path, admin_url: str, database: str, pool: int, client_procs: int, seed: int
) -> dict[str, Any]:
    """One scenario against one server tree, on a fresh database and data dir; the run's figures."""
    with tempfile.TemporaryDirectory(prefix="ws-bench-reg-") as tmp, fresh_database(admin_url, database) as db_url:
        data_dir = Path(tmp)
        provisioned = _provision_in(tree, data_dir, db_url, s, pool, seed)
        analyze(db_url)
        log = data_dir / "server.log"
        server, url = _start_server(tree, data_dir, db_url, s.workers, log)
        try:
            report = _load(s, server, url, provisioned, database, client_procs=client_procs, seed=seed)
        except BenchFailed as exc:
            raise BenchFailed(f"{exc}\nthe registry said:\n{_tail(log)}") from None
        finally:
            _stop(server)
        if report["errors"]:
            report["server_said"] = server_problems(log.read_text(errors="replace"))
        return report


def _load(
    s: Scenario,
    server: subprocess.Popen[bytes],
    url: str,
    provisioned: Mapping[str, Any],
    database: str,
    *,
    client_procs: int,
    seed: int,
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parts = max(1, min(client_procs, s.reviewers + s.desks))
    specs = [
        ClientSpec(url, reviewers, desks, s.think, s.desk_think, seed * 100 + i)
        for i, (reviewers, desks) in enumerate(
            zip(_shares(provisioned["reviewers"], parts), _shares(provisioned["desks"], parts), strict=True)
        )
    ]
    pipes, procs = [], []
    try:
        for spec in specs:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(spec, theirs), daemon=True)
            proc.start()
            pipes.append(mine)
            procs.append(proc)
        for pipe in pipes:
            state, why = _receive(pipe, READY_TIMEOUT_S, "logging in")
            if state != "ready":
                raise BenchFailed(f"a client could not start: {why}")
        start = time.time() + 1.0
        when = Schedule(start, start + s.warmup, start + s.warmup + s.duration)
        for pipe in pipes:
            pipe.send(when)
        load = [_load_average()]
        time.sleep(max(0.0, when.warm_end - time.time()))
        before, read_at = read_procs(), time.monotonic()
        # The peak so far is the start-up's and the logins' (each an argon2 hash of 64 MiB): kept apart, then reset
        # so that the peak read at the end is the measured window's own.
        pids = sorted(descendants({pid: row.ppid for pid, row in before.items()}, server.pid))
        peak_before_kb, peak_reset = _memory_kb(pids)[1], _reset_peaks(pids)
        time.sleep(max(0.0, when.end - time.time()))
        after = read_procs()
        window = time.monotonic() - read_at  # between the two readings (≈ duration)
        rss_kb, peak_kb = _memory_kb(sorted(descendants({p: row.ppid for p, row in after.items()}, server.pid)))
        load.append(_load_average())
        tallies = []
        for pipe in pipes:
            state, got = _receive(pipe, HTTP_TIMEOUT_S * 3 + 10, "its figures")
            if state != "done":
                raise BenchFailed(f"a client failed: {got}")
            tallies.append(Tally(**got))
        if server.poll() is not None:
            raise BenchFailed("the registry ended during the run")
        pool_left = _pool_left(url, provisioned)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    readings = Readings(before, after, window, server.pid, database, rss_kb, peak_kb, peak_before_kb, peak_reset)
    return _run_report(s, tallies, readings, load, provisioned["pool"], pool_left)


def _pool_left(url: str, provisioned: Mapping[str, Any]) -> int | None:
    stations = [*provisioned["reviewers"], *provisioned["desks"]]
    try:
        answer = httpx.get(
            f"{url}/v1/review/pool", headers={"Authorization": f"Bearer {stations[0]['token']}"}, timeout=30
        )
        body = answer.json()
        return int(body["online"]) + int(body["offline"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
        return None


@dataclass(frozen=True)
class Readings:
    """/proc at the start and the end of the measured window, and what is known of the processes read."""

    before: Mapping[int, ProcRow]
    after: Mapping[int, ProcRow]
    window: float  # seconds between the readings
    server_pid: int
    database: str
    # the registry's memory, summed over its processes: resident at the end, its peak in the window (since the
    # start when the peaks could not be reset), and its peak before the window
    rss_kb: int
    peak_kb: int
    peak_before_kb: int
    peak_reset: bool


def _cpu_of(readings: Readings, pids: Sequence[int]) -> float:
    """CPU seconds the processes `pids` (alive at the end) spent in the window."""
    before, after = readings.before, readings.after
    ticks = cpu_ticks({p: before[p].ticks for p in pids if p in before}, {p: after[p].ticks for p in pids})
    return ticks / os.sysconf("SC_CLK_TCK")


def _postgres(readings: Readings) -> dict[str, Any] | None:
    every = [p for p, row in readings.after.items() if row.name == "postgres"]
    if not every:
        return None
    ours = [p for p in every if serves_database(_cmdline(p), readings.database)]
    mine, total = _cpu_of(readings, ours), _cpu_of(readings, every)
    return {
        "backends": len(ours),
        "cpu_seconds": round(mine, 2),
        "cpu_percent": round(100 * mine / readings.window, 1),
        # every postgres process on the machine: the server's own (WAL writer, checkpointer) and other databases'
        "all_cpu_percent": round(100 * total / readings.window, 1),
    }


def _run_report(
    s: Scenario,
    tallies: Sequence[Tally],
    readings: Readings,
    load: list[float | None],
    pool: int,
    pool_left: int | None,
) -> dict[str, Any]:
    window = readings.window
    claim_ms = [v for t in tallies for v in t.claim_ms]
    decide_ms = [v for t in tallies for v in t.decide_ms]
    push_ms = [v for t in tallies for v in t.push_ms]
    decisions: dict[str, int] = {}
    for t in tallies:
        for kind, n in t.decisions.items():
            decisions[kind] = decisions.get(kind, 0) + n
    messages = list(dict.fromkeys(m for t in tallies for m in t.messages))[:MAX_MESSAGES]
    registry = sorted(descendants({pid: row.ppid for pid, row in readings.after.items()}, readings.server_pid))
    registry_cpu = _cpu_of(readings, registry)
    client_cpu = [t.cpu_seconds for t in tallies]
    ops = sum(t.ops_accepted for t in tallies)
    mb = sum(t.bytes_accepted for t in tallies) / 1e6
    return {
        "claims": len(claim_ms),
        "claims_per_second": round(len(claim_ms) / s.duration, 2),
        "claim_ms": latencies(claim_ms),
        "decide_ms": latencies(decide_ms),
        "decisions": dict(sorted(decisions.items())),
        "empty_claims": sum(t.empty_claims for t in tallies),
        "pool": pool,
        "pool_left": pool_left,
        "errors": sum(t.errors for t in tallies),
        "error_messages": messages,
        "desks": {
            "desks": s.desks,
            "pushes": sum(t.pushes for t in tallies),
            "ops_accepted": ops,
            "ops_per_second": round(ops / s.duration, 2),
            "mb_accepted": round(mb, 2),
            "mb_per_second": round(mb / s.duration, 2),
            "push_ms": latencies(push_ms),
        },
        "registry": {
            "processes": len(registry),
            "cpu_seconds": round(registry_cpu, 2),
            "cpu_percent": round(100 * registry_cpu / window, 1),
            "rss_mb": round(readings.rss_kb / 1024, 1),
            "peak_mb": round(readings.peak_kb / 1024, 1),
            "peak_is_window": readings.peak_reset,
            "peak_before_mb": round(readings.peak_before_kb / 1024, 1),
        },
        "postgres": _postgres(readings),
        "clients": {
            "processes": len(tallies),
            "cpu_seconds": round(sum(client_cpu), 2),
            "cpu_percent_max": round(100 * max(client_cpu, default=0.0) / window, 1),
        },
        "window_seconds": round(window, 2),
        "load_average": load,
    }


# -- the baseline tree ---------------------------------------------------------------------------------------


class BaselineMissing(Exception):
    """The baseline cannot be had: no git, or no such commit (a usage problem: exit 2)."""


def find_commit(ref: str) -> str:
    """The commit `ref` names in the repository this bench is part of."""
    if shutil.which("git") is None:
        raise BaselineMissing("the baseline is extracted with git, which is not installed (or pass --baseline none)")
    try:
        found = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BaselineMissing(f"git could not be asked for the baseline {ref}: {exc}") from None
    if found.returncode != 0:
        raise BaselineMissing(f"no commit {ref} in this repository for the baseline (or pass --baseline none)")
    return found.stdout.strip()


@contextmanager
def baseline_tree(commit: str) -> Iterator[Path]:
    """`commit` of this repository, extracted with `git archive` into a temp directory (with this bench's
    provisioning beside its own code, so the baseline is provisioned by its own services)."""
    with tempfile.TemporaryDirectory(prefix="ws-bench-baseline-") as tmp:
        archive = subprocess.Popen(["git", "-C", str(REPO), "archive", commit], stdout=subprocess.PIPE)
        extract = subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout, capture_output=True)
        if archive.stdout is not None:
            archive.stdout.close()
        if archive.wait() != 0 or extract.returncode != 0:
            raise BenchFailed(f"git archive {commit} could not be extracted: {extract.stderr.decode()[:200]}")
        shutil.copyfile(Path(__file__), Path(tmp) / "bench" / "registry_load.py")
        yield Path(tmp)


# -- the report ----------------------------------------------------------------------------------------------


def _ms(d: Mapping[str, float], keys: Sequence[str] = ("p50", "p95", "p99", "max")) -> str:
    return " / ".join(f"{d[k]:.1f}" for k in keys)


def _loads(pair: Sequence[float | None]) -> str:
    return "→".join("?" if v is None else f"{v:.1f}" for v in pair)


# The table's columns: heading, width, alignment.
_COLUMNS = (
    ("server", 9, "<"),
    ("claims", 7, ">"),
    ("claims/s", 9, ">"),
    ("claim ms p50/p95/p99/max", 33, ">"),
    ("decide ms p50/p95/p99", 25, ">"),
    ("errors", 7, ">"),
    ("registry CPU", 17, ">"),
    ("RSS MB", 7, ">"),
    ("PG CPU", 7, ">"),
    ("client CPU", 11, ">"),
    ("load", 11, ">"),
)


def _line(cells: Sequence[str]) -> str:
    return "  " + " ".join(f"{c:{align}{width}}" for c, (_h, width, align) in zip(cells, _COLUMNS, strict=True))


def table(report: Mapping[str, Any]) -> list[str]:
    """The report as the lines printed for people."""
    lines: list[str] = []
    for block in report["scenarios"]:
        lines.append(f"registry load, {block['scenario']}: {block['describe']}")
        lines.append(
            f"  medians of {report['runs']} run(s); CPU in % of one core over the measured window (client CPU: "
            f"processes × the busiest one; PG CPU: the run database's backends); {report['cpus']} cores shared by the "
            "registry, PostgreSQL and the clients"
        )
        lines.append(_line([h for h, _w, _a in _COLUMNS]))
        for row in block["servers"]:
            m = row["median"]
            reg, pg, cl = m["registry"], m["postgres"], m["clients"]
            lines.append(
                _line(
                    [
                        row["server"],
                        str(m["claims"]),
                        f"{m['claims_per_second']:.1f}",
                        _ms(m["claim_ms"]),
                        _ms(m["decide_ms"], ("p50", "p95", "p99")),
                        str(m["errors"]),
                        f"{reg['cpu_percent']:.0f}% ({reg['cpu_seconds']:.1f} s)",
                        f"{reg['rss_mb']:.0f}",
                        f"{pg['cpu_percent']:.0f}%" if pg else "?",
                        f"{cl['processes']}×≤{cl['cpu_percent_max']:.0f}%",
                        _loads(m["load_average"]),
                    ]
                )
            )
        for row in block["servers"]:
            lines.extend(_details(row))
        if block.get("claims_per_second_ratio") is not None:
            lines.append(
                f"  claims/s, current ÷ baseline ({report['baseline'][:12]}): {block['claims_per_second_ratio']:.2f}"
            )
    return lines


def _details(row: Mapping[str, Any]) -> list[str]:
    m, name = row["median"], row["server"]
    out = []
    d = m["desks"]
    if d["desks"]:
        out.append(
            f"  {name}: desks {d['desks']}: {d['pushes']} pushes, {d['ops_per_second']:.1f} ops/s and "
            f"{d['mb_per_second']:.1f} MB/s accepted, push ms p50/p95/p99/max {_ms(d['push_ms'])}"
        )
    if len(row["runs"]) > 1:
        out.append(
            f"  {name}: each run: claims/s "
            + ", ".join(f"{r['claims_per_second']:.1f}" for r in row["runs"])
            + "; claim p99 ms "
            + ", ".join(f"{r['claim_ms']['p99']:.1f}" for r in row["runs"])
            + "; errors "
            + ", ".join(str(r["errors"]) for r in row["runs"])
        )
    kinds = ", ".join(f"{k} {v}" for k, v in m["decisions"].items())
    reg, pg = m["registry"], m["postgres"]
    out.append(
        f"  {name}: decisions {kinds or 'none'}; pool {m['pool']} seeded, {m['pool_left']} left; registry "
        f"{reg['processes']} processes, peak RSS {reg['peak_mb']:.0f} MB "
        f"{'in the window' if reg['peak_is_window'] else 'since start-up'}, {reg['peak_before_mb']:.0f} MB before "
        "it (start-up, logins)" + (f"; every postgres process {pg['all_cpu_percent']:.0f}%" if pg else "")
    )
    if any(r["empty_claims"] for r in row["runs"]):
        out.append(f"  {name}: problem: the pool ran dry ({m['empty_claims']} empty claims): raise --pool")
    if m["clients"]["cpu_percent_max"] > 100 * CLIENT_BUSY:
        out.append(
            f"  {name}: caution: a client process used {m['clients']['cpu_percent_max']:.0f}% of a core: the bench "
            "may be the bottleneck; raise --client-procs"
        )
    for line in m["error_messages"]:
        out.append(f"  {name}: error: {line}")
    said: list[str] = next((r["server_said"] for r in row["runs"] if r.get("server_said")), [])
    if said:
        out.append(f"  {name}: the registry's own output (its last lines other than requests):")
        out.extend(f"    {line}" for line in said)
    return out


# -- the command ---------------------------------------------------------------------------------------------


def scenarios_for(
    name: str,
    *,
    reviewers: int | None = None,
    think: float | None = None,
    desks: int | None = None,
    desk_think: float | None = None,
    workers: int | None = None,
    duration: float | None = None,
    warmup: float | None = None,
) -> list[Scenario]:
    """The scenarios `--scenario` names (all three for "all"), with the values given instead of theirs."""
    chosen = list(SCENARIOS.values()) if name == "all" else [SCENARIOS[name]]
    given: dict[str, Any] = {
        "reviewers": reviewers,
        "think": think,
        "desks": desks,
        "desk_think": desk_think,
        "workers": workers,
        "duration": duration,
        "warmup": warmup,
    }
    return [replace(s, **{k: v for k, v in given.items() if v is not None}) for s in chosen]


def check(scenarios: Sequence[Scenario], *, runs: int, client_procs: int, pool: int | None) -> str | None:
    """What is wrong with the options, in one line (None: nothing)."""
    for s in scenarios:
        if s.reviewers < 1 or s.desks < 0:
            return "--reviewers must be at least 1 and --desks at least 0"
        if s.think < 0 or s.desk_think < 0 or s.warmup < 0 or s.duration <= 0:
            return "--think, --desk-think and --warmup must be 0 or more, --duration more than 0"
        if not 2 <= s.workers <= 64:
            return "--workers is 2 to 64 (the registry's several workers on PostgreSQL)"
    if runs < 1 or client_procs < 1:
        return "--runs and --client-procs must be at least 1"
    if pool is not None and pool < 1:
        return "--pool must be at least 1"
    return None


def pg_url_from(pg_url: str | None) -> tuple[str | None, str]:
    """The PostgreSQL URL and where it came from, or None and why there is none."""
    why = "the registry load bench runs on PostgreSQL: pass --pg-url, or set WS_BENCH_PG_URL or WS_TEST_PG_URL"
    return pg_url_from_env(pg_url, given="--pg-url", why=why)


def main(
    *,
    scenario: str = "all",
    reviewers: int | None = None,
    think: float | None = None,
    desks: int | None = None,
    desk_think: float | None = None,
    workers: int | None = None,
    duration: float | None = None,
    warmup: float | None = None,
    client_procs: int = 2,
    pool: int | None = None,
    pg_url: str | None = None,
    baseline: str | None = None,
    with_baseline: bool = False,
    runs: int = 3,
    as_json: bool = False,
) -> int:
    """`baseline`: a commit to compare with (None: BASELINE_REF, for saturation only; "none": no baseline); a
    commit named, or `with_baseline`, compares every scenario."""
    if scenario != "all" and scenario not in SCENARIOS:
        return _usage(f"unknown scenario '{scenario}'; scenarios: {', '.join(SCENARIOS)}, all")
    chosen = scenarios_for(
        scenario,
        reviewers=reviewers,
        think=think,
        desks=desks,
        desk_think=desk_think,
        workers=workers,
        duration=duration,
        warmup=warmup,
    )
    problem = check(chosen, runs=runs, client_procs=client_procs, pool=pool)
    if problem:
        return _usage(problem)
    if not Path("/proc/self/stat").is_file():
        return _usage("this bench reads /proc (Linux only)")
    url, source = pg_url_from(pg_url)
    if url is None:
        return _usage(source)
    unreachable = postgres_problem(url)
    if unreachable:
        return _usage(unreachable)
    ref = None if baseline == "none" else (baseline or BASELINE_REF)
    compare_all = with_baseline or (baseline not in (None, "none"))
    compared = [s.name for s in chosen if ref is not None and (compare_all or s.name == "saturation")]
    commit = None
    if compared:
        try:
            commit = find_commit(str(ref))
        except BaselineMissing as exc:
            return _usage(str(exc))
    report: dict[str, Any] = {
        "bench": "registry",
        "runs": runs,
        "cpus": os.cpu_count() or 1,
        "client_procs": client_procs,
        "baseline": ref,
        "baseline_commit": commit,
        "scenarios": [],
    }
    counter = iter(range(1, 10_000))
    try:
        for s in chosen:
            servers: list[tuple[str, str | None]] = [("current", None)]
            if commit is not None and s.name in compared:
                servers.append(("baseline", commit))
            block: dict[str, Any] = {"scenario": s.name, "describe": s.describe(), "config": asdict(s), "servers": []}
            for name, commit in servers:
                with _tree(commit) as tree:
                    done = [
                        run_once(
                            s,
                            tree=tree,
                            admin_url=url,
                            database=f"ws_bench_reg_{os.getpid()}_{next(counter)}",
                            pool=pool or pool_size(s),
                            client_procs=client_procs,
                            seed=i + 1,
                        )
                        for i in range(runs)
                    ]
                median = median_tree([{k: v for k, v in r.items() if k != "server_said"} for r in done])
                block["servers"].append({"server": name, "ref": commit, "median": median, "runs": done})
            medians = {row["server"]: row["median"]["claims_per_second"] for row in block["servers"]}
            block["claims_per_second_ratio"] = ratio(medians.get("current"), medians.get("baseline"))
            report["scenarios"].append(block)
    except BenchFailed as exc:
        print(f"workstation: error: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print("\n".join(table(report)))
    return 0


@contextmanager
def _tree(commit: str | None) -> Iterator[Path]:
    if commit is None:
        yield REPO
        return
    with baseline_tree(commit) as tree:
        yield tree


def _usage(message: str) -> int:
    print(f"workstation: error: {message}", file=sys.stderr)
    return 2


def _provision_cli() -> int:
    """`python -m bench.registry_load provision`: the request as JSON on stdin, the stations and people on stdout."""
    request = json.loads(sys.stdin.read())
    answer = provision(
        request["db"],
        reviewers=request["reviewers"],
        desks=request["desks"],
        pool=request["pool"],
        seed=request["seed"],
    )
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["provision"]:
        sys.exit(_provision_cli())
    sys.exit(_usage("run it as `workstation bench registry` (this module's own command is `provision`)"))
