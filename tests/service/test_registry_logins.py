"""At the registry, a person's failed logins are audited and slow the next attempts, per name and per station
(real HTTP on loopback, as a hostile station would try): a 401 with the wait, never a 5xx, no password checked."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.sync_helpers import PERSON_PASSWORD, provision, running_registry, station
from workstation.store.models import AuditEvent


def test_guessing_a_persons_password_at_the_registry_slows_down_and_is_audited(
    tmp_path: Path, registry_db: str | None
) -> None:
    with running_registry(tmp_path / "registry", registry_db) as (registry, url):
        provision(registry, "rev1")
        hostile = station(registry, url, "JN-X")
        try:
            answers = [hostile.login("rev1", f"guess-{i}") for i in range(5)]
            assert [a.status_code for a in answers] == [401] * 5
            waited = hostile.login("rev1", PERSON_PASSWORD)  # the right password, but not checked now
            assert waited.status_code == 401
            assert "too many failed logins for 'rev1': try again in" in waited.text
            other = hostile.login("rev2", "whatever-1")  # another name is not held up by rev1's count
            assert other.status_code == 401 and "too many" not in other.text
        finally:
            hostile.close()
        with registry.db.read() as s:
            refused = (
                s.execute(select(AuditEvent.actor).where(AuditEvent.action == "person.login_refused")).scalars().all()
            )
        assert sorted(refused) == ["rev1"] * 5 + ["rev2"]


def test_guessing_across_names_from_one_station_slows_that_station_only(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        provision(registry, "rev1")
        hostile, honest = station(registry, url, "JN-X"), station(registry, url, "JN-OK")
        try:
            for i in range(20):
                assert hostile.login(f"name{i}", "guess-it-1").status_code == 401
            waited = hostile.login("rev1", PERSON_PASSWORD)
            assert waited.status_code == 401 and "too many failed logins for station JN-X" in waited.text
            assert honest.login("rev1", PERSON_PASSWORD).status_code == 200
        finally:
            hostile.close()
            honest.close()
