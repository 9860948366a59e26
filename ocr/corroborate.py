"""Cross-page agreement: the same fact read on several pages of one dossier makes each reading surer.

The property a dossier describes is printed again and again: the unit number, the certificate number, the
坐落 and the area on the certificate, the contract and the application; the contract number on the contract and
the tax certificate; the loan amount on the loan and the mortgage contracts. Readings of such a key that agree
(after normalisation) make each other surer: two independent readings that are each wrong with probability
1 − c are both wrong, and wrong the same way, far more rarely. Readings that disagree make each doubtful: a lone
reading against an agreeing majority drops well below the "check" threshold, a tie drops both just below it.
The consistency rules open the finding the reviewer sees; this only says how sure each value is.

Pure and stdlib only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Keys that name one fact of the property or the deal, the same on every page that prints it.
SHARED_KEYS = (
    "unit_number",
    "cert_number",
    "location",
    "area_m2",
    "price_yuan",
    "loan_amount_yuan",
    "contract_number",
)
SURE = 0.9  # at or above: shown as read; below: shown as "check"
_CAP = 0.999
_TIE = 0.85  # two readings, two values: both below SURE
_MINORITY = 0.6  # one reading against an agreeing majority


@dataclass(frozen=True)
class Reading:
    page_id: str
    key: str
    value: str
    confidence: float
    valid: bool = True
    material: str = ""


def _norm(key: str, value: str) -> str:
    if key in ("area_m2", "price_yuan", "loan_amount_yuan"):
        try:
            return f"{Decimal(value).quantize(Decimal('0.01')):f}"
        except InvalidOperation:
            return value
    return "".join(value.split()).upper()


# Materials whose value of a key is another fact: the tax base (计税依据) may be an assessed value, not the price.
_APART = {("price_yuan", "M12"): "tax base"}


def _group(key: str, value: str, material: str) -> str:
    """Which readings are compared: a 不动产权证书 number with another one, a 登记证明 number with another; the
    tax base with tax bases only."""
    if key == "cert_number":
        return f"{key}:{'proof' if '证明' in value else 'title'}"
    apart = _APART.get((key, material))
    return f"{key}:{apart}" if apart else key


def corroborate(readings: Iterable[Reading]) -> Mapping[tuple[str, str], float]:
    """The confidence of each (page_id, key) reading once the dossier's other pages are taken into account.

    Only shared keys and valid readings take part; every other reading keeps its own confidence. One page's
    readings count once per key (a page repeating a value is not a second witness).
    """
    out: dict[tuple[str, str], float] = {}
    groups: dict[str, dict[str, dict[str, Reading]]] = defaultdict(lambda: defaultdict(dict))
    for r in readings:
        out[(r.page_id, r.key)] = r.confidence
        if r.key in SHARED_KEYS and r.valid and r.value:
            groups[_group(r.key, r.value, r.material)][_norm(r.key, r.value)][r.page_id] = r
    for by_value in groups.values():
        sizes = {value: len(pages) for value, pages in by_value.items()}
        largest = max(sizes.values())
        leaders = [v for v, n in sizes.items() if n == largest]
        for value, pages in by_value.items():
            wrong = 1.0
            for c in sorted(r.confidence for r in pages.values()):
                wrong *= 1.0 - c
            together = round(min(_CAP, 1.0 - wrong), 4)
            agreed = len(by_value) == 1 or leaders == [value]  # all agree, or an agreeing majority
            level = together if agreed else min(together, _TIE if value in leaders else _MINORITY)
            for r in pages.values():
                out[(r.page_id, r.key)] = max(r.confidence, level) if agreed else level
    return out


def disagreeing(readings: Iterable[Reading]) -> list[str]:
    """The shared keys read with two or more different values (for a summary line)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for r in readings:
        if r.key in SHARED_KEYS and r.valid and r.value:
            seen[_group(r.key, r.value, r.material)].add(_norm(r.key, r.value))
    return sorted(group for group, values in seen.items() if len(values) > 1)
