"""Classification and field extraction on the samples' printed text (the OCR engines are tested apart)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.ocr import field_matches
from ocr.classify import UNKNOWN, classify, load_rules
from ocr.engines.base import Line
from ocr.extract import default_specs, extract_fields, load_specs

SCANS = Path(__file__).resolve().parents[2] / "samples" / "scans"
PAGES = [
    (truth["file"], page)
    for meta in sorted(SCANS.glob("*.json"))
    for truth in [json.loads(meta.read_text("utf-8"))]
    for page in truth["pages"]
]


def _lines(texts: list[str]) -> list[Line]:
    """One line per printed line, stacked down the page like a clean scan's OCR would give them."""
    return [Line(text, (200, 150 + 70 * i, 2200, 200 + 70 * i), 0.99) for i, text in enumerate(texts)]


def test_the_classifier_knows_exactly_the_catalogue_materials() -> None:
    from workstation.domain.catalogue import default_catalogue

    assert set(load_rules().materials) == set(default_catalogue().materials)


def test_every_field_rule_names_a_known_material() -> None:
    assert set(default_specs()) - {"common"} <= set(load_rules().materials)


@pytest.mark.parametrize(("file", "page"), PAGES, ids=[f"{f}#{p['page']}" for f, p in PAGES])
def test_each_sample_page_is_classified_as_its_material(file: str, page: dict) -> None:  # type: ignore[type-arg]
    previous = None
    if page["page"] > 1:
        previous = next(p["material"] for f, p in PAGES if f == file and p["page"] == page["page"] - 1)
    verdict = classify(_lines(page["lines"]), continues=previous)
    assert verdict.material == page["material"], verdict.scores


def test_printed_fields_are_extracted_from_the_samples_text() -> None:
    total = right = 0
    misses = []
    for file, page in PAGES:
        got = extract_fields(page["material"], _lines(page["lines"]))
        for key, want in page["fields"].items():
            total += 1
            value = got.get(key)
            if value is not None and field_matches(key, value.value, str(want)):
                right += 1
            else:
                misses.append(f"{file} {key}: {value.value if value else None} != {want}")
    # Tick boxes and table columns need the real layout (covered by the OCR sample test); the rest must be read.
    assert right / total >= 0.96, misses


def test_an_unrelated_page_is_unknown() -> None:
    verdict = classify(_lines(["会议纪要", "今天讨论了食堂的菜单和停车位安排。"]))
    assert verdict.material == UNKNOWN and verdict.confidence == 0.0


def test_a_title_beats_keywords_cited_in_the_body() -> None:
    verdict = classify(
        _lines(["授权委托书", "委托人：甲公司", "统一社会信用代码：91350100M000100Y43", "法定代表人：张三"])
    )
    assert verdict.material == "M07"


def test_a_page_without_a_title_continues_the_previous_document() -> None:
    body = _lines(["第九条 争议解决。", "出卖人（签章）： 买受人（签章）：", "签订日期：2026年08月31日"])
    assert classify(body, continues="M11").material == "M11"
    titled = _lines(["授权委托书", "委托人：甲公司", "受托人：乙"])
    assert classify(titled, continues="M11").material == "M07"


def test_an_identifier_misread_with_a_look_alike_is_repaired_and_marked() -> None:
    lines = _lines(["营业执照", "统一社会信用代码 9135O100M000100Y43", "名称 济南泉城商贸有限公司"])
    uscc = extract_fields("M05", lines)["uscc"]
    assert (uscc.value, uscc.valid, uscc.repaired) == ("91350100M000100Y43", True, True)
    assert uscc.confidence < 0.99 and uscc.raw == "9135O100M000100Y43"


def test_an_identifier_failing_its_check_is_never_marked_valid() -> None:
    lines = _lines(["居民身份证", "姓名 张三", "公民身份号码 370102199001011239"])
    number = extract_fields("M03", lines)["id_number"]
    assert number.valid is False or number.value == "370102199001011231"
    assert number.value != "370102199001011239" or number.valid is False


def test_the_ticked_option_is_read_even_when_the_tick_itself_was_lost() -> None:
    with_tick = _lines(["不动产登记申请书", "登记类型 □首次登记☑转移登记□变更登记"])
    lost_tick = _lines(["不动产登记申请书", "登记类型 □首次登记转移登记□变更登记□注销登记"])
    assert extract_fields("M01", with_tick)["registration_type"].value == "转移登记"
    assert extract_fields("M01", lost_tick)["registration_type"].value == "转移登记"


def test_a_table_value_is_read_under_its_header() -> None:
    lines = [
        Line("抵押合同", (800, 100, 1200, 170), 0.99),
        Line("坐落", (500, 1000, 600, 1050), 0.99),
        Line("用途", (1480, 1000, 1580, 1050), 0.99),
        Line("建筑面积（m）", (1600, 1000, 1800, 1050), 0.93),
        Line("济南市历下区解放路53号8号楼2单元406室", (250, 1090, 910, 1140), 0.99),
        Line("住宅", (1480, 1085, 1580, 1150), 0.99),
        Line("136.70", (1645, 1090, 1775, 1145), 0.99),
    ]
    got = extract_fields("M20", lines)
    assert got["area_m2"].value == "136.70"
    assert got["use"].value == "住宅"
    assert got["location"].value == "济南市历下区解放路53号8号楼2单元406室"


def test_the_document_date_is_the_latest_date_standing_alone() -> None:
    lines = _lines(["法定代表人身份证明书", "2026年09月22日", "附：身份证复印件", "出生", "1976年9月14日"])
    assert extract_fields("M06", lines)["issue_date"].value == "2026-09-22"


def test_a_date_whose_year_a_seal_spoiled_takes_the_year_of_the_registers_number_and_is_never_sure() -> None:
    lines = _lines(
        [
            "不动产登记证明",
            "鲁（2022）济南市不动产证明第0068410号",
            "债务履行期限:2022年07月07日起2047年07月06日止",
            "不动产登1202年07月11日",
        ]
    )
    date = extract_fields("M09", lines)["issue_date"]
    assert date.value == "2022-07-11"
    assert date.confidence < 0.9
    # With no number to borrow a year from, the spoiled date is left for the clerk rather than guessed.
    assert "issue_date" not in extract_fields("M09", [lines[0], lines[3]])
    # A plausible year is never replaced.
    lines[3] = _lines(["不动产登2021年10月28日"])[0]
    assert extract_fields("M09", lines)["issue_date"].value == "2021-10-28"


def test_a_licence_date_whose_year_the_authoritys_seal_cut_short_is_told_by_its_last_digits() -> None:
    licence = ["营业执照", "名称 济南舜泉农村商业银行股份有限公司天桥支行", "成立日期 二〇二一年一月二十五日"]
    licence += ["营业期限 二〇二一年一月二十五日至长期", "与原件一致 登记机关"]
    date = extract_fields("M05", _lines([*licence, "一年十一月二十九日"]))["issue_date"]
    assert (date.value, date.confidence < 0.9) == ("2021-11-29", True)  # 2021: the one year from 2021 ending in 1
    assert extract_fields("M05", _lines([*licence, "3年8月19日"]))["issue_date"].value == "2023-08-19"
    # The seal took a digit from the middle: 二二四 is 2024, the one year from 2021 holding 2, 2, 4 in order.
    assert extract_fields("M05", _lines([*licence, "二二四年八月十一日"]))["issue_date"].value == "2024-08-11"
    # Founded in 2012 with only "二" left of the year: 2012 and 2022 both fit, so nothing is guessed, and the
    # founding date is not offered in its place.
    founded = [line.replace("二〇二一", "二〇一二") for line in licence]
    assert "issue_date" not in extract_fields("M05", _lines([*founded, "二年十一月二十九日"]))
    # A whole date below is the date, as before.
    assert extract_fields("M05", _lines([*licence, "二〇二三年八月十九日"]))["issue_date"].value == "2023-08-19"


def test_a_name_read_in_a_traditional_form_is_given_in_its_simplified_form_and_never_sure() -> None:
    got = extract_fields("M19", _lines(["个人住房借款合同", "借款人：唐靜", "贷款人：中國銀行股份有限公司濟南分行"]))
    assert (got["name"].value, got["org_name"].value) == ("唐静", "中国银行股份有限公司济南分行")
    assert got["name"].confidence < 0.9 and got["org_name"].confidence < 0.9
    assert extract_fields("M19", _lines(["借款人：唐静"]))["name"].confidence >= 0.9


def test_simplified_changes_only_characters_outside_the_common_simplified_set() -> None:
    from ocr.extract import simplified

    assert simplified("唐靜") == "唐静"
    assert simplified("中國銀行濟南分行") == "中国银行济南分行"
    # Characters of GB 2312 stay as read, even where a converter would rewrite a word (乾 in 乾坤, 於 kept apart).
    assert simplified("乾坤大厦") == "乾坤大厦"
    assert simplified("李娜") == "李娜"


def test_bad_rules_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match=r"M05\.uscc: unknown type"):
        load_specs('[M05.uscc]\nlabels = ["x"]\ntype = "colour"\n')
    with pytest.raises(ValueError, match=r"group named v"):
        load_specs('[M05.uscc]\npatterns = ["abc"]\ntype = "uscc"\n')


class _Rereader:
    """An engine stand-in that records the crops it is given and answers with fixed lines."""

    name = "fake"

    def __init__(self, answer: list[str]) -> None:
        self.answer = answer
        self.calls = 0

    def read(self, image):  # type: ignore[no-untyped-def]
        self.calls += 1
        return [Line(text, (0, 0, image.width, image.height), 0.9) for text in self.answer]


def test_a_date_a_seal_is_printed_over_is_read_again_without_the_seal() -> None:
    from PIL import Image

    from ocr.pipeline import reread_sealed_dates

    page = Image.new("L", (1000, 400), 255)
    sealed = Line("不动产登020年04月06日", (500, 200, 900, 260), 0.95)
    plain = Line("2026年09月30日", (500, 300, 900, 340), 0.99)
    engine = _Rereader(["（2020年04月06日", "20"])
    lines = reread_sealed_dates([sealed, plain], page, engine)  # type: ignore[arg-type]
    assert [ln.text for ln in lines] == ["2020年04月06日", "2026年09月30日"]
    assert lines[0].box == sealed.box and engine.calls == 1


def test_a_sealed_date_stays_as_read_when_the_second_reading_is_not_one_clear_date() -> None:
    from PIL import Image

    from ocr.pipeline import reread_sealed_dates

    sealed = Line("不动产登1202年07月11日", (10, 10, 300, 60), 0.95)
    engine = _Rereader(["2022年07月11日", "2021年07月11日"])
    assert reread_sealed_dates([sealed], Image.new("L", (400, 100), 255), engine) == [sealed]  # type: ignore[arg-type]


def test_a_document_name_inside_a_longer_line_is_no_title() -> None:
    contract = _lines(
        [
            "存量房凑旺同",  # the title, misread
            "合同编号：JNCL2026090645240",
            "出卖人（甲方）：方新民",
            "证件类型：居民身份证 证件号码：370104197605061954",
            "住址：山东省济南市槐荫区经十路206号",
            "买受人（乙方）：邵红梅",
            "第二条 成交价格。该房屋成交价格为人民币1,400,000.00元",
        ]
    )
    verdict = classify(contract)
    assert verdict.material == "M11", verdict.scores
