"""Pure checkers for the identifiers found on registration documents.

Stdlib only: imported by the pure domain layer. Every ``check_*`` function returns a
:class:`CodeCheck` and never raises on any input; the ``parse_*`` variants return the
check when acceptable and raise :class:`CodeError` otherwise.
"""

from ocr.codes.cert_number import check_cert_number, parse_cert_number
from ocr.codes.divisions import Division, lookup_division
from ocr.codes.idcard import check_id_number, compute_id_check_digit, parse_id_number, upgrade_15_to_18
from ocr.codes.lookalikes import (
    CONFUSABLES,
    Repair,
    repair,
    repair_cert_number,
    repair_id_number,
    repair_unit_number,
    repair_uscc,
)
from ocr.codes.normalize import normalize
from ocr.codes.result import CodeCheck, CodeError
from ocr.codes.unit_number import check_unit_number, format_spaced, parse_unit_number
from ocr.codes.uscc import (
    check_uscc,
    compute_org_code_check_char,
    compute_uscc_check_char,
    parse_uscc,
)

__all__ = [
    "CONFUSABLES",
    "CodeCheck",
    "CodeError",
    "Division",
    "Repair",
    "check_cert_number",
    "check_id_number",
    "check_unit_number",
    "check_uscc",
    "compute_id_check_digit",
    "compute_org_code_check_char",
    "compute_uscc_check_char",
    "format_spaced",
    "lookup_division",
    "normalize",
    "parse_cert_number",
    "parse_id_number",
    "parse_unit_number",
    "parse_uscc",
    "repair",
    "repair_cert_number",
    "repair_id_number",
    "repair_unit_number",
    "repair_uscc",
    "upgrade_15_to_18",
]
