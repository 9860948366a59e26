"""Field grammar: values found however an issuer prints them, and never a unit, a mark or a label as a value.

The wordings are those of real forms of many issuers (完税证明 and 税收缴款书, 存量房 and 商品房买卖合同, 不动产权证书
editions, 申请书 of several cities), typed here as lines the way an engine returns them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr.engines.base import Line
from ocr.extract import extract_fields
from ocr.grammar import find_address, find_area, find_date, find_money, strip_label_tail
from ocr.values import parse_date, parse_dates

SURE = 0.9  # below this a field shows as "check"


def _lines(texts: list[str], confidence: float = 0.99) -> list[Line]:
    return [Line(text, (200, 150 + 70 * i, 2200, 200 + 70 * i), confidence) for i, text in enumerate(texts)]


# --- a unit inside the label is never the value --------------------------------------------------------------


@pytest.mark.parametrize("label", ["面积(m²)", "面积（㎡）", "建筑面积(平方米)", "面积 (m2)", "建筑面积※", "*建筑面积"])
def test_a_unit_or_a_mark_in_the_label_is_never_read_as_the_area(label: str) -> None:
    got = extract_fields("M08", _lines(["不动产权证书", f"{label}", "用途 住宅"]))
    assert "area_m2" not in got or got["area_m2"].value != "2.00"
    got = extract_fields("M08", _lines(["不动产权证书", f"{label} 128.56", "用途 住宅"]))
    assert got["area_m2"].value == "128.56"
    assert got["area_m2"].confidence >= SURE


def test_the_value_under_a_header_that_carries_the_unit() -> None:
    lines = [
        Line("不动产权证书", (800, 100, 1200, 170), 0.99),
        Line("坐落", (300, 1000, 420, 1050), 0.99),
        Line("面积(m²)", (1600, 1000, 1800, 1050), 0.98),
        Line("济南市市中区经十路88号3号楼1单元502室", (200, 1090, 1000, 1140), 0.99),
        Line("96.35", (1650, 1090, 1760, 1145), 0.99),
    ]
    got = extract_fields("M08", lines)
    assert got["area_m2"].value == "96.35"
    assert got["area_m2"].found == "below"
    assert got["location"].value == "济南市市中区经十路88号3号楼1单元502室"


def test_a_value_on_the_line_below_its_label() -> None:
    got = extract_fields(
        "M12", _lines(["税收完税证明", "房屋坐落", "济南市槐荫区经七路12号2单元301室", "纳税人名称 王小明"])
    )
    assert got["location"].value == "济南市槐荫区经七路12号2单元301室"


# --- values inside running text ---------------------------------------------------------------------------


def test_values_inside_a_sentence_end_at_their_unit_or_punctuation() -> None:
    text = [
        "存量房买卖合同",
        "第一条 房屋基本情况",
        "房屋坐落：济南市历城区华信路3号5号楼2单元1102室，建筑面积89.50平方米，",
        "规划用途为住宅。",
        "第二条 成交价格：人民币 1,350,000.00 元（大写：壹佰叁拾伍万元整）。",
    ]
    got = extract_fields("M11", _lines(text))
    assert got["location"].value == "济南市历城区华信路3号5号楼2单元1102室"
    assert got["area_m2"].value == "89.50"
    assert got["price_yuan"].value == "1350000.00"
    assert got["price_yuan"].confidence >= SURE  # 大写 and 小写 agree
    assert got["use"].value == "住宅"


def test_a_sentence_broken_over_two_lines_reads_whole() -> None:
    text = ["商品房买卖合同", "该商品房坐落于济南市天桥区北园大街", "66号1号楼3单元801室，建筑面积共112.36", "平方米。"]
    got = extract_fields("M10", _lines(text))
    assert got["location"].value == "济南市天桥区北园大街66号1号楼3单元801室"
    assert got["area_m2"].value == "112.36"


def test_the_inner_area_is_not_the_floor_area() -> None:
    got = extract_fields("M11", _lines(["存量房买卖合同", "套内建筑面积75.20平方米，建筑面积89.50平方米。"]))
    assert got["area_m2"].value == "89.50"


def test_a_unit_price_is_not_the_price() -> None:
    got = extract_fields("M11", _lines(["存量房买卖合同", "单价每平方米15,000元，成交价格1,342,500元。"]))
    assert got["price_yuan"].value == "1342500.00"


# --- money ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("人民币 2,860,000.00 元", "2860000.00"),
        ("¥2,860,000.00", "2860000.00"),
        ("286万元", "2860000.00"),
        ("人民币贰佰捌拾陆万元整", "2860000.00"),
        ("(大写)贰佰捌拾陆万元整 (小写)¥2,860,000.00", "2860000.00"),
        ("为人民币(大写)壹佰零伍万元整(¥1,050,000.00)", "1050000.00"),
        ("：286.5万元", "2865000.00"),
    ],
)
def test_money_as_printed_by_many_issuers(printed: str, value: str) -> None:
    found = find_money(printed)
    assert found is not None and found.value == value


def test_money_in_wan_when_the_label_says_so() -> None:
    got = extract_fields("M11", _lines(["存量房买卖合同", "成交价格(万元) 286", "建筑面积 89.50㎡"]))
    assert got["price_yuan"].value == "2860000.00"


def test_capital_and_figures_that_disagree_are_never_sure() -> None:
    found = find_money("人民币贰佰捌拾陆万元整（¥2,680,000.00）")
    assert found is not None and found.fit < SURE and found.note is not None


def test_a_bare_number_without_its_unit_is_not_sure() -> None:
    got = extract_fields("M11", _lines(["存量房买卖合同", "成交价格", "1350000"]))
    assert got["price_yuan"].value == "1350000.00"
    assert got["price_yuan"].confidence < SURE


@given(st.decimals(min_value=1, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_any_amount_with_separators_after_a_label_reads_back(amount: Decimal) -> None:
    found = find_money(f"：人民币 {amount:,.2f} 元")
    assert found is not None and found.value == f"{amount:.2f}" and found.fit == 1.0


@given(st.decimals(min_value=1, max_value=99999, places=2, allow_nan=False, allow_infinity=False))
def test_any_area_with_any_unit_reads_back_and_the_unit_is_never_the_value(area: Decimal) -> None:
    for unit in ("平方米", "㎡", "m²", "m2", "平米"):
        found = find_area(f"{area}{unit}")
        assert found is not None and found.value == f"{area:.2f}"
    assert find_area("(m²)") is None


# --- dates and addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "iso"),
    [
        ("2026年3月15日", "2026-03-15"),
        ("2026.03.15", "2026-03-15"),
        ("2026/3/15", "2026-03-15"),
        ("2026-03-15", "2026-03-15"),
        ("二〇二六年三月十五日", "2026-03-15"),
        ("二○一八年十二月三十一日", "2018-12-31"),
        ("二零二零年十月一日", "2020-10-01"),
    ],
)
def test_dates_in_every_common_form(printed: str, iso: str) -> None:
    assert parse_date(printed) == iso
    found = find_date(f"：{printed}")
    assert found is not None and found.value == iso


def test_a_range_in_chinese_numerals() -> None:
    assert parse_dates("自二〇二〇年一月一日起至二〇九〇年十二月三十一日止") == ["2020-01-01", "2090-12-31"]


def test_an_address_ends_at_its_punctuation_and_loses_what_follows() -> None:
    found = find_address("：济南市历下区和平路308号2单元301室的房屋，")
    assert found is not None and found.value == "济南市历下区和平路308号2单元301室" and found.fit == 1.0
    assert find_address("：见附件") is None


def test_the_label_tail_gives_its_hints() -> None:
    rest, hint = strip_label_tail("（万元）：286")
    assert (rest, hint.wan, hint.unit) == ("286", True, True)
    rest, hint = strip_label_tail("※ 89.5")
    assert (rest, hint.wan) == ("89.5", False)


# --- confidence tells how the value was found ------------------------------------------------------------------


def test_two_different_readings_of_one_field_make_it_doubtful() -> None:
    got = extract_fields("M08", _lines(["不动产权证书", "建筑面积 128.56㎡", "房屋建筑面积 182.56㎡"]))
    assert got["area_m2"].confidence < SURE
    assert "also read" in (got["area_m2"].note or "")


def test_a_value_right_after_its_label_with_its_unit_is_sure() -> None:
    got = extract_fields("M08", _lines(["不动产权证书", "坐落 济南市历下区和平路308号2单元301室", "面积 128.56㎡"]))
    assert got["area_m2"].confidence >= SURE
    assert got["location"].confidence >= SURE


# --- parties as contracts of many templates print them -------------------------------------------------------


def test_names_lose_the_contracts_own_short_names_and_brackets() -> None:
    text = [
        "商品房买卖合同",
        "出卖人：济南明湖置业有限公司（以下简称甲方）",
        "【法定代表人】：周建国",
        "买受人：李红梅（以下简称乙方），",
    ]
    got = extract_fields("M10", _lines(text))
    assert got["obligor"].value == "济南明湖置业有限公司"
    assert got["legal_rep"].value == "周建国"
    assert got["name"].value == "李红梅"
    assert got["right_holder"].value == "李红梅"


# --- labels are never values; forms that print the value under a sub-label ------------------------------------


def _at(text: str, left: int, top: int, width: int = 300, height: int = 60) -> Line:
    return Line(text, (left, top, left + width, top + height), 0.99)


def test_a_block_label_over_a_sub_label_over_the_value() -> None:
    lines = [
        _at("不动产登记申请书", 800, 100, 600),
        _at("二、权利人（申请人）", 200, 600, 400),
        _at("姓名 (名称)", 190, 680, 190),
        _at("身份证件种类及号码", 1250, 688),
        _at("济南云起科技有限公司", 205, 730, 440),
        _at("营业执照91370112MARP4QJA4Q", 1270, 742, 580),
        _at("法定代表人", 195, 993, 175),
        _at("联系电话", 1245, 993, 150),
        _at("傅晓东", 207, 1039, 157),
        _at("代理人姓名", 195, 1143, 175),
        _at("丁欣怡", 207, 1193, 157),
        _at("三、义务人", 200, 1300, 230),
        _at("姓名 (名称)", 190, 1370, 190),
        _at("方传亮", 200, 1416, 170),
    ]
    got = extract_fields("M01", lines)
    assert got["org_name"].value == got["right_holder"].value == "济南云起科技有限公司"
    assert got["uscc"].value == "91370112MARP4QJA4Q"
    assert got["legal_rep"].value == "傅晓东"  # the nearest line below, not the next label's value
    assert got["agent_name"].value == "丁欣怡"
    assert got["obligor"].value == "方传亮"
    assert "mortgagee" not in got  # not a mortgage


def test_label_words_and_numbers_are_never_party_names() -> None:
    assert extract_fields("M11", _lines(["存量房买卖合同", "买受人：370114199602186585"])).get("right_holder") is None
    got = extract_fields("M08", _lines(["不动产权证书", "权利人 姓名(名称)"]))
    assert "right_holder" not in got


def test_a_name_without_a_known_surname_is_kept_but_never_sure() -> None:
    got = extract_fields("M10", _lines(["商品房买卖合同", "买受人：各执壹份"]))
    assert "name" not in got or got["name"].confidence < SURE
    got = extract_fields("M10", _lines(["商品房买卖合同", "买受人：欧阳明月"]))
    assert got["name"].value == "欧阳明月" and got["name"].confidence >= SURE


def test_the_use_is_one_of_the_uses_not_the_next_header() -> None:
    lines = [
        Line("个人住房抵押合同", (900, 300, 1550, 400), 0.99),
        Line("用途", (1526, 1864, 1645, 1940), 0.99),
        Line("评估价值 (万元)", (1786, 1860, 2107, 1933), 0.9),
        Line("住宅", (1526, 1959, 1645, 2043), 0.99),
        Line("85", (1919, 1962, 2003, 2039), 0.99),
    ]
    assert extract_fields("M20", lines)["use"].value == "住宅"
    assert extract_fields("M08", _lines(["不动产权证书", "用途 城镇住宅用地/住宅"]))["use"].value == "城镇住宅用地/住宅"


def test_a_banks_contract_number_with_words_reads_whole_and_a_cut_one_is_not_sure() -> None:
    got = extract_fields("M19", _lines(["个人住房借款合同", "合同编号：SQ2026个贷字第61084号"]))
    assert got["contract_number"].value == "SQ2026个贷字第61084号"
    assert got["contract_number"].confidence >= SURE
    got = extract_fields("M11", _lines(["存量房买卖合同", "合同编号：JNCL2026083134476"]))
    assert got["contract_number"].value == "JNCL2026083134476" and got["contract_number"].confidence >= SURE


def test_a_registration_kind_printed_as_text_under_its_label() -> None:
    lines = [
        _at("不动产登记申请书", 800, 100, 600),
        _at("申请登记类型", 190, 452, 210),
        _at("抵押权首次登记", 205, 506, 260),
    ]
    assert extract_fields("M01", lines)["registration_type"].value == "抵押权首次登记"


def test_a_licence_dated_in_chinese_numerals() -> None:
    got = extract_fields("M05", _lines(["营业执照", "名称 济南云起科技有限公司", "登记机关", "二〇二三年二月四日"]))
    assert got["issue_date"].value == "2023-02-04"


# --- two parties side by side; a signature page; a bank's letter ---------------------------------------------


def test_two_parties_side_by_side_are_read_by_column() -> None:
    lines = [
        _at("存量房买卖合同", 950, 330, 580),
        _at("出卖人（甲方）", 258, 552, 285),
        _at("方传亮", 573, 545, 172),
        _at("买受人（乙方）", 1240, 552, 285),
        _at("济南云起科技有限公司", 1562, 552, 446),
        _at("证件号码", 262, 656, 195),
        _at("37011319750818879X", 576, 652, 447),
        _at("统一社会信用代码", 1244, 663, 311),
        _at("91370112MARP4QJA4Q", 1554, 652, 496),
        _at("法定代表人", 1236, 848, 244),
        _at("傅晓东", 1562, 852, 161),
        _at("委托代理人", 1244, 956, 232),
        _at("丁欣怡", 1562, 952, 161),
    ]
    got = extract_fields("M11", lines)
    assert got["obligor"].value == "方传亮"
    assert got["right_holder"].value == got["org_name"].value == "济南云起科技有限公司"
    assert got["uscc"].value == "91370112MARP4QJA4Q"
    assert got["legal_rep"].value == "傅晓东"  # not the agent under it
    assert got["agent_name"].value == "丁欣怡"
    assert "id_number" not in got  # the seller's number is in the other column


def test_a_party_field_on_a_page_without_its_heading_is_found_but_never_sure() -> None:
    got = extract_fields(
        "M11", _lines(["(签章)", "济南云起科技有限公司", "法定代表人：傅晓东", "签订日期：2026.10.23"])
    )
    assert got["legal_rep"].value == "傅晓东" and got["legal_rep"].confidence < SURE
    assert got["issue_date"].value == "2026-10-23"


def test_a_banks_discharge_letter_laid_out_as_a_table() -> None:
    lines = [
        _at("贷款结清暨解除抵押通知书", 770, 451, 950),
        _at("济南市不动产登记中心：", 290, 663, 510),
        _at("借款人", 445, 872, 177),
        _at("孟宪军", 770, 872, 181),
        _at("身份证号码", 405, 991, 253),
        _at("370303197510168534", 781, 1002, 473),
        _at("借款合同编号", 387, 1114, 289),
        _at("HD2022个贷字第45717号", 785, 1122, 545),
        _at("抵押房产坐落", 383, 1233, 297),
        _at("济南市莱芜区凤城西大街242号3号楼3单元804室", 785, 1237, 1004),
        _at("现委托我行员工郝娜（身份证号码370103198004200064）前往办理注销登记相关手续。", 380, 1744, 1800),
        _at("恒岱银行股份有限公司济南莱芜支行", 1410, 2198, 780),
    ]
    got = extract_fields("M21", lines)
    assert {k: got[k].value for k in ("mortgagor", "name", "id_number", "contract_number", "location")} == {
        "mortgagor": "孟宪军",
        "name": "孟宪军",
        "id_number": "370303197510168534",
        "contract_number": "HD2022个贷字第45717号",
        "location": "济南市莱芜区凤城西大街242号3号楼3单元804室",
    }
    assert got["mortgagee"].value == "恒岱银行股份有限公司济南莱芜支行"
    assert got["mortgagee"].confidence < SURE  # found as the letter's organisation line, not at a label
    assert got["agent_name"].value == "郝娜"


def test_a_clause_starting_with_a_party_word_is_no_party() -> None:
    got = extract_fields("M11", _lines(["第六条 违约责任", "逾期超过30日的，甲方有权解除合同。"]))
    assert "obligor" not in got


def test_a_word_containing_an_organisation_word_is_no_organisation() -> None:
    got = extract_fields(
        "M12", _lines(["税收完税证明", "纳税人名称 税款所属时期", "纳税人名称 济南海岱餐饮管理有限公司"])
    )
    assert got["org_name"].value == "济南海岱餐饮管理有限公司"


def test_a_traditional_character_in_a_name_is_a_likely_misread_and_never_sure() -> None:
    got = extract_fields("M20", _lines(["个人住房抵押合同", "抵押权人：恒岱銀行股份有限公司济南济阳支行"]))
    assert got["mortgagee"].value == "恒岱银行股份有限公司济南济阳支行"  # given in its simplified form, to check
    assert got["mortgagee"].confidence < SURE and "unusual" in (got["mortgagee"].note or "")
    got = extract_fields("M20", _lines(["个人住房抵押合同", "抵押权人：恒岱银行股份有限公司济南济阳支行"]))
    assert got["mortgagee"].confidence >= SURE


@pytest.mark.parametrize("name", ["恒岱银行股份限公司济南历城支行", "济南云起科技有公司", "济南云起科技限公司"])
def test_a_company_whose_legal_form_lost_a_character_is_never_sure(name: str) -> None:
    got = extract_fields("M20", _lines(["个人住房抵押合同", f"抵押权人：{name}"]))
    assert got["mortgagee"].confidence < SURE


def test_side_by_side_signature_blocks_give_each_label_the_value_in_its_own_column() -> None:
    # The bank's name is long: it runs on under the right-hand label, and its box sits a little higher.
    lines = [
        Line("抵押权人（签章）：", (307, 395, 702, 468), 0.99),
        Line("抵押人（签章）：", (1276, 395, 1635, 468), 0.99),
        Line("济南舜泉农村商业银行股份有限公司天桥支行", (303, 497, 1214, 574), 0.99),
        Line("张云龙", (1276, 504, 1429, 570), 0.99),
    ]
    got = extract_fields("M20", lines)
    assert got["mortgagor"].value == "张云龙"
    assert got["mortgagee"].value == "济南舜泉农村商业银行股份有限公司天桥支行"


def test_a_bank_letter_names_its_borrower_as_its_customer() -> None:
    letter = ["贷款结清暨解除抵押通知书", "我行客户程新民（身份证号码370117197304171510）于2022年10月04日在我"]
    got = extract_fields("M21", _lines(letter))
    assert got["name"].value == "程新民"
    assert got["mortgagor"].value == "程新民"


def test_a_licence_label_below_is_never_the_value_of_the_label_above() -> None:
    lines = [
        Line("负责人", (292, 1620, 501, 1710), 0.99),
        Line("董靜", (669, 1623, 801, 1710), 0.99),  # a traditional form: not sure, yet the value
        Line("成立日期", (296, 1750, 523, 1827), 0.99),
        Line("二〇一七年八月十九日", (676, 1750, 1192, 1823), 0.99),
    ]
    assert extract_fields("M05", lines)["legal_rep"].value == "董静"
    assert extract_fields("M05", [lines[0], lines[2], lines[3]]).get("legal_rep") is None


def test_a_party_named_in_a_clause_is_no_label_of_the_signature_block_below() -> None:
    lines = [
        Line("人、买受人各执壹份，房地产管理部门、不动产登记机构各执壹份。", (200, 380, 2200, 440), 0.99),
        Line("出卖人（签章）：", (307, 480, 702, 540), 0.99),
        Line("买受人（签章）：", (1276, 480, 1635, 540), 0.99),
        Line("济南泺源置业有限公司", (303, 570, 900, 630), 0.99),
        Line("侯敏", (1266, 563, 1402, 656), 0.99),
        Line("Vlle", (1310, 606, 1647, 751), 0.7),  # the seal over the signature, read as letters
    ]
    got = extract_fields("M10", lines)
    assert got["name"].value == "侯敏" and got["right_holder"].value == "侯敏"
    # A numbered form's label after 、 is still a label.
    assert extract_fields("M10", _lines(["二、买受人：侯敏"]))["right_holder"].value == "侯敏"
