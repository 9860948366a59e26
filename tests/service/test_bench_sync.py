"""`bench sync` at a tiny size: it runs end to end and its JSON carries sane figures."""

from __future__ import annotations

import json
import os

import pytest

from bench.sync import main


def test_bench_sync_reports_push_drain_and_resume(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("WS_") and not key.startswith("WS_TEST_"):
            monkeypatch.delenv(key)  # WS_BENCH_PG_URL among them: the registry is SQLite here

    assert main(runs=1, dossiers=2, pages=3, page_kb=20, backlog=5, as_json=True) == 0
    report = json.loads(capsys.readouterr().out)

    assert {"bench", "runs", "registry_db", "capture", "push", "drain", "resume", "problems", "wall_seconds"} <= set(
        report
    )
    assert (report["bench"], report["runs"], report["registry_db"], report["problems"]) == ("sync", 1, "sqlite", [])
    page = 20 * 1024

    push = report["push"]
    assert (push["dossiers"], push["pages"], push["mb"]) == (2, 6, round(6 * page / 1e6, 2))
    assert push["ops"] >= 2 * (1 + 3 + 1)  # create, the pages, submit (and parties, waivers)
    assert push["seconds"] > 0 and push["dossiers_per_second"] > 0 and push["mb_per_second"] > 0
    assert push["dossiers_per_second"] == pytest.approx(2 / push["seconds"], rel=0.05)

    drain = report["drain"]
    assert (drain["dossiers"], drain["pages"], drain["timed_out_runs"]) == (5, 15, 0)
    assert drain["failed_passes_before_heal"] == [2]
    assert 0 <= drain["reconnect_wait_seconds"] <= drain["heal_to_empty_seconds"]  # in time: timed_out_runs == 0
    assert drain["drain_seconds"] == pytest.approx(
        drain["heal_to_empty_seconds"] - drain["reconnect_wait_seconds"], abs=0.02
    )
    assert drain["dossiers_per_second"] > 0

    resume = report["resume"]
    assert resume["cut_struck_runs"] == 1 and resume["first_pass_errors"]
    assert resume["cut_at_bytes"] == resume["clean_bytes"] // 2
    assert resume["sent_bytes"] == resume["clean_bytes"] + resume["resent_bytes"]
    # What was on the wire when the cut struck is sent again, and little more: never the half already through.
    assert 0 < resume["resent_bytes"] < resume["clean_bytes"] // 4
    assert resume["page_bytes"] == page
    lost = resume["lost_answer"]  # a batch applied whose answer was lost: the batch goes again, no page does
    assert lost["struck_runs"] == 1 and lost["first_pass_errors"]
    assert 0 < lost["resent_bytes"] < resume["clean_bytes"] // 4

    assert report["capture"]["dossiers"] == 7 and report["capture"]["seconds"] > 0
    assert report["wall_seconds"] > 0
    print(f"\nbench sync, one small run: {report['wall_seconds']:.1f} s")  # a figure, not a limit
