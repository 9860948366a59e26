"""`workstation bench registry --upload`: what a large page upload costs the registry's memory.

Each run starts a fresh registry as its own process (`workstation registry serve` on loopback, SQLite in a temp data
directory, the product's settings), uploads one small page to warm it up, then one page of `upload_mb` MB
(incompressible bytes, streamed from this process in 1 MiB pieces with its Content-Length). Reported per run, read
from the server process's /proc status: its resident memory after the warm-up (VmRSS), and how much its peak
resident memory (VmHWM, reset to the present just before the upload through /proc/PID/clear_refs) grew during the
large upload — what the upload cost it in memory whatever it freed since — with the upload's wall time and MB/s
(1 MB = 10^6 bytes). Figures are the medians over the runs.

The registry streams an upload to a temp file as it arrives (hashing it on the way) and keeps nothing of it in
memory, so the growth stays near zero whatever the size; when it collected the body in memory first, a 60 MB page
cost it 60 MB. Linux only (/proc, and the right to write the server's clear_refs: the same user). About 3 s per run
on a 2-core machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

CHUNK = 1 << 20


@dataclass(frozen=True)
class Upload:
    rss_mb: float  # resident memory after the warm-up
    peak_growth_mb: float  # VmHWM after the large upload − VmHWM before it
    seconds: float
    mb_per_second: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def _pieces(total: int, seed: int) -> Iterator[bytes]:
    """`total` bytes of a page, made piece by piece (the same for the same seed), never all in memory."""
    block = hashlib.sha256(str(seed).encode()).digest()
    sent = 0
    while sent < total:
        piece = hashlib.shake_256(block + sent.to_bytes(8, "big")).digest(min(CHUNK, total - sent))
        sent += len(piece)
        yield piece


def _sha(total: int, seed: int) -> str:
    digest = hashlib.sha256()
    for piece in _pieces(total, seed):
        digest.update(piece)
    return digest.hexdigest()


def measure_upload(upload_mb: float, *, seed: int = 1) -> Upload:
    """One fresh registry process, one warm-up page, one large page; its memory, read from /proc."""
    size = int(upload_mb * 1_000_000)
    sha = _sha(size, seed)
    with tempfile.TemporaryDirectory(prefix="ws-bench-registry-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
        env["WS_DATA_DIR"] = tmp
        add = subprocess.run(
            [sys.executable, "-m", "workstation", "registry", "station", "add", "JN-BENCH", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = json.loads(add.stdout)["token"]
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "workstation", "registry", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 60
            with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
                while True:
                    try:
                        http.get("/v1/health")
                        break
                    except httpx.TransportError:
                        if server.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError("the registry did not start") from None
                        time.sleep(0.1)
                small = b"a small page to warm the registry up" * 100
                warm = http.put(f"/v1/blobs/{hashlib.sha256(small).hexdigest()}", content=small)
                warm.raise_for_status()
                # The peak so far is the start-up's (imports, migrations), above what the process holds now: reset
                # it to the present, so the peak read after the upload is the upload's own.
                Path(f"/proc/{server.pid}/clear_refs").write_text("5")
                rss, before = _status_kb(server.pid, "VmRSS"), _status_kb(server.pid, "VmHWM")
                started = time.perf_counter()
                answer = http.put(
                    f"/v1/blobs/{sha}",
                    content=_pieces(size, seed),
                    headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
                )
                seconds = time.perf_counter() - started
                answer.raise_for_status()
                after = _status_kb(server.pid, "VmHWM")
            if answer.json() != {"sha256": sha, "size": size, "created": True}:
                raise RuntimeError(f"the registry answered {answer.text[:200]}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return Upload(
        rss_mb=rss / 1024,
        peak_growth_mb=(after - before) / 1024,
        seconds=seconds,
        mb_per_second=size / 1e6 / seconds,
    )


def main(*, runs: int = 3, upload_mb: float = 60.0, as_json: bool = False) -> int:
    if runs < 1 or upload_mb <= 0:
        print("workstation: error: --runs must be at least 1 and --upload-mb more than 0", file=sys.stderr)
        return 2
    if not Path("/proc/self/status").is_file():
        print("workstation: error: this bench reads /proc (Linux only)", file=sys.stderr)
        return 2
    results = [measure_upload(upload_mb, seed=i + 1) for i in range(runs)]
    summary = {
        "upload_mb": upload_mb,
        "runs": runs,
        "rss_mb": statistics.median(r.rss_mb for r in results),
        "peak_growth_mb": statistics.median(r.peak_growth_mb for r in results),
        "seconds": statistics.median(r.seconds for r in results),
        "mb_per_second": statistics.median(r.mb_per_second for r in results),
        "each": [asdict(r) for r in results],
    }
    if as_json:
        print(json.dumps(summary))
        return 0
    print(f"registry upload of a {upload_mb:g} MB page, {runs} run(s), medians (fresh registry process each run):")
    print(f"  resident memory before   {summary['rss_mb']:.1f} MB")
    print(
        f"  peak memory growth       {summary['peak_growth_mb']:.1f} MB  (runs: "
        + ", ".join(f"{r.peak_growth_mb:.1f}" for r in results)
        + ")"
    )
    print(f"  upload                   {summary['seconds']:.2f} s, {summary['mb_per_second']:.0f} MB/s")
    return 0
