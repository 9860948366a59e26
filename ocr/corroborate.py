"""Cross-page agreement: the same fact read on several pages of one dossier makes each reading surer.

The property a dossier describes is printed again and again: the unit number, the certificate number, the
坐落 and the area on the certificate, the contract and the application; the contract number on the contract and
the tax certificate; the loan amount on the loan and the mortgage contracts. Readings of such a key that agree
(after normalisation) make each other surer: two independent readings that are each wrong with probability
1 − c are both wrong, and wrong the same way, far more rarely. Readings that disagree make each doubtful: a lone
reading against an agreeing majority drops well below the "check" threshold, a tie drops both just below it.
A value a person confirmed or typed outweighs any number of readings: whatever disagrees with it is doubtful.
The consistency rules open the finding the reviewer sees; this only says how sure each value is.

Names are not one fact (a deal has a buyer, a seller and a bank), but the same company or person is named on
several pages: a long name that differs from another name of the dossier by a character or two (济南聚丰文化媒有限公司
beside 济南聚丰文化传媒有限公司, a seal over one of them) is taken for a misreading of the same party, and the
reading fewer pages support is made doubtful; on a tie both are. Values are never changed here.

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
    by_person: bool = False  # a person confirmed or typed this value: it outweighs any number of readings


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

    Only shared keys, names and valid readings take part; every other reading keeps its own confidence. One page's
    readings count once per key (a page repeating a value is not a second witness).
    """
    readings = list(readings)
    out: dict[tuple[str, str], float] = {}
    groups: dict[str, dict[str, dict[str, Reading]]] = defaultdict(lambda: defaultdict(dict))
    for r in readings:
        out[(r.page_id, r.key)] = r.confidence
        if r.key in SHARED_KEYS and r.valid and r.value:
            groups[_group(r.key, r.value, r.material)][_norm(r.key, r.value)][r.page_id] = r
    for by_value in groups.values():
        vouched = [v for v, pages in by_value.items() if any(r.by_person for r in pages.values())]
        sizes = {value: len(pages) for value, pages in by_value.items()}
        largest = max(sizes.values())
        leaders = vouched or [v for v, n in sizes.items() if n == largest]
        for value, pages in by_value.items():
            wrong = 1.0
            for c in sorted(r.confidence for r in pages.values()):
                wrong *= 1.0 - c
            together = round(min(_CAP, 1.0 - wrong), 4)
            agreed = len(by_value) == 1 or leaders == [value]  # all agree, or an agreeing majority
            level = together if agreed else min(together, _TIE if value in leaders else _MINORITY)
            for r in pages.values():
                out[(r.page_id, r.key)] = max(r.confidence, level) if agreed else level
    _doubt_near_names(readings, out)
    return out


# Keys that hold a party's name (a company's or a person's), on whatever material.
NAME_KEYS = ("org_name", "right_holder", "obligor", "mortgagee", "mortgagor", "name", "legal_rep", "agent_name")
_NEAR_MIN_LENGTH = 5  # shorter names (most people's) differ by one character between different people


def _doubt_near_names(readings: list[Reading], out: dict[tuple[str, str], float]) -> None:
    """Lower, in `out`, names that look like a misreading of another name of the dossier (see the module's text)."""
    pages: dict[str, set[str]] = defaultdict(set)  # name -> pages that read it (under any name key)
    for r in readings:
        if r.key in NAME_KEYS and r.valid and len(_norm(r.key, r.value)) >= _NEAR_MIN_LENGTH:
            pages[_norm(r.key, r.value)].add(r.page_id)
    names = sorted(pages)
    level: dict[str, float] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if not _near(a, b):
                continue
            if len(pages[a]) == len(pages[b]):
                level[a], level[b] = min(level.get(a, 1.0), _TIE), min(level.get(b, 1.0), _TIE)
            else:
                fewer = a if len(pages[a]) < len(pages[b]) else b
                level[fewer] = min(level.get(fewer, 1.0), _MINORITY)
    for r in readings:
        name = _norm(r.key, r.value)
        if r.key in NAME_KEYS and r.valid and name in level:
            out[(r.page_id, r.key)] = min(out[(r.page_id, r.key)], level[name])


def _near(a: str, b: str) -> bool:
    """Two different names one or two edits apart (two only for names of 16 characters or more)."""
    limit = 1 if min(len(a), len(b)) < 16 else 2
    return a != b and abs(len(a) - len(b)) <= limit and _edits(a, b, limit) <= limit


def _edits(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, given up on (limit + 1) once every path exceeds `limit`."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def disagreeing(readings: Iterable[Reading]) -> list[str]:
    """The shared keys read with two or more different values (for a summary line)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for r in readings:
        if r.key in SHARED_KEYS and r.valid and r.value:
            seen[_group(r.key, r.value, r.material)].add(_norm(r.key, r.value))
    return sorted(group for group, values in seen.items() if len(values) > 1)
