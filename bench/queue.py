"""`workstation bench queue`: how fast reviewers take work from the review pool, on SQLite and PostgreSQL.

Each run seeds a fresh database with a pool of dossiers straight at REVIEW (`seed_pool`: a bulk insert, no window
flow), adds N reviewers holding both grants (R14) and starts N reviewer threads at once. Each thread loops:
`claim_next` (timed: the claim latency), then `decide` under that lease (timed: the decide latency), mostly
审核通过, a small share 补正 with one item or 不予登记 for `dispute`, with an optional think time after each
decision (uniform between 0.5 and 1.5 times the value given, so the threads do not stay in lockstep), until
`claim_next` finds nothing for it. All threads start together; with a think time each first waits a random
part of it, else the first claims are one burst. Per backend × concurrency the figures are the medians over the
runs of: claims, claims/second (claims / wall time from the start signal to the last thread's end), claim
latency p50/p95/p99/max and decide latency p50/p99 in milliseconds, with the database connections opened while
timing (pool churn) and the machine's load average.

SQLite is a temp file per run, opened as a desk opens it (WAL, synchronous=FULL, BEGIN IMMEDIATE). PostgreSQL is
the server named by `pg_url`, else WS_BENCH_PG_URL, else WS_TEST_PG_URL; each run works in its own schema
(`ws_bench_queue`, dropped and created again, left dropped at the end), so nothing else in that database is
touched. Without a URL, PostgreSQL is skipped with one line saying why.

Caveat on the figures: every reviewer is a thread of this one Python process, so the reviewers share the GIL, and
they share the machine's cores with the database server (2 cores where this bench was written). A claim plus its
decision costs about 7 ms of Python CPU here and about 2 ms of PostgreSQL backend CPU, so with 10 or 50 threads
and no think time the interpreter and the cores are the bottleneck and much of a claim's latency is waiting for
them, not for the database. Real reviewers are separate desks on separate machines. The figures are an upper bound
on what the claim path costs, comparable between runs and backends on one machine, not an office's capacity; the
load average printed with each row shows whether other work shared the cores.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.pg import pg_url_from_env, postgres_problem
from bench.stats import percentile
from workstation.domain.catalogue import Business, Catalogue, load_catalogue
from workstation.domain.permissions import Actor, UserRole
from workstation.domain.qc import default_qc_policy
from workstation.domain.review import ReturnItem
from workstation.domain.stages import Stage, Status
from workstation.errors import ConflictError
from workstation.services import audit
from workstation.services.review import ReviewService
from workstation.services.views import OFFICE_TZ
from workstation.store import migrate
from workstation.store.db import Database
from workstation.store.ids import new_id
from workstation.store.models import Base, Counter, Station, User
from workstation.store.types import utcnow

TARGET_P99_MS = 50.0
TARGET_REVIEWERS = 50
STAGE_PLAN = "ACCEPT REVIEW REGISTER ISSUE"
BENCH_STATION = "bench"
PG_SCHEMA = "ws_bench_queue"
BACKENDS = ("sqlite", "postgresql")
NO_LOGIN_HASH = "!no-password-login"  # not an argon2 hash: every login attempt fails (InvalidHash is refused)

# How often each business reaches review in a city office (weights; businesses not listed get 1).
_BUSINESS_WEIGHTS = {
    "RESALE_TRANSFER": 30,
    "MORT_FIRST": 25,
    "NEW_HOME_TRANSFER": 15,
    "MORT_CANCEL": 10,
    "CHANGE": 5,
    "ENT_NONRES_TRANSFER": 5,
    "MORT_CIP": 5,
    "HOUSE_FIRST": 5,
}
_DIGITAL_CHANNELS = ("online", "online", "online", "extension", "field", "self_service")
_RETURN_SHARE = 0.07
_REJECT_SHARE = 0.03


# -- seeding -------------------------------------------------------------------------------------------------


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _ensure_station(session: Session, station_id: str) -> None:
    if session.get(Station, station_id) is None:
        session.add(Station(id=station_id, name=f"bench {station_id}", kind="hall"))
        session.flush()


def _reserve_numbers(session: Session, name: str, count: int) -> int:
    """Take `count` numbers of a gap-free counter at once; returns the first."""
    if session.get(Counter, name) is None:
        session.add(Counter(name=name, value=0))
        session.flush()
    last = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + count).returning(Counter.value)
    ).scalar_one()
    return int(last) - count + 1


def _pick_business(rnd: random.Random, catalogue: Catalogue, kind: str, digitized: bool) -> Business:
    # A paper dossier cannot be of a business digitised at pre-intake (R7): every such one is digital.
    fits = [
        b
        for b in catalogue.businesses.values()
        if kind in b.applicant_role.kinds and (digitized or not b.digitized_at_intake)
    ]
    weights = [_BUSINESS_WEIGHTS.get(b.code, 1) for b in fits]
    return rnd.choices(fits, weights=weights)[0]


def seed_pool(
    db: Database,
    n: int,
    *,
    station_id: str,
    seed: int,
    catalogue: Catalogue | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Insert `n` dossiers straight at REVIEW, status submitted, in one Core executemany; returns their 受理号.

    The mix is an office's: about 30 % enterprise applicants, about 60 % digitised (online review), applied at
    random over the last 30 days, businesses from the catalogue weighted by how common they are, the standard
    four-stage plan. The Station row and a clerk who "created" them are added if missing; numbers come from the
    same per-station, per-year counter `DossierService.new` uses, so later dossiers do not collide.
    """
    if n < 0:
        raise ValueError("n must be 0 or more")
    rnd = random.Random(seed)
    catalogue = catalogue or load_catalogue()
    now = now or utcnow()
    planned: list[dict[str, Any]] = []
    for _ in range(n):
        kind = "enterprise" if rnd.random() < 0.30 else "individual"
        digitized = rnd.random() < 0.60
        business = _pick_business(rnd, catalogue, kind, digitized)
        if not digitized:
            channel = "window"
        elif business.digitized_at_intake:
            channel = "window" if rnd.random() < 0.8 else "online"
        else:
            channel = rnd.choice(_DIGITAL_CHANNELS)
        conditions = [rnd.choice(group) for group in business.require_one_of]
        applied_at = now - timedelta(seconds=rnd.uniform(0, 30 * 86400))
        accepted_at = min(now, applied_at + timedelta(seconds=rnd.uniform(60, 7200)))
        planned.append(
            {
                "id": new_id(),
                "station_id": station_id,
                "business_code": business.code,
                "registration_type": business.registration_type,
                "channel": channel,
                "applicant_kind": kind,
                "digitized": digitized,
                "hall_mode": "standard",
                "stage_plan": STAGE_PLAN,
                "conditions": conditions,
                "stage": Stage.REVIEW.value,
                "status": Status.SUBMITTED.value,
                "applied_at": applied_at,
                "created_at": applied_at,
                "updated_at": accepted_at,
                "accepted_at": accepted_at,
                "version": 1,
                "fence": 0,
                "lease_expires_at": None,
                "registered_at": None,
                "registered_by": None,
            }
        )
    with db.transaction() as session:
        _ensure_station(session, station_id)
        clerk = f"pool-seeder-{station_id}"
        clerk_id = session.execute(select(User.id).where(User.username == clerk)).scalar_one_or_none()
        if clerk_id is None:
            clerk_id = new_id()
            session.execute(
                insert(_table("users")),
                [
                    {
                        "id": clerk_id,
                        "username": clerk,
                        "display_name": "bench: the clerk who took these dossiers in",
                        "password_hash": NO_LOGIN_HASH,
                        "roles": UserRole.CLERK.value,
                        "can_review_online": False,
                        "can_review_offline": False,
                        "active": True,
                        "station_id": station_id,
                        "created_at": now,
                    }
                ],
            )
        years = Tally(row["applied_at"].astimezone(OFFICE_TZ).year for row in planned)
        next_seq = {year: _reserve_numbers(session, f"dossier:{station_id}:{year}", c) for year, c in years.items()}
        for row in planned:
            year = row["applied_at"].astimezone(OFFICE_TZ).year
            row["number"] = f"{station_id}-{year}-{next_seq[year]:06d}"
            row["created_by"] = clerk_id
            next_seq[year] += 1
        if planned:
            session.execute(insert(_table("dossiers")), planned)
            # Each has its application form's slot (M01, satisfied): what a 补正 item names must be on the
            # dossier's checklist.
            session.execute(
                insert(_table("material_slots")),
                [
                    {
                        "id": new_id(),
                        "dossier_id": row["id"],
                        "position": 0,
                        "material": "M01",
                        "accepts": [],
                        "party_key": None,
                        "label": "不动产登记申请书",
                        "required": True,
                        "satisfied": True,
                        "waived": False,
                    }
                    for row in planned
                ],
            )
        # The seeding is on the record like any change; it also creates the chain head if there is none yet.
        audit.append(
            session,
            station_id=station_id,
            actor=clerk,
            action="bench.seed_pool",
            entity="station",
            entity_id=station_id,
            payload={"dossiers": len(planned), "seed": seed},
        )
    return [row["number"] for row in planned]


def add_reviewers(
    db: Database,
    count: int,
    *,
    station_id: str,
    prefix: str = "bench-rev",
    online: bool = True,
    offline: bool = True,
) -> list[Actor]:
    """`count` reviewer users with the given grants (R14), bulk-inserted; no password login (no argon2 cost)."""
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "username": f"{prefix}-{i:03d}",
            "display_name": f"{prefix} {i}",
            "password_hash": NO_LOGIN_HASH,
            "roles": UserRole.REVIEWER.value,
            "can_review_online": online,
            "can_review_offline": offline,
            "active": True,
            "station_id": station_id,
            "created_at": now,
        }
        for i in range(count)
    ]
    with db.transaction() as session:
        _ensure_station(session, station_id)
        if rows:
            session.execute(insert(_table("users")), rows)
    return [
        Actor(
            user_id=row["id"],
            username=row["username"],
            roles=frozenset({UserRole.REVIEWER}),
            can_review_online=online,
            can_review_offline=offline,
        )
        for row in rows
    ]


# -- statistics ----------------------------------------------------------------------------------------------


# -- one run -------------------------------------------------------------------------------------------------


@dataclass
class _Reviewer:
    claim_ms: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)
    empty_ms: list[float] = field(default_factory=list)  # the last claim, which found nothing
    kinds: Tally[str] = field(default_factory=Tally)
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Run:
    backend: str
    reviewers: int
    dossiers: int
    wall_seconds: float
    claim_ms: list[float]
    decide_ms: list[float]
    empty_ms: list[float]
    kinds: dict[str, int]
    conflicts: int
    errors: list[str]
    connections: int  # database connections opened during the timed part (pool churn)

    @property
    def claims(self) -> int:
        return len(self.claim_ms)

    @property
    def claims_per_second(self) -> float:
        return self.claims / self.wall_seconds if self.wall_seconds else 0.0


def _decision(rnd: random.Random, material: str) -> tuple[str, dict[str, Any]]:
    draw = rnd.random()
    if draw < _RETURN_SHARE:
        return "return", {"items": [ReturnItem(problem="missing", material=material)]}
    if draw < _RETURN_SHARE + _REJECT_SHARE:
        return "reject", {"reason_code": "dispute"}
    return "approve", {}


def _work(
    service: ReviewService,
    actor: Actor,
    out: _Reviewer,
    start: threading.Barrier,
    *,
    seed: int,
    think_s: float,
    material: str,
) -> None:
    rnd = random.Random(seed)
    start.wait()
    if think_s:
        time.sleep(rnd.uniform(0, think_s))  # reviewers who think do not all click at the same moment either
    while len(out.errors) < 20:
        t0 = time.perf_counter()
        try:
            lease = service.claim_next(actor)
        except Exception as exc:  # counted and shown; the run goes on
            out.errors.append(f"claim: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        t1 = time.perf_counter()
        if lease is None:
            out.empty_ms.append((t1 - t0) * 1000)
            return
        out.claim_ms.append((t1 - t0) * 1000)
        kind, extra = _decision(rnd, material)
        t2 = time.perf_counter()
        try:
            service.decide(actor, lease.number, kind, lease_id=lease.lease_id, fence=lease.fence, **extra)
            out.kinds[kind] += 1
        except ConflictError:
            out.conflicts += 1
        except Exception as exc:
            out.errors.append(f"decide: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        out.decide_ms.append((time.perf_counter() - t2) * 1000)
        if think_s:
            time.sleep(rnd.uniform(0.5, 1.5) * think_s)  # jittered: equal pauses would keep the threads in lockstep


def run_once(
    url: str, backend: str, *, reviewers: int, dossiers: int, think_ms: float, seed: int, catalogue: Catalogue
) -> Run:
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
        seed_pool(db, dossiers, station_id=BENCH_STATION, seed=seed, catalogue=catalogue)
        actors = add_reviewers(db, reviewers, station_id=BENCH_STATION)
        service = ReviewService(db, catalogue, station_id=BENCH_STATION, qc_policy=default_qc_policy())
        material = sorted(catalogue.materials)[0]
        connects = [0]

        def _count(*_args: Any) -> None:
            connects[0] += 1

        start = threading.Barrier(reviewers + 1)
        outs = [_Reviewer() for _ in actors]
        threads = [
            threading.Thread(
                target=_work,
                args=(service, actor, out, start),
                kwargs={"seed": seed * 1000 + i, "think_s": think_ms / 1000, "material": material},
                name=f"reviewer-{i}",
                daemon=True,
            )
            for i, (actor, out) in enumerate(zip(actors, outs, strict=True))
        ]
        for thread in threads:
            thread.start()
        event.listen(db.engine, "connect", _count)
        start.wait()
        t0 = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
        event.remove(db.engine, "connect", _count)
    finally:
        db.dispose()
    kinds: Tally[str] = Tally()
    for out in outs:
        kinds.update(out.kinds)
    return Run(
        backend=backend,
        reviewers=reviewers,
        dossiers=dossiers,
        wall_seconds=wall,
        claim_ms=[v for o in outs for v in o.claim_ms],
        decide_ms=[v for o in outs for v in o.decide_ms],
        empty_ms=[v for o in outs for v in o.empty_ms],
        kinds=dict(kinds),
        conflicts=sum(o.conflicts for o in outs),
        errors=[e for o in outs for e in o.errors],
        connections=connects[0],
    )


# -- backends ------------------------------------------------------------------------------------------------


@contextmanager
def _sqlite_urls() -> Iterator[Iterator[str]]:
    with tempfile.TemporaryDirectory(prefix="ws-bench-queue-") as tmp:

        def fresh() -> Iterator[str]:
            n = 0
            while True:
                n += 1
                yield f"sqlite:///{Path(tmp) / f'run{n}.db'}"

        yield fresh()


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    given = parsed.query.get("options")
    options = " ".join([*([given] if isinstance(given, str) else list(given or ())), f"-csearch_path={schema}"])
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _reset_schema(url: str, schema: str, *, create: bool) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            if create:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()


@contextmanager
def _postgres_urls(url: str) -> Iterator[Iterator[str]]:
    def fresh() -> Iterator[str]:
        while True:
            _reset_schema(url, PG_SCHEMA, create=True)
            yield _with_search_path(url, PG_SCHEMA)

    try:
        yield fresh()
    finally:
        _reset_schema(url, PG_SCHEMA, create=False)


# -- the report ----------------------------------------------------------------------------------------------


def _load_average() -> float | None:
    """The machine's 1-minute load average: other work on the same cores shows in every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _ms(value: float) -> float:
    return round(value, 2)


def summarise(runs: Sequence[Run]) -> dict[str, Any]:
    """One backend × concurrency: the median over the runs of each run's figure."""

    def med(values: Sequence[float]) -> float:
        return statistics.median(values) if values else 0.0

    first = runs[0]
    claims = [r.claims for r in runs]
    return {
        "backend": first.backend,
        "reviewers": first.reviewers,
        "dossiers": first.dossiers,
        "claims": statistics.median_low(claims),
        "claims_runs": claims,
        "claims_per_second": round(med([r.claims_per_second for r in runs]), 1),
        "claims_per_second_runs": [round(r.claims_per_second, 1) for r in runs],
        "wall_seconds": round(med([r.wall_seconds for r in runs]), 3),
        "claim_ms": {
            "p50": _ms(med([percentile(r.claim_ms, 50) for r in runs])),
            "p95": _ms(med([percentile(r.claim_ms, 95) for r in runs])),
            "p99": _ms(med([percentile(r.claim_ms, 99) for r in runs])),
            "max": _ms(med([max(r.claim_ms, default=0.0) for r in runs])),
        },
        "claim_p99_ms_runs": [_ms(percentile(r.claim_ms, 99)) for r in runs],
        "decide_ms": {
            "p50": _ms(med([percentile(r.decide_ms, 50) for r in runs])),
            "p99": _ms(med([percentile(r.decide_ms, 99) for r in runs])),
        },
        "empty_claim_ms_p50": _ms(med([percentile(r.empty_ms, 50) for r in runs])),
        "decisions_all_runs": dict(sorted(sum((Tally(r.kinds) for r in runs), Tally()).items())),
        "conflicts": sum(r.conflicts for r in runs),
        "errors": sum(len(r.errors) for r in runs),
        "error_lines": sorted({e for r in runs for e in r.errors})[:10],
        "connections_opened": statistics.median_low([r.connections for r in runs]),
    }


def _target(results: Sequence[dict[str, Any]], skipped: dict[str, str]) -> dict[str, Any]:
    found = next(
        (r for r in results if r["backend"] == "postgresql" and r["reviewers"] == TARGET_REVIEWERS),
        None,
    )
    target: dict[str, Any] = {
        "backend": "postgresql",
        "reviewers": TARGET_REVIEWERS,
        "p99_ms_limit": TARGET_P99_MS,
        "p99_ms": None,
        "met": None,
    }
    if found is not None:
        target["p99_ms"] = found["claim_ms"]["p99"]
        target["met"] = found["claim_ms"]["p99"] < TARGET_P99_MS
    elif "postgresql" in skipped:
        target["why_not_measured"] = f"PostgreSQL skipped: {skipped['postgresql']}"
    else:
        target["why_not_measured"] = f"no run with {TARGET_REVIEWERS} reviewers on PostgreSQL"
    return target


def _loads(pair: Sequence[float | None]) -> str:
    return "→".join("?" if v is None else f"{v:.1f}" for v in pair)


def _print(report: dict[str, Any]) -> None:
    print(
        f"queue bench: {report['dossiers']} dossiers, medians of {report['runs']} runs, think time "
        f"{report['think_ms']:g} ms; reviewers are threads of one Python process sharing {report['cpus']} "
        f"cores with the database"
    )
    print(
        f"  {'backend':<11}{'reviewers':>9}{'claims':>8}{'claims/s':>10}   claim ms p50/p95/p99/max"
        f"{'':>8}decide ms p50/p99  conns  load"
    )
    for r in report["results"]:
        c, d = r["claim_ms"], r["decide_ms"]
        claim = f"{c['p50']:.1f} / {c['p95']:.1f} / {c['p99']:.1f} / {c['max']:.1f}"
        decide = f"{d['p50']:.1f} / {d['p99']:.1f}"
        print(
            f"  {r['backend']:<11}{r['reviewers']:>9}{r['claims']:>8}{r['claims_per_second']:>10.1f}   {claim:<31} "
            f"{decide:<17} {r['connections_opened']:>5}  {_loads(r['load_average'])}"
        )
        if r["claims"] != r["dossiers"] or r["conflicts"] or r["errors"]:
            print(
                f"    problem: {r['claims']} of {r['dossiers']} claimed, {r['conflicts']} conflicts, "
                f"{r['errors']} errors"
            )
            for line in r["error_lines"]:
                print(f"    problem: {line}")
    for backend, why in report["skipped"].items():
        print(f"  {backend}: skipped: {why}")
    t = report["target"]
    if t["met"] is None:
        verdict = f"not measured ({t.get('why_not_measured', '')})"
    else:
        verdict = f"{'met' if t['met'] else 'missed'} (p99 {t['p99_ms']:.1f} ms)"
    print(f"PostgreSQL p99 < {TARGET_P99_MS:g} ms at {TARGET_REVIEWERS} reviewers: {verdict}")


def main(
    *,
    runs: int = 3,
    dossiers: int = 2000,
    reviewers: Sequence[int] = (1, 10, 50),
    pg_url: str | None = None,
    think_ms: float = 0.0,
    backends: Sequence[str] = BACKENDS,
    as_json: bool = False,
) -> int:
    if runs < 1 or dossiers < 1 or not reviewers or min(reviewers) < 1 or think_ms < 0:
        print(
            "workstation: error: runs, dossiers and reviewers must be at least 1; think time 0 or more", file=sys.stderr
        )
        return 2
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        print(f"workstation: error: unknown backend '{unknown[0]}'; backends: {', '.join(BACKENDS)}", file=sys.stderr)
        return 2
    catalogue = load_catalogue()
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    sources: dict[str, str] = {}
    for backend in backends:
        if backend == "postgresql":
            url, source = pg_url_from_env(pg_url)
            problem = source if url is None else postgres_problem(url)
            if url is None or problem:
                skipped[backend] = problem or source
                continue
            sources[backend] = f"{make_url(url).render_as_string(hide_password=True)} (from {source})"
            urls = _postgres_urls(url)
        else:
            sources[backend] = "temp file"
            urls = _sqlite_urls()
        with urls as fresh:
            for count in reviewers:
                load_before = _load_average()
                done = [
                    run_once(
                        next(fresh),
                        backend,
                        reviewers=count,
                        dossiers=dossiers,
                        think_ms=think_ms,
                        seed=1000 * count + i,
                        catalogue=catalogue,
                    )
                    for i in range(runs)
                ]
                results.append({**summarise(done), "load_average": [load_before, _load_average()]})
    report = {
        "bench": "queue",
        "runs": runs,
        "dossiers": dossiers,
        "reviewers": list(reviewers),
        "think_ms": think_ms,
        "cpus": os.cpu_count() or 1,
        "databases": sources,
        "results": results,
        "skipped": skipped,
        "target": _target(results, skipped),
    }
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print(report)
    return 0


def _cli(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.queue …`, the same options `workstation bench queue` takes."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the medians are reported")
    parser.add_argument("--dossiers", type=int, default=2000, help="dossiers in the pool per run (default 2000)")
    parser.add_argument("--reviewers", default="1,10,50", help="concurrent reviewers, comma-separated")
    parser.add_argument("--pg-url", help="PostgreSQL URL (default: WS_BENCH_PG_URL, then WS_TEST_PG_URL)")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause after each decision (default 0)")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="sqlite, postgresql (default both)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        counts = tuple(int(v) for v in args.reviewers.split(",") if v.strip())
    except ValueError:
        parser.error("--reviewers takes whole numbers separated by commas, e.g. 1,10,50")
    return main(
        runs=args.runs,
        dossiers=args.dossiers,
        reviewers=counts,
        pg_url=args.pg_url,
        think_ms=args.think_ms,
        backends=tuple(args.backend or BACKENDS),
        as_json=args.json,
    )


if __name__ == "__main__":
    sys.exit(_cli())


__all__ = ["add_reviewers", "main", "percentile", "seed_pool"]
