"""Desk configuration: defaults < TOML file < WS_* environment < command-line options.

The TOML file is `--config FILE`, else `WS_CONFIG`, else `<data dir>/config.toml` when it exists.

Every command reads the settings before it does anything, so they are checked here with a few plain functions
(types as in the TOML file or the environment, bounds, formats) rather than through a validation framework whose
import alone would cost more than the rest of a short command's start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Any, TypeVar

from workstation.errors import ConfigError

APP_NAME = "workstation"
_STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
_BUSINESS_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
_ENV_PREFIX = "ws_"
_E = TypeVar("_E", bound=StrEnum)


class StationKind(StrEnum):
    """Where the desk stands (R8–R10): a hall window, an extended window or a street/community office."""

    HALL = "hall"
    EXTENSION = "extension"  # an extended window of unnamed kind
    DEVELOPER = "developer"  # R8: at a developer's sales office (交房即办证)
    INTERMEDIARY = "intermediary"  # R9: at an estate agent
    BANK = "bank"  # R9: at a bank branch (金融联办)
    NOTARY = "notary"  # R9: at a notary's office
    COMMUNITY = "community"  # R10: a community service point
    FIELD = "field"  # R10: a street or town office
    KIOSK = "kiosk"  # R12: a self-service terminal in a hall
    REGISTRY = "registry"


class HallModeSetting(StrEnum):
    STANDARD = "standard"
    PROFESSIONAL = "professional"


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class SecretStr:
    """A password, token or key: read with `get_secret_value()`, shown as stars everywhere else."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def get_secret_value(self) -> str:
        return self._secret

    def __str__(self) -> str:
        return "**********" if self._secret else ""

    def __repr__(self) -> str:
        return f"SecretStr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(self._secret)

    def __len__(self) -> int:
        return len(self._secret)


class _Invalid(ValueError):
    """One setting's value is wrong: `msg` says how; `at` points inside it (a list's item)."""

    def __init__(self, msg: str, at: tuple[int | str, ...] = ()) -> None:
        super().__init__(msg)
        self.msg = msg
        self.at = at


_Check = Callable[[Any], Any]
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_WHOLE = re.compile(r"^[+-]?\d+(?:\.0*)?$")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid("Input should be a valid string")


def _path(value: Any) -> Path:
    if isinstance(value, str | PurePath):
        return Path(value)
    raise _Invalid(f"Input is not a valid path for {Path!r}")


def _integer(value: Any) -> int:
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _Invalid("Input should be a valid integer, got a number with a fractional part")
    if isinstance(value, str):
        text = value.strip()
        if _WHOLE.match(text):
            return int(text.split(".")[0])
        raise _Invalid("Input should be a valid integer, unable to parse string as an integer")
    raise _Invalid("Input should be a valid integer")


def _number(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _Invalid("Input should be a valid number, unable to parse string as a number") from None
    raise _Invalid("Input should be a valid number")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    if isinstance(value, int | float | str):
        raise _Invalid("Input should be a valid boolean, unable to interpret input")
    raise _Invalid("Input should be a valid boolean")


def _secret(value: Any) -> Any:
    if hasattr(value, "get_secret_value"):
        return value
    return SecretStr(_text(value))


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _Invalid("Input should be a valid list")
    items = []
    for i, item in enumerate(value):
        try:
            items.append(_text(item))
        except _Invalid as exc:
            raise _Invalid(exc.msg, (i, *exc.at)) from None
    return items


def _name_map(value: Any) -> dict[str, str]:
    """A table of names to names (`[operators]`: OS account = desk user)."""
    if not isinstance(value, Mapping):
        raise _Invalid("Input should be a valid table of names")
    table: dict[str, str] = {}
    for key, item in value.items():
        try:
            name = _text(item).strip()
        except _Invalid as exc:
            raise _Invalid(exc.msg, (str(key), *exc.at)) from None
        if not str(key).strip() or not name:
            raise _Invalid("Value error, names must not be empty", (str(key),))
        table[str(key).strip()] = name
    return table


def _choice(enum: type[_E]) -> Callable[[Any], _E]:
    names = [f"'{member.value}'" for member in enum]
    expected = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]

    def check(value: Any) -> _E:
        if isinstance(value, str):
            try:
                return enum(value)
            except ValueError:
                pass
        raise _Invalid(f"Input should be {expected}")

    return check


def _optional(check: _Check) -> _Check:
    return lambda value: None if value is None else check(value)


def _bounded(check: _Check, *, gt: float | None = None, ge: float | None = None, le: float | None = None) -> _Check:
    def bounded(value: Any) -> Any:
        value = check(value)
        if value is None:
            return None
        if le is not None and not value <= le:
            raise _Invalid(f"Input should be less than or equal to {le}")
        if ge is not None and not value >= ge:
            raise _Invalid(f"Input should be greater than or equal to {ge}")
        if gt is not None and not value > gt:
            raise _Invalid(f"Input should be greater than {gt}")
        return value

    return bounded


def _rule(check: _Check, rule: Callable[[Any], str | None]) -> _Check:
    """`check`, then `rule`, which names what is wrong with the value (or returns None)."""

    def ruled(value: Any) -> Any:
        value = check(value)
        problem = rule(value)
        if problem is not None:
            raise _Invalid(f"Value error, {problem}")
        return value

    return ruled


def _engine_problem(value: str) -> str | None:
    if value not in ("rapidocr", "tesseract") and not value.startswith("replay:"):
        return "must be rapidocr or tesseract"
    return None


def _positive_problem(value: float) -> str | None:
    return "must be more than 0" if value <= 0 else None


def _station_id_problem(value: str) -> str | None:
    if not _STATION_ID.match(value):
        return "must be 1-32 letters, digits or '-', starting with a letter or digit"
    return None


def _business_codes_problem(value: list[str]) -> str | None:
    if not value:
        return "must name at least one business"
    bad = next((code for code in value if not _BUSINESS_CODE.match(code)), None)
    if bad is not None:
        return f"'{bad[:40]}' is not a business code (capital letters, digits and '_', e.g. MORT_CANCEL)"
    if len(set(value)) != len(value):
        return "names a business twice"
    return None


def _registry_url_problem(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s/]+", value):
        return "must start with http:// or https:// and name a host"
    return None


def _db_url_problem(value: str | None) -> str | None:
    if value is not None and not value.startswith(("sqlite:", "postgresql")):
        return "must be a sqlite:/// or postgresql+psycopg:// URL"
    return None


def _checked(check: _Check, *, from_json: bool = False) -> dict[str, Any]:
    """A setting's check; `from_json`: an environment variable holds it as JSON (a list)."""
    return {"check": check, "from_json": from_json}


@dataclass
class Settings:
    """A desk's (or the registry's) settings, as `load_settings` reads and checks them."""

    data_dir: Path = field(default_factory=default_data_dir, metadata=_checked(_path))
    db_url: str | None = field(default=None, metadata=_checked(_rule(_optional(_text), _db_url_problem)))
    station_id: str = field(default="local", metadata=_checked(_rule(_text, _station_id_problem)))
    station_name: str = field(default="本地工作站", metadata=_checked(_text))
    # The office named on notices and certificates, and the addresses their QR codes point to ({number}).
    office_name: str = field(default="济南市不动产登记中心", metadata=_checked(_text))
    office_address: str = field(default="", metadata=_checked(_text))
    office_phone: str = field(default="", metadata=_checked(_text))
    office_status_url: str = field(default="https://bdc.jinan.gov.cn/status/{number}", metadata=_checked(_text))
    office_verify_url: str = field(default="https://bdc.jinan.gov.cn/verify/{number}", metadata=_checked(_text))
    station_kind: StationKind = field(default=StationKind.HALL, metadata=_checked(_choice(StationKind)))
    # R12: businesses a hall's counter refuses and sends to self-service (e.g. ["MORT_CANCEL", "CHANGE"]), and where
    # the refusal line points people.
    counter_refuses: list[str] = field(default_factory=list, metadata=_checked(_texts, from_json=True))
    self_service_hint: str = field(default="大厅自助服务区", metadata=_checked(_text))
    hall_mode: HallModeSetting = field(default=HallModeSetting.STANDARD, metadata=_checked(_choice(HallModeSetting)))
    # The businesses a self-service kiosk offers (R12: mortgage cancellation, changes of name, ID, 坐落 or area).
    kiosk_businesses: list[str] = field(
        default_factory=lambda: ["MORT_CANCEL", "CHANGE"],
        metadata=_checked(_rule(_texts, _business_codes_problem), from_json=True),
    )
    workflow_stages: list[str] | None = field(default=None, metadata=_checked(_optional(_texts), from_json=True))
    registry_url: str | None = field(default=None, metadata=_checked(_rule(_optional(_text), _registry_url_problem)))
    registry_token: SecretStr | None = field(default=None, metadata=_checked(_optional(_secret)))
    user: str = field(default="admin", metadata=_checked(_text))
    # A machine with one operator per OS account: [operators] alice = "clerk1" lets the OS account alice act as the
    # desk user clerk1 without a password (desk users only; the registry's people always give theirs).
    operators: dict[str, str] = field(default_factory=dict, metadata=_checked(_name_map, from_json=True))
    admin_password: SecretStr | None = field(default=None, metadata=_checked(_optional(_secret)))
    # the scanner's hot folder; default <data dir>/inbox
    inbox: Path | None = field(default=None, metadata=_checked(_optional(_path)))
    # a file is taken once its size and time have not changed this long
    intake_settle_seconds: float = field(default=2.0, metadata=_checked(_rule(_number, _positive_problem)))
    # poll instead of inotify (network shares)
    intake_polling: bool = field(default=False, metadata=_checked(_flag))
    intake_rescan_seconds: float = field(default=10.0, metadata=_checked(_rule(_number, _positive_problem)))
    # rapidocr | tesseract (| replay:FILE, recorded readings for tests)
    ocr_engine: str = field(default="rapidocr", metadata=_checked(_rule(_text, _engine_problem)))
    # default: one per core
    ocr_workers: int | None = field(default=None, metadata=_checked(_optional(_integer)))
    # K: leased dossiers a review desk holds
    review_queue_size: int = field(default=3, metadata=_checked(_bounded(_integer, ge=1, le=50)))
    # renewed by heartbeat while online
    review_lease_minutes: float = field(default=30.0, metadata=_checked(_bounded(_number, gt=0, le=24 * 60)))
    # After 补正: the resubmitted dossier is offered first to the reviewer who returned it, for this long (while
    # they are logged in and hold the grant); then it goes to the pool. 0: straight to the pool.
    review_same_reviewer_minutes: float = field(
        default=240.0, metadata=_checked(_bounded(_number, ge=0, le=7 * 24 * 60))
    )
    # At the registry: how long a person's login from a desk lasts (a working day); they log in again after it.
    person_login_minutes: float = field(default=600.0, metadata=_checked(_bounded(_number, gt=0, le=7 * 24 * 60)))
    # At the registry: hours within which an online application is pre-reviewed (网上预审, R13); later is overdue.
    partner_prereview_hours: float = field(default=24.0, metadata=_checked(_bounded(_number, gt=0, le=30 * 24)))
    # default: domain/data/qc.toml
    qc_rate: float | None = field(default=None, metadata=_checked(_bounded(_optional(_number), gt=0, le=1)))
    # the office's sampling key; default: domain/data/qc.toml
    qc_key: SecretStr | None = field(default=None, metadata=_checked(_optional(_secret)))
    # between sync passes when all is well
    sync_interval_seconds: float = field(default=5.0, metadata=_checked(_bounded(_number, gt=0, le=3600)))

    @property
    def inbox_dir(self) -> Path:
        return self.inbox or self.data_dir / "inbox"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'workstation.db'}"

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Settings:
        """A copy with some settings replaced (as given: not checked again)."""
        return dataclasses.replace(self, **(update or {}))


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


def _from_environment(env: Mapping[str, str], fields: Iterable[dataclasses.Field[Any]]) -> dict[str, Any]:
    """The settings named by WS_* variables (in any case); other WS_* variables (WS_CONFIG, …) are not settings."""
    named = {key.lower(): value for key, value in env.items() if key[:3].lower() == _ENV_PREFIX}
    found: dict[str, Any] = {}
    for f in fields:
        value: Any = named.get(_ENV_PREFIX + f.name)
        if value is None:
            continue
        if f.metadata["from_json"]:
            with contextlib.suppress(ValueError):  # not JSON: checked as given ("should be a valid list")
                value = json.loads(value)
        found[f.name] = value
    return found


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
    fields = dataclasses.fields(Settings)
    given = {**table, **_from_environment(env, fields), **cli}
    checked: dict[str, Any] = {}
    for f in fields:
        if f.name not in given:
            continue
        try:
            checked[f.name] = f.metadata["check"](given.pop(f.name))
        except _Invalid as exc:
            raise ConfigError(_describe(".".join(map(str, (f.name, *exc.at))), exc.msg, config_path)) from None
    if given:
        raise ConfigError(_describe(next(iter(given)), None, config_path))
    return Settings(**checked)


def _describe(key: str, problem: str | None, config_path: str | Path | None) -> str:
    """One line: the setting, what is wrong with it (None: there is no such setting) and where it may come from."""
    where = f" (in {config_path} or WS_{key.upper()})" if config_path else f" (WS_{key.upper()})"
    if problem is None:
        return f"bad configuration: unknown setting '{key}'{where}"
    return f"bad configuration: {key}: {problem}{where}"
