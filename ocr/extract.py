"""Field extraction: from a classified page's OCR lines to the canonical fields of the extract contract.

The rules per material are data (`ocr/data/fields.toml`): regular expressions over the page's joined text for
values in prose, printed labels for forms and tables (same line, the cell to the right, the line below), and a
page-wide scan for identifiers. Identifiers go through their check algorithms; a read that fails its check is
repaired from OCR look-alikes only when exactly one repair is valid, and then marked repaired with a lower
confidence. A value that fails its check and cannot be repaired is kept but marked invalid: never a wrong value
marked valid.
"""

from __future__ import annotations

import bisect
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Literal

from ocr.codes import normalize, repair
from ocr.engines.base import Box, Line
from ocr.grammar import (
    NO_HINT,
    Found,
    Hint,
    find_address,
    find_area,
    find_code,
    find_date,
    find_money,
    find_person,
    find_use,
    person_fit,
    strip_label_tail,
)
from ocr.values import clean_text, cn_digits, cn_number, fold, parse_dates, parse_decimal

IDENTIFIER_TYPES = ("uscc", "id_number", "unit_number", "cert_number")
VALUE_TYPES = (
    *IDENTIFIER_TYPES,
    "text",
    "address",
    "org",
    "person",
    "date",
    "date_end",
    "doc_date",
    "money",
    "area",
    "code",
    "choice",
    "use",
    "party",
)

_PROVINCES = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川蜀贵黔云滇藏陕甘青宁新"
# Where to look for an identifier printed without (or far from) its label.
_SCAN_PATTERNS = {
    "uscc": re.compile(r"(?<![0-9A-Z])[0-9A-Z]{2}\d{6}[0-9A-Z]{10}(?![0-9A-Z])"),
    "id_number": re.compile(r"(?<![0-9A-Z])\d{17}[0-9X](?![0-9A-Z])"),
    "unit_number": re.compile(r"(?<![0-9A-Z])\d{12}[A-Z]{2}\d{5}[A-Z]\d{8}(?![0-9A-Z])"),
    "cert_number": re.compile(rf"[{_PROVINCES}]\(\d{{4}}\)[^()]{{1,20}}?不动产(?:权|证明)第\d{{1,10}}号"),
}
# What may precede a value after its label: punctuation, and a bracketed note such as (盖章) or (签字).
_LEADING = re.compile(r"^(?:[\s:：;；,，.。、|】\]]|[(（【\[][\u4e00-\u9fff]{1,4}[)）】\]]?)+")
# What ends a name printed in running text: "济南明湖置业有限公司（以下简称甲方），" or "张三，身份证号…".
_NAME_END = re.compile(r"[(（](?:以下简称|以下称|下称|简称|甲方|乙方|丙方).*$|[，。；;,].*$")
# Letters an ID number's digits are misread as; any other letter says the token is not an ID number.
_DIGIT_LOOKALIKES = set("OoDQUIlLTJZSBGbgqA")
_TICKS = "☑✓√■☒▣✔●◉"
_BOXES = "□☐○◯"
_ORG_WORDS = (
    "公司",
    "银行",
    "支行",
    "分行",
    "中心",
    "局",
    "厂",
    "店",
    "社",
    "院",
    "所",
    "部",
    "会",
    "委员会",
    "集团",
    "合作社",
    "事务所",
    "学校",
    "医院",
    "大学",
    "政府",
    "办事处",
    "工作室",
    "经营部",
    "企业",
    "商行",
)
_PERSON = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff·]{1,5}$")
_PERSON_NAME = _PERSON
# Headings of a party's block: two of them on one row are two columns.
_PARTY_WORDS = (
    "出卖人",
    "买受人",
    "甲方",
    "乙方",
    "抵押权人",
    "抵押人",
    "借款人",
    "贷款人",
    "权利人",
    "义务人",
    "委托人",
)
COMMON_STOPS = "common"
GRAMMAR = "grammar"
# Types whose value can be told apart inside running text (by its unit, its marker, its shape).
_SENTENCE_TYPES = ("area", "money", "date", "address", "use")
# How much a place of finding is trusted: the value right after its label on the same line is the surest.
PLACE_SAME_LINE = 1.0
PLACE_PATTERN = 1.0
PLACE_RIGHT = 0.97
PLACE_BELOW = 0.93
PLACE_SENTENCE = 0.93
PLACE_INSIDE = 0.9  # a label inside a line, not standing as a label
PLACE_SCAN = 0.9
PLACE_OUTSIDE = 0.88  # a party's field found on a page without that party's heading
# A second reading of another value this close to the best one makes the best one doubtful.
_RIVAL = 0.9
_NEAR = 0.9  # a reading found earlier wins over a surer one found later when it is this close
_RIVAL_PENALTY = 0.8
_MAX_DATE_RESIDUE = 5
_CN_DATE_TEXT = re.compile(r"[〇零○O一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日")
_DATE_LABELS = re.compile(r"(签订日期|签署日期|填发日期|开具日期|申请日期|日期|时间)[:：]?")


@dataclass(frozen=True)
class FieldSpec:
    key: str
    type: str
    labels: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    after: str | None = None
    before: str | None = None
    scan: bool = False
    options: tuple[str, ...] = ()  # for choice: the printed options of the row of check boxes
    exclude: tuple[str, ...] = ()  # words that, printed just before a label, make it another value's (套内建筑面积)
    sentence: bool = False  # also look for the label inside running text (joined over line breaks)
    when: str | None = None  # only on a page that prints this word (抵押 for a mortgage's parties)


@dataclass(frozen=True)
class FieldValue:
    value: str
    confidence: float
    valid: bool
    box: Box | None = None
    raw: str | None = None  # what was read, when a repair changed it
    repaired: bool = False
    note: str | None = None  # why it is invalid, or what was repaired
    found: str | None = None  # how: pattern, label, right, below, sentence, inside, scan, date

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"value": self.value, "confidence": round(self.confidence, 3), "valid": self.valid}
        if self.box is not None:
            data["box"] = list(self.box)
        if self.repaired:
            data["repaired"] = True
            data["raw"] = self.raw
        if self.note:
            data["note"] = self.note
        if self.found:
            data["found"] = self.found
        return data


_SPEC_KEYS = {
    "type",
    "labels",
    "patterns",
    "after",
    "before",
    "scan",
    "options",
    "exclude",
    "sentence",
    "grammar",
    "when",
}


def load_specs(text: str | None = None) -> dict[str, tuple[FieldSpec, ...]]:
    raw = text if text is not None else resources.files("ocr").joinpath("data/fields.toml").read_text("utf-8")
    specs: dict[str, tuple[FieldSpec, ...]] = {}
    data = tomllib.loads(raw)
    common = data.pop("common", {})
    grammar = data.pop(GRAMMAR, {})
    for key, table in grammar.items():
        unknown = set(table) - {"labels", "exclude"}
        if unknown:
            raise ValueError(f"fields.toml: grammar.{key}: unknown keys {sorted(unknown)}")
    specs[COMMON_STOPS] = tuple(
        FieldSpec(key=f"stop:{label}", type="text", labels=(fold(label),)) for label in common.get("stops", [])
    )
    for material, fields in data.items():
        items = []
        for key, table in fields.items():
            where = f"fields.toml: {material}.{key}"
            kind = table.get("type")
            if kind not in VALUE_TYPES:
                raise ValueError(f"{where}: unknown type {kind!r}")
            unknown = set(table) - _SPEC_KEYS
            if unknown:
                raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
            try:
                patterns = tuple(re.compile(p) for p in table.get("patterns", []))
            except re.error as exc:
                raise ValueError(f"{where}: bad pattern: {exc}") from None
            if any("v" not in p.groupindex for p in patterns):
                raise ValueError(f"{where}: every pattern needs a group named v")
            shared = grammar.get(key, {}) if table.get("grammar", True) else {}
            labels = tuple(
                dict.fromkeys(fold(label) for label in (*table.get("labels", []), *shared.get("labels", [])))
            )
            exclude = tuple(dict.fromkeys(fold(w) for w in (*table.get("exclude", []), *shared.get("exclude", []))))
            if not (labels or patterns or kind == "doc_date" or table.get("scan")):
                raise ValueError(f"{where}: no labels, patterns or scan: it can never be found")
            items.append(
                FieldSpec(
                    key=key,
                    type=kind,
                    labels=labels,
                    patterns=patterns,
                    after=fold(table["after"]) if "after" in table else None,
                    before=fold(table["before"]) if "before" in table else None,
                    scan=bool(table.get("scan", False)),
                    options=tuple(fold(o) for o in table.get("options", [])),
                    exclude=exclude,
                    sentence=bool(table.get("sentence", kind in _SENTENCE_TYPES and bool(labels))),
                    when=fold(table["when"]) if "when" in table else None,
                )
            )
        specs[material] = tuple(items)
    return specs


def _merged(table: Mapping[str, Any], shared: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """The material's own words first, then the grammar's shared ones, folded, each once."""
    return tuple(dict.fromkeys(fold(word) for word in (*table.get(name, []), *shared.get(name, []))))


# Words forms print as labels whatever the material: never a value, and a sub-label to look past.
_GENERIC_LABELS = (
    "姓名",
    "名称",
    "姓名(名称)",
    "名称(姓名)",
    "单位名称",
    "证件种类",
    "证件类型",
    "证件号码",
    "证件种类及号码",
    "身份证件种类及号码",
    "通讯地址",
    "联系电话",
    "联系人",
    "住所",
    "住址",
    "地址",
    "性别",
    "签章",
    "签字",
    "盖章",
    "(签章)",
    "(签字)",
    "(盖章)",
    "日期",
    "备注",
    "评估价值",
    "共有方式",
    "共有情况",
    "权利类型",
    "权利性质",
    "代码",
    "全称",
    # A licence's, a certificate's and an ID card's other labels: never a name or a value of their neighbours.
    "成立日期",
    "注册日期",
    "营业期限",
    "经营期限",
    "经营范围",
    "登记机关",
    "发证机关",
    "签发机关",
    "注册资本",
    "类型",
    "营业场所",
    "发证日期",
    "签订日期",
    "签订地点",
    "有效期限",
    "出生",
    "民族",
    "附记",
)


@cache
def _label_words() -> frozenset[str]:
    words = {fold(w) for w in _GENERIC_LABELS}
    for specs in default_specs().values():
        for spec in specs:
            words.update(spec.labels)
    return frozenset(w for w in words if len(w) >= 2)


def is_label_word(text: str) -> bool:
    """True when `text` is only a label: "姓名 (名称)", "评估价值(万元)", "用途", "权利人(签章)"."""
    flat = re.sub(r"[:：*※]", "", fold(text))
    bare = re.sub(r"[(（][^)）]{0,8}[)）]?$", "", flat)
    return bool(flat) and (flat in _label_words() or bare in _label_words())


@cache
def default_specs() -> dict[str, tuple[FieldSpec, ...]]:
    return load_specs()


@dataclass(frozen=True)
class _Candidate:
    text: str
    box: Box
    confidence: float
    place: float = PLACE_SAME_LINE
    found: str = "label"
    hint: Hint = NO_HINT


def _spaced(text: str) -> str:
    """Full-width folded, whitespace runs kept as one space: a gap between cells ends a value."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class _Page:
    """The page's lines folded for matching, and their text joined without whitespace for prose patterns."""

    def __init__(self, lines: Sequence[Line]):
        self.lines = list(lines)
        self.spaced = [_spaced(line.text) for line in self.lines]
        self.folded = [text.replace(" ", "") for text in self.spaced]
        self.joined = "".join(self.folded)
        self._starts: list[int] = []
        offset = 0
        for text in self.folded:
            self._starts.append(offset)
            offset += len(text)

    def line_at(self, offset: int) -> Line:
        return self.lines[max(0, bisect.bisect_right(self._starts, offset) - 1)]

    def after_label(self, i: int, end: int) -> str:
        """Line i's spaced text after the label that ends at `end` in its folded text."""
        spaced, seen = self.spaced[i], 0
        for pos, ch in enumerate(spaced):
            if seen == end:
                return spaced[pos:]
            if ch != " ":
                seen += 1
        return ""

    def region(self, after: str | None, before: str | None) -> list[int]:
        """The lines of one party's block: from the first line holding `after` down to the next line holding
        `before`, by position on the page (a photographed page's reading order may put a line of the block
        before its heading).

        When the block's heading shares its row with another party's heading (two parties side by side, as
        contracts of many templates print them), only the lines of the heading's own column count.
        """
        n = len(self.folded)
        if after is None:
            start, top = 0, float("-inf")
            height = 0
        else:
            start = next((i for i, t in enumerate(self.folded) if after in t), n)
            if start == n:
                return []
            _, t0, _, b0 = self.lines[start].box
            height = max(1, b0 - t0)
            top = t0 - 0.5 * height
        bottom = float("inf")
        if before is not None:
            ends = [
                line.box[1]
                for i, line in enumerate(self.lines)
                if before in self.folded[i] and i != start and line.box[1] > top + height
            ]
            bottom = min(ends, default=bottom)
        column = self._column(start) if after is not None else None
        rows = []
        for i, line in enumerate(self.lines):
            if not top <= line.box[1] < bottom:
                continue
            if column is not None and not column[0] <= line.box[0] < column[1]:
                continue
            rows.append(i)
        return rows

    def _column(self, i: int) -> tuple[float, float] | None:
        """The x-range of line i's column when another party's heading stands on the same row."""
        l0, t0, r0, b0 = self.lines[i].box
        height = max(1, b0 - t0)
        beside = [
            self.lines[j].box
            for j, text in enumerate(self.folded)
            if j != i
            and _overlap(t0, b0, self.lines[j].box[1], self.lines[j].box[3]) >= 0.5 * height
            and any(word in text for word in _PARTY_WORDS)
        ]
        if not beside:
            return None
        right = [box[0] for box in beside if box[0] > r0]
        left = [box[2] for box in beside if box[2] < l0]
        low = l0 - 2 * height if left else float("-inf")
        high = min(right) - height / 2 if right else float("inf")
        return low, high


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _label_at(text: str, label: str, *, strict: bool, exclude: Sequence[str] = ()) -> int | None:
    """Where `label` ends in `text`; strictly only where it stands as a label (line start or after a separator).

    Never where one of `exclude` is printed just before it: 套内建筑面积 is not the 建筑面积.
    """
    start = 0
    while (pos := text.find(label, start)) >= 0:
        before = text[pos - 1] if pos else ""
        end = pos + len(label)
        excluded = _excluded(text, pos, exclude)
        # "出卖人、买受人各执壹份": a label named in an enumeration of running text, not a form's label.
        enumerated = before == "、" and end < len(text) and _is_cjk(text[end])
        if not excluded and (not strict or not before or not _is_cjk(before)) and not (strict and enumerated):
            return end
        start = pos + 1
    return None


_CLAUSE = re.compile(r"[,.;:，。；：、()（）\s]")


def _excluded(text: str, pos: int, exclude: Sequence[str]) -> bool:
    """A word of `exclude` qualifies the label at `pos`: in the few characters before it, in the same clause
    (分摊建筑面积, 套内面积, 土地使用权面积), not in the one before ("宗地面积，建筑面积 89.5")."""
    if not exclude:
        return False
    head = _CLAUSE.split(text[max(0, pos - 8) : pos])[-1]
    return any(word in head for word in exclude)


def _cut_at_stop(rest: str, stops: Sequence[str], own: str) -> str:
    """The value part of what follows a label: up to the next label of the page's fields."""
    cut = len(rest)
    for stop in stops:
        if stop == own or len(stop) < 2 or own.startswith(stop) or stop.startswith(own):
            continue
        pos = rest.find(stop)
        if 0 < pos < cut:
            cut = pos
    return rest[:cut].rstrip(" :：")


def _cut_at_words(rest: str, words: Sequence[str]) -> str:
    """What follows a label up to where another quantity begins (共有宗地面积…/房屋建筑面积…); nothing when the
    text after the label is that other quantity's."""
    cut = len(rest)
    for word in words:
        pos = rest.find(word)
        if pos == 0:
            return ""
        if 0 < pos < cut:
            cut = pos
    return rest[:cut]


def _label_hint(label: str, tail: Hint) -> Hint:
    """What the label says about its value's unit, from its own text (建筑面积(m2)) and what follows it."""
    unit = tail.unit or bool(re.search(r"[(（](?:m2|平方米|元|万元)[)）]", label))
    return Hint(wan=tail.wan or "万元" in label, unit=unit)


def _label_candidates(spec: FieldSpec, page: _Page, stops: Sequence[str]) -> list[_Candidate]:
    """Texts that may hold the value, nearest to a label first.

    A label standing at a line's start or after a separator is trusted first; only when none stands so, and
    the label is long enough not to occur by chance, is one inside a line taken ("法定代表人张三成立日期…").
    """
    rows = page.region(spec.after, spec.before)
    outside = 1.0
    if not rows and spec.after is not None:
        # The block's heading is not on this page (a signature page, or a seal over the heading): the whole
        # page, and never sure, since the value may be another party's.
        rows, outside = list(range(len(page.lines))), PLACE_OUTSIDE
    for strict in (True, False):
        found: list[_Candidate] = []
        for label in sorted(spec.labels, key=len, reverse=True):
            if not strict and len(label) < 4:
                continue
            for i in rows:
                end = _label_at(page.folded[i], label, strict=strict, exclude=spec.exclude)
                if end is None:
                    continue
                line = page.lines[i]
                tail, tail_hint = strip_label_tail(page.after_label(i, end).lstrip())
                hint = _label_hint(label, tail_hint)
                rest = _cut_at_stop(_LEADING.sub("", tail), stops, label)
                rest = _cut_at_words(rest, spec.exclude)
                place = (PLACE_SAME_LINE if strict else PLACE_INSIDE) * outside
                if rest:
                    found.append(_Candidate(rest, line.box, line.confidence, place, "label", hint))
                near = _neighbours(i, page, stops, hint, strict, alone=not rest)
                found.extend(replace(c, place=c.place * outside) for c in near)
            if found:
                return found
    return []


def _neighbours(
    i: int, page: _Page, stops: Sequence[str], hint: Hint, strict: bool, depth: int = 0, alone: bool = True
) -> list[_Candidate]:
    """The cell to the right on the same row, then the line just below, of a label line."""
    l0, t0, r0, b0 = page.lines[i].box
    height = max(1, b0 - t0)
    right: list[tuple[int, int]] = []
    below: list[tuple[int, int, int]] = []
    for j, other in enumerate(page.lines):
        if j == i:
            continue
        l1, t1, r1, b1 = other.box
        if _overlap(t0, b0, t1, b1) >= 0.5 * min(height, max(1, b1 - t1)) and l1 >= r0 - height:
            right.append((l1 - r0, j))
        elif (t1 + b1) / 2 > b0 and t1 - b0 <= 1.6 * height and _overlap(l0 - height, r0 + height, l1, r1) > 0:
            # (a value cell's box may reach a little above the header's bottom: OCR boxes are padded)
            # A table's value sits under its header: the nearest line down, then the best-aligned centre.
            below.append((max(0, t1 - b0) // max(1, height // 2), abs((l1 + r1) - (l0 + r0)) // 2, j))
    out = []
    sub_label: int | None = None
    scale = 1.0 if strict else PLACE_INSIDE
    for (_, j), place, how in [
        *((r, PLACE_RIGHT, "right") for r in sorted(right)[:1]),
        *(((0, j), PLACE_BELOW, "below") for j in _under(page, (l0, r0), below)),
    ]:
        text = page.folded[j]
        if is_label_word(text):
            if depth == 0 and how == "below":
                sub_label = j
            continue
        if any(text.startswith(stop) for stop in stops if len(stop) >= 2):
            continue  # the neighbour is another label, not a value
        line = page.lines[j]
        out.append(_Candidate(_LEADING.sub("", page.spaced[j]), line.box, line.confidence, place * scale, how, hint))
    if not out and sub_label is not None and alone:
        # A block heading with nothing of its own ("权利人" over "姓名(名称)" over the name): the sub-label's
        # value, one level down.
        out.extend(_neighbours(sub_label, page, stops, hint, strict, depth=1))
    return out


def _under(page: _Page, span: tuple[int, int], below: list[tuple[int, int, int]]) -> list[int]:
    """The lines under a label: in the nearest row down, those lying most within the label's column.

    Side-by-side blocks ("抵押权人（签章）：  抵押人（签章）：" over "…银行…支行  张云龙") put a long left value
    under part of the right label too; the right label's value is the one that lies under it, not the nearest."""
    if not below:
        return []
    nearest = page.lines[min(below)[2]].box
    row = [
        j
        for _, _, j in below
        if _overlap(nearest[1], nearest[3], page.lines[j].box[1], page.lines[j].box[3])
        >= 0.5 * min(nearest[3] - nearest[1], page.lines[j].box[3] - page.lines[j].box[1])
    ]
    align = {j: a for _, a, j in below}

    def within(j: int) -> tuple[float, int]:
        left, _, right, _ = page.lines[j].box
        return _overlap(span[0], span[1], left, right) / max(1, right - left), -align[j]

    ranked = sorted(row, key=within, reverse=True)
    # Every line lying mostly within the column, best first (a seal's stray glyphs may lie there too: the value
    # is the first the field's grammar accepts); else the one lying most within it.
    return [j for j in ranked if within(j)[0] >= 0.5] or ranked[:1]


def _pattern_candidates(spec: FieldSpec, page: _Page) -> list[_Candidate]:
    found = []
    for pattern in spec.patterns:
        for match in pattern.finditer(page.joined):
            line = page.line_at(match.start("v"))
            found.append(_Candidate(match.group("v"), line.box, line.confidence, PLACE_PATTERN, "pattern"))
    return found


def _sentence_candidates(spec: FieldSpec, page: _Page, stops: Sequence[str]) -> list[_Candidate]:
    """A label inside running text, the value after it up to its unit or punctuation, over line breaks:
    "该房屋坐落于…，建筑面积共89.50平方米" or "成交价格：人民币贰佰捌拾陆万元整"."""
    found = []
    text = page.joined
    for label in sorted(spec.labels, key=len, reverse=True):
        if len(label) < 2:
            continue
        start = 0
        while (pos := text.find(label, start)) >= 0:
            start = pos + 1
            if _excluded(text, pos, spec.exclude):
                continue
            end = pos + len(label)
            line = page.line_at(end)
            tail, tail_hint = strip_label_tail(text[end : end + 90])
            hint = _label_hint(label, tail_hint)
            tail = _cut_at_words(_cut_at_stop(tail, stops, label), spec.exclude)
            if tail:
                found.append(_Candidate(tail, line.box, line.confidence, PLACE_SENTENCE, "sentence", hint))
    return found


# --- values -------------------------------------------------------------------------------------------------


def _looks_like_org(text: str) -> bool:
    return len(text) >= 4 and any(word in text for word in _ORG_WORDS)


def _is_org_name(text: str) -> bool:
    """An organisation's name ends with what it is (…有限公司, …支行, …事务所), perhaps with a bracketed form
    (…合伙企业(有限合伙)); a word merely containing 所 or 部 (税款所属时期) is none."""
    bare = re.sub(r"\([^()]{1,8}\)$", "", text)
    return len(bare) >= 4 and any(bare.endswith(word) for word in _ORG_WORDS)


# Values that never hold a space: a gap after them is the next cell of the row ("徐玉成 证件种类 居民身份证").
_ONE_CELL = ("text", "org", "person", "code")


def _parse_plain(kind: str, text: str, hint: Hint) -> Found | None:
    """The value of `kind` in the text after its label, and how well the text fitted its grammar."""
    if kind == "area":
        return find_area(text, hint)
    if kind == "money":
        return find_money(text, hint)
    if kind in ("date", "doc_date"):
        return find_date(text)
    if kind == "date_end":
        return find_date(text, last=True)
    if kind == "address":
        return find_address(text)
    if kind == "person":
        found = find_person(text)
        return found if found is not None and not _looks_like_org(found.value) else None
    if kind == "party":
        return _party(text)
    if kind in _ONE_CELL:
        text = text.strip().split(" ")[0] if text.strip() else ""
    if kind in ("text", "org"):
        text = _NAME_END.sub("", unicodedata.normalize("NFKC", text))
    if kind == "text":
        value = clean_text(text)
        return Found(value, 1.0) if value else None
    if kind == "org":
        value = clean_text(text)
        return Found(value, 1.0) if value and _is_org_name(value) else None
    if kind == "code":
        return find_code(text)
    if kind == "use":
        return find_use(text)
    raise ValueError(f"unknown field type {kind!r}")


def _party(text: str) -> Found | None:
    """A party to a document: an organisation, a person, or co-owners ("张三、李四"); digits are never a name."""
    cell = text.strip().split(" ")[0] if text.strip() else ""
    value = clean_text(_NAME_END.sub("", unicodedata.normalize("NFKC", cell)))
    if not value or re.search(r"[0-9A-Za-z]", value):
        return None
    if _is_org_name(value):
        return Found(value, 1.0)
    names = [n for n in re.split(r"[、,，;；和及]", value) if n]
    fits = [person_fit(n) if _PERSON_NAME.match(n) else 0.0 for n in names]
    if names and all(fits):
        return Found(value, min(fits))
    return None


def _ticked(text: str, options: Sequence[str]) -> str | None:
    """The ticked option of a row of check boxes: "□首次登记☑转移登记□变更登记".

    The option after a tick mark; when the engine lost the tick (or read it as some other glyph), the one
    option that is not preceded by an empty box.
    """
    flat = text.replace(" ", "")
    match = re.search(rf"[{_TICKS}]([^{_TICKS}{_BOXES}]+)", flat)
    if match:
        chosen = match.group(1)
        return next((o for o in options if chosen.startswith(o)), chosen if not options else None)
    unboxed = []
    for option in options:
        pos = flat.find(option)
        if pos >= 0 and (pos == 0 or flat[pos - 1] not in _BOXES):
            unboxed.append(option)
    boxed = sum(1 for o in options if o in flat) - len(unboxed)
    if len(unboxed) == 1 and boxed >= 1:
        return unboxed[0]
    if not any(ch in flat for ch in _BOXES):
        # A form that prints the chosen kind as text, not as a row of boxes: "转移登记", "抵押权首次登记".
        written = re.match(r"^[\u4e00-\u9fff]{2,10}?登记", flat)
        if written and len(flat) <= len(written.group(0)) + 1:
            return written.group(0)
    return None


def _identifier(kind: str, cand: _Candidate) -> FieldValue | None:
    raw = normalize(cand.text)
    match = _SCAN_PATTERNS[kind].search(raw)
    token = match.group(0) if match else _token(kind, raw)
    if not token or _other_kind(kind, token):
        return None
    fixed = repair(kind, _as_read(token, cand.text))
    check = fixed.check
    # A value that passes its check is read right whatever the place it was found; the place still tells
    # whether it is this field's value (the other party's number printed on the same page).
    place = max(cand.place, 0.97) if cand.found != "scan" else cand.place
    if fixed.value is not None and check is not None:
        note = "; ".join(check.warnings) or None
        if fixed.repaired:
            note = f"repaired from {token}" + (f"; {note}" if note else "")
        return FieldValue(
            value=fixed.value,
            confidence=cand.confidence * place * fixed.confidence_factor * (1.0 if check.valid else 0.6),
            valid=check.valid,
            box=cand.box,
            raw=token if fixed.repaired else None,
            repaired=fixed.repaired,
            note=note,
            found=cand.found,
        )
    reason = "; ".join(check.errors) if check is not None and check.errors else "does not check"
    if fixed.candidates:
        reason += f"; ambiguous repairs: {', '.join(fixed.candidates)}"
    return FieldValue(
        value=token, confidence=cand.confidence * 0.3, valid=False, box=cand.box, note=reason, found=cand.found
    )


def _other_kind(kind: str, token: str) -> bool:
    """A token that is plainly another identifier: a USCC where an ID number was looked for, or the reverse."""
    if kind == "id_number":
        return any(ch.isalpha() and ch not in _DIGIT_LOOKALIKES for ch in token[:17])
    if kind == "uscc":
        from ocr.codes import check_id_number

        return len(token) == 18 and token[:17].isdigit() and check_id_number(token).valid
    return False


def _as_read(token: str, printed: str) -> str:
    """The token with the letter case the engine read, which tells look-alikes apart (g is 9, l is 1)."""
    flat = fold(printed)
    pos = flat.upper().find(token)
    return flat[pos : pos + len(token)] if pos >= 0 else token


def _token(kind: str, text: str) -> str | None:
    """The identifier-looking part of a label's value when the strict pattern does not match."""
    if kind == "cert_number":
        match = re.search(r"[\u4e00-\u9fff]\(.+?号", text)
        return match.group(0) if match else None
    lengths = {"uscc": (15, 20), "id_number": (15, 19), "unit_number": (26, 30)}[kind]
    match = re.search(rf"[0-9A-Z]{{{lengths[0]},{lengths[1]}}}", text)
    return match.group(0) if match else None


def _value(spec: FieldSpec, cand: _Candidate) -> FieldValue | None:
    if spec.type in IDENTIFIER_TYPES:
        return _identifier(spec.type, cand)
    if spec.type in (*_ONE_CELL, "address", "choice", "use", "party") and is_label_word(cand.text):
        return None  # label text is never a value
    if spec.type == "choice":
        chosen = _ticked(cand.text, spec.options)
        found = Found(chosen, 1.0) if chosen is not None else None
    else:
        found = _parse_plain(spec.type, cand.text, cand.hint)
    if found is None:
        return None
    fit, note = found.fit, found.note
    if spec.type in ("org", "party") and _broken_company_form(found.value):
        # 股份限公司, 有公司: a company's legal form with a character lost (a seal over the signature line).
        fit *= _UNUSUAL_FIT
        note = "company form misread?" + (f"; {note}" if note else "")
    value = found.value
    if spec.type in _NAME_TYPES and _unusual(value):
        # A traditional or rare character in a name on a simplified-Chinese document is more often a misread
        # (銀 for 银, 構 for 有 under a seal) than what was printed: names, companies and addresses on mainland
        # papers are written in 规范汉字, so a traditional form becomes its simplified one; the clerk checks it.
        if spec.type in _SIMPLIFIED_TYPES:
            value = simplified(value)
        fit *= _UNUSUAL_FIT
        unusual = "unusual character" if value == found.value else f"unusual character (read as {found.value})"
        note = unusual + (f"; {note}" if note else "")
    return FieldValue(
        value=value,
        confidence=cand.confidence * cand.place * fit,
        valid=True,
        box=cand.box,
        note=note,
        found=cand.found,
    )


_NAME_TYPES = ("org", "person", "party", "address", "text")
_UNUSUAL_FIT = 0.85


_COMPANY_FORMS = ("股份有限公司", "有限责任公司", "有限公司")


def _broken_company_form(name: str) -> bool:
    """A company whose legal form reads wrong: 股份 without 股份有限公司, 限公司 without 有限公司, 有公司."""
    if "公司" not in name:
        return False
    if "股份" in name and "股份有限公司" not in name:
        return True
    return ("限公司" in name and "有限公司" not in name) or "有公司" in name or "限责公司" in name


_SIMPLIFIED_TYPES = ("org", "person", "party", "address")


@cache
def _to_simplified() -> Any:
    from opencc import OpenCC

    return OpenCC("t2s")


def simplified(text: str) -> str:
    """`text` with each traditional character outside GB 2312 replaced by its simplified form when that form is
    in GB 2312 (唐靜 → 唐静, 銀行 → 银行); character by character, so no word of a simplified text is rewritten."""
    out = []
    for ch in text:
        if "\u4e00" <= ch <= "\u9fff" and not _in_gb2312(ch):
            converted = _to_simplified().convert(ch)
            if len(converted) == 1 and _in_gb2312(converted):
                ch = converted
        out.append(ch)
    return "".join(out)


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _unusual(text: str) -> bool:
    """True when a Chinese character of `text` is outside GB 2312, the common simplified set."""
    return any("\u4e00" <= ch <= "\u9fff" and not _in_gb2312(ch) for ch in text)


def _best(spec: FieldSpec, candidates: Sequence[_Candidate]) -> FieldValue | None:
    """The first valid value nearly as sure as the surest one; failing any, the first readable one (kept,
    marked invalid). Candidates come nearest-first (patterns, the label's line, its right cell, below, then
    inside running text), so the order breaks near-ties the way the page is read.

    A rival reading of another value, found at a label and nearly as sure, makes the chosen one doubtful: its
    confidence drops and the note names the rival, so the clerk checks it against the page.
    """
    fallback: FieldValue | None = None
    valid: list[tuple[FieldValue, str]] = []
    for cand in candidates:
        value = _value(spec, cand)
        if value is None:
            continue
        if value.valid:
            valid.append((value, cand.found))
        else:
            fallback = fallback or value
    if not valid:
        return fallback
    surest = max(v.confidence for v, _ in valid)
    best = next(v for v, _ in valid if v.confidence >= _NEAR * surest)
    # The same value found again (at another label, inside a sentence) is as sure as its surest finding.
    best = replace(best, confidence=max(v.confidence for v, _ in valid if _same(spec.type, v.value, best.value)))
    rivals = [
        v
        for v, how in valid
        if how != "pattern" and not _same(spec.type, v.value, best.value) and v.confidence >= _RIVAL * best.confidence
    ]
    if rivals:
        note = f"also read {rivals[0].value}" + (f"; {best.note}" if best.note else "")
        best = replace(best, confidence=best.confidence * _RIVAL_PENALTY, note=note)
    return best


def _same(kind: str, a: str, b: str) -> bool:
    if kind in ("money", "area"):
        return numbers_equal(a, b)
    return a == b


def _scan(kind: str, page: _Page) -> FieldValue | None:
    """An identifier anywhere: each line first, then the joined text (a number broken over two lines)."""
    fallback = None
    sources = [(normalize(line.text), line) for line in page.lines]
    sources.append((normalize(page.joined), page.lines[0] if page.lines else Line("", (0, 0, 0, 0), 0.0)))
    for text, line in sources:
        for match in _SCAN_PATTERNS[kind].finditer(text):
            value = _identifier(kind, _Candidate(match.group(0), line.box, line.confidence, PLACE_SCAN, "scan"))
            if value is not None and value.valid:
                return value
            fallback = fallback or value
    return fallback


_ORG_LINE = re.compile(
    r"^[\u4e00-\u9fff()]{4,40}(?:有限公司|有限责任公司|股份有限公司|分公司|公司|合伙企业|支行|分行|事务所|合作社)$"
)


def _scan_org(page: _Page) -> FieldValue | None:
    """The first line that is an organisation's name and nothing else (a licence whose 名称 label was lost)."""
    for i, text in enumerate(page.folded):
        if _ORG_LINE.match(text) and not is_label_word(text):
            line = page.lines[i]
            return FieldValue(text, line.confidence * PLACE_SCAN * 0.9, True, box=line.box, found="scan")
    return None


def _alone(residue: str) -> bool:
    """What a line holds besides its date is at most a date label or a few characters a seal left over."""
    return len(_DATE_LABELS.sub("", residue).strip(" :：,，.。")) <= _MAX_DATE_RESIDUE


def _document_date(page: _Page) -> FieldValue | None:
    """The document's date: the latest date standing (almost) alone on a line, as a signature block prints it.

    A short residue is allowed because a seal often overlaps the date ("不动产登2021年10月28日"); the latest
    date wins over a birth date or a validity start printed alone on an attached ID copy.
    """
    best: tuple[str, int] | None = None
    for i, text in enumerate(page.folded):
        dates = parse_dates(text)
        if not dates or len(set(dates)) != 1:
            continue
        residue = _CN_DATE_TEXT.sub("", re.sub(r"\d{4}[年./-]\d{1,2}[月./-]\d{1,2}日?", "", text))
        if _alone(residue) and (best is None or dates[0] >= best[0]):
            best = (dates[0], i)
    if best is None:
        return _date_with_registers_year(page)
    cut = _date_cut_below(page, best)
    if cut is not None:
        return cut or None
    line = page.lines[best[1]]
    # A guess from the page's layout, never sure: the clerk checks it.
    return FieldValue(value=best[0], confidence=line.confidence * 0.85, valid=True, box=line.box, found="date")


# A date whose year a seal cut short: "一年十一月二十九日" (二〇二 under the seal), "3年8月19日".
_CUT_CN_DATE = re.compile(
    r"(?<![〇零○O一二三四五六七八九])([〇零○O一二三四五六七八九]{1,3})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日"
)
_CUT_DATE = re.compile(r"(?<!\d)(\d{1,3})年(\d{1,2})月(\d{1,2})日")


def _holds(year: str, digits: str) -> bool:
    """True when `digits` are some of `year`'s digits, in order."""
    rest = iter(year)
    return all(ch in rest for ch in digits)


def _date_cut_below(page: _Page, best: tuple[str, int]) -> FieldValue | Literal[""] | None:
    """A date standing alone below the latest whole one, its year cut short by a seal (licences print the issue
    date under the authority's seal). Its year is the one year, from the whole date's to this one, that holds
    the digits still legible: given as a guess to check. "" when the year cannot be told (the earlier date is then
    not the document's either); None when there is no such line."""
    top = page.lines[best[1]].box[1]
    for i in range(len(page.folded) - 1, -1, -1):
        if page.lines[i].box[1] <= top or parse_dates(page.folded[i]):
            continue
        text = page.folded[i]
        match = _CUT_DATE.search(text) or _CUT_CN_DATE.search(text)
        if match is None:
            continue
        if not _alone(text[: match.start()] + text[match.end() :]):
            continue
        digits, month, day = match.groups()
        if not digits.isdigit():
            digits = cn_digits(digits)
            try:
                month, day = str(cn_number(month)), str(cn_number(day))
            except ValueError:  # 十十: not a number
                continue
        # The legible digits, in order, are what the seal left of the year (二二四: 〇 lost; 一: 二〇二 lost); a
        # year that ends in them is the likelier when several hold them.
        span = range(int(best[0][:4]), date.today().year + 1)
        found = [
            d for y in span if _holds(str(y), digits) for d in parse_dates(f"{y}年{month}月{day}日") if d >= best[0]
        ]
        if len(found) > 1:
            found = [d for d in found if d[:4].endswith(digits)]
        if len(found) != 1:
            return ""
        line = page.lines[i]
        return FieldValue(value=found[0], confidence=line.confidence * 0.5, valid=True, box=line.box, found="date")
    return None


# 鲁(2022)济南市不动产权第…号 / 不动产证明第…号: the register's number carries the year it was issued in.
_REGISTER_YEAR = re.compile(r"[(\[](\d{4})[)\]][^,，。;；]{0,12}?不动产(?:权|证明|登记证明)")
_SPOILED_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")


def _date_with_registers_year(page: _Page) -> FieldValue | None:
    """A certificate's date whose year a seal spoiled ("不动产登1202年07月11日") takes the year of the register's
    number printed on the same page, when the month and day are whole; shown as a guess for the clerk to check.
    With no such number, or two different years in it, nothing is guessed."""
    years = {match.group(1) for match in _REGISTER_YEAR.finditer(page.joined)}
    if len(years) != 1:
        return None
    (year,) = years
    for i in range(len(page.folded) - 1, -1, -1):
        text = page.folded[i]
        matches = list(_SPOILED_DATE.finditer(text))
        if len(matches) != 1 or parse_dates(text):
            continue
        match = matches[0]
        value = parse_dates(f"{year}年{match.group(2)}月{match.group(3)}日")
        if _alone(text[: match.start()] + text[match.end() :]) and value:
            line = page.lines[i]
            return FieldValue(value=value[0], confidence=line.confidence * 0.5, valid=True, box=line.box, found="date")
    return None


def extract_fields(
    material: str, lines: Sequence[Line], specs: Mapping[str, Sequence[FieldSpec]] | None = None
) -> dict[str, FieldValue]:
    """The fields `material` carries, as read from `lines` (reading order, boxes in page pixels).

    Each field's candidates are gathered from its patterns, its labels (same line, the cell to the right, the
    line below), and, for values a grammar can tell apart, the label inside running text; the surest valid
    reading wins. Identifiers are also scanned for anywhere on the page when nothing else found them.
    """
    table = (specs if specs is not None else default_specs()).get(material, ())
    page = _Page(lines)
    every = specs if specs is not None else default_specs()
    stops = [label for spec in (*table, *every.get(COMMON_STOPS, ())) for label in spec.labels]
    out: dict[str, FieldValue] = {}
    for spec in table:
        if spec.when is not None and spec.when not in page.joined:
            continue
        candidates = _pattern_candidates(spec, page) if spec.patterns else []
        if spec.labels:
            candidates += _label_candidates(spec, page, stops)
            if spec.sentence:
                candidates += _sentence_candidates(spec, page, stops)
        value = _best(spec, candidates)
        if (value is None or not value.valid) and spec.scan and spec.type in IDENTIFIER_TYPES:
            value = _scan(spec.type, page) or value
        if value is None and spec.scan and spec.type == "org":
            value = _scan_org(page)
        if value is None and spec.type == "doc_date":
            value = _document_date(page)
        if value is not None:
            out[spec.key] = value
    return out


def numbers_equal(a: str, b: str) -> bool:
    """For accuracy checks: "2860000.00" equals "2860000"."""
    x, y = parse_decimal(a, places=2), parse_decimal(b, places=2)
    return x is not None and x == y
