"""`workstation bench startup`: how long the `workstation` command takes to start, for `--help` and `dossier list`.

Each command is run `runs` times as its own process (`python -m workstation …`, the console script's code) on a
desk in a temp data directory, after one untimed run that creates the database and fills the bytecode cache.
Reported per command: the median, fastest and slowest wall time, and the median CPU time (user + system) the
process used, which a busy machine disturbs less than the wall time. With `PYTHONDONTWRITEBYTECODE` set (as in some
CI and sandboxes), bytecode goes to a temp `PYTHONPYCACHEPREFIX` instead, so the figures are those of an installed
desk, not of one compiling every module on every start. The target: both well under 0.5 s.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

COMMANDS: dict[str, tuple[str, ...]] = {"--help": ("--help",), "dossier list": ("dossier", "list")}


@dataclass(frozen=True)
class Startup:
    command: str
    runs: int
    median_s: float
    fastest_s: float
    slowest_s: float
    cpu_median_s: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env(data_dir: Path, cache_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env.update(WS_DATA_DIR=str(data_dir), WS_ADMIN_PASSWORD="bench-startup-1")
    if env.pop("PYTHONDONTWRITEBYTECODE", None) or sys.dont_write_bytecode:
        env.setdefault("PYTHONPYCACHEPREFIX", str(cache_dir))
    return env


def _run(args: tuple[str, ...], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `workstation ARGS` process."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "workstation", *args], env=env, capture_output=True, text=True, timeout=120
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"workstation {' '.join(args)} failed: {proc.stderr.strip()[:300]}")
    return wall, _children_cpu() - cpu


def measure(runs: int = 7) -> list[Startup]:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = _env(Path(tmp) / "desk", Path(tmp) / "pycache")
        results = []
        for name, args in COMMANDS.items():
            _run(args, env)  # untimed: the database is created, the bytecode cached
            timed = [_run(args, env) for _ in range(runs)]
            walls = [w for w, _ in timed]
            results.append(
                Startup(
                    command=name,
                    runs=runs,
                    median_s=statistics.median(walls),
                    fastest_s=min(walls),
                    slowest_s=max(walls),
                    cpu_median_s=statistics.median(c for _, c in timed),
                )
            )
        return results


def main(*, runs: int = 7, as_json: bool = False) -> int:
    if runs < 1:
        print("workstation: error: --runs must be at least 1", file=sys.stderr)
        return 2
    results = measure(runs)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if as_json:
        print(json.dumps({"runs": runs, "load_average": load, "commands": [asdict(r) for r in results]}))
        return 0
    busy = f", load average {load:.1f} on {os.cpu_count()} cores" if load is not None else ""
    print(f"start-up of the workstation command, {runs} run(s) each, medians{busy}:")
    for r in results:
        print(
            f"  {r.command:<14} {r.median_s:.3f} s  (fastest {r.fastest_s:.3f}, slowest {r.slowest_s:.3f}; "
            f"CPU {r.cpu_median_s:.3f} s)"
        )
    return 0
