"""The registry load bench's pure parts: /proc parsing, the figures and their medians, the ops it sends, its options."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import registry_load as load
from bench.stats import percentile
from sync.protocol import DecisionOp, OpHead, OpsBatch, PagesAddOp, parse_op

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
LEASE = {"lease_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "fence": 3, "dossier_id": "0193a1b2-0000-7000-8000-1"}


# -- /proc -----------------------------------------------------------------------------------------------------


def test_a_stat_line_is_read_after_the_last_parenthesis_whatever_the_command_name_holds() -> None:
    fields = " ".join(str(n) for n in range(4, 53))  # ppid is field 4, utime 14, stime 15
    name, ppid, ticks = load.parse_stat(f"4321 (python (spawn) x) S {fields}")
    assert (name, ppid, ticks) == ("python (spawn) x", 4, 14 + 15)


def test_a_status_file_gives_its_kilobyte_lines_as_numbers() -> None:
    text = "Name:\tpython\nVmHWM:\t  130404 kB\nVmRSS:\t  128000 kB\nThreads:\t41\nSigQ:\t0/95000\n"
    assert load.status_kb(text) == {"VmHWM": 130404, "VmRSS": 128000}


def test_the_registry_is_its_process_and_everything_below_it_not_its_siblings() -> None:
    parents = {10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 21: 20}
    assert load.descendants(parents, 10) == {10, 11, 12, 13}


def test_cpu_over_a_window_counts_a_process_born_in_it_whole_and_never_goes_negative() -> None:
    before = {1: 100, 2: 50, 3: 70}
    after = {1: 130, 2: 50, 4: 9}  # 3 ended meanwhile; 4 is new
    assert load.cpu_ticks(before, after) == 30 + 0 + 9
    assert load.cpu_ticks({5: 80}, {5: 20}) == 0  # a pid reused by a younger process


def test_a_backend_is_counted_for_the_database_its_title_names() -> None:
    assert load.serves_database(
        "postgres: 15/main: ws_test ws_bench_reg_7_1 127.0.0.1(45724) idle ", "ws_bench_reg_7_1"
    )
    assert not load.serves_database(
        "postgres: 15/main: ws_test ws_bench_reg_7_10 127.0.0.1(4) idle", "ws_bench_reg_7_1"
    )
    assert not load.serves_database("postgres: 15/main: checkpointer", "ws_bench_reg_7_1")
    assert not load.serves_database("/usr/lib/postgresql/15/bin/postgres -D /var/lib/x", "ws_bench_reg_7_1")


# -- figures -------------------------------------------------------------------------------------------------


def test_latencies_are_the_shared_percentiles_and_zero_without_samples() -> None:
    values = [float(v) for v in range(1, 201)]
    got = load.latencies(values)
    assert got == {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": 200.0,
    }
    assert load.latencies([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}


def test_the_median_of_runs_takes_each_figure_apart_and_keeps_counts_whole() -> None:
    runs: list[dict[str, Any]] = [
        {"claims": 10, "claims_per_second": 1.5, "claim_ms": {"p99": 30.0}, "errors": 0, "load_average": [1.0, 2.0]},
        {"claims": 40, "claims_per_second": 4.5, "claim_ms": {"p99": 10.0}, "errors": 3, "load_average": [3.0, 4.0]},
        {"claims": 20, "claims_per_second": 2.0, "claim_ms": {"p99": 20.0}, "errors": 1, "load_average": [2.0, 9.0]},
        {"claims": 30, "claims_per_second": 3.0, "claim_ms": {"p99": 40.0}, "errors": 0, "load_average": [None, 1.0]},
    ]
    m = load.median_tree(runs)
    assert m["claims"] == 20  # the lower median: a count one run really had
    assert m["claims_per_second"] == 2.5
    assert m["claim_ms"] == {"p99": 25.0}
    assert m["errors"] == 0
    assert m["load_average"] == [2.0, 3.0]  # element by element; a reading that failed (None) left out


def test_the_median_of_runs_merges_their_messages_and_skips_missing_parts() -> None:
    runs = [
        {"error_messages": ["claim: HTTP 503", "decide: refused"], "postgres": None, "ok": True},
        {"error_messages": ["claim: HTTP 503", "push: HTTP 413"], "postgres": {"cpu_percent": 40.0}, "ok": True},
    ]
    m = load.median_tree(runs)
    assert m["error_messages"] == ["claim: HTTP 503", "decide: refused", "push: HTTP 413"]
    assert m["postgres"] == {"cpu_percent": 40.0}
    assert m["ok"] is True
    assert load.median_tree([None, None]) is None


def test_lists_of_numbers_of_one_length_take_the_median_element_by_element() -> None:
    assert load.median_tree([[1.0, 5.0], [3.0, 1.0], [2.0, 9.0]]) == [2.0, 5.0]


def test_the_ratio_of_claims_per_second_needs_both_figures() -> None:
    assert load.ratio(30.0, 20.0) == 1.5
    assert load.ratio(30.0, None) is None
    assert load.ratio(30.0, 0.0) is None


def test_the_server_output_shown_leaves_out_its_request_lines() -> None:
    log = "\n".join(
        [
            "INFO:     Started server process [12]",
            'INFO:     127.0.0.1:5544 - "POST /v1/review/claim HTTP/1.1" 500 Internal Server Error',
            "ERROR:    Exception in ASGI application",
            "Traceback (most recent call last):",
            '  File "registry.py", line 9, in claim',
            "KeyError: 'fence'",
            "",
        ]
    )
    assert load.server_problems(log) == [
        "ERROR:    Exception in ASGI application",
        "Traceback (most recent call last):",
        '  File "registry.py", line 9, in claim',
        "KeyError: 'fence'",
    ]
    assert load.server_problems(log, lines=1) == ["KeyError: 'fence'"]


# -- the load ------------------------------------------------------------------------------------------------


def test_decisions_follow_the_offices_mix() -> None:
    assert load.decision_kind(0.0) == "return"
    assert load.decision_kind(load.RETURN_SHARE) == "reject"
    assert load.decision_kind(load.RETURN_SHARE + load.REJECT_SHARE) == "approve"
    rnd = random.Random(7)
    kinds = [load.decision_kind(rnd.random()) for _ in range(10_000)]
    assert 0.85 < kinds.count("approve") / len(kinds) < 0.95


def test_the_pool_outlasts_thinking_reviewers_and_is_sized_by_the_workers_without_think_time() -> None:
    think = load.SCENARIOS["think"]
    most_claims = think.reviewers * (think.warmup + think.duration) / (0.5 * think.think)
    assert most_claims < load.pool_size(think) < 2 * most_claims + 3 * think.reviewers
    saturation = load.SCENARIOS["saturation"]
    assert load.pool_size(saturation) > saturation.workers * load.CLAIMS_PER_SECOND_PER_WORKER * saturation.duration
    assert load.pool_size(load.replace(saturation, workers=4)) > load.pool_size(saturation)


def test_a_decision_is_sent_as_a_desk_sends_it_a_fenced_op_the_registry_parses() -> None:
    batch = load.decision_batch(
        "BENCH-R007", 12, reviewer="bench-rev-007", lease=LEASE, base_version=5, kind="return", now=NOW
    )
    parsed = OpsBatch.model_validate(batch)
    assert parsed.station_id == "BENCH-R007" and [op.seq for op in parsed.ops] == [12]
    op = parse_op(OpHead.model_validate(batch["ops"][0]))
    assert isinstance(op, DecisionOp)
    assert (op.entity_id, op.base_version, op.actor) == (LEASE["dossier_id"], 5, "bench-rev-007")
    assert (op.payload.lease_id, op.payload.fence, op.payload.decision) == (LEASE["lease_id"], 3, "return")
    assert [(i.problem, i.material) for i in op.payload.items] == [("missing", load.RETURN_MATERIAL)]
    reject = load.decision_batch(
        "BENCH-R007", 13, reviewer="bench-rev-007", lease=LEASE, base_version=5, kind="reject", now=NOW
    )
    assert reject["ops"][0]["payload"]["reason_code"] == load.REJECT_REASON
    assert reject["ops"][0]["payload"]["items"] == []


def test_a_desk_push_is_a_create_then_one_pages_add_per_scanned_file_each_on_the_last_version() -> None:
    shas = ["a" * 64, "b" * 64, "c" * 64]
    batch = load.desk_batch(
        "BENCH-D01", 9, number="BENCH-D01-2026-000004", dossier_id="0193a1b2-0000-7000-8000-2", pages=shas, now=NOW
    )
    ops = [parse_op(OpHead.model_validate(op)) for op in OpsBatch.model_validate(batch).model_dump()["ops"]]
    assert [op.kind for op in ops] == ["dossier.create", "dossier.pages_add", "dossier.pages_add", "dossier.pages_add"]
    assert [op.seq for op in ops] == [9, 10, 11, 12]
    assert [op.base_version for op in ops] == [None, 1, 2, 3]
    assert {op.entity_id for op in ops} == {"0193a1b2-0000-7000-8000-2"}
    pages = [op for op in ops if isinstance(op, PagesAddOp)]
    assert [p.payload.sha256 for p in pages] == shas
    assert [p.payload.pages[0].position for p in pages] == [1, 2, 3]
    assert batch["ops"][0]["payload"]["number"].startswith("BENCH-D01-")


# -- options -------------------------------------------------------------------------------------------------


def test_all_runs_the_three_scenarios_and_the_values_given_replace_theirs() -> None:
    chosen = load.scenarios_for("all", reviewers=4, duration=3.0)
    assert [s.name for s in chosen] == ["think", "saturation", "mixed"]
    assert {(s.reviewers, s.duration) for s in chosen} == {(4, 3.0)}
    assert [s.think for s in chosen] == [10.0, 0.0, 10.0]  # not given: the scenario's own
    assert [s.desks for s in load.scenarios_for("mixed")] == [10]


def test_bad_options_are_one_line_each() -> None:
    assert load.check(load.scenarios_for("think"), runs=1, client_procs=2, pool=None) is None
    assert "--workers" in str(load.check(load.scenarios_for("think", workers=1), runs=1, client_procs=2, pool=None))
    assert "--duration" in str(load.check(load.scenarios_for("think", duration=0), runs=1, client_procs=2, pool=None))
    assert "--runs" in str(load.check(load.scenarios_for("think"), runs=0, client_procs=2, pool=None))
    assert "--pool" in str(load.check(load.scenarios_for("think"), runs=1, client_procs=2, pool=0))


def test_the_postgresql_url_is_the_option_then_the_bench_setting_then_the_tests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WS_BENCH_PG_URL", "postgresql://bench")
    monkeypatch.setenv("WS_TEST_PG_URL", "postgresql://tests")
    assert load.pg_url_from("postgresql://given") == ("postgresql://given", "--pg-url")
    assert load.pg_url_from(None) == ("postgresql://bench", "WS_BENCH_PG_URL")
    monkeypatch.delenv("WS_BENCH_PG_URL")
    assert load.pg_url_from(None) == ("postgresql://tests", "WS_TEST_PG_URL")


def test_without_a_postgresql_url_the_bench_says_why_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WS_BENCH_PG_URL", raising=False)
    monkeypatch.delenv("WS_TEST_PG_URL", raising=False)
    assert load.main(scenario="think", runs=1) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PostgreSQL" in err[0] and "--pg-url" in err[0]


def test_a_baseline_that_is_not_a_commit_here_is_refused_before_anything_runs() -> None:
    with pytest.raises(load.BaselineMissing, match="--baseline none"):
        load.find_commit("0" * 40)


def test_the_table_shows_both_servers_and_their_ratio() -> None:
    def row(server: str, rate: float) -> dict[str, Any]:
        run = {
            "claims": int(rate * 60),
            "claims_per_second": rate,
            "claim_ms": {"p50": 5.0, "p95": 9.0, "p99": 12.0, "max": 20.0},
            "decide_ms": {"p50": 4.0, "p95": 8.0, "p99": 11.0, "max": 15.0},
            "decisions": {"approve": 90, "return": 7, "reject": 3},
            "empty_claims": 0,
            "pool": 1000,
            "pool_left": 400,
            "errors": 0,
            "error_messages": [],
            "desks": {"desks": 0},
            "registry": {
                "processes": 4,
                "cpu_seconds": 80.0,
                "cpu_percent": 133.0,
                "rss_mb": 400.0,
                "peak_mb": 450.0,
                "peak_is_window": True,
                "peak_before_mb": 600.0,
            },
            "postgres": {"backends": 30, "cpu_seconds": 30.0, "cpu_percent": 50.0, "all_cpu_percent": 60.0},
            "clients": {"processes": 2, "cpu_seconds": 10.0, "cpu_percent_max": 9.0},
            "load_average": [1.0, 3.0],
        }
        return {"server": server, "ref": None, "median": run, "runs": [run]}

    report = {
        "runs": 1,
        "cpus": 2,
        "client_procs": 2,
        "baseline": load.BASELINE_REF,
        "scenarios": [
            {
                "scenario": "saturation",
                "describe": load.SCENARIOS["saturation"].describe(),
                "servers": [row("current", 90.0), row("baseline", 30.0)],
                "claims_per_second_ratio": 3.0,
            }
        ],
    }
    text = "\n".join(load.table(report))
    assert "saturation" in text and "current" in text and "baseline" in text
    assert "current ÷ baseline" in text and "3.00" in text
