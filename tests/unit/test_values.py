from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr.values import clean_text, parse_area, parse_chinese_amount, parse_date, parse_dates, parse_money


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("1,610,000.00元", "1610000.00"),
        ("人民币1610000元", "1610000.00"),
        ("¥48,300.00", "48300.00"),
        ("161万元", "1610000.00"),
        ("２，８６０，０００．００元", "2860000.00"),
        ("（大写）肆万捌仟叁佰元整", "48300.00"),
    ],
)
def test_money_is_a_plain_decimal_string(printed: str, value: str) -> None:
    assert parse_money(printed) == value


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("贰佰捌拾陆万元整", "2860000.00"),
        ("壹拾贰万叁仟肆佰伍拾陆元柒角捌分", "123456.78"),
        ("壹亿贰仟万元整", "120000000.00"),
        ("捌拾肆万元整", "840000.00"),
        ("玖元", "9.00"),
    ],
)
def test_chinese_capital_amounts(printed: str, value: str) -> None:
    assert parse_chinese_amount(printed) == value


def test_dates_in_the_forms_printed_on_registration_documents() -> None:
    assert parse_date("2026年9月30日") == "2026-09-30"
    assert parse_date("签订日期：2026年08月31日") == "2026-08-31"
    assert parse_date("2015.01.09") == "2015-01-09"
    assert parse_date("2026年02月30日") is None  # not a real date
    assert parse_dates("有效期限 2015.01.09-2035.01.09") == ["2015-01-09", "2035-01-09"]


def test_area_and_text() -> None:
    assert parse_area("建筑面积62.66平方米") == "62.66"
    assert parse_area("136.7㎡") == "136.70"
    assert clean_text("：济南市历下区 和平路308号。") == "济南市历下区和平路308号"


@given(st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False, allow_infinity=False))
def test_any_amount_printed_with_separators_reads_back(amount: Decimal) -> None:
    printed = f"{amount:,.2f}元"
    assert parse_money(printed) == f"{amount:.2f}"


def test_a_year_a_seal_ate_a_digit_of_is_no_date() -> None:
    assert parse_date("不动产登1202年07月11日") is None
    assert parse_date("不动产登020年04月06日") is None
    assert parse_date("出生1900年1月1日") == "1900-01-01"
