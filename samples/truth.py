"""Ground truth: which canonical fields a page prints, and the checks every truth file passes."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from ocr.codes import check_cert_number, check_id_number, check_unit_number, check_uscc
from samples.text import money

# architecture.md "extract output"; never renamed.
CANONICAL = (
    "uscc",
    "id_number",
    "name",
    "org_name",
    "legal_rep",
    "right_holder",
    "obligor",
    "location",
    "unit_number",
    "cert_number",
    "area_m2",
    "price_yuan",
    "tax_amount_yuan",
    "contract_number",
    "use",
    "registration_type",
    "issue_date",
    "valid_until",
)
# Added by the samples, for materials whose key facts have no canonical key.
ADDED = ("agent_name", "loan_amount_yuan", "mortgagee", "mortgagor")
FIELD_KEYS = CANONICAL + ADDED
DATE_KEYS = ("issue_date", "valid_until")
AMOUNT_KEYS = ("area_m2", "price_yuan", "tax_amount_yuan", "loan_amount_yuan")
PLAIN_NUMBER = re.compile(r"^[0-9]+\.[0-9]{2}$")
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def squash(text: str) -> str:
    """Half-width, no whitespace: how a printed value is looked for in a page's lines."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def printed_forms(key: str, value: str) -> list[str]:
    if key in DATE_KEYS:
        d = date.fromisoformat(value)
        return [f"{d.year}年{d.month:02d}月{d.day:02d}日", f"{d.year}年{d.month}月{d.day}日", f"{d:%Y.%m.%d}", value]
    if key in AMOUNT_KEYS:
        return [value, money(value)]
    return [value]


def is_printed(key: str, value: str, page_text: str) -> bool:
    text = squash(page_text)
    if key == "registration_type" and value.startswith("抵押权") and "抵押权" in text:
        # On the form the right (抵押权) and the type (首次登记) are ticked in separate rows.
        return value[3:] in text or value in text
    return any(squash(form) in text for form in printed_forms(key, value))


def problems(fields: dict[str, str]) -> list[str]:
    """Everything wrong with a page's fields (an empty list when all is well)."""
    out = []
    for key, value in fields.items():
        if key not in FIELD_KEYS:
            out.append(f"{key}: not a canonical key")
        if any(ch.isspace() for ch in value):
            out.append(f"{key}: has spaces: {value!r}")
        if value != unicodedata.normalize("NFKC", value):
            out.append(f"{key}: not half-width: {value!r}")
    checks = {
        "uscc": check_uscc,
        "id_number": check_id_number,
        "unit_number": check_unit_number,
        "cert_number": check_cert_number,
    }
    for key, check in checks.items():
        if key in fields:
            result = check(fields[key])
            if not result.valid:
                out.append(f"{key}: {fields[key]} fails its check: {result.errors}")
            if result.value != fields[key]:
                out.append(f"{key}: not normalised: {fields[key]!r}")
    for key in DATE_KEYS:
        if key in fields and not ISO_DATE.match(fields[key]):
            out.append(f"{key}: not an ISO date: {fields[key]!r}")
    for key in AMOUNT_KEYS:
        if key in fields and not PLAIN_NUMBER.match(fields[key]):
            out.append(f"{key}: not a plain decimal: {fields[key]!r}")
    return out
