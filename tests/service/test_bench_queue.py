"""`workstation bench queue`: the JSON it prints on a small pool, and the pool `seed_pool` makes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.queue import add_reviewers, main, percentile, pg_url_from_env, seed_pool
from workstation.domain.catalogue import load_catalogue
from workstation.store import migrate
from workstation.store.db import Database
from workstation.store.models import AuditEvent, Counter, Dossier, Station, User


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'pool.db'}")
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def test_one_small_run_prints_the_expected_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(runs=1, dossiers=60, reviewers=(1, 4), backends=("sqlite",), as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bench"] == "queue"
    assert (report["runs"], report["dossiers"], report["reviewers"], report["think_ms"]) == (1, 60, [1, 4], 0.0)
    assert report["skipped"] == {}
    assert [(r["backend"], r["reviewers"]) for r in report["results"]] == [("sqlite", 1), ("sqlite", 4)]
    for r in report["results"]:
        assert r["claims"] == 60 and r["claims_runs"] == [60]
        assert r["errors"] == 0 and r["conflicts"] == 0 and r["error_lines"] == []
        assert sum(r["decisions_all_runs"].values()) == 60
        assert set(r["decisions_all_runs"]) <= {"approve", "return", "reject"}
        assert r["claims_per_second"] > 0 and r["wall_seconds"] > 0
        claim, decide = r["claim_ms"], r["decide_ms"]
        assert set(claim) == {"p50", "p95", "p99", "max"} and set(decide) == {"p50", "p99"}
        assert 0 < claim["p50"] <= claim["p95"] <= claim["p99"] <= claim["max"] < 60_000
        assert 0 < decide["p50"] <= decide["p99"] < 60_000
    target = report["target"]
    assert (target["backend"], target["reviewers"], target["p99_ms_limit"]) == ("postgresql", 50, 50.0)
    assert target["met"] is None and "no run with 50 reviewers" in target["why_not_measured"]


def test_the_text_report_names_the_target_and_a_skipped_postgres(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WS_BENCH_PG_URL", "WS_TEST_PG_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(runs=1, dossiers=5, reviewers=(2,)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("queue bench: 5 dossiers")
    assert any(line.split()[:3] == ["sqlite", "2", "5"] for line in lines)
    assert sum("postgresql: skipped: no URL given" in line for line in lines) == 1
    assert lines[-1].startswith("PostgreSQL p99 < 50 ms at 50 reviewers: not measured (PostgreSQL skipped")


def test_bad_arguments_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(runs=0, backends=("sqlite",)) == 2
    assert main(backends=("oracle",)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("workstation: error: ") for line in err)


def test_the_postgres_url_comes_from_the_argument_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_BENCH_PG_URL", "postgresql://bench")
    monkeypatch.setenv("WS_TEST_PG_URL", "postgresql://test")
    assert pg_url_from_env("postgresql://arg") == ("postgresql://arg", "argument")
    assert pg_url_from_env() == ("postgresql://bench", "WS_BENCH_PG_URL")
    monkeypatch.delenv("WS_BENCH_PG_URL")
    assert pg_url_from_env() == ("postgresql://test", "WS_TEST_PG_URL")
    monkeypatch.delenv("WS_TEST_PG_URL")
    url, why = pg_url_from_env()
    assert url is None and "WS_BENCH_PG_URL" in why


def test_percentile() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 99) == pytest.approx(99.0)


def test_seed_pool_makes_a_realistic_pool_at_review(db: Database) -> None:
    catalogue = load_catalogue()
    numbers = seed_pool(db, 5000, station_id="s1", seed=3, catalogue=catalogue)
    assert len(numbers) == len(set(numbers)) == 5000
    with db.read() as session:
        rows = session.execute(select(Dossier)).scalars().all()
        assert session.get(Station, "s1") is not None
        creators = {u.id: u for u in session.execute(select(User)).scalars()}
        counters = {c.name: c.value for c in session.execute(select(Counter)).scalars()}
        events = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    assert sorted(d.number for d in rows) == sorted(numbers)
    assert {(d.stage, d.status, d.version, d.fence, d.lease_expires_at) for d in rows} == {
        ("REVIEW", "submitted", 1, 0, None)
    }
    assert {(d.stage_plan, d.hall_mode, d.station_id) for d in rows} == {
        ("ACCEPT REVIEW REGISTER ISSUE", "standard", "s1")
    }
    enterprise = sum(d.applicant_kind == "enterprise" for d in rows) / len(rows)
    digitised = sum(d.digitized for d in rows) / len(rows)
    assert 0.27 < enterprise < 0.33 and 0.57 < digitised < 0.63
    now = max(d.applied_at for d in rows)
    span = now - min(d.applied_at for d in rows)
    assert 29 * 86400 < span.total_seconds() <= 30 * 86400
    for d in rows:
        business = catalogue.business(d.business_code)  # a real business, of a kind it accepts
        assert d.applicant_kind in business.applicant_role.kinds
        assert d.registration_type == business.registration_type
        assert d.digitized == (d.channel != "window" or business.digitized_at_intake)  # R7, as DossierService
        assert len(d.conditions) == len(business.require_one_of)
        assert d.accepted_at is not None and d.applied_at <= d.accepted_at
        assert creators[d.created_by].username == "pool-seeder-s1"
    assert len({d.business_code for d in rows}) >= 6
    assert sum(counters[n] for n in counters if n.startswith("dossier:s1:")) == 5000
    assert events == 1  # the seeding itself is on the record (and the chain has its head)

    # Same seed, same mix; numbers continue from the counter.
    more = seed_pool(db, 3, station_id="s1", seed=3, catalogue=catalogue)
    assert not set(more) & set(numbers)


def test_reviewers_have_the_grants_asked_and_cannot_log_in(db: Database) -> None:
    online = add_reviewers(db, 3, station_id="s2", prefix="on", online=True, offline=False)
    both = add_reviewers(db, 2, station_id="s2", prefix="both")
    assert [a.username for a in online] == ["on-000", "on-001", "on-002"]
    assert all(a.can_review_online and not a.can_review_offline for a in online)
    assert all(a.can_review_online and a.can_review_offline for a in both)
    with db.read() as session:
        users = {u.username: u for u in session.execute(select(User)).scalars()}
    assert users["both-001"].roles == "reviewer" and users["both-001"].station_id == "s2"
    from workstation.errors import AuthError
    from workstation.services.users import UserService

    with pytest.raises(AuthError):
        UserService(db, "s2").authenticate("both-001", "")
