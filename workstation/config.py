"""Desk configuration: defaults < TOML file < WS_* environment < command-line options.

The TOML file is `--config FILE`, else `WS_CONFIG`, else `<data dir>/config.toml` when it exists.
"""

from __future__ import annotations

import os
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field as PydField
from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from workstation.errors import ConfigError

APP_NAME = "workstation"
_STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")


class StationKind(StrEnum):
    """Where the desk stands (R8–R10): a hall window, an extended window or a street/community office."""

    HALL = "hall"
    EXTENSION = "extension"
    FIELD = "field"
    REGISTRY = "registry"


class HallModeSetting(StrEnum):
    STANDARD = "standard"
    PROFESSIONAL = "professional"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class _TomlSource(PydanticBaseSettingsSource):
    """Feeds the already-parsed TOML table to pydantic-settings below the environment."""

    def __init__(self, settings_cls: type[BaseSettings], table: dict[str, Any]):
        super().__init__(settings_cls)
        self._table = table

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._table.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._table)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WS_", extra="forbid", validate_default=True)

    data_dir: Path = default_data_dir()
    db_url: str | None = None
    station_id: str = "local"
    station_name: str = "本地工作站"
    station_kind: StationKind = StationKind.HALL
    hall_mode: HallModeSetting = HallModeSetting.STANDARD
    workflow_stages: list[str] | None = None
    registry_url: str | None = None
    registry_token: SecretStr | None = None
    user: str = "admin"
    admin_password: SecretStr | None = None
    inbox: Path | None = None  # the scanner's hot folder; default <data dir>/inbox
    intake_settle_seconds: float = 2.0  # a file is taken once its size and time have not changed this long
    intake_polling: bool = False  # poll instead of inotify (network shares)
    intake_rescan_seconds: float = 10.0
    ocr_engine: str = "rapidocr"  # rapidocr | tesseract (| replay:FILE, recorded readings for tests)
    ocr_workers: int | None = None  # default: one per core
    review_queue_size: int = PydField(default=3, ge=1, le=50)  # K: leased dossiers a review desk holds
    review_lease_minutes: float = PydField(default=30.0, gt=0, le=24 * 60)  # renewed by heartbeat while online
    # After 补正: the resubmitted dossier is offered first to the reviewer who returned it, for this long (while
    # they are logged in and hold the grant); then it goes to the pool. 0: straight to the pool.
    review_same_reviewer_minutes: float = PydField(default=240.0, ge=0, le=7 * 24 * 60)
    # At the registry: how long a person's login from a desk lasts (a working day); they log in again after it.
    person_login_minutes: float = PydField(default=600.0, gt=0, le=7 * 24 * 60)
    qc_rate: float | None = PydField(default=None, gt=0, le=1)  # default: domain/data/qc.toml
    qc_key: SecretStr | None = None
    sync_interval_seconds: float = PydField(
        default=5.0, gt=0, le=3600
    )  # between sync passes when all is well  # the office's sampling key; default: domain/data/qc.toml

    @property
    def inbox_dir(self) -> Path:
        return self.inbox or self.data_dir / "inbox"

    @field_validator("ocr_engine")
    @classmethod
    def _engine_is_known(cls, value: str) -> str:
        if value not in ("rapidocr", "tesseract") and not value.startswith("replay:"):
            raise ValueError("must be rapidocr or tesseract")
        return value

    @field_validator("intake_settle_seconds", "intake_rescan_seconds")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0")
        return value

    @field_validator("station_id")
    @classmethod
    def _station_id_is_a_safe_name(cls, value: str) -> str:
        if not _STATION_ID.match(value):
            raise ValueError("must be 1-32 letters, digits or '-', starting with a letter or digit")
        return value

    @field_validator("registry_url")
    @classmethod
    def _registry_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value

    @field_validator("db_url")
    @classmethod
    def _db_url_is_supported(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'workstation.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls, _PENDING_TOML))


# The TOML table for the Settings being built; set only inside load_settings.
_PENDING_TOML: dict[str, Any] = {}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    # A [workstation] table is accepted so the file can be shared with other tools.
    if isinstance(table.get("workstation"), dict):
        table = table["workstation"]
    return table


def load_settings(
    *,
    data_dir: str | Path | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings; any problem becomes a ConfigError with one line naming the key and its source."""
    env = os.environ
    cli: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        cli["data_dir"] = Path(data_dir)
    config_path = config_file or env.get("WS_CONFIG")
    table: dict[str, Any] = {}
    if config_path:
        table = _read_toml(Path(config_path))
    else:
        guess_dir = cli.get("data_dir") or env.get("WS_DATA_DIR") or default_data_dir()
        implicit = Path(guess_dir) / "config.toml"
        if implicit.is_file():
            config_path = implicit
            table = _read_toml(implicit)
    _PENDING_TOML.clear()
    _PENDING_TOML.update(table)
    try:
        return Settings(**cli)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, config_path)) from None
    finally:
        _PENDING_TOML.clear()


def _describe(exc: ValidationError, config_path: str | Path | None) -> str:
    err = exc.errors()[0]
    key = ".".join(str(part) for part in err["loc"]) or "?"
    where = f" (in {config_path} or WS_{key.upper()})" if config_path else f" (WS_{key.upper()})"
    if err["type"] == "extra_forbidden":
        return f"bad configuration: unknown setting '{key}'{where}"
    return f"bad configuration: {key}: {err['msg']}{where}"
