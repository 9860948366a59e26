"""An A4 page drawn in millimetres that records every text line it prints: the ground truth.

Coordinates are millimetres from the top-left corner; ``y`` of a text call is its baseline.
Drawing calls that print text come in two kinds: ``put`` only draws, ``say``/``line`` draw and
record the line, so a layout records its lines in reading order by drawing top to bottom.
Check boxes are written ``{x}`` (ticked) or ``{ }`` inside text: they are drawn as boxes and
left out of the recorded line, like the seals, signatures and fingerprints.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from samples.fonts import get_font

INK = (24, 24, 30)  # laser-printed values
FORM_INK = (36, 36, 44)  # the pre-printed form
BLUE_INK = (30, 42, 112)  # ballpoint
RED = (212, 36, 40)
A4 = (210.0, 297.0)

_BOX = re.compile(r"\{[x ]\}")
_TOKEN = re.compile(r"\{[x ]\}|[A-Za-z0-9.,:%\-/_@·+]+|.", re.S)
# Chinese line-breaking rules (避头尾): these never start a line...
_NO_START = set("，。、；：？！）》」』”’%．,.;:!?)]")
# ...and these never end one.
_NO_END = set("（《「『“‘([")


@dataclass(frozen=True)
class Style:
    face: str = "serif"
    pt: float = 10.5
    fill: tuple[int, int, int] = INK

    def at(self, pt: float) -> Style:
        return replace(self, pt=pt)

    def ink(self, fill: tuple[int, int, int]) -> Style:
        return replace(self, fill=fill)


BODY = Style("serif", 10.5)
LABEL = Style("sans", 10.0, FORM_INK)
TITLE = Style("serif-bold", 22.0)


def visible_text(s: str) -> str:
    """The text a line records: check boxes removed, runs of spaces collapsed."""
    return " ".join(_BOX.sub(" ", s).split())


class Page:
    def __init__(
        self,
        dpi: int,
        rng: random.Random,
        size_mm: tuple[float, float] = A4,
        paper: tuple[int, int, int] = (255, 255, 255),
    ) -> None:
        self.dpi = dpi
        self.rng = rng
        self.w_mm, self.h_mm = size_mm
        self.image = Image.new("RGB", (self.px(self.w_mm), self.px(self.h_mm)), paper)
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[str] = []
        self.seals: list[str] = []

    # -- units ---------------------------------------------------------------------------------
    def px(self, mm: float) -> int:
        return round(mm * self.dpi / 25.4)

    def pxf(self, mm: float) -> float:
        return mm * self.dpi / 25.4

    def font(self, style: Style):  # -> FreeTypeFont
        return get_font(style.face, round(style.pt * self.dpi / 72))

    def em(self, style: Style) -> float:
        """The type size in millimetres."""
        return style.pt * 25.4 / 72

    def measure(self, s: str, style: Style, tracking: float = 0.0) -> float:
        """Width of ``s`` in millimetres (check boxes count as one character)."""
        font = self.font(style)
        total = 0.0
        count = 0
        for part in _TOKEN.findall(s):
            total += font.getlength("国") if _BOX.fullmatch(part) else font.getlength(part)
            count += len(part) if not _BOX.fullmatch(part) else 1
        return total * 25.4 / self.dpi + tracking * max(count - 1, 0)

    # -- text ----------------------------------------------------------------------------------
    def record(self, s: str) -> None:
        text = visible_text(s)
        if text:
            self.lines.append(text)

    def put(self, x: float, y: float, s: str, style: Style = BODY, align: str = "l", tracking: float = 0.0) -> float:
        """Draw ``s`` with its baseline at ``y``; ``align`` l/c/r positions it at, around or before ``x``."""
        width = self.measure(s, style, tracking)
        if align == "c":
            x -= width / 2
        elif align == "r":
            x -= width
        font = self.font(style)
        cursor = self.pxf(x)
        base = self.pxf(y)
        if not tracking and not _BOX.search(s):
            self.draw.text((cursor, base), s, font=font, fill=style.fill, anchor="ls")
            return width
        for part in _TOKEN.findall(s):
            if _BOX.fullmatch(part):
                self._checkbox(cursor, base, font.getlength("国"), part == "{x}", style)
                cursor += font.getlength("国")
            else:
                for ch in part if tracking else [part]:
                    self.draw.text((cursor, base), ch, font=font, fill=style.fill, anchor="ls")
                    cursor += font.getlength(ch) + self.pxf(tracking)
        return width

    def _checkbox(self, x: float, base: float, em: float, ticked: bool, style: Style) -> None:
        side = em * 0.72
        x0, y1 = x + em * 0.12, base + em * 0.02
        self.draw.rectangle([x0, y1 - side, x0 + side, y1], outline=style.fill, width=max(1, round(em / 22)))
        if ticked:
            j = self.rng.uniform
            pts = [
                (x0 + side * 0.1 + j(-1, 1), y1 - side * 0.55),
                (x0 + side * 0.42, y1 - side * 0.08 + j(-1, 1)),
                (x0 + side * 1.15 + j(-2, 2), y1 - side * 1.25),
            ]
            self.draw.line(pts, fill=BLUE_INK, width=max(2, round(em / 9)), joint="curve")

    def say(self, x: float, y: float, s: str, style: Style = BODY, align: str = "l", tracking: float = 0.0) -> float:
        width = self.put(x, y, s, style, align, tracking)
        self.record(s)
        return width

    def line(self, y: float, segments: Sequence[tuple], style: Style = BODY) -> None:
        """Draw several pieces on one baseline and record them as one line, joined by spaces.

        Each segment is ``(x, text)``, ``(x, text, style)`` or ``(x, text, style, align)``.
        """
        texts = []
        for seg in segments:
            x, text = seg[0], seg[1]
            seg_style = seg[2] if len(seg) > 2 and seg[2] is not None else style
            align = seg[3] if len(seg) > 3 else "l"
            if text:
                self.put(x, y, text, seg_style, align)
                texts.append(text)
        self.record(" ".join(texts))

    def wrap(self, text: str, style: Style, width: float, indent: float = 0.0) -> list[str]:
        """Break ``text`` into lines no wider than ``width`` mm (the first one indented)."""
        lines: list[str] = []
        current = ""
        avail = width - indent
        for tok in _TOKEN.findall(text):
            if tok == "\n":
                lines.append(current)
                current, avail = "", width
                continue
            if not current or self.measure(current + tok, style) <= avail:
                current += tok
                continue
            if tok[0] in _NO_START:  # hang the punctuation in the margin
                current += tok
                continue
            carry = ""
            while current and current[-1] in _NO_END:
                carry, current = current[-1] + carry, current[:-1]
            lines.append(current)
            current = carry + tok.lstrip()
            avail = width
        if current:
            lines.append(current)
        return lines

    # -- rules and boxes -----------------------------------------------------------------------
    def hline(self, x0: float, x1: float, y: float, width: float = 0.22, fill=FORM_INK) -> None:
        self.draw.line([(self.pxf(x0), self.pxf(y)), (self.pxf(x1), self.pxf(y))], fill=fill, width=self._w(width))

    def vline(self, x: float, y0: float, y1: float, width: float = 0.22, fill=FORM_INK) -> None:
        self.draw.line([(self.pxf(x), self.pxf(y0)), (self.pxf(x), self.pxf(y1))], fill=fill, width=self._w(width))

    def rect(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.3, fill=FORM_INK, bg=None) -> None:
        box = [self.pxf(x0), self.pxf(y0), self.pxf(x1), self.pxf(y1)]
        self.draw.rectangle(box, outline=fill, width=self._w(width), fill=bg)

    def _w(self, mm: float) -> int:
        return max(1, round(self.pxf(mm)))

    # -- marks ---------------------------------------------------------------------------------
    def blend(self, mask: Image.Image, left: int, top: int, color: tuple[int, int, int], opacity: float) -> None:
        """Multiply ``color`` into the page through ``mask`` (L): ink over ink stays dark, like a stamp."""
        W, H = self.image.size
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + mask.width, W), min(top + mask.height, H)
        if x0 >= x1 or y0 >= y1:
            return
        region = np.asarray(self.image.crop((x0, y0, x1, y1)), dtype=np.float32)
        m = np.asarray(mask.crop((x0 - left, y0 - top, x1 - left, y1 - top)), dtype=np.float32) / 255.0
        a = (m * opacity)[..., None]
        tint = np.array(color, dtype=np.float32) / 255.0
        out = region * (1.0 - a * (1.0 - tint))
        self.image.paste(Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8)), (x0, y0))

    def seal(
        self,
        cx: float,
        cy: float,
        text: str,
        bottom: str = "",
        diameter: float = 40.0,
        color: tuple[int, int, int] = RED,
        opacity: float = 0.85,
        tilt: float | None = None,
    ) -> None:
        """A round red seal: ``text`` around the rim, a star, ``bottom`` across underneath."""
        rng = self.rng
        size = self.px(diameter * 1.08)
        mask = Image.new("L", (size, size), 0)
        dr = ImageDraw.Draw(mask)
        c = size / 2
        r = self.pxf(diameter / 2)
        ring = max(2, round(r * 0.065))
        dr.ellipse([c - r, c - r, c + r, c + r], outline=255, width=ring)
        star_r = r * 0.30
        pts = []
        for k in range(10):
            rad = star_r if k % 2 == 0 else star_r * 0.382
            ang = -math.pi / 2 + k * math.pi / 5
            pts.append((c + rad * math.cos(ang), c + rad * math.sin(ang)))
        dr.polygon(pts, fill=255)

        n = len(text)
        span = min(270.0, max(160.0, n * 19.0))
        r_in = r - ring - r * 0.04
        arc_px = (r_in * 0.78) * math.radians(span) / n
        char_px = min(r * 0.34, arc_px * 0.98)
        font = get_font("serif-bold", round(char_px))
        r_text = r_in - char_px * 0.55
        for i, ch in enumerate(text):
            theta = -span / 2 + span * (i + 0.5) / n
            tile = Image.new("L", (round(char_px * 1.5),) * 2, 0)
            ImageDraw.Draw(tile).text((tile.width / 2, tile.height / 2), ch, font=font, fill=255, anchor="mm")
            tile = tile.rotate(-theta, resample=Image.Resampling.BICUBIC)
            px = c + r_text * math.sin(math.radians(theta)) - tile.width / 2
            py = c - r_text * math.cos(math.radians(theta)) - tile.height / 2
            mask.paste(255, (round(px), round(py)), tile)
        if bottom:
            bfont = get_font("serif-bold", round(r * 0.17))
            dr.text((c, c + r * 0.56), bottom, font=bfont, fill=255, anchor="mm")

        # Uneven ink: blotchy coverage and a few dry specks.
        lo = max(4, size // 14)
        small = Image.fromarray(
            (np.array([[rng.uniform(0.5, 1.0) for _ in range(lo)] for _ in range(lo)]) * 255).astype(np.uint8)
        )
        blot = np.asarray(small.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
        nprng = np.random.default_rng(rng.getrandbits(32))
        specks = nprng.random((size, size)) > 0.06
        m = np.asarray(mask, dtype=np.float32) * np.clip(blot, 0, 1) * specks
        mask = Image.fromarray(m.astype(np.uint8)).filter(ImageFilter.GaussianBlur(max(0.5, self.dpi / 300)))
        tilt = rng.uniform(-14, 14) if tilt is None else tilt
        mask = mask.rotate(tilt, resample=Image.Resampling.BICUBIC)
        self.blend(mask, round(self.pxf(cx) - size / 2), round(self.pxf(cy) - size / 2), color, opacity)
        self.seals.append(f"{text} {bottom}".strip())

    def box_stamp(
        self,
        cx: float,
        cy: float,
        lines: Sequence[str],
        pt: float = 11.0,
        color: tuple[int, int, int] = RED,
        opacity: float = 0.8,
        tilt: float | None = None,
    ) -> None:
        """A rectangular rubber stamp (核对章, 收讫章): a double frame around one or more short lines."""
        rng = self.rng
        font = get_font("sans-bold", round(pt * self.dpi / 72))
        line_h = self.pxf(pt * 25.4 / 72 * 1.45)
        width = max(font.getlength(s) for s in lines) + self.pxf(7)
        height = line_h * len(lines) + self.pxf(5)
        margin = self.px(2)
        mask = Image.new("L", (round(width) + 2 * margin, round(height) + 2 * margin), 0)
        dr = ImageDraw.Draw(mask)
        frame = max(1, round(self.pxf(0.7)))
        dr.rectangle([margin, margin, margin + width, margin + height], outline=255, width=frame)
        inset = self.pxf(1.1)
        dr.rectangle(
            [margin + inset, margin + inset, margin + width - inset, margin + height - inset],
            outline=255,
            width=max(1, frame // 2),
        )
        for k, s in enumerate(lines):
            dr.text((mask.width / 2, margin + self.pxf(2.5) + line_h * (k + 0.5)), s, font=font, fill=255, anchor="mm")
        nprng = np.random.default_rng(rng.getrandbits(32))
        coverage = np.clip(nprng.normal(0.9, 0.12, (mask.height, mask.width)), 0, 1) * (
            nprng.random((mask.height, mask.width)) > 0.08
        )
        m = np.asarray(mask, dtype=np.float32) * coverage
        out = Image.fromarray(m.astype(np.uint8)).filter(ImageFilter.GaussianBlur(max(0.5, self.dpi / 300)))
        tilt = rng.uniform(-6, 6) if tilt is None else tilt
        out = out.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True)
        self.blend(out, round(self.pxf(cx) - out.width / 2), round(self.pxf(cy) - out.height / 2), color, opacity)
        self.seals.append(" ".join(lines))

    def signature(self, x: float, y: float, w: float = 28.0, h: float = 9.0, chars: int = 3, ink=BLUE_INK) -> None:
        """A cursive, loopy scribble whose box has its bottom-left corner at (x, y)."""
        rng = self.rng
        pen = max(1, round(self.pxf(rng.uniform(0.3, 0.45))))
        steps = 60 * chars
        loops = chars * rng.uniform(1.1, 1.8)
        phase_x, phase_y = rng.uniform(0, 6.3), rng.uniform(0, 6.3)
        loop_w = w / (loops * 2.2)
        slant = rng.uniform(0.2, 0.45)
        ratio = rng.uniform(0.85, 1.15)
        breaks = {rng.randrange(steps // 4, steps * 3 // 4) for _ in range(chars - 1)}
        stroke: list[tuple[float, float]] = []
        strokes = [stroke]
        for i in range(steps + 1):
            t = i / steps
            env = 0.55 + 0.45 * math.sin(math.pi * min(1.0, t * 1.3))
            px_ = x + w * t + loop_w * math.sin(2 * math.pi * loops * t + phase_x)
            dy = 0.5 * h * env * math.sin(2 * math.pi * loops * ratio * t + phase_y)
            dy += 0.18 * h * math.sin(2 * math.pi * loops * 0.37 * t + phase_x)
            py_ = y - h * 0.5 - dy
            stroke.append((px_ + (y - py_) * slant, py_))
            if i in breaks:
                stroke = []
                strokes.append(stroke)
        # An underline flourish.
        strokes.append([(x + w * 0.1, y + h * 0.05), (x + w * 0.6, y - h * 0.05), (x + w * 1.05, y - h * 0.25)])
        for pts in strokes:
            xy = [(self.pxf(a), self.pxf(b)) for a, b in pts]
            if len(xy) > 1:
                self.draw.line(xy, fill=ink, width=pen, joint="curve")

    def fingerprint(self, cx: float, cy: float, color=RED) -> None:
        """A red thumbprint (按手印) over a signature."""
        rng = self.rng
        w, h = self.px(rng.uniform(11, 14)), self.px(rng.uniform(14, 17))
        mask = Image.new("L", (w + 4, h + 4), 0)
        dr = ImageDraw.Draw(mask)
        ridge = max(1, round(self.pxf(0.28)))
        k = 0
        while True:
            k += 1
            rx, ry = w / 2 - k * ridge * 2.2, h / 2 - k * ridge * 2.2
            if rx < ridge * 2 or ry < ridge * 2:
                break
            start = rng.uniform(0, 360)
            dr.arc(
                [w / 2 + 2 - rx, h / 2 + 2 - ry, w / 2 + 2 + rx, h / 2 + 2 + ry],
                start,
                start + rng.uniform(250, 340),
                fill=255,
                width=ridge,
            )
        fade = np.linspace(0.55, 1.0, mask.width)[None, :] * np.linspace(1.0, 0.6, mask.height)[:, None]
        mask = Image.fromarray((np.asarray(mask, dtype=np.float32) * fade).astype(np.uint8)).rotate(
            rng.uniform(-25, 25)
        )
        self.blend(mask, round(self.pxf(cx) - mask.width / 2), round(self.pxf(cy) - mask.height / 2), color, 0.7)


@dataclass
class Cell:
    """One table cell: ``width`` in mm (None = the rest of the row)."""

    text: str | list[str]
    width: float | None = None
    style: Style | None = None
    align: str = "l"


class Table:
    """A ruled form table drawn row by row; each row's cells are recorded as one line."""

    def __init__(
        self,
        page: Page,
        x0: float,
        x1: float,
        y: float,
        style: Style = BODY,
        label: Style = LABEL,
        leading: float = 1.55,
        pad: float = 1.8,
    ) -> None:
        self.page, self.x0, self.x1, self.top, self.y = page, x0, x1, y, y
        self.style, self.label, self.leading, self.pad = style, label, leading, pad
        page.hline(x0, x1, y, 0.45)

    def row(self, cells: Sequence[Cell], height: float | None = None, min_pt: float = 6.5) -> float:
        page = self.page
        widths: list[float] = [c.width or 0.0 for c in cells]
        rest = (self.x1 - self.x0) - sum(widths)
        widths = [
            w if c.width else rest / sum(1 for c in cells if not c.width) for w, c in zip(widths, cells, strict=True)
        ]
        texts = [c.text if isinstance(c.text, list) else [c.text] for c in cells]
        styles = [c.style or self.style for c in cells]
        # Shrink a cell's type until its widest line fits (a printed form never wraps a value).
        for i, (ts, st) in enumerate(zip(texts, styles, strict=True)):
            pt = st.pt
            while any(page.measure(t, st.at(pt)) > widths[i] - 2 * self.pad for t in ts) and pt > min_pt:
                pt -= 0.25
            if any(page.measure(t, st.at(pt)) > widths[i] - 2 * self.pad + 0.5 for t in ts):
                raise ValueError(f"cell text does not fit in {widths[i]:.1f} mm: {ts!r}")
            styles[i] = st.at(pt)
        nlines = max(len(ts) for ts in texts)
        em = max(page.em(st) for st in styles)
        line_h = em * self.leading
        h = height or max(nlines * line_h + 2.2, em * 2.1)
        top = self.y
        # Single-line rows are centred; taller ones start at the top of the cell.
        first_base = top + h / 2 + em * 0.36 if nlines == 1 else top + 1.1 + line_h * 0.5 + em * 0.36
        x = self.x0
        for w, ts, st, cell in zip(widths, texts, styles, cells, strict=True):
            for k, t in enumerate(ts):
                base = first_base + k * line_h
                if cell.align == "c":
                    page.put(x + w / 2, base, t, st, "c")
                elif cell.align == "r":
                    page.put(x + w - self.pad, base, t, st, "r")
                else:
                    page.put(x + self.pad, base, t, st)
            x += w
            if x < self.x1 - 0.01:
                page.vline(x, top, top + h)
        for k in range(nlines):
            page.record(" ".join(ts[k] for ts in texts if k < len(ts) and ts[k]))
        self.y = top + h
        page.hline(self.x0, self.x1, self.y)
        return self.y

    def close(self) -> float:
        page = self.page
        page.hline(self.x0, self.x1, self.y, 0.45)
        page.vline(self.x0, self.top, self.y, 0.45)
        page.vline(self.x1, self.top, self.y, 0.45)
        return self.y


class Flow:
    """Running text over as many pages as it needs (contracts, records)."""

    def __init__(
        self,
        new_page: Callable[[], Page],
        top: float = 24.0,
        bottom: float = 274.0,
        left: float = 24.0,
        right: float = 186.0,
    ) -> None:
        self._new_page = new_page
        self.top, self.bottom, self.left, self.right = top, bottom, left, right
        self.pages: list[Page] = []
        self.page: Page
        self.y = 0.0
        self.break_page()

    def break_page(self) -> None:
        self.page = self._new_page()
        self.pages.append(self.page)
        self.y = self.top

    def need(self, h: float) -> None:
        if self.y + h > self.bottom:
            self.break_page()

    def space(self, mm: float) -> None:
        self.y += mm

    def para(self, text: str, style: Style = BODY, indent: int = 2, leading: float = 1.75, after: float = 0.6) -> None:
        em = self.page.em(style)
        lines = self.page.wrap(text, style, self.right - self.left, indent * em)
        for i, line in enumerate(lines):
            self.need(em * leading)
            self.y += em * leading
            self.page.say(self.left + (indent * em if i == 0 else 0), self.y, line, style)
        self.y += after

    def heading(self, text: str, style: Style, align: str = "c", before: float = 2.0, after: float = 2.0) -> None:
        em = self.page.em(style)
        self.need(em * 1.6 + before + 12)
        self.y += before + em
        x = (self.left + self.right) / 2 if align == "c" else self.left
        self.page.say(x, self.y, text, style, align)
        self.y += after

    def fields(
        self, pairs: Sequence[tuple[str, str]], style: Style = BODY, leading: float = 1.9, under: bool = True
    ) -> None:
        """Label: value lines with the value on an underline, as on a filled-in form."""
        em = self.page.em(style)
        for label, value in pairs:
            self.need(em * leading)
            self.y += em * leading
            w = self.page.measure(label, style)
            self.page.line(self.y, [(self.left, label, style), (self.left + w + 1.5, value, style)])
            if under:
                self.page.hline(self.left + w + 0.5, self.right, self.y + 1.2, 0.18)
