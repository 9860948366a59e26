from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from workstation.config import Settings, load_settings
from workstation.errors import DataDirError, StoreError
from workstation.services.desk import Desk, open_desk
from workstation.store import migrate
from workstation.store.db import Database, counter_value, next_counter
from workstation.store.ids import uuid7
from workstation.store.models import Base, Station


def test_migrations_bring_the_schema_exactly_to_the_models(desk: Desk) -> None:
    with desk.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []
    assert migrate.current_revision(desk.db.engine) == migrate.head_revision()


def test_opening_twice_migrates_once_and_keeps_data(settings: Settings) -> None:
    first = open_desk(settings)
    first.close()
    second = open_desk(settings)
    try:
        assert migrate.upgrade(second.db.engine) is False
        with second.db.read() as s:
            assert s.execute(select(Station.id)).scalars().all() == ["local"]
        assert second.first_admin_password is None
    finally:
        second.close()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    db.dispose()


def test_foreign_keys_are_enforced(desk: Desk) -> None:
    from sqlalchemy.exc import IntegrityError

    from workstation.store.models import Party

    with pytest.raises(IntegrityError), desk.db.transaction() as s:
        s.add(Party(dossier_id="no-such-dossier", key="p1", position=1, role="buyer", kind="individual"))


def test_counters_are_gap_free_when_a_transaction_rolls_back(desk: Desk) -> None:
    with desk.db.transaction() as s:
        assert next_counter(s, "t") == 1
    with pytest.raises(RuntimeError), desk.db.transaction() as s:
        next_counter(s, "t")
        raise RuntimeError("crash before commit")
    with desk.db.transaction() as s:
        assert next_counter(s, "t") == 2
        assert counter_value(s, "t") == 2


def test_uuid7_ids_are_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(200)]
    assert all(u.version == 7 for u in ids)
    stamps = [u.int >> 80 for u in ids]
    assert stamps == sorted(stamps)


def test_a_corrupt_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "workstation.db").write_bytes(b"this is not a database, it is a scanned receipt" * 100)
    with pytest.raises(StoreError) as err:
        open_desk(load_settings(data_dir=data))
    assert "not a SQLite database" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_sqlite_file_damaged_inside_is_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    desk = open_desk(load_settings(data_dir=data, admin_password="admin-pass-1"))
    desk.close()
    db_file = data / "workstation.db"
    raw = bytearray(db_file.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # keep the header, wreck the schema page
    db_file.write_bytes(bytes(raw))
    for wal in data.glob("workstation.db-*"):
        wal.unlink()
    with pytest.raises(StoreError) as err:
        open_desk(load_settings(data_dir=data))
    assert "corrupt" in str(err.value) or "cannot open" in str(err.value)
    assert "\n" not in str(err.value)


def test_an_unwritable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DataDirError) as err:
        open_desk(load_settings(data_dir=blocker / "data"))
    assert "not usable" in str(err.value) and "--data-dir" in str(err.value)


def test_an_unreachable_postgresql_is_one_clear_line(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, db_url="postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    with pytest.raises(StoreError) as err:
        open_desk(settings)
    assert "cannot open database" in str(err.value)
    assert "x@" not in str(err.value)  # the password is never shown


def test_sqlite_and_postgres_both_store_aware_utc_times(desk: Desk) -> None:
    with desk.db.read() as s:
        station = s.execute(select(Station)).scalar_one()
        assert station.created_at.utcoffset() is not None
        assert s.execute(text("SELECT 1")).scalar() == 1


def test_the_quick_head_check_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    assert migrate.head_revision() == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
