"""`workstation bench intake`: the JSON it prints, on the committed samples with the real engine."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from bench.intake import choose, main, percentile
from bench.ocr import load_truth
from ocr.engines import unavailable_reason


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 95) == 0.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 95) == pytest.approx(95.0)


def test_choose_takes_whole_files_up_to_the_pages_asked() -> None:
    truths = load_truth()
    assert choose(truths, None) == truths
    assert choose(truths, 1) == truths[:1]
    picked = choose(truths, 5)
    assert sum(len(t.pages) for t in picked) >= 5 and sum(len(t.pages) for t in picked[:-1]) < 5


def test_an_unavailable_engine_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("bench.intake.unavailable_reason", lambda engine: "not installed here")
    assert main(runs=1, engine="tesseract") == 2
    assert capsys.readouterr().err.strip() == "workstation: error: tesseract: not installed here"


def test_bad_options_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from workstation.cli import main as cli

    assert cli(["bench", "intake", "--runs", "0"]) == 2
    assert cli(["bench", "intake", "--settle", "0"]) == 2
    assert cli(["bench", "intake", "--engine", "abbyy"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "workstation: error: --runs must be at least 1",
        "workstation: error: --settle must be more than 0",
        "workstation: error: unknown engine 'abbyy'; engines: rapidocr, tesseract",
    ]


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason("rapidocr") is not None, reason="rapidocr is not installed")
def test_one_run_on_the_samples_reports_latency_throughput_and_overhead() -> None:
    # A few pages prove the report (every figure present, consistent, no page lost); the figures themselves come
    # from `workstation bench intake` on all the samples.
    pages = sum(len(t.pages) for t in choose(load_truth(), 6))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "workstation", "bench", "intake", "--runs", "1", "--pages", "6", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["bench"], r["engine"], r["runs"], r["settle_seconds"]) == ("intake", "rapidocr", 1, 0.5)
    assert r["pages"] == pages and r["pages_done"] == [pages]
    assert (r["failed"], r["refused"], r["timed_out_runs"]) == (0, [], 0)

    base = r["ocr_baseline"]
    assert base["pages"] == pages
    assert base["pages_per_minute"] > 0 and base["wall_seconds_per_page"] > 0 and base["ocr_seconds_per_page"] > 0

    assert r["pages_per_minute"] > 0 and r["pages_per_minute_runs"] == [r["pages_per_minute"]]
    lat, net = r["latency_seconds"], r["latency_net_of_settle_seconds"]
    assert 0 < lat["median"] <= lat["p95"] <= lat["max"]
    assert lat["median"] > r["settle_seconds"]  # no page is filed before its file has settled
    assert net["median"] == pytest.approx(lat["median"] - r["settle_seconds"], abs=0.002)
    stages = r["stages_seconds"]
    assert stages["drop_to_queued"]["median"] >= r["settle_seconds"]
    assert stages["claimed_to_done"]["median"] > 0

    assert isinstance(r["overhead_percent"], float) and math.isfinite(r["overhead_percent"])
    assert r["overhead_target_percent"] == 10.0
    assert r["within_target"] == (r["overhead_percent"] < 10.0)
    # Sustained intake cannot beat bare OCR by far: the same pages on the same workers.
    assert r["overhead_percent"] > -50
    assert r["peak_rss_mb_per_worker"] is None or all(mb > 0 for mb in r["peak_rss_mb_per_worker"])
