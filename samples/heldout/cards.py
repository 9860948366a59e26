"""M03 ID card copies and M05 business licences in editions other than the tuned-on ones."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from samples.facts import Company, Person
from samples.heldout.base import Doc, HCtx, HPage, row
from samples.heldout.fmt import date_as
from samples.page import INK, Page, Style
from samples.text import rmb_upper

CARD = (85.6, 54.0)


def _star(page: Page, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.382
        ang = -math.pi / 2 + k * math.pi / 5
        pts.append((page.pxf(cx + rad * math.cos(ang)), page.pxf(cy + rad * math.sin(ang))))
    page.draw.polygon(pts, fill=fill)


def _emblem(page: Page, cx: float, cy: float, r: float, colour: tuple[int, int, int]) -> None:
    """A plain stand-in for the national emblem: two rings, a large star and four small ones."""
    box = [page.pxf(cx - r), page.pxf(cy - r), page.pxf(cx + r), page.pxf(cy + r)]
    page.draw.ellipse(box, outline=colour, width=max(1, page.px(0.5)))
    inner = [page.pxf(cx - r * 0.82), page.pxf(cy - r * 0.82), page.pxf(cx + r * 0.82), page.pxf(cy + r * 0.82)]
    page.draw.ellipse(inner, outline=colour, width=max(1, page.px(0.25)))
    _star(page, cx, cy - r * 0.2, r * 0.32, colour)
    for k in range(4):
        ang = math.radians(200 + k * 30)
        _star(page, cx + r * 0.55 * math.cos(ang) + r * 0.3, cy - r * 0.2 + r * 0.45 * math.sin(ang), r * 0.1, colour)


def _card(ctx: HCtx, scale: float) -> HPage:
    card = HPage(round(ctx.dpi * scale), ctx.rng, size_mm=CARD, paper=(244, 246, 248))
    # A faint guilloche: a few thin waves, as the card's security print.
    for k in range(6):
        pts = [(card.pxf(x / 2), card.pxf(8 + k * 7 + 2.5 * math.sin(x / 9 + k))) for x in range(0, round(CARD[0] * 2))]
        card.draw.line(pts, fill=(214, 220, 228), width=1)
    return card


def _front(ctx: HCtx, p: Person, scale: float) -> HPage:
    c = _card(ctx, scale)
    lab = Style("sans", 7.2, (70, 88, 118))
    val = Style("sans", 8.6, INK)
    row(c, 10, [(6.5, "姓名", lab), (16.5, p.name, Style("sans-bold", 9.5, INK))])
    row(c, 16.5, [(6.5, "性别", lab), (16.5, p.sex, val), (27, "民族", lab), (36, p.ethnicity, val)])
    b = p.birth
    row(
        c,
        23,
        [
            (6.5, "出生", lab),
            (16.5, str(b.year), val),
            (25.8, "年", lab),
            (33.5, str(b.month), val, "r"),
            (34.2, "月", lab),
            (42, str(b.day), val, "r"),
            (42.7, "日", lab),
        ],
    )
    for i, part in enumerate(c.wrap(p.address, val, 35)):
        row(c, 29.5 + i * 4.3, [(6.5, "住址", lab) if i == 0 else (6.5, "", lab), (16.5, part, val)])
    number = Style("mono-bold", 10.2, INK)
    row(c, 47.5, [(6.5, "公民身份号码", lab), (27.5, p.id_number, number, "l", 0.35)])
    c.tag("alt_font")
    x0, y0, x1, y1 = (c.pxf(v) for v in (57, 7, 80, 38))
    c.draw.rectangle([x0, y0, x1, y1], fill=(230, 232, 236))
    head = (x1 - x0) * 0.23
    cx = (x0 + x1) / 2
    c.draw.ellipse([cx - head, y0 + (y1 - y0) * 0.15, cx + head, y0 + (y1 - y0) * 0.15 + 2.4 * head], fill=(84, 84, 90))
    c.draw.pieslice(
        [x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.66, x1 - (x1 - x0) * 0.05, y1 + (y1 - y0) * 0.55],
        180,
        360,
        fill=(66, 68, 76),
    )
    return c


def _back(ctx: HCtx, p: Person, scale: float, style: str) -> HPage:
    c = _card(ctx, scale)
    _emblem(c, 14, 14, 8.5, (176, 60, 50))
    row(c, 15, [(28, "中华人民共和国", Style("serif-bold", 11, INK), "l", 1.0)])
    row(c, 29, [(26, "居民身份证", Style("serif-bold", 18, INK), "l", 2.2)])
    lab = Style("sans", 7.5, (70, 88, 118))
    val = Style("sans", 8.6, INK)
    row(c, 42.5, [(16, "签发机关", lab), (31, p.id_issuer, val)])
    until = date_as(p.id_valid_until, style) if p.id_valid_until else "长期"
    row(c, 49, [(16, "有效期限", lab), (31, f"{date_as(p.id_valid_from, style)}-{until}", val)])
    return c


def _paste(page: HPage, card: HPage, x: float, y: float, tilt: float) -> None:
    mask = Image.new("L", card.image.size, 0)
    radius = card.px(3.0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, mask.width - 1, mask.height - 1], radius, fill=255)
    img = card.image.copy()
    ImageDraw.Draw(img).rounded_rectangle(
        [0, 0, img.width - 1, img.height - 1], radius, outline=(110, 110, 116), width=max(1, card.px(0.3))
    )
    img = img.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    mask = mask.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True)
    page.image.paste(img, (page.px(x), page.px(y)), mask)
    page.lines.extend(card.lines)
    page.tag(*card.layout)


def render_m03(ctx: HCtx) -> Doc:
    p = ctx.case.party(ctx.role)
    assert isinstance(p, Person)
    rng = ctx.rng
    page = ctx.page()
    doc = Doc([page])
    enlarged = ctx.variant % 2 == 1
    scale = 1.3 if enlarged else 1.0
    style = "dot"
    front = _front(ctx, p, scale)
    back = _back(ctx, p, scale, style)
    w = CARD[0] * scale
    x = 18 + rng.uniform(0, 8) if not enlarged else (210 - w) / 2 + rng.uniform(-6, 6)
    order = [back, front] if ctx.variant % 4 in (0, 1) else [front, back]
    y = 30 + rng.uniform(-4, 6)
    for card in order:
        _paste(page, card, x + rng.uniform(-3, 3), y, rng.uniform(-1.5, 1.5))
        y += CARD[1] * scale + 14 + rng.uniform(-3, 3)
    note = Style("serif", 12, (34, 34, 46))
    note_y = min(y + 8, 262)
    page.say(30, note_y, f"本复印件仅用于办理不动产登记，他用无效。{p.name}", note)
    page.signature(140, note_y + 14, 30, 10, len(p.name))
    page.box_stamp(158, note_y - 9, ["复印件与原件核对一致"], pt=10)
    doc.put("name", p.name)
    doc.put("id_number", p.id_number)
    doc.put("issue_date", p.id_valid_from.isoformat(), date_as(p.id_valid_from, style))
    if p.id_valid_until:
        doc.put("valid_until", p.id_valid_until.isoformat(), date_as(p.id_valid_until, style))
    return doc


# -- M05 --------------------------------------------------------------------------------------------


def _qr(page: Page, x: float, y: float, size: float) -> None:
    n = 25
    cell = page.pxf(size) / n
    ox, oy = page.pxf(x), page.pxf(y)
    for i in range(n):
        for j in range(n):
            finder = (i < 8 and j < 8) or (i >= n - 8 and j < 8) or (i < 8 and j >= n - 8)
            if not finder and page.rng.random() < 0.48:
                page.draw.rectangle([ox + i * cell, oy + j * cell, ox + (i + 1) * cell, oy + (j + 1) * cell], fill=INK)
    for fi, fj in ((0, 0), (n - 7, 0), (0, n - 7)):
        fx, fy = ox + fi * cell, oy + fj * cell
        page.draw.rectangle([fx, fy, fx + 7 * cell, fy + 7 * cell], fill=INK)
        page.draw.rectangle([fx + cell, fy + cell, fx + 6 * cell, fy + 6 * cell], fill=(255, 255, 255))
        page.draw.rectangle([fx + 2 * cell, fy + 2 * cell, fx + 5 * cell, fy + 5 * cell], fill=INK)


def _frame(page: Page, colour: tuple[int, int, int]) -> None:
    w, h = page.w_mm, page.h_mm
    page.rect(9, 9, w - 9, h - 9, 1.6, colour)
    page.rect(12, 12, w - 12, h - 12, 0.35, colour)
    for k in range(int((w - 30) / 5)):  # a row of small rings between the frames, top and bottom
        for y in (10.5, h - 10.5):
            cx = 15 + k * 5
            page.draw.ellipse(
                [page.pxf(cx - 0.8), page.pxf(y - 0.8), page.pxf(cx + 0.8), page.pxf(y + 0.8)], outline=colour
            )


def _capital(co: Company, rng_pick: int) -> str:
    if rng_pick % 2:
        return f"{int(co.capital_yuan / 10000)}万元人民币"
    return f"人民币{rmb_upper(co.capital_yuan)}"


def _licence_new(ctx: HCtx, co: Company, doc: Doc) -> HPage:
    """The landscape edition: code top left (label above it), two columns of items, authority bottom right."""
    page = ctx.page(size=(297.0, 210.0))
    doc.pages = [page]
    page.tag("landscape", "two_column", "label_below", "stamp_over_value")
    rng = ctx.rng
    _frame(page, (168, 118, 64))
    lab = Style("sans-bold", 11, (40, 40, 48))
    val = Style("serif", 11.5, INK)
    row(page, 28, [(24, "统一社会信用代码", Style("sans", 10, (40, 40, 48)))])
    _emblem(page, 148.5, 30, 11, (176, 60, 50))
    _qr(page, 246, 20, 24)
    row(page, 34.5, [(24, co.uscc, Style("sans-bold", 12.5, INK))])
    doc.put("uscc", co.uscc)
    row(
        page,
        56,
        [
            (148.5, "营业执照", Style("serif-bold", 30, INK), "c", 6),
        ],
    )
    row(
        page,
        65,
        [
            (148.5, "（副本）", Style("serif", 13, INK), "c"),
            (275, f"编号 S{rng.randint(10**10, 10**11 - 1)}", Style("sans", 8.5, INK), "r"),
        ],
    )
    branch = co.rep_title == "行长"
    left = [
        ("名　　称", co.org_name),
        ("类　　型", co.company_type),
        ("负 责 人" if branch else "法定代表人", co.legal_rep.name),
        ("经营范围", co.scope),
    ]
    doc.put("org_name", co.org_name)
    doc.put("legal_rep", co.legal_rep.name)
    est_style = ("cn", "cn_numeral")[ctx.rng.randrange(2)]
    right = [
        ("成立日期", date_as(co.established, est_style)),
        ("营业期限", f"{date_as(co.established, est_style)}至长期"),
        ("营业场所" if branch else "住　　所", co.address),
    ]
    if not branch:
        right.insert(0, ("注册资本", _capital(co, rng.randrange(2))))
    _two_columns(page, 80, left, right, lab, val)
    y = 172
    note = Style("serif", 13, (30, 30, 46))
    row(page, y, [(40, "与原件一致", note), (190, "登记机关", lab)])
    page.seal(54, y - 5, co.org_name, "", 38, opacity=0.7)
    issued_style = ("cn", "cn_numeral", "cn_short")[ctx.rng.randrange(3)]
    issued = date_as(co.licence_date, issued_style)
    row(page, y + 16, [(232, issued, Style("serif", 12, INK), "c")])
    if issued_style == "cn_numeral":
        page.tag("numeral_date")
    doc.put("issue_date", co.licence_date.isoformat(), issued)
    page.seal(232, y + 10, co.authority, "", 40)
    row(
        page,
        194,
        [
            (24, "国家企业信用信息公示系统网址：http://www.gsxt.gov.cn", Style("serif", 7.5, INK)),
            (273, "国家市场监督管理总局监制", Style("serif", 7.5, INK), "r"),
        ],
    )
    return page


def _two_columns(
    page: HPage,
    y: float,
    left: list[tuple[str, str]],
    right: list[tuple[str, str]],
    lab: Style,
    val: Style,
) -> float:
    """Two label/value columns; each baseline's pieces (left, then right) are one recorded line."""
    step = 7.0

    def lines(items: list[tuple[str, str]], width: float) -> list[tuple[str, str, Style]]:
        out: list[tuple[str, str, Style]] = []
        for label, value in items:
            st = val.at(10) if len(value) > 40 else val
            for i, part in enumerate(page.wrap(value, st, width)):
                out.append((label if i == 0 else "", part, st))
            out.append(("", "", val))
        return out

    lcol = lines(left, 100)
    rcol = lines(right, 78)
    for k in range(max(len(lcol), len(rcol))):
        segs: list[tuple] = []
        if k < len(lcol) and lcol[k][1]:
            segs += [(24, lcol[k][0], lab), (50, lcol[k][1], lcol[k][2])]
        if k < len(rcol) and rcol[k][1]:
            segs += [(166, rcol[k][0], lab), (192, rcol[k][1], rcol[k][2])]
        if segs:
            row(page, y, segs)
        y += step if segs else step * 0.45
    return y


def _licence_old(ctx: HCtx, co: Company, doc: Doc) -> HPage:
    """The portrait edition of the 三证合一 years: 注册号 and 统一社会信用代码 both printed, one column."""
    page = ctx.page(paper=(255, 253, 246))
    doc.pages = [page]
    page.tag("stamp_over_value", "numeral_date")
    rng = ctx.rng
    _frame(page, (150, 104, 60))
    _emblem(page, 105, 36, 12, (176, 60, 50))
    row(page, 66, [(105, "营业执照", Style("serif-bold", 32, INK), "c", 8)])
    row(page, 76, [(105, "（副　本）", Style("serif", 13, INK), "c")])
    code_style = Style("sans", 11, INK)
    reg_no = co.uscc[2:8] + "".join(str(rng.randint(0, 9)) for _ in range(9))
    row(page, 88, [(186, f"注册号 {reg_no}", code_style, "r")])
    row(page, 94.5, [(186, f"统一社会信用代码 {co.uscc}", code_style, "r")])
    doc.put("uscc", co.uscc)
    lab = Style("serif-bold", 12, INK)
    val = Style("serif", 12, INK)
    branch = co.rep_title == "行长"
    est_style = ("cn", "cn_numeral")[rng.randrange(2)]
    items = [
        ("名　　称", co.org_name),
        ("类　　型", co.company_type),
        ("营业场所" if branch else "住　　所", co.address),
        ("负 责 人" if branch else "法定代表人", co.legal_rep.name),
    ]
    if not branch:
        items.append(("注册资本", _capital(co, rng.randrange(2))))
    items += [
        ("成立日期", date_as(co.established, est_style)),
        ("营业期限", f"{date_as(co.established, est_style)}至长期"),
        ("经营范围", co.scope),
    ]
    doc.put("org_name", co.org_name)
    doc.put("legal_rep", co.legal_rep.name)
    y = 112.0
    for label, value in items:
        st = val.at(10.5) if label == "经营范围" else val
        for i, part in enumerate(page.wrap(value, st, 186 - 58)):
            row(page, y, [(26, label if i == 0 else "", lab), (58, part, st)])
            y += 6.6 if label == "经营范围" else 7.2
        y += 3.0
    y = max(y + 14, 238)
    note = Style("serif", 13, (30, 30, 46))
    row(page, y, [(34, "与原件一致", note), (120, "登记机关", lab)])
    page.seal(48, y - 5, co.org_name, "", 38, opacity=0.7)
    issued = date_as(co.licence_date, "cn_numeral")
    row(page, y + 14, [(158, issued, val, "c")])
    doc.put("issue_date", co.licence_date.isoformat(), issued)
    page.seal(158, y + 6, co.authority, "", 40)
    page.say(105, 278, "中华人民共和国国家工商行政管理总局监制", Style("serif", 8, INK), "c")
    return page


def render_m05(ctx: HCtx) -> Doc:
    co = ctx.case.party(ctx.role)
    assert isinstance(co, Company)
    doc = Doc([])
    if ctx.variant % 2 == 0:
        _licence_new(ctx, co, doc)
    else:
        _licence_old(ctx, co, doc)
    return doc
