"""Documents issued by an office, other editions: M08 不动产权证书, M09 不动产登记证明, M12 tax receipts."""

from __future__ import annotations

from ocr.codes import format_spaced
from samples.facts import Company
from samples.heldout.base import Doc, HCtx, HPage, full_width, name_of, party, row
from samples.heldout.fmt import date_as, upper, wan
from samples.page import INK, Cell, Style, Table
from samples.text import money

REGISTRAR = "济南市自然资源和规划局"
GREEN = (34, 78, 62)


def _number_line(page: HPage, y: float, number: str, style: Style) -> str:
    """鲁（2021）济南市 不动产权第 0385913 号: the pre-printed words with the filled-in parts spaced off."""
    head, _, rest = full_width(number).partition("）")
    place, _, tail = rest.partition("不动产")
    kind, _, digits = tail.partition("第")
    printed = f"{head}） {place} 不动产{kind}第 {digits[:-1]} 号"
    row(page, y, [(24, printed, style)])
    return printed


def _registrar_block(page: HPage, y: float, when: str, style: Style) -> None:
    """The registration office's line with the date under its seal."""
    row(page, y, [(118, "登记机构（章）", style)])
    row(page, y + 11, [(150, when, style, "c")])
    page.seal(150, y + 5, REGISTRAR, "不动产登记专用章", 40)
    page.tag("stamp_over_value")


def render_m08(ctx: HCtx) -> Doc:
    case = ctx.case
    prop = case.property
    page = ctx.page(paper=(252, 251, 244))
    doc = Doc([page])
    label = Style("sans", 10.5, GREEN)
    value = Style("serif", 10.5, INK)
    printed = _number_line(page, 28, prop.cert_number, Style("serif", 13.5, INK))
    doc.put("cert_number", prop.cert_number, printed)
    holder = case.holder_name
    t = Table(page, 20, 190, 34, value, label, leading=1.7, pad=2.0)
    lw = 32
    spaced = format_spaced(prop.unit_number)
    use = f"{prop.land_use}/{prop.house_use}"
    page.tag("table_label_left")
    for lab, val in (
        ("权利人", holder),
        ("共有情况", "单独所有"),
        ("坐落", prop.location),
        ("不动产单元号", spaced),
        ("权利类型", prop.right_type),
        ("权利性质", prop.right_nature),
        ("用途", use),
    ):
        t.row([Cell(lab, lw, label, "c"), Cell(val)], height=10.5)
    doc.put("right_holder", holder)
    doc.put("location", prop.location)
    doc.put("unit_number", prop.unit_number, spaced)
    doc.put("use", use)
    area = f"{prop.area_m2:.2f}"
    if ctx.variant % 2 == 0:
        t.row(
            [Cell("面积(m²)①", lw, label, "c"), Cell(f"共有宗地面积{prop.land_area_m2:.2f}/房屋建筑面积{area}")],
            height=10.5,
        )
        doc.put("area_m2", area, area, "m²")
        page.tag("unit_in_label", "footnote")
        term = f"{date_as(prop.land_from, 'cn')}起{date_as(prop.land_until, 'cn')}止"
        doc.put("valid_until", prop.land_until.isoformat(), date_as(prop.land_until, "cn"))
    else:
        heads = ["宗地面积", "房屋建筑面积", "专有建筑面积", "分摊建筑面积"]
        vals = [f"{prop.land_area_m2:.2f}㎡", f"{area}㎡", f"{prop.exclusive_m2:.2f}㎡", f"{prop.shared_m2:.2f}㎡"]
        w = (170 - lw) / 4
        t.row(
            [Cell("面积", lw, label, "c")]
            + [Cell(h, w, label, "c") for h in heads[:3]]
            + [Cell(heads[3], None, label, "c")],
            height=8.5,
        )
        t.row([Cell("", lw)] + [Cell(v, w, value, "c") for v in vals[:3]] + [Cell(vals[3], None, value, "c")], height=9)
        doc.put("area_m2", area, f"{area}㎡")
        page.tag("table_header_above")
        term = f"{date_as(prop.land_from, 'dot')}至{date_as(prop.land_until, 'dot')}"
        doc.put("valid_until", prop.land_until.isoformat(), date_as(prop.land_until, "dot"))
    t.row([Cell("使用期限", lw, label, "c"), Cell(f"国有建设用地使用权 {term}")], height=10.5)
    other = [
        f"房屋结构：{prop.structure}；总层数：{prop.floors_total}；所在层：{prop.floor}",
        f"专有建筑面积{prop.exclusive_m2:.2f}平方米，分摊建筑面积{prop.shared_m2:.2f}平方米",
        f"竣工年份：{prop.completed_year}",
    ]
    t.row([Cell("权利其他状况", lw, label, "c"), Cell(other)], height=30)
    t.row(
        [Cell("附记", lw, label, "c"), Cell([f"业务编号：{prop.cert_date:%Y}{ctx.rng.randint(0, 99999999):08d}"])],
        height=16,
    )
    y = t.close()
    if ctx.variant % 2 == 0:
        page.say(
            20,
            y + 6,
            "① 共有宗地面积为本宗地的总面积，房屋建筑面积为本不动产单元的建筑面积。",
            Style("serif", 8.5, GREEN),
        )
        y += 6
    when = date_as(prop.cert_date, ("cn", "cn_short")[ctx.rng.randrange(2)])
    _registrar_block(page, y + 22, when, Style("serif", 11, INK))
    doc.put("issue_date", prop.cert_date.isoformat(), when)
    page.say(186, 282, f"No.{ctx.rng.randint(10**9, 10**10 - 1)}", Style("mono", 10, (176, 50, 44)), "r")
    return doc


def render_m09(ctx: HCtx) -> Doc:
    case = ctx.case
    prop, loan = case.property, case.loan
    assert loan and loan.proof_date
    bank, owner = case.party("mortgagee"), case.party("mortgagor")
    page = ctx.page(paper=(252, 251, 244))
    doc = Doc([page])
    label = Style("sans", 10.5, GREEN)
    value = Style("serif", 10.5, INK)
    page.say(105, 20, "不动产登记证明", Style("serif-bold", 18, INK), "c", tracking=2)
    printed = _number_line(page, 32, loan.proof_number, Style("serif", 13, INK))
    doc.put("cert_number", loan.proof_number, printed)
    t = Table(page, 20, 190, 38, value, label, leading=1.7, pad=2.0)
    lw = 36
    spaced = format_spaced(prop.unit_number)
    page.tag("table_label_left", "amount_in_wan")
    for lab, val in (
        ("证明权利或事项", "抵押权"),
        ("权利人（申请人）", name_of(bank)),
        ("义务人", name_of(owner)),
        ("坐落", prop.location),
        ("不动产单元号", spaced),
    ):
        t.row([Cell(lab, lw, label, "c"), Cell(val)], height=11)
    amount = wan(loan.amount_yuan)
    other = [
        "抵押方式：一般抵押",
        f"担保主债权数额：{amount}万元",
        f"债务履行期间：{date_as(loan.start, 'dot')}—{date_as(loan.end, 'dot')}",
        f"抵押物权证号：{full_width(prop.cert_number)}",
    ]
    t.row([Cell("其他", lw, label, "c"), Cell(other)], height=36)
    t.row([Cell("附记", lw, label, "c"), Cell([f"主合同编号：{full_width(loan.loan_contract)}"])], height=16)
    y = t.close()
    when = date_as(loan.proof_date, "cn")
    _registrar_block(page, y + 26, when, Style("serif", 11, INK))
    page.say(186, 282, f"No.{ctx.rng.randint(10**9, 10**10 - 1)}", Style("mono", 10, (176, 50, 44)), "r")
    doc.put("right_holder", name_of(bank))
    doc.put("mortgagee", name_of(bank))
    doc.put("obligor", name_of(owner))
    doc.put("mortgagor", name_of(owner))
    doc.put("location", prop.location)
    doc.put("unit_number", prop.unit_number, spaced)
    doc.put("loan_amount_yuan", f"{loan.amount_yuan:.2f}", f"{amount}万元")
    doc.put("issue_date", loan.proof_date.isoformat(), when)
    return doc


# -- M12 ---------------------------------------------------------------------------------------------


def _payer_ids(doc: Doc, payer) -> None:
    if isinstance(payer, Company):
        doc.put("org_name", payer.org_name)
        doc.put("uscc", payer.uscc)
    else:
        doc.put("name", payer.name)
        doc.put("id_number", payer.id_number)


def _certificate(ctx: HCtx, doc: Doc) -> HPage:
    """税收完税证明 in its table edition: identity row, a header row over the tax row, the total in capitals."""
    case = ctx.case
    tax, prop, sale = case.tax, case.property, case.sale
    assert tax
    payer = case.party("buyer")
    blue = (30, 56, 110)
    page = ctx.page(paper=(250, 252, 255))
    doc.pages = [page]
    page.tag("table_label_left", "table_header_above", "unit_in_label", "footnote", "stamp_over_value", "alt_font")
    lab = Style("sans", 9, blue)
    val = Style("mono", 9.5, INK)
    page.say(105, 24, "中华人民共和国", Style("serif-bold", 15, blue), "c", tracking=3)
    page.say(105, 34, "税 收 完 税 证 明", Style("serif-bold", 20, blue), "c")
    row(page, 43, [(186, f"No {tax.voucher_number}", Style("mono", 10.5, (170, 40, 40)), "r")])
    issued_style = ("cn", "iso", "cn_short")[ctx.rng.randrange(3)]
    issued = date_as(tax.paid, issued_style)
    row(page, 50, [(20, "填发日期：", lab), (38, issued, val), (100, "税务机关：", lab), (118, tax.office, val)])
    doc.put("issue_date", tax.paid.isoformat(), issued)
    t = Table(page, 18, 192, 54, val, lab, leading=1.6, pad=1.6)
    t.row(
        [
            Cell("*纳税人识别号", 28, lab, "c"),
            Cell(payer.uscc if isinstance(payer, Company) else payer.id_number, 56),
            Cell("*纳税人名称", 26, lab, "c"),
            Cell(name_of(payer)),
        ],
        height=10,
    )
    _payer_ids(doc, payer)
    heads = ["原凭证号", "税种", "品目名称", "税款所属时期", "入（退）库日期", "实缴（退）金额（元）"]
    widths = [36, 16, 22, 40, 26, None]
    t.row([Cell(h, w, lab, "c") for h, w in zip(heads, widths, strict=True)], height=10)
    period = f"{tax.paid:%Y-%m}-01至{date_as(tax.paid, 'iso')}"
    amount = f"{tax.amount_yuan:.2f}"
    values = [tax.original_voucher, "契税", "房屋买卖", period, date_as(tax.paid, "iso"), amount]
    t.row([Cell(v, w, val, "c") for v, w in zip(values, widths, strict=True)], height=11)
    doc.put("tax_amount_yuan", amount, amount, "元")
    capitals = upper(tax.amount_yuan)
    t.row(
        [
            Cell("金额合计（大写）", 36, lab, "c"),
            Cell(capitals, 102),
            Cell(f"¥{money(tax.amount_yuan)}", None, val, "r"),
        ],
        height=10,
    )
    page.tag("amount_in_capitals")
    notes = []
    if ctx.variant % 4 in (0, 1):
        notes.append(f"房屋坐落：{prop.location}")
        doc.put("location", prop.location)
    if sale and ctx.variant % 4 in (0, 2):
        notes.append(f"计税金额：{money(tax.base_yuan)}元；合同编号：{sale.contract_number}")
        doc.put("price_yuan", f"{tax.base_yuan:.2f}", money(tax.base_yuan) + "元")
        doc.put("contract_number", sale.contract_number)
    if not notes:
        notes.append("契税申报：存量房/新建商品房交易")
    t.row(
        [
            Cell("税务机关（盖章）", 36, lab, "c"),
            Cell(f"填票人：{tax.clerk}", 50, val),
            Cell("备注", 14, lab, "c"),
            Cell(notes, None, val.at(8.5)),
        ],
        height=24,
    )
    y = t.close()
    # The office seal lands on the tax row's date and amount, as it often does.
    page.seal(150, 82, tax.office, "征税专用章", 36)
    page.say(18, y + 6, "* 纳税人识别号、纳税人名称以税务登记信息为准。", Style("serif", 8, blue))
    page.say(105, y + 16, "妥善保管  手写无效", Style("sans", 10, blue), "c")
    return page


def _payment_slip(ctx: HCtx, doc: Doc) -> HPage:
    """税收缴款书（税务收现专用）: the payer and budget blocks side by side, the tax lines under a header row."""
    case = ctx.case
    tax, prop = case.tax, case.property
    assert tax
    payer = case.party("buyer")
    ink = (26, 96, 64)
    page = ctx.page(paper=(248, 252, 246))
    doc.pages = [page]
    page.tag("table_label_left", "table_header_above", "two_column", "stamp_over_value", "amount_in_capitals")
    lab = Style("sans", 8.5, ink)
    val = Style("serif", 9.5, INK)
    page.say(105, 24, "中华人民共和国", Style("serif-bold", 13, ink), "c", tracking=2)
    page.say(105, 33, "税收缴款书（税务收现专用）", Style("serif-bold", 17, ink), "c")
    row(
        page,
        41,
        [(186, f"（{tax.paid:%Y}）鲁地缴电 {tax.voucher_number[-10:]}", Style("mono", 9.5, (170, 40, 40)), "r")],
    )
    issued = date_as(tax.paid, ("cn", "dot")[ctx.rng.randrange(2)])
    row(
        page,
        48,
        [
            (18, "登记注册类型：", lab),
            (40, "其他", val),
            (70, "填发日期：", lab),
            (88, issued, val),
            (130, "征收机关：", lab),
            (147, tax.office.removeprefix("国家税务总局"), val.at(8.5)),
        ],
    )
    doc.put("issue_date", tax.paid.isoformat(), issued)
    t = Table(page, 18, 192, 52, val, lab, leading=1.55, pad=1.4)
    code = payer.uscc if isinstance(payer, Company) else payer.id_number
    left, key, mid = 22, 14, 51
    t.row(
        [
            Cell("缴款人", left, lab, "c"),
            Cell("代　码", key, lab, "c"),
            Cell(code, mid),
            Cell("预算科目", left, lab, "c"),
            Cell("编　码", key, lab, "c"),
            Cell("101090101"),
        ],
        height=9,
    )
    t.row(
        [
            Cell("", left),
            Cell("全　称", key, lab, "c"),
            Cell(name_of(payer), mid),
            Cell("", left),
            Cell("名　称", key, lab, "c"),
            Cell("契税"),
        ],
        height=9,
    )
    t.row(
        [
            Cell("", left),
            Cell("开户银行", key, lab, "c"),
            Cell("", mid),
            Cell("", left),
            Cell("级　次", key, lab, "c"),
            Cell("地方级"),
        ],
        height=9,
    )
    _payer_ids(doc, payer)
    heads = ["品目名称", "课税数量", "计税金额或销售收入", "税率或单位税额", "已缴或扣除额", "实缴金额"]
    widths = [26, 18, 38, 28, 28, None]
    t.row([Cell(h, w, lab, "c") for h, w in zip(heads, widths, strict=True)], height=9)
    base = money(tax.base_yuan)
    amount = money(tax.amount_yuan)
    values = ["房屋买卖", "1", base, f"{tax.rate_pct.normalize()}%", "0.00", amount]
    t.row([Cell(v, w, val, "c") for v, w in zip(values, widths, strict=True)], height=10)
    doc.put("price_yuan", f"{tax.base_yuan:.2f}", base)
    doc.put("tax_amount_yuan", f"{tax.amount_yuan:.2f}", amount)
    t.row(
        [
            Cell("金额合计", 26, lab, "c"),
            Cell(f"（大写）{upper(tax.amount_yuan)}", 112),
            Cell(f"¥{amount}", None, val, "r"),
        ],
        height=10,
    )
    t.row([Cell("备注", 26, lab, "c"), Cell(f"房屋坐落：{prop.location}")], height=9)
    doc.put("location", prop.location)
    t.row(
        [
            Cell(["缴款单位（人）", "（盖章）", "经办人（章）"], 44, lab, "c"),
            Cell(["税务机关", "（盖章）", f"填票人 {tax.clerk}"], 44, lab, "c"),
            Cell(
                [
                    "上列款项已收妥并划转收款单位账户",
                    "国库（银行）盖章",
                    f"{tax.paid.year} 年 {tax.paid.month} 月 {tax.paid.day} 日",
                ],
                None,
                lab,
                "c",
            ),
        ],
        height=26,
    )
    y = t.close()
    page.seal(84, y - 12, tax.office, "征税专用章", 30)
    page.box_stamp(149, y - 7, ["现金收讫", date_as(tax.paid, "iso")], pt=8)
    page.say(18, y + 6, "第一联（收据）国库（银行）收款盖章后退缴款单位（人）作完税凭证", Style("serif", 8, ink))
    return page


def render_m12(ctx: HCtx) -> Doc:
    doc = Doc([])
    if ctx.variant % 2 == 0:
        _certificate(ctx, doc)
    else:
        _payment_slip(ctx, doc)
    doc.parties = [party("buyer", ctx.case.party("buyer"))]
    return doc
