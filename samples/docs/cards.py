"""M03 居民身份证 (a photocopy of both sides on A4) and M05 营业执照 (a sealed copy of the 副本)."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from samples.docs.base import Ctx, Rendered
from samples.facts import Company, Person
from samples.page import BODY, FORM_INK, INK, Page, Style
from samples.text import cn_date, dot_date, rmb_upper

CARD = (85.6, 54.0)
CARD_LABEL = Style("sans", 6.6, (52, 96, 158))
CARD_VALUE = Style("sans", 8.6, INK)


def _guilloche(page: Page, color: tuple[int, int, int]) -> None:
    """The fine wavy security pattern printed under the card text."""
    rng = page.rng
    w, h = page.image.size
    for k in range(14):
        amp = rng.uniform(0.04, 0.12) * h
        freq = rng.uniform(1.5, 3.5)
        phase = rng.uniform(0, 2 * math.pi)
        y0 = h * (k + 0.5) / 14
        pts = [(x, y0 + amp * math.sin(phase + freq * 2 * math.pi * x / w)) for x in range(0, w + 8, 8)]
        page.draw.line(pts, fill=color, width=max(1, round(page.dpi / 300)))


def _emblem(page: Page, cx: float, cy: float, r: float) -> None:
    """A simplified national emblem: red disc, gold ring and stars."""
    d = page.draw
    x, y, rp = page.pxf(cx), page.pxf(cy), page.pxf(r)
    d.ellipse([x - rp, y - rp, x + rp, y + rp], fill=(200, 40, 40), outline=(214, 170, 60), width=max(2, round(rp / 9)))
    for i, (dx, dy, s) in enumerate(
        [(-0.35, -0.3, 0.28), (0.05, -0.55, 0.1), (0.22, -0.38, 0.1), (0.25, -0.12, 0.1), (0.08, 0.05, 0.1)]
    ):
        sx, sy, sr = x + dx * rp, y + dy * rp, s * rp
        pts = []
        for k in range(10):
            rad = sr if k % 2 == 0 else sr * 0.4
            ang = -math.pi / 2 + k * math.pi / 5 + i * 0.2
            pts.append((sx + rad * math.cos(ang), sy + rad * math.sin(ang)))
        d.polygon(pts, fill=(240, 200, 70))
    d.rectangle([x - rp * 0.5, y + rp * 0.25, x + rp * 0.5, y + rp * 0.5], fill=(240, 200, 70))


def _card_base(ctx: Ctx) -> Page:
    card = Page(ctx.dpi, ctx.rng, size_mm=CARD, paper=(236, 240, 244))
    _guilloche(card, (214, 222, 232))
    return card


def _front(ctx: Ctx, p: Person) -> Page:
    c = _card_base(ctx)
    c.line(10.5, [(8, "姓名", CARD_LABEL), (18, p.name, CARD_VALUE.at(10))])
    c.line(
        17.5,
        [(8, "性别", CARD_LABEL), (18, p.sex, CARD_VALUE), (30, "民族", CARD_LABEL), (40, p.ethnicity, CARD_VALUE)],
    )
    b = p.birth
    c.line(
        24.5,
        [
            (8, "出生", CARD_LABEL),
            (18, str(b.year), CARD_VALUE),
            (27.5, "年", CARD_LABEL),
            (32.5, str(b.month), CARD_VALUE, "r"),
            (33.5, "月", CARD_LABEL),
            (40.5, str(b.day), CARD_VALUE, "r"),
            (41.5, "日", CARD_LABEL),
        ],
    )
    addr = c.wrap(p.address, CARD_VALUE, 36.5)
    for i, part in enumerate(addr):
        segs = [(8, "住址", CARD_LABEL)] if i == 0 else []
        c.line(31.5 + i * 4.6, [*segs, (18, part, CARD_VALUE)])
    c.line(48.5, [(8, "公民身份号码", CARD_LABEL), (29, p.id_number, Style("sans", 10.5, INK))])
    # The portrait: a light field with a grey head-and-shoulders silhouette.
    x0, y0, x1, y1 = (c.pxf(v) for v in (56, 6, 80, 37))
    c.draw.rectangle([x0, y0, x1, y1], fill=(226, 230, 236))
    cx = (x0 + x1) / 2
    hr = (x1 - x0) * 0.22
    c.draw.ellipse([cx - hr, y0 + (y1 - y0) * 0.18, cx + hr, y0 + (y1 - y0) * 0.18 + 2.5 * hr], fill=(92, 92, 96))
    c.draw.chord(
        [x0 + (x1 - x0) * 0.08, y0 + (y1 - y0) * 0.68, x1 - (x1 - x0) * 0.08, y1 + (y1 - y0) * 0.5],
        180,
        360,
        fill=(70, 72, 80),
    )
    return c


def _back(ctx: Ctx, p: Person) -> Page:
    c = _card_base(ctx)
    _emblem(c, 15, 15, 8)
    c.say(30, 16, "中华人民共和国", Style("sans-bold", 11.5, INK), tracking=1.2)
    c.say(27, 30, "居民身份证", Style("serif-bold", 19, INK), tracking=2.6)
    c.line(43, [(17, "签发机关", CARD_LABEL), (32, p.id_issuer, CARD_VALUE)])
    until = dot_date(p.id_valid_until) if p.id_valid_until else "长期"
    c.line(49.5, [(17, "有效期限", CARD_LABEL), (32, f"{dot_date(p.id_valid_from)}-{until}", CARD_VALUE)])
    return c


def _paste_card(page: Page, card: Page, x: float, y: float, tilt: float) -> None:
    """Lay a card on the copier glass: rounded corners, a little crooked, a grey edge."""
    mask = Image.new("L", card.image.size, 0)
    radius = card.px(3.2)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, mask.width - 1, mask.height - 1], radius, fill=255)
    img = card.image.copy()
    ImageDraw.Draw(img).rounded_rectangle(
        [0, 0, img.width - 1, img.height - 1], radius, outline=(120, 120, 124), width=max(1, card.px(0.25))
    )
    img = img.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    mask = mask.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True)
    page.image.paste(img, (page.px(x), page.px(y)), mask)
    page.lines.extend(card.lines)


def render_m03(ctx: Ctx) -> Rendered:
    p = ctx.case.party(ctx.role)
    assert isinstance(p, Person)
    page = ctx.page()
    rng = ctx.rng
    x = (210 - CARD[0]) / 2 + rng.uniform(-12, 12)
    _paste_card(page, _front(ctx, p), x, 38 + rng.uniform(-6, 6), rng.uniform(-1.2, 1.2))
    _paste_card(page, _back(ctx, p), x + rng.uniform(-4, 4), 112 + rng.uniform(-6, 6), rng.uniform(-1.2, 1.2))
    note_y = 196 + rng.uniform(-8, 8)
    page.say(52, note_y, "此复印件仅供办理不动产登记使用", BODY.at(13).ink((30, 30, 40)))
    page.signature(120, note_y + 16, 30, 10, len(p.name))
    fields = {"name": p.name, "id_number": p.id_number, "issue_date": p.id_valid_from.isoformat()}
    if p.id_valid_until:
        fields["valid_until"] = p.id_valid_until.isoformat()
    return Rendered([page], fields)


def _qr(page: Page, x: float, y: float, size: float) -> None:
    """A QR-code-like block (random modules with three finder squares)."""
    n = 29
    cell = page.pxf(size) / n
    ox, oy = page.pxf(x), page.pxf(y)
    d = page.draw
    for i in range(n):
        for j in range(n):
            if page.rng.random() < 0.5:
                d.rectangle([ox + i * cell, oy + j * cell, ox + (i + 1) * cell, oy + (j + 1) * cell], fill=INK)
    for fi, fj in ((0, 0), (n - 7, 0), (0, n - 7)):
        fx, fy = ox + fi * cell, oy + fj * cell
        d.rectangle([fx - cell, fy - cell, fx + 8 * cell, fy + 8 * cell], fill=(255, 255, 255))
        d.rectangle([fx, fy, fx + 7 * cell, fy + 7 * cell], fill=INK)
        d.rectangle([fx + cell, fy + cell, fx + 6 * cell, fy + 6 * cell], fill=(255, 255, 255))
        d.rectangle([fx + 2 * cell, fy + 2 * cell, fx + 5 * cell, fy + 5 * cell], fill=INK)


def _border(page: Page) -> None:
    brown = (150, 110, 60)
    page.rect(11, 11, 199, 286, 1.2, brown)
    page.rect(13.5, 13.5, 196.5, 283.5, 0.3, brown)
    for k in range(0, 188 - 16, 4):  # a band of small lozenges between the two frames
        for y in (12.25, 284.75):
            cx = 15 + k
            page.draw.polygon(
                [
                    (page.pxf(cx), page.pxf(y - 0.8)),
                    (page.pxf(cx + 1.2), page.pxf(y)),
                    (page.pxf(cx), page.pxf(y + 0.8)),
                    (page.pxf(cx - 1.2), page.pxf(y)),
                ],
                outline=brown,
            )


def render_m05(ctx: Ctx) -> Rendered:
    co = ctx.case.party(ctx.role)
    assert isinstance(co, Company)
    page = ctx.page()
    _border(page)
    _emblem(page, 105, 32, 11)
    page.say(105, 62, "营业执照", Style("serif-bold", 34, INK), "c", tracking=7)
    page.say(105, 74, "（副 本）", Style("serif", 14, INK), "c")
    label = Style("sans-bold", 11.5, FORM_INK)
    value = Style("serif", 11.5, INK)
    page.line(90, [(24, "统一社会信用代码", label), (66, co.uscc, Style("sans", 12.5, INK))])
    _qr(page, 162, 78, 24)
    is_branch = co.rep_title == "行长"
    rows = [
        ("名称", co.org_name),
        ("类型", co.company_type),
        ("负责人" if is_branch else "法定代表人", co.legal_rep.name),
        ("注册资本", rmb_upper(co.capital_yuan)),
        ("成立日期", cn_date(co.established)),
        ("营业期限", f"{cn_date(co.established)} 至 长期"),
        ("住所", co.address),
    ]
    if is_branch:
        rows.pop(3)
    y = 112.0
    for lab, val in rows:
        lines = page.wrap(val, value, 196 - 56 - 14)
        for i, part in enumerate(lines):
            page.line(y, [(24, lab if i == 0 else "", label), (56, part, value)])
            y += 6.8
        y += 3.4
    scope = page.wrap(co.scope, value.at(10.5), 196 - 56 - 14)
    for i, part in enumerate(scope):
        page.line(y, [(24, "经营范围" if i == 0 else "", label), (56, part, value.at(10.5))])
        y += 6.2
    # The copy is certified by the company itself: its seal and a handwritten note.
    note_y = max(y + 12, 226)
    page.say(30, note_y, "此复印件与原件一致", Style("serif", 13, (30, 30, 40)))
    page.seal(60, note_y - 4, co.org_name, "", 40)
    page.say(118, 250, "登记机关", label)
    page.seal(156, 246, co.authority, "", 42)
    page.say(156, 262, cn_date(co.licence_date, pad=False), value, "c")
    page.line(
        272,
        [
            (20, "国家企业信用信息公示系统网址：http://www.gsxt.gov.cn", BODY.at(7.5)),
            (190, "国家市场监督管理总局监制", BODY.at(7.5), "r"),
        ],
    )
    page.say(
        105, 277.5, "市场主体应当于每年1月1日至6月30日通过国家企业信用信息公示系统报送公示年度报告。", BODY.at(7.5), "c"
    )
    fields = {
        "uscc": co.uscc,
        "org_name": co.org_name,
        "legal_rep": co.legal_rep.name,
        "issue_date": co.licence_date.isoformat(),
    }
    return Rendered([page], fields)
