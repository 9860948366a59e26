"""The kiosk's own checks (R12): who stands at it, what they choose, the photo stand-in, files from its scan folder."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from ocr.codes import compute_id_check_digit
from workstation.config import load_settings
from workstation.domain.catalogue import default_catalogue
from workstation.errors import ConfigError, NotFound, UsageError
from workstation.services.desk import Desk, open_desk
from workstation.services.kiosk import (
    STAND_IN,
    Application,
    Identity,
    KioskRefused,
    capture_stand_in,
    check_conditions,
    check_identity,
    check_org_name,
    check_person_id,
    check_person_name,
    check_uscc_code,
    kiosk_businesses,
    kiosk_login,
    load_file,
    load_folder,
    needs_conditions,
    open_dossier,
    print_receipt,
    scan_path,
)

IDN = "370102199001011231"
USCC = "91350100M000100Y43"
CATALOGUE = default_catalogue()
MORT_CANCEL = CATALOGUE.business("MORT_CANCEL")
CHANGE = CATALOGUE.business("CHANGE")
NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


def one_line(exc: pytest.ExceptionInfo[KioskRefused]) -> str:
    text = str(exc.value)
    assert text and "\n" not in text
    return text


# -- names and identifiers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("王小明", "王小明"),
        (" 王 小明 ", "王小明"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),  # the dot as a phone keyboard types it
        ("John  Smith", "John Smith"),
        ("欧阳", "欧阳"),
    ],
)
def test_a_personal_name_is_chinese_or_letters_with_a_middle_dot_between_parts(typed: str, name: str) -> None:
    assert check_person_name(typed) == name


@pytest.mark.parametrize("typed", ["", "王", "王小明1", "·王小明", "王··小明", "王小明·", "王<b>", "名" * 31])
def test_what_is_not_a_personal_name_is_refused_in_one_line(typed: str) -> None:
    with pytest.raises(KioskRefused) as refused:
        check_person_name(typed)
    assert one_line(refused).startswith("姓名不正确")


def test_an_id_number_with_a_wrong_check_digit_is_refused_naming_the_right_one() -> None:
    with pytest.raises(KioskRefused) as refused:
        check_person_id(IDN[:-1] + "2")
    assert one_line(refused) == "身份证号有误 ID number: check digit should be 1, not 2"
    assert check_person_id(IDN) == IDN
    body = "11010519491231002"
    assert check_person_id(body + compute_id_check_digit(body).lower()) == body + "X"


@pytest.mark.parametrize("typed", ["370102900101123", "3701021990010112", "", "37010219901301123" + "1"])
def test_an_id_number_that_is_not_18_valid_characters_is_refused(typed: str) -> None:
    with pytest.raises(KioskRefused) as refused:
        check_person_id(typed)
    assert one_line(refused).startswith(("身份证号须为18位", "身份证号有误"))


def test_a_credit_code_must_pass_its_check_character_at_a_kiosk() -> None:
    assert check_uscc_code(USCC.lower()) == USCC
    wrong = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    with pytest.raises(KioskRefused) as refused:
        check_uscc_code(wrong)
    assert one_line(refused).startswith("统一社会信用代码有误") and "counter" in str(refused.value)
    with pytest.raises(KioskRefused, match="须为18位"):
        check_uscc_code("370100000012345")  # an old 15-digit 注册号: for the counter


def test_an_enterprise_name_is_as_on_its_licence() -> None:
    assert check_org_name(" 中国某某银行股份有限公司 济南分行 ") == "中国某某银行股份有限公司济南分行"
    assert check_org_name("某某（济南）置业有限公司") == "某某（济南）置业有限公司"
    for typed in ("", "银", "12345", "某银行<script>"):
        with pytest.raises(KioskRefused, match="企业名称不正确"):
            check_org_name(typed)


def test_a_bank_applies_through_its_agent_and_a_person_for_themself() -> None:
    bank = check_identity(
        MORT_CANCEL, "enterprise", person_name="王小明", person_id=IDN, org_name="某银行济南分行", org_uscc=USCC
    )
    assert (bank.applicant_name, bank.applicant_id, bank.person_name) == ("某银行济南分行", USCC, "王小明")
    person = check_identity(CHANGE, "individual", person_name="王小明", person_id=IDN, org_name="ignored")
    assert (person.applicant_name, person.applicant_id, person.org_name) == ("王小明", IDN, None)
    with pytest.raises(KioskRefused) as refused:  # only the mortgagee applies for a cancellation here
        check_identity(MORT_CANCEL, "individual", person_name="王小明", person_id=IDN)
    assert "enterprise" in one_line(refused)


def test_the_first_wrong_field_of_the_form_is_the_one_refused() -> None:
    with pytest.raises(KioskRefused, match="统一社会信用代码"):
        check_identity(MORT_CANCEL, "enterprise", person_name="王", person_id="1", org_name="某银行", org_uscc="X")


# -- conditions ------------------------------------------------------------------------------------------------------


def test_a_change_needs_at_least_one_of_what_changed() -> None:
    assert needs_conditions(CHANGE) and not needs_conditions(MORT_CANCEL)
    with pytest.raises(KioskRefused) as refused:
        check_conditions(CHANGE, [])
    assert one_line(refused).startswith("请至少选择一项：权利人名称/姓名变更、")
    assert check_conditions(CHANGE, ["area_change", "name_change", "area_change"]) == ("area_change", "name_change")
    with pytest.raises(KioskRefused, match="unknown condition"):
        check_conditions(CHANGE, ["name_change", "colour_change"])
    assert check_conditions(MORT_CANCEL, []) == ()


# -- the photo stand-in ----------------------------------------------------------------------------------------------


def test_the_photo_is_a_stand_in_record_of_who_stood_at_which_kiosk_when() -> None:
    person = Identity("individual", "王小明", IDN)
    capture = capture_stand_in(person, station_id="JN-KIOSK-01", now=NOON)
    assert capture.kind == STAND_IN and capture.station_id == "JN-KIOSK-01" and capture.taken_at == NOON
    assert len(capture.sha256) == 64 and int(capture.sha256, 16) >= 0
    assert "STAND-IN" in capture.line and capture.sha256 in capture.line
    assert capture_stand_in(person, station_id="JN-KIOSK-01", now=NOON) == capture  # a digest of what it records
    other = Identity("individual", "王小明", "11010519491231002X")
    assert capture_stand_in(other, station_id="JN-KIOSK-01", now=NOON).sha256 != capture.sha256
    assert capture_stand_in(person, station_id="JN-KIOSK-02", now=NOON).sha256 != capture.sha256


# -- settings --------------------------------------------------------------------------------------------------------


def test_the_kiosk_offers_the_configured_businesses_in_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("WS_")]:
        monkeypatch.delenv(key)
    assert load_settings(data_dir="/nonexistent").kiosk_businesses == ["MORT_CANCEL", "CHANGE"]
    assert [b.code for b in kiosk_businesses(CATALOGUE, ["CHANGE", "MORT_CANCEL"])] == ["CHANGE", "MORT_CANCEL"]
    with pytest.raises(ConfigError, match="kiosk_businesses: no business 'MORT_CANCLE'"):
        kiosk_businesses(CATALOGUE, ["MORT_CANCLE"])
    for bad, problem in (([], "at least one"), (["mort cancel"], "not a business code"), (["CHANGE"] * 2, "twice")):
        with pytest.raises(ConfigError, match=problem):
            load_settings(data_dir="/nonexistent", kiosk_businesses=bad)


# -- the scan folder -------------------------------------------------------------------------------------------------


def test_only_files_inside_the_scan_folder_can_be_named(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "case").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"x")
    (inbox / "link.png").symlink_to(tmp_path / "secret.png")
    assert scan_path(inbox, "case/a.png") == (inbox / "case" / "a.png").resolve()
    assert scan_path(inbox, str(inbox / "b.png")) == (inbox / "b.png").resolve()
    for typed in ("../secret.png", str(tmp_path / "secret.png"), "link.png", "/etc/passwd", "case/../../x"):
        with pytest.raises(KioskRefused) as refused:
            scan_path(inbox, typed)
        assert one_line(refused).startswith("只能载入扫描文件夹中的文件")
    with pytest.raises(KioskRefused, match="请输入文件名"):
        scan_path(inbox, "  ")


# -- with a desk: the kiosk's account, files into slots, stepping back -----------------------------------------------


def _desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: object) -> Desk:
    for key in [k for k in os.environ if k.startswith("WS_")]:
        monkeypatch.delenv(key)
    desk = open_desk(load_settings(data_dir=tmp_path, admin_password="admin-pass-1", **settings))
    desk.users.add(desk.users.actor("admin"), username="kiosk1", password="kiosk1-pass-1", roles=["clerk"])
    return desk


@pytest.fixture
def kiosk_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    return _desk(tmp_path, monkeypatch, station_kind="kiosk")


def _scan(folder: Path, name: str, shade: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("L", (40, 50), shade).save(folder / name)
    return folder / name


def _application(business: str = "MORT_CANCEL", conditions: tuple[str, ...] = ()) -> Application:
    if business == "MORT_CANCEL":
        identity = check_identity(
            MORT_CANCEL, "enterprise", person_name="王小明", person_id=IDN, org_name="某银行济南分行", org_uscc=USCC
        )
    else:
        identity = check_identity(CHANGE, "individual", person_name="王小明", person_id=IDN)
    return Application(business, identity, conditions, capture_stand_in(identity, station_id="local", now=NOON))


def test_the_kiosk_account_logs_in_without_a_password_only_at_a_kiosk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall = _desk(tmp_path / "hall", monkeypatch)
    with pytest.raises(KioskRefused) as refused:
        kiosk_login(hall, "kiosk1")
    assert one_line(refused).startswith("本机不是自助终端")
    kiosk = _desk(tmp_path / "kiosk", monkeypatch, station_kind="kiosk")
    assert kiosk_login(kiosk, "kiosk1").username == "kiosk1"
    with pytest.raises(KioskRefused) as refused:  # the first admin: no clerk's rights
        kiosk_login(kiosk, "admin")
    assert one_line(refused).startswith("自助终端账户权限不足") and "clerk role" in str(refused.value)
    with pytest.raises(NotFound):
        kiosk_login(kiosk, "nobody")


def test_a_folder_with_one_bad_file_attaches_nothing_then_fills_the_open_slots_in_name_order(kiosk_desk: Desk) -> None:
    actor = kiosk_login(kiosk_desk, "kiosk1")
    inbox = Path(kiosk_desk.settings.inbox_dir)
    number = open_dossier(kiosk_desk, actor, _application()).number
    first = _scan(inbox, "a-form.png", 200)
    load_file(kiosk_desk, actor, number, kiosk_desk.dossiers.show(number).slots[0], root=inbox, text="a-form.png")
    assert not first.exists() and (inbox.parent / "processed" / number / "a-form.png").exists()

    later = [_scan(inbox / "batch", f"p{i}.png", 100 + i) for i in range(3)]
    (inbox / "batch" / "p1.png").write_bytes(b"")  # an empty file: refused before anything is attached
    with pytest.raises(UsageError) as refused:  # intake's own check of a scan, its own line
        load_folder(kiosk_desk, actor, number, root=inbox, text="batch")
    assert str(refused.value) == "p1.png: empty file (0 bytes)"
    assert len(kiosk_desk.dossiers.show(number).pages) == 1 and all(p.exists() for p in later)

    _scan(inbox / "batch", "p1.png", 150)
    loaded = load_folder(kiosk_desk, actor, number, root=inbox, text="batch")
    assert [(slot.material, name) for slot, name in loaded] == [("M02", "p0.png"), ("M09", "p1.png"), ("M21", "p2.png")]
    detail = kiosk_desk.dossiers.show(number)
    assert [(p.material, p.source_name) for p in detail.pages] == [
        ("M01", "a-form.png"),
        ("M02", "p0.png"),
        ("M09", "p1.png"),
        ("M21", "p2.png"),
    ]
    _scan(inbox, "again.png", 200)  # the same picture as a-form.png
    with pytest.raises(KioskRefused, match="already loaded"):
        load_file(kiosk_desk, actor, number, detail.slots[4], root=inbox, text="again.png")


def test_stepping_back_changes_the_open_draft_or_withdraws_it_for_another_application(kiosk_desk: Desk) -> None:
    actor = kiosk_login(kiosk_desk, "kiosk1")
    opened = open_dossier(kiosk_desk, actor, _application("CHANGE", ("name_change",)))
    signing = kiosk_desk.dossiers.show(opened.number).signing
    assert signing is not None and signing["reference"] == opened.application.capture.sha256
    assert signing["witness"] == f"自助终端 {kiosk_desk.settings.station_name}" and signing["method"] == "kiosk"

    same = open_dossier(kiosk_desk, actor, _application("CHANGE", ("area_change",)), opened)
    assert same.number == opened.number
    assert kiosk_desk.dossiers.show(opened.number).conditions == ("area_change",)
    retaken = replace(same.application, capture=capture_stand_in(same.application.identity, station_id="local"))
    again = open_dossier(kiosk_desk, actor, retaken, same)  # a new photo: the same draft, its check recorded anew
    signing = kiosk_desk.dossiers.show(again.number).signing
    assert again.number == opened.number and signing is not None
    assert signing["reference"] == retaken.capture.sha256 != opened.application.capture.sha256

    other = open_dossier(kiosk_desk, actor, _application("MORT_CANCEL"), again)
    assert other.number != opened.number
    assert kiosk_desk.dossiers.show(opened.number).status == "withdrawn"
    assert kiosk_desk.dossiers.show(other.number).channel == "self_service"


def test_the_receipt_is_written_in_the_receipts_folder_only(kiosk_desk: Desk) -> None:
    actor = kiosk_login(kiosk_desk, "kiosk1")
    for typed, refusal in (
        ("../../escape.pdf", "回执只能存于回执文件夹"),
        ("/etc/receipt.pdf", "回执只能存于回执文件夹"),
        ("receipt.txt", "回执须存为 PDF"),
        ("", "请输入回执文件名"),
    ):
        with pytest.raises(KioskRefused) as refused:
            print_receipt(kiosk_desk, actor, "local-2026-000001", typed)
        assert one_line(refused).startswith(refusal)
