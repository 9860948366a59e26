from __future__ import annotations

from pathlib import Path

import pytest

from workstation.cli import main
from workstation.config import HallModeSetting, StationKind, load_settings
from workstation.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("WS_"):
            monkeypatch.delenv(key)


def test_defaults_put_the_sqlite_database_in_the_data_dir(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'workstation.db'}"
    assert s.station_kind is StationKind.HALL
    assert s.hall_mode is HallModeSetting.STANDARD


def test_environment_overrides_the_file_and_options_override_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "desk.toml"
    cfg.write_text('station_id = "JN-LX-01"\nhall_mode = "professional"\nstation_kind = "field"\n', "utf-8")
    monkeypatch.setenv("WS_STATION_ID", "JN-SZ-02")
    s = load_settings(data_dir=tmp_path, config_file=cfg)
    assert s.station_id == "JN-SZ-02"
    assert s.hall_mode is HallModeSetting.PROFESSIONAL
    assert s.station_kind is StationKind.FIELD
    assert load_settings(data_dir=tmp_path, config_file=cfg, station_id="CLI-1").station_id == "CLI-1"


def test_config_toml_in_the_data_dir_is_read_without_being_named(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('registry_url = "https://registry.example:8750"\n', "utf-8")
    assert load_settings(data_dir=tmp_path).registry_url == "https://registry.example:8750"


def test_ws_data_dir_and_ws_config_are_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[workstation]\nstation_name = '历下区便民服务点'\n", "utf-8")
    monkeypatch.setenv("WS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("WS_CONFIG", str(cfg))
    s = load_settings()
    assert s.data_dir == tmp_path / "d"
    assert s.station_name == "历下区便民服务点"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("station_kind = 'moon'\n", "station_kind"),
        ("unknown_key = 1\n", "unknown setting 'unknown_key'"),
        ("station_id = 'has space'\n", "station_id"),
        ("registry_url = 'ftp://x'\n", "registry_url"),
        ("db_url = 'mysql://x'\n", "db_url"),
        ("hall_mode = [\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, content: str, fragment: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content, "utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(data_dir=tmp_path, config_file=cfg)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WS_HALL_MODE", "express")
    assert main(["--data-dir", str(tmp_path), "dossier", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("workstation: error: bad configuration: hall_mode")
    assert len(err.splitlines()) == 1


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(data_dir=tmp_path, config_file=tmp_path / "nope.toml")
