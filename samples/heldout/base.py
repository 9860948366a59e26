"""What the held-out renderers share: their input, their output, and a few layout helpers.

The helpers here are the held-out family's own (label-above-value cells, keep-together paragraphs,
stamps laid over a value); the low-level drawing is ``samples.page``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from samples.facts import Case, Company, Person
from samples.page import A4, FORM_INK, INK, Flow, Page, Style

# Layout classes a page can show (recorded in its truth as ``layout``; scorers ignore the key).
LAYOUTS = (
    "running_text",  # a value inside a sentence, up to its unit or punctuation
    "label_below",  # a value on the line below its label
    "table_header_above",  # a header row above the value row
    "table_label_left",  # a label cell left of its value cell
    "two_column",  # two label/value columns side by side
    "unit_in_label",  # the unit is in the label, the value is a bare number
    "stamp_over_value",  # a seal printed over a value
    "footnote",  # a footnote mark (※ * ①) next to a label
    "amount_in_wan",  # an amount printed in 万元
    "amount_in_capitals",  # an amount in financial capitals (大写)
    "numeral_date",  # a date in Chinese numerals
    "alt_font",  # values set in another face (monospace, bold)
    "landscape",  # a landscape page
)


class HPage(Page):
    """A page that also records which layout classes it shows."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.layout: list[str] = []

    def tag(self, *names: str) -> None:
        for name in names:
            if name not in LAYOUTS:
                raise ValueError(f"unknown layout class {name}")
            if name not in self.layout:
                self.layout.append(name)


@dataclass
class HCtx:
    case: Case
    dpi: int
    rng: random.Random
    role: str = ""
    variant: int = 0  # which edition of the material (cycled over the cases by the plan)

    def page(self, paper: tuple[int, int, int] = (255, 255, 255), size: tuple[float, float] = A4) -> HPage:
        return HPage(self.dpi, self.rng, size_mm=size, paper=paper)


@dataclass
class Doc:
    """A rendered document: its pages, its fields (normal forms) and how each was printed."""

    pages: list[HPage]
    fields: dict[str, str] = field(default_factory=dict)
    shown: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # key -> [(printed, unit in label)]
    parties: list[dict[str, str]] = field(default_factory=list)

    def put(self, key: str, value: str, printed: str | None = None, unit: str = "") -> None:
        """Claim ``key`` = ``value`` (normal form), printed as ``printed`` (default: the value itself)."""
        if key in self.fields and self.fields[key] != value:
            raise ValueError(f"{key}: {value!r} disagrees with {self.fields[key]!r}")
        self.fields[key] = value
        self.shown.setdefault(key, []).append((printed if printed is not None else value, unit))


# -- parties -----------------------------------------------------------------------------------------


def name_of(p: Person | Company) -> str:
    return p.org_name if isinstance(p, Company) else p.name


def ident_of(p: Person | Company) -> str:
    return p.uscc if isinstance(p, Company) else p.id_number


def party(role: str, p: Person | Company) -> dict[str, str]:
    if isinstance(p, Company):
        return {"role": role, "org_name": p.org_name, "uscc": p.uscc}
    return {"role": role, "name": p.name, "id_number": p.id_number}


def put_ids(doc: Doc, p: Person | Company) -> None:
    """The identity fields of a party as printed in full (name + ID, or name + USCC + representative)."""
    if isinstance(p, Company):
        doc.put("org_name", p.org_name)
        doc.put("uscc", p.uscc)
        doc.put("legal_rep", p.legal_rep.name)
    else:
        doc.put("name", p.name)
        doc.put("id_number", p.id_number)


def full_width(number: str) -> str:
    """Certificate numbers are printed with full-width brackets."""
    return number.replace("(", "（").replace(")", "）")


# -- drawing helpers ----------------------------------------------------------------------------------

Seg = tuple  # (x, text, style[, align[, tracking]])


def row(page: Page, y: float, segs: Sequence[Seg]) -> None:
    """Pieces on one baseline (each with its own style, alignment and letter spacing), recorded as one line."""
    texts = []
    for seg in segs:
        x, text, style = seg[0], seg[1], seg[2]
        align = seg[3] if len(seg) > 3 else "l"
        tracking = seg[4] if len(seg) > 4 else 0.0
        if text:
            page.put(x, y, text, style, align, tracking)
            texts.append(text)
    page.record(" ".join(texts))


@dataclass
class Box:
    """A cell with a small label at its top and the value underneath (label-below-value forms)."""

    label: str
    value: str | list[str] = ""
    width: float | None = None
    value_style: Style | None = None


def box_row(
    page: Page,
    x0: float,
    x1: float,
    y: float,
    boxes: Sequence[Box],
    label: Style,
    value: Style,
    line_colour: tuple[int, int, int] = FORM_INK,
    min_h: float = 13.0,
) -> float:
    """One row of label-above-value cells; labels are recorded as one line, then each value line."""
    widths = [b.width or 0.0 for b in boxes]
    free = sum(1 for b in boxes if not b.width)
    rest = (x1 - x0 - sum(widths)) / free if free else 0.0
    widths = [w or rest for w in widths]
    values = [b.value if isinstance(b.value, list) else ([b.value] if b.value else []) for b in boxes]
    styles = []
    for w, vs, b in zip(widths, values, boxes, strict=True):
        st = b.value_style or value
        while any(page.measure(v, st) > w - 4 for v in vs) and st.pt > 7:
            st = st.at(st.pt - 0.25)
        if any(page.measure(v, st) > w - 3.5 for v in vs):
            raise ValueError(f"value does not fit in {w:.1f} mm: {vs!r}")
        styles.append(st)
    lab_em = page.em(label)
    val_em = max(page.em(s) for s in styles)
    n = max((len(v) for v in values), default=0)
    label_base = y + 1.2 + lab_em
    first = label_base + 1.6 + val_em
    step = val_em * 1.45
    h = max(min_h, first + (n - 1) * step + 2.2 - y if n else lab_em + 6)
    x = x0
    for w, b in zip(widths, boxes, strict=True):
        page.put(x + 1.4, label_base, b.label, label)
        x += w
        if x < x1 - 0.01:
            page.vline(x, y, y + h, fill=line_colour)
    page.record(" ".join(b.label for b in boxes if b.label))
    for k in range(n):
        x = x0
        texts = []
        for w, vs, st in zip(widths, values, styles, strict=True):
            if k < len(vs):
                page.put(x + 3.0, first + k * step, vs[k], st)
                texts.append(vs[k])
            x += w
        page.record(" ".join(texts))
    page.hline(x0, x1, y + h, fill=line_colour)
    return y + h


def keep_para(
    flow: Flow,
    text: str,
    style: Style,
    indent: float = 2,
    leading: float = 1.8,
    after: float = 0.8,
    x_indent: float = 0.0,
) -> None:
    """A paragraph kept on one page (so a value inside it is never split by a page break)."""
    page = flow.page
    em = page.em(style)
    width = flow.right - flow.left - x_indent
    lines = page.wrap(text, style, width, indent * em)
    flow.need(em * leading * len(lines) + 1)
    page = flow.page
    for i, line in enumerate(lines):
        flow.y += em * leading
        page.say(flow.left + x_indent + (indent * em if i == 0 else 0), flow.y, line, style)
    flow.y += after


def page_footer(pages: Sequence[Page], fmt: str, style: Style, y_from_bottom: float = 13.0) -> None:
    for n, page in enumerate(pages, start=1):
        page.say(page.w_mm / 2, page.h_mm - y_from_bottom, fmt.format(n=n, total=len(pages)), style, "c")


BODY_SERIF = Style("serif", 11)
BODY_SANS = Style("sans", 10.5)
MONO = Style("mono", 10.5, INK)
