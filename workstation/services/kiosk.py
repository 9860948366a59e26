"""The self-service kiosk (R12): what it checks and records for an applicant, without a clerk.

Mortgage cancellation and changes of name, ID number, 坐落 or area are applied for at a kiosk, not the counter.
The kiosk acts under its own desk account; the person standing at it proves who they are by name and 18-digit ID
number (checked with the identifier codes' own checks) and a photo. This kiosk has no camera: the photo step makes
a STAND-IN record instead — the time, the station and a SHA-256 of the typed identity — and that digest is the
reference of the dossier's signing record (`DossierService.record_signing`, method "kiosk").

Files come from the kiosk's scan folder only (the desk's hot folder, where its scanner drops them): a path typed at a
public terminal never reaches the rest of the machine. Each file is checked as intake checks it (empty, corrupt or
not an image/PDF is refused in one line), attached to its checklist slot, then moved out of the scan folder to
`processed/<受理号>/` beside it, so the next applicant never sees it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ocr.codes import check_id_number, check_uscc
from workstation.domain.catalogue import Business, Catalogue
from workstation.domain.permissions import Actor, Permission, UserRole, has_permission
from workstation.errors import ConfigError, UsageError
from workstation.services import audit
from workstation.services.hotfolder import PROCESSED, is_ignored_name
from workstation.services.receipt import build_receipt, write_receipt_pdf
from workstation.services.users import LOGIN
from workstation.services.views import DossierDetail, PageView, SlotView
from workstation.store.types import utcnow

if TYPE_CHECKING:
    from workstation.services.desk import Desk

log = logging.getLogger("workstation.kiosk")

KIOSK_STATION = "kiosk"
CHANNEL = "self_service"
SIGNING_METHOD = "kiosk"
WITNESS_PREFIX = "自助终端 "
STAND_IN = "stand-in"
STAND_IN_LABEL = "替代记录 STAND-IN（本机无摄像头 no camera）"
# What the kiosk's own account does for an applicant; a clerk's role grants all of it.
KIOSK_RIGHTS = (
    Permission.DOSSIER_CREATE,
    Permission.DOSSIER_EDIT,
    Permission.DOSSIER_SUBMIT,
    Permission.DOSSIER_WITHDRAW,
    Permission.DOSSIER_VIEW,
)
WITHDRAW_REASON = "自助终端：申请人返回修改申请 the applicant changed the application at the kiosk"
NAME_MIN, NAME_MAX = 2, 30
ORG_NAME_MIN, ORG_NAME_MAX = 2, 100
_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·"})
_ORG_MARKS = frozenset("()（）·.-&、 ")


class KioskRefused(UsageError):
    """What the applicant typed or chose cannot be taken: one line, Chinese first, shown where they typed it."""


# -- the kiosk's account -------------------------------------------------------------------------------------------


def require_kiosk_rights(actor: Actor) -> None:
    """One line naming what the kiosk's account may not do, if anything."""
    lacking = [p.value for p in KIOSK_RIGHTS if not has_permission(actor, p)]
    if lacking:
        roles = ", ".join(role.value for role in UserRole if role in actor.roles) or "no role"
        raise KioskRefused(
            f"自助终端账户权限不足 the kiosk account '{actor.username}' ({roles}) may not {', '.join(lacking)}: "
            "an admin gives it the clerk role"
        )


def kiosk_login(desk: Desk, username: str) -> Actor:
    """The kiosk's own account, logged in without a password: only on a kiosk station (`station_kind = "kiosk"`)
    and only for one of the desk's own users (the registry's people always give their password). Audited."""
    kind = desk.settings.station_kind.value
    if kind != KIOSK_STATION:
        raise KioskRefused(
            f"本机不是自助终端 this station is a {kind} station: its account logs in without a password only where "
            'station_kind = "kiosk"'
        )
    actor = desk.users.actor(username)
    if not desk.users.is_local(username):
        raise KioskRefused(
            f"自助终端须用本机账户 {username} is the registry's: a kiosk acts under one of this desk's own users"
        )
    require_kiosk_rights(actor)
    with desk.db.transaction() as session:
        audit.append(
            session,
            station_id=desk.settings.station_id,
            actor=username,
            action="user.login",
            entity=LOGIN,
            entity_id=username[:64],
            payload={"username": username, "user_id": actor.user_id, "method": "kiosk_station"},
        )
    return actor


def kiosk_businesses(catalogue: Catalogue, codes: Sequence[str]) -> tuple[Business, ...]:
    """The businesses the kiosk offers (`kiosk_businesses`), in the configured order."""
    unknown = [code for code in codes if code not in catalogue.businesses]
    if unknown:
        raise ConfigError(
            f"bad configuration: kiosk_businesses: no business '{unknown[0]}' in the catalogue; "
            f"businesses: {', '.join(catalogue.businesses)}"
        )
    return tuple(catalogue.business(code) for code in codes)


# -- identity (实名核验) -----------------------------------------------------------------------------------------------


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000" for ch in text)


def check_person_name(text: str) -> str:
    """A plausible personal name: 2–30 characters of Chinese or letters, '·' between parts (阿依古丽·买买提)."""
    name = " ".join((text or "").translate(_DOTS).split())
    if _has_cjk(name):
        name = name.replace(" ", "")
    parts = re.split(r"[· ]", name)
    plausible = (
        NAME_MIN <= len(name) <= NAME_MAX
        and all(parts)  # no leading, trailing or doubled separator
        and all(ch.isalpha() for part in parts for ch in part)
    )
    if not plausible:
        raise KioskRefused(
            f"姓名不正确 name: {NAME_MIN}–{NAME_MAX} Chinese characters or letters, '·' between parts"
            + (f" (got {len(name)})" if name and not NAME_MIN <= len(name) <= NAME_MAX else "")
        )
    return name


def check_person_id(text: str) -> str:
    """An 18-character 居民身份证号 whose check digit and birth date hold."""
    check = check_id_number(text or "")
    if len(check.value) != 18:
        raise KioskRefused(f"身份证号须为18位 ID number: 18 characters, got {len(check.value)}")
    if not check.valid:
        problem = check.errors[0] if check.errors else "invalid"
        raise KioskRefused(f"身份证号有误 ID number: {problem}")
    return check.value


def check_org_name(text: str) -> str:
    """An enterprise's name as on its licence: 2–100 characters, letters or digits, a few marks."""
    name = " ".join((text or "").split())
    if _has_cjk(name):
        name = name.replace(" ", "")
    letters = sum(ch.isalpha() for ch in name)
    if (
        not ORG_NAME_MIN <= len(name) <= ORG_NAME_MAX
        or letters < 2
        or any(not (ch.isalnum() or ch in _ORG_MARKS) for ch in name)
    ):
        raise KioskRefused(
            f"企业名称不正确 enterprise name: {ORG_NAME_MIN}–{ORG_NAME_MAX} characters as on the business licence"
        )
    return name


def check_uscc_code(text: str) -> str:
    """An 18-character 统一社会信用代码 whose check character holds. The counter may take one that fails the check
    (old registrations carry such codes); a kiosk, with no clerk to look at the licence, does not."""
    check = check_uscc(text or "")
    if len(check.value) != 18:
        raise KioskRefused(f"统一社会信用代码须为18位 USCC: 18 characters, got {len(check.value)}")
    problems = check.errors or (() if check.valid else check.warnings)
    if problems:
        raise KioskRefused(f"统一社会信用代码有误 USCC: {problems[0]}; if it is right, apply at the counter")
    return check.value


@dataclass(frozen=True)
class Identity:
    """Who applies, as checked: an individual applies themself; an enterprise through the person at the kiosk."""

    applicant_kind: str  # individual | enterprise
    person_name: str  # the person at the kiosk: the applicant, or the enterprise's agent (经办人)
    person_id: str
    org_name: str | None = None
    org_uscc: str | None = None

    @property
    def applicant_name(self) -> str:
        return self.org_name if self.org_name is not None else self.person_name

    @property
    def applicant_id(self) -> str:
        return self.org_uscc if self.org_uscc is not None else self.person_id


def check_identity(
    business: Business,
    applicant_kind: str,
    *,
    person_name: str,
    person_id: str,
    org_name: str = "",
    org_uscc: str = "",
) -> Identity:
    """Every typed value checked, in the order of the form; the first problem is refused in one line."""
    if applicant_kind not in business.applicant_kinds:
        raise KioskRefused(
            f"{business.name}的申请人须为 the applicant of {business.code} is one of: "
            + ", ".join(business.applicant_kinds)
        )
    if applicant_kind == "enterprise":
        org = check_org_name(org_name), check_uscc_code(org_uscc)
        return Identity(applicant_kind, check_person_name(person_name), check_person_id(person_id), *org)
    return Identity(applicant_kind, check_person_name(person_name), check_person_id(person_id))


# -- the photo, by stand-in ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoCapture:
    """A photo capture's record. Here always a STAND-IN: no camera, so no image; `sha256` digests the typed identity,
    the station and the time, and is what the dossier's signing record refers to."""

    kind: str  # "stand-in"
    taken_at: datetime
    station_id: str
    sha256: str

    @property
    def line(self) -> str:
        return f"{STAND_IN_LABEL} · {self.taken_at.isoformat(timespec='seconds')} · {self.station_id} · {self.sha256}"


def capture_stand_in(identity: Identity, *, station_id: str, now: datetime | None = None) -> PhotoCapture:
    """The photo step without a camera: a record of who stood at which kiosk when, named a stand-in."""
    taken = now or utcnow()
    content = {
        "capture": f"{STAND_IN}: no camera; digest of the typed identity",
        "station_id": station_id,
        "taken_at": taken.isoformat(),
        "name": identity.person_name,
        "id_number": identity.person_id,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return PhotoCapture(STAND_IN, taken, station_id, digest)


# -- conditions (变更事项) ---------------------------------------------------------------------------------------------


def needs_conditions(business: Business) -> bool:
    """Whether the applicant must say which conditions apply (a change: what changed)."""
    return bool(business.require_one_of)


def check_conditions(business: Business, chosen: Iterable[str]) -> tuple[str, ...]:
    conditions = tuple(dict.fromkeys(chosen))
    unknown = [c for c in conditions if c not in business.conditions]
    if unknown:
        raise KioskRefused(f"未知事项 unknown condition '{unknown[0][:40]}' for {business.code}")
    for group in business.require_one_of:
        if not set(group) & set(conditions):
            labels = "、".join(business.conditions.get(c, c) for c in group)
            raise KioskRefused(f"请至少选择一项：{labels} choose at least one")
    return conditions


# -- the dossier -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    """What the applicant chose and typed, as checked; a dossier is opened for it."""

    business: str
    identity: Identity
    conditions: tuple[str, ...]
    capture: PhotoCapture


@dataclass(frozen=True)
class Opened:
    """The draft dossier opened for an application."""

    application: Application
    number: str


def open_dossier(desk: Desk, actor: Actor, application: Application, current: Opened | None = None) -> Opened:
    """The draft dossier for `application`, with the identity check on record.

    The applicant may step back after the dossier was opened: new conditions change its checklist and a new photo
    replaces the signing record, the files loaded staying; another business or applicant withdraws that draft (no
    half application is left) and opens a new one.
    """
    if current is not None:
        before = current.application
        if (before.business, before.identity) == (application.business, application.identity):
            if before.conditions != application.conditions:
                desk.dossiers.set_conditions(actor, current.number, application.conditions)
            if before.capture != application.capture:
                _record_check(desk, actor, current.number, application.capture)
            return Opened(application, current.number)
        desk.dossiers.withdraw(actor, current.number, reason=WITHDRAW_REASON)
    identity = application.identity
    detail = desk.dossiers.new(
        actor,
        business=application.business,
        applicant_kind=identity.applicant_kind,
        channel=CHANNEL,
        conditions=application.conditions,
        applicant_name=identity.applicant_name,
        applicant_id=identity.applicant_id,
        parties=(),
    )
    try:
        _record_check(desk, actor, detail.number, application.capture)
    except Exception:
        # No draft is left without its identity check: withdrawn (kept on record), and the refusal shown as it was.
        try:
            desk.dossiers.withdraw(
                actor, detail.number, reason="自助终端：实名核验未能记录 identity check not recorded"
            )
        except Exception:
            log.exception("%s: the identity check was not recorded and the draft could not be withdrawn", detail.number)
        raise
    return Opened(application, detail.number)


def _record_check(desk: Desk, actor: Actor, number: str, capture: PhotoCapture) -> None:
    """The identity check on the dossier: this kiosk witnessed it, and the photo's record is its reference."""
    desk.dossiers.record_signing(
        actor,
        number,
        witness=WITNESS_PREFIX + desk.settings.station_name,
        method=SIGNING_METHOD,
        result="pass",
        reference=capture.sha256,
    )


def withdraw_draft(desk: Desk, actor: Actor, number: str) -> None:
    """Start over: the applicant's unfinished draft is withdrawn (kept on record, never deleted)."""
    if desk.dossiers.show(number).status in ("draft", "returned"):
        desk.dossiers.withdraw(actor, number, reason="自助终端：申请人重新开始 the applicant started over")


# -- materials from the scan folder ----------------------------------------------------------------------------------


def open_slots(detail: DossierDetail) -> list[SlotView]:
    """The checklist's slots still waiting for a file, in the checklist's order."""
    return [slot for slot in detail.slots if not slot.satisfied and not slot.waived]


def scan_path(root: Path, text: str) -> Path:
    """The file or folder `text` names inside the scan folder `root` (relative to it, or absolute within it)."""
    if not (text or "").strip():
        raise KioskRefused("请输入文件名 type the name of a file in the scan folder")
    return _inside(root, text, "只能载入扫描文件夹中的文件 only files in the scan folder {root} can be loaded")


def _inside(root: Path, text: str, refusal: str) -> Path:
    """`text` as a path inside `root`, links followed: a path typed at a public terminal reaches nothing else."""
    typed = text.strip()
    try:
        base = root.resolve()
        given = Path(typed).expanduser()
        path = (given if given.is_absolute() else base / given).resolve()
    except (OSError, ValueError, RuntimeError):
        raise KioskRefused(f"无法识别的路径 not a usable path: {typed[:80]}") from None
    if path != base and base not in path.parents:
        raise KioskRefused(refusal.format(root=base))
    return path


def load_file(desk: Desk, actor: Actor, number: str, slot: SlotView, *, root: Path, text: str) -> PageView:
    """One file of the scan folder into `slot` of the dossier; refused in one line when it cannot be taken."""
    path = scan_path(root, text)
    if not path.is_file():
        raise KioskRefused(f"找不到文件 no such file in the scan folder: {text.strip()[:80]}")
    media_type, data = _checked_file(desk, path, desk.dossiers.show(number))
    page = desk.dossiers.attach_page(
        actor,
        number,
        data=data,
        source_name=path.name,
        media_type=media_type,
        material=slot.material,
        party_key=slot.party_key,
    )
    _file_away(path, root, number)
    return page


def load_folder(desk: Desk, actor: Actor, number: str, *, root: Path, text: str = "") -> list[tuple[SlotView, str]]:
    """Every file of a folder in the scan folder (by name) into the open slots, in order. All files are checked
    first: one that cannot be taken refuses the lot, so no file lands in a slot meant for another."""
    folder = scan_path(root, text) if (text or "").strip() else root
    if not folder.is_dir():
        raise KioskRefused(f"找不到文件夹 no such folder in the scan folder: {text.strip()[:80]}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not is_ignored_name(p.name))
    if not files:
        raise KioskRefused("文件夹中没有文件 the folder holds no files: scan the materials first")
    detail = desk.dossiers.show(number)
    slots = open_slots(detail)
    if not slots:
        raise KioskRefused("材料均已载入 every material has its file already")
    if len(files) > len(slots):
        raise KioskRefused(
            f"文件 {len(files)} 个，待载入材料 {len(slots)} 项 {len(files)} files for {len(slots)} open materials: "
            "load them one by one"
        )
    checked = [(path, *_checked_file(desk, path, detail)) for path in files]
    if len({data for _, _, data in checked}) < len(checked):
        raise KioskRefused("文件夹中有重复的文件 the folder holds the same file twice")
    loaded: list[tuple[SlotView, str]] = []
    for (path, media_type, data), slot in zip(checked, slots, strict=False):
        desk.dossiers.attach_page(
            actor,
            number,
            data=data,
            source_name=path.name,
            media_type=media_type,
            material=slot.material,
            party_key=slot.party_key,
        )
        _file_away(path, root, number)
        loaded.append((slot, path.name))
    return loaded


def _checked_file(desk: Desk, path: Path, detail: DossierDetail) -> tuple[str, bytes]:
    """The file's media type and bytes, checked as intake checks a scan (IntakeRefused names the problem)."""
    _pages, media_type = desk.intake.inspect(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KioskRefused(f"{path.name}: 无法读取 cannot read the file ({exc.strerror or exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    same = next((page for page in detail.pages if page.sha256 == digest), None)
    if same is not None:
        raise KioskRefused(f"{path.name}: 已载入 already loaded (as {same.material or same.source_name})")
    return media_type, data


def _file_away(path: Path, root: Path, number: str) -> None:
    """Out of the scan folder, as intake moves what it took: the next applicant at this kiosk never sees it."""
    folder = root.parent / PROCESSED / number
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stem, suffix = os.path.splitext(path.name)
        target, n = folder / path.name, 0
        while target.exists():
            n += 1
            target = folder / f"{stem}-{n}{suffix}"
        os.replace(path, target)
    except OSError as exc:  # attached already; the file only stays where it was
        log.warning("%s: attached to %s but not moved out of the scan folder (%s)", path.name, number, exc)


# -- the receipt -----------------------------------------------------------------------------------------------------


def print_receipt(desk: Desk, actor: Actor, number: str, text: str) -> Path:
    """The 受理回执 as a PDF named by the applicant, in the data folder's receipts/ (nowhere else)."""
    if not (text or "").strip():
        raise KioskRefused("请输入回执文件名 type a name for the receipt, e.g. receipt.pdf")
    root = Path(desk.settings.data_dir) / "receipts"
    out = _inside(root, text, "回执只能存于回执文件夹 the receipt is written in the receipts folder {root} only")
    if out.suffix.lower() != ".pdf" or out == root.resolve():
        raise KioskRefused(f"回执须存为 PDF the receipt is written as a PDF: end the name with .pdf ({out.name[:60]})")
    return write_receipt_pdf(build_receipt(desk, actor, number), out)
