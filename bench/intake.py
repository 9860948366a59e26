"""`workstation bench intake`: scan-to-fields latency and sustained throughput with the hot folder and pool running.

Each run first times bare OCR (the sample files through an `OcrPool`, as `bench ocr` does, start-up excluded),
then drops the same files into the hot folder of a fresh desk (SQLite, temp data dir) whose active dossier is an
ENT_NONRES_TRANSFER draft, with the watcher and the OCR runner started by `start_intake`. Every file is staged
beside the inbox and renamed into it, as a scanner finishing a file would; all files land at once (a batch).

Per page: latency = the time its `done` event arrives (text, material and fields filed) − the time its file
landed, raw and net of the settle time; the stages in between (landed → queued, queued → reading, reading →
done). Per run: sustained pages/minute = pages / (last done − first drop), and the overhead = intake wall seconds
per page against bare OCR wall seconds per page (target: under 10 %). Latencies are pooled over all runs;
pages/minute and the overhead are the medians of the runs. Since the files land together, latency includes the
wait behind earlier pages: it is what the last page of a batch sees, not one page on an idle desk.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ocr import SAMPLES, Truth, load_truth
from bench.stats import percentile
from ocr.engines import unavailable_reason
from ocr.pipeline import PageResult, read_file_task
from ocr.pool import OcrPool

TARGET_OVERHEAD_PERCENT = 10.0
BUSINESS = "ENT_NONRES_TRANSFER"
_ADMIN_PASSWORD = "bench-admin-1"


def _summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3) if values else 0.0,
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3) if values else 0.0,
    }


def choose(truths: Sequence[Truth], pages: int | None) -> list[Truth]:
    """The sample files in order, as many as it takes to reach `pages` pages (all of them for None)."""
    if pages is None:
        return list(truths)
    chosen: list[Truth] = []
    for truth in truths:
        if sum(len(t.pages) for t in chosen) >= pages:
            break
        chosen.append(truth)
    return chosen


# -- bare OCR ------------------------------------------------------------------------------------------------


@dataclass
class Baseline:
    pages: int
    wall_seconds: float
    ocr_seconds: float  # sum of PageResult.seconds: the engine's own time, over all workers
    startup_seconds: float
    workers: int

    @property
    def pages_per_minute(self) -> float:
        return self.pages / self.wall_seconds * 60 if self.wall_seconds else 0.0

    @property
    def wall_per_page(self) -> float:
        return self.wall_seconds / self.pages if self.pages else 0.0


def run_baseline(engine: str, truths: Sequence[Truth], workers: int) -> Baseline:
    started = time.perf_counter()
    with OcrPool(engine, workers=workers) as pool:
        pool.worker_stats()  # every worker up, engine loaded: start-up is measured apart
        startup = time.perf_counter() - started
        t0 = time.perf_counter()
        futures = [pool.submit(read_file_task, str(t.file), t.file.name) for t in truths]
        results = [r for fut in futures for r in fut.result()]
        elapsed = time.perf_counter() - t0
    read = [r for r in results if isinstance(r, PageResult)]
    return Baseline(len(read), elapsed, sum(r.seconds for r in read), startup, workers)


# -- intake --------------------------------------------------------------------------------------------------


@dataclass
class _Clock:
    """Event times (perf_counter) gathered on the publishing threads."""

    files: dict[str, int]  # dropped name -> pages expected
    lock: threading.Lock = field(default_factory=threading.Lock)
    all_in: threading.Event = field(default_factory=threading.Event)
    dropped: dict[str, float] = field(default_factory=dict)
    page_file: dict[str, str] = field(default_factory=dict)
    queued: dict[str, float] = field(default_factory=dict)
    reading: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    engine_seconds: dict[str, float] = field(default_factory=dict)  # PageResult.seconds, from the done event
    failed: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # file -> quarantined or duplicate, with the line
    retries: int = 0

    def _finished(self) -> int:
        refused_pages = sum(self.files.get(name, 0) for name in self.refused)
        return len(self.done) + len(self.failed) + refused_pages

    def on_event(self, event: Any) -> None:
        now = time.perf_counter()
        with self.lock:
            if event.state == "queued":
                if event.page_id in self.queued:
                    self.retries += 1
                else:
                    self.queued[event.page_id] = now
                    if event.detail in self.files:
                        self.page_file[event.page_id] = event.detail
            elif event.state == "reading":
                self.reading[event.page_id] = now  # the last attempt counts
            elif event.state == "done":
                self.done[event.page_id] = now
                seconds = event.extra.get("seconds")
                if isinstance(seconds, int | float):
                    self.engine_seconds[event.page_id] = float(seconds)
            elif event.state == "failed":
                self.failed[event.page_id] = event.detail
            elif event.state in ("quarantined", "duplicate"):
                name = next((n for n in self.files if n in event.detail), event.detail)
                self.refused[name] = f"{event.state}: {event.detail}"
            if self._finished() >= sum(self.files.values()):
                self.all_in.set()


@dataclass
class IntakeRun:
    pages: int
    latencies: list[float]  # drop -> done, per page read
    to_queued: list[float]
    waiting: list[float]
    reading: list[float]
    beyond_engine: list[float]  # claimed -> filed, less the worker's own page time
    parent_cpu_seconds: float  # CPU of this process (hot folder, ingest, runner, filing) from first drop to the end
    wall_seconds: float  # first drop -> last done
    failed: dict[str, str]
    refused: dict[str, str]
    retries: int
    timed_out: bool
    startup_seconds: float  # start_intake (reconcile, pool, watcher) until every worker answers
    peak_rss_mb: list[float] | None

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def pages_per_minute(self) -> float:
        return self.done / self.wall_seconds * 60 if self.wall_seconds else 0.0

    @property
    def wall_per_page(self) -> float:
        return self.wall_seconds / self.done if self.done else 0.0


def _runner_pool(runner: Any) -> OcrPool | None:
    """The runner's OcrPool: it keeps only the pool's `close`, a bound method. None if that ever changes."""
    owner = getattr(getattr(runner, "_close", None), "__self__", None)
    return owner if isinstance(owner, OcrPool) else None


def run_intake(engine: str, truths: Sequence[Truth], *, settle: float, workers: int, timeout: float) -> IntakeRun:
    from workstation.config import load_settings
    from workstation.services.desk import open_desk
    from workstation.services.intake_service import start_intake

    with tempfile.TemporaryDirectory(prefix="ws-bench-intake-") as tmp:
        root = Path(tmp)
        (root / "config.toml").write_text("", "utf-8")  # shields the run from WS_CONFIG
        inbox = root / "scans" / "inbox"
        settings = load_settings(
            data_dir=root / "data",
            config_file=root / "config.toml",
            db_url=f"sqlite:///{root / 'data' / 'workstation.db'}",
            inbox=inbox,
            admin_password=_ADMIN_PASSWORD,
            intake_settle_seconds=settle,
            ocr_engine=engine,
            ocr_workers=workers,
        )
        desk = open_desk(settings)
        try:
            admin = desk.users.actor("admin")
            desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
            clerk = desk.users.actor("clerk1")
            number = desk.dossiers.new(clerk, business=BUSINESS, applicant_kind="enterprise").number
            desk.intake.set_active(clerk, number)

            clock = _Clock({t.file.name: len(t.pages) for t in truths})
            t0 = time.perf_counter()
            running = start_intake(desk, clerk, inbox=inbox, polling=False)
            unsubscribe = desk.events.subscribe(clock.on_event)
            try:
                pool = _runner_pool(running.runner)
                if pool is not None:
                    pool.worker_stats()  # as bench ocr: the drop meets a warm pool (if start_intake left it cold)
                startup = time.perf_counter() - t0
                # Staged beside the inbox first, so a drop is one rename, as a scanner finishing a file.
                staged = []
                for t in truths:
                    temp = inbox.parent / f".{t.file.name}.partial"
                    shutil.copyfile(t.file, temp)
                    staged.append((temp, inbox / t.file.name))
                cpu0 = time.process_time()
                for temp, final in staged:
                    os.replace(temp, final)
                    clock.dropped[final.name] = time.perf_counter()
                timed_out = not clock.all_in.wait(timeout)
                parent_cpu = time.process_time() - cpu0
                peaks = sorted(pool.peak_rss_mb().values()) if pool is not None else None
            finally:
                unsubscribe()
                running.stop()
        finally:
            desk.close()

    with clock.lock:
        latencies, to_queued, waiting, reading, beyond = [], [], [], [], []
        for page_id, done_at in clock.done.items():
            name = clock.page_file.get(page_id)
            if name is None or name not in clock.dropped:
                continue
            dropped = clock.dropped[name]
            latencies.append(done_at - dropped)
            queued = clock.queued.get(page_id)
            read_at = clock.reading.get(page_id)
            if queued is not None:
                to_queued.append(queued - dropped)
                if read_at is not None:
                    waiting.append(read_at - queued)
            if read_at is not None:
                reading.append(done_at - read_at)
                if page_id in clock.engine_seconds:
                    beyond.append(done_at - read_at - clock.engine_seconds[page_id])
        first_drop = min(clock.dropped.values())
        last_done = max(clock.done.values(), default=first_drop)
        return IntakeRun(
            pages=sum(clock.files.values()),
            latencies=latencies,
            to_queued=to_queued,
            waiting=waiting,
            reading=reading,
            beyond_engine=beyond,
            parent_cpu_seconds=parent_cpu,
            wall_seconds=last_done - first_drop,
            failed=dict(clock.failed),
            refused=dict(clock.refused),
            retries=clock.retries,
            timed_out=timed_out,
            startup_seconds=startup,
            peak_rss_mb=peaks,
        )


# -- the report ----------------------------------------------------------------------------------------------


def report(
    engine: str, settle: float, files: int, baselines: Sequence[Baseline], intakes: Sequence[IntakeRun]
) -> dict[str, Any]:
    pairs = [(b, i) for b, i in zip(baselines, intakes, strict=True) if b.wall_per_page and i.done]
    overheads = [(i.wall_per_page / b.wall_per_page - 1) * 100 for b, i in pairs]
    overheads_net = [((i.wall_seconds - settle) / i.done / b.wall_per_page - 1) * 100 for b, i in pairs]
    overhead = round(statistics.median(overheads), 1) if overheads else None
    latencies = [v for i in intakes for v in i.latencies]
    last = intakes[-1]
    return {
        "bench": "intake",
        "engine": engine,
        "runs": len(intakes),
        "workers": baselines[0].workers,
        "files": files,
        "pages": last.pages,
        "pages_done": [i.done for i in intakes],
        "settle_seconds": settle,
        "ocr_baseline": {
            "pages": baselines[-1].pages,
            "pages_per_minute": round(statistics.median(b.pages_per_minute for b in baselines), 1),
            "pages_per_minute_runs": [round(b.pages_per_minute, 1) for b in baselines],
            "wall_seconds_per_page": round(statistics.median(b.wall_per_page for b in baselines), 3),
            "ocr_seconds_per_page": round(statistics.median(b.ocr_seconds / b.pages for b in baselines if b.pages), 3),
            "startup_seconds": round(statistics.median(b.startup_seconds for b in baselines), 2),
        },
        "pages_per_minute": round(statistics.median(i.pages_per_minute for i in intakes), 1),
        "pages_per_minute_runs": [round(i.pages_per_minute, 1) for i in intakes],
        "wall_seconds_per_page": round(statistics.median(i.wall_per_page for i in intakes), 3),
        "parent_cpu_seconds_per_page": round(statistics.median(i.parent_cpu_seconds / i.pages for i in intakes), 3),
        "latency_seconds": _summary(latencies),
        "latency_net_of_settle_seconds": _summary([v - settle for v in latencies]),
        "stages_seconds": {
            "drop_to_queued": _summary([v for i in intakes for v in i.to_queued]),
            "queued_to_claimed": _summary([v for i in intakes for v in i.waiting]),
            "claimed_to_done": _summary([v for i in intakes for v in i.reading]),
            "claimed_to_done_less_engine": _summary([v for i in intakes for v in i.beyond_engine]),
        },
        "overhead_percent": overhead,
        "overhead_percent_runs": [round(v, 1) for v in overheads],
        "overhead_net_of_settle_percent": round(statistics.median(overheads_net), 1) if overheads_net else None,
        "overhead_target_percent": TARGET_OVERHEAD_PERCENT,
        "within_target": overhead is not None and overhead < TARGET_OVERHEAD_PERCENT,
        "intake_startup_seconds": round(statistics.median(i.startup_seconds for i in intakes), 2),
        "peak_rss_mb_per_worker": [round(v) for v in last.peak_rss_mb] if last.peak_rss_mb is not None else None,
        "failed": sum(len(i.failed) for i in intakes),
        "refused": sorted({line for i in intakes for line in i.refused.values()}),
        "retries": sum(i.retries for i in intakes),
        "timed_out_runs": sum(1 for i in intakes if i.timed_out),
        "failures": sorted({line for i in intakes for line in i.failed.values()}),
    }


def _pair(s: dict[str, float]) -> str:
    return f"{s['median']:.2f}/{s['p95']:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _print(r: dict[str, Any]) -> None:
    b, lat, net, st = r["ocr_baseline"], r["latency_seconds"], r["latency_net_of_settle_seconds"], r["stages_seconds"]
    verdict = "met" if r["within_target"] else "NOT met"
    rss = r["peak_rss_mb_per_worker"]
    print(
        f"{r['engine']} intake: {r['pages_per_minute']} pages/min sustained (median of {r['runs']}: "
        f"{r['pages_per_minute_runs']}) on {r['workers']} workers; {r['pages']} pages in {r['files']} files "
        f"dropped at once, settle {r['settle_seconds']} s\n"
        f"  bare OCR {b['pages_per_minute']} pages/min ({b['pages_per_minute_runs']}): {b['wall_seconds_per_page']} s "
        f"wall/page, {b['ocr_seconds_per_page']} s OCR work/page\n"
        f"  overhead {_pct(r['overhead_percent'])} wall/page over bare OCR (runs {r['overhead_percent_runs']}; "
        f"{_pct(r['overhead_net_of_settle_percent'])} net of one settle), target < {r['overhead_target_percent']:g}%: "
        f"{verdict}\n"
        f"  latency per page, drop → fields filed: median {lat['median']:.2f} s, p95 {lat['p95']:.2f} s, "
        f"max {lat['max']:.2f} s (net of the settle: median {net['median']:.2f} s, p95 {net['p95']:.2f} s)\n"
        f"    stages median/p95 s: drop → queued {_pair(st['drop_to_queued'])}, "
        f"queued → claimed {_pair(st['queued_to_claimed'])}, claimed → filed {_pair(st['claimed_to_done'])} "
        f"(outside the engine's page time {_pair(st['claimed_to_done_less_engine'])}, pool queue included)\n"
        f"  this process (watcher, ingest, runner, filing) {r['parent_cpu_seconds_per_page']} s CPU/page; "
        f"peak RSS per worker {f'{rss} MB' if rss is not None else 'not reachable'}; "
        f"intake start-up {r['intake_startup_seconds']} s (excluded)"
    )
    problems = []
    if r["timed_out_runs"]:
        problems.append(f"{r['timed_out_runs']} run(s) timed out")
    if r["failed"] or r["refused"] or r["retries"]:
        problems.append(f"{r['failed']} page(s) failed, {len(r['refused'])} file(s) refused, {r['retries']} retries")
    for line in problems + r["failures"][:10] + r["refused"][:10]:
        print(f"    problem: {line}")


def main(
    *,
    runs: int = 3,
    pages: int | None = None,
    engine: str = "rapidocr",
    settle: float = 0.5,
    as_json: bool = False,
    samples: Path = SAMPLES,
) -> int:
    reason = unavailable_reason(engine)
    if reason:
        print(f"workstation: error: {engine}: {reason}", file=sys.stderr)
        return 2
    truths = choose(load_truth(samples), pages)
    workers = os.cpu_count() or 1
    baselines: list[Baseline] = []
    intakes: list[IntakeRun] = []
    for _ in range(runs):  # interleaved, so a change in the machine's load hits both sides alike
        baseline = run_baseline(engine, truths, workers)
        baselines.append(baseline)
        timeout = 60 + 10 * baseline.wall_seconds
        intakes.append(run_intake(engine, truths, settle=settle, workers=workers, timeout=timeout))
    result = report(engine, settle, len(truths), baselines, intakes)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print(result)
    return 0


__all__ = ["main"]
