"""`workstation bench tui` on a small configuration: the real command in a pty, every figure measured."""

from __future__ import annotations

import json
import os

import pytest

from bench.tui import main

pytestmark = pytest.mark.slow


def test_a_small_run_measures_start_open_and_key_latency(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("WS_"):
            monkeypatch.delenv(key)
    assert main(runs=1, pages=4, keys=6, load=2, as_json=True) == 0  # a few pages: the figures, not their size
    report = json.loads(capsys.readouterr().out)
    assert report["start_s"]["median"] > 0
    assert report["open_ms"]["pages"] == 4 and report["open_ms"]["median"] > 0
    print(f"\nstart {report['start_s']['median']:.2f} s, open {report['open_ms']['median']:.0f} ms")
    assert report["input_idle_ms"]["keys"] == 6 and report["input_idle_ms"]["median"] > 0
    assert report["input_under_ocr_ms"]["scans_fed"] == 2 and report["input_under_ocr_ms"]["median"] > 0
    assert set(report["met"]) == {"start", "open", "input"}
