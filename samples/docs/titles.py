"""Documents issued by an office: M08 不动产权证书, M09 不动产登记证明, M12 税收完税证明."""

from __future__ import annotations

from ocr.codes import format_spaced
from samples.docs.base import Ctx, Rendered, cert_printed, display_name, footer, id_of, party_entry
from samples.facts import Company
from samples.page import BODY, FORM_INK, LABEL, RED, Cell, Style, Table
from samples.text import cn_date, money, rmb_upper

REGISTRAR = "济南市自然资源和规划局"
VALUE = Style("serif", 11)
CERT_LABEL = Style("sans", 11, FORM_INK)


def _serial(ctx: Ctx) -> str:
    return f"D{ctx.rng.randint(37000000000, 37099999999)}"


def render_m08(ctx: Ctx) -> Rendered:
    case = ctx.case
    prop = case.property
    holder = case.holder_name
    page = ctx.page()
    page.say(22, 30, cert_printed(prop.cert_number), Style("serif", 14))
    t = Table(page, 20, 190, 36, VALUE, CERT_LABEL, leading=1.75, pad=2.2)
    lw = 34
    rows = [
        ("权利人", holder),
        ("共有情况", "单独所有"),
        ("坐落", prop.location),
        ("不动产单元号", format_spaced(prop.unit_number)),
        ("权利类型", prop.right_type),
        ("权利性质", prop.right_nature),
        ("用途", f"{prop.land_use}/{prop.house_use}"),
        ("面积", f"共有宗地面积{prop.land_area_m2:.2f}㎡/房屋建筑面积{prop.area_m2:.2f}㎡"),
        ("使用期限", f"国有建设用地使用权 {cn_date(prop.land_from)}起{cn_date(prop.land_until)}止"),
    ]
    for label, value in rows:
        t.row([Cell(label, lw, CERT_LABEL, "c"), Cell(value)], height=11.5)
    other = [
        f"专有建筑面积：{prop.exclusive_m2:.2f}㎡，分摊建筑面积：{prop.shared_m2:.2f}㎡",
        f"房屋结构：{prop.structure}",
        f"房屋总层数：{prop.floors_total}层，房屋所在层：{prop.floor}层",
        f"房屋竣工时间：{prop.completed_year}年",
    ]
    t.row([Cell("权利其他状况", lw, CERT_LABEL, "c"), Cell(other)], height=48)
    legacy = f"济房权证{prop.district[:-1]}字第{ctx.rng.randint(10000, 299999):06d}号"
    t.row(
        [
            Cell("附记", lw, CERT_LABEL, "c"),
            Cell(
                [f"原房屋所有权证号：{legacy}", "业务号：" + f"{prop.cert_date:%Y%m%d}{ctx.rng.randint(0, 9999):04d}"]
            ),
        ],
        height=26,
    )
    y = t.close()
    s = BODY.at(10.5)
    text = (
        "根据《中华人民共和国物权法》等法律法规，为保护不动产权利人合法权益，对不动产权利人申请登记的"
        "本证所列不动产权利，经审查核实，准予登记，颁发此证。"
    )
    for i, part in enumerate(page.wrap(text, s, 166, 7)):
        y += 6.5
        page.say(22 + (7 if i == 0 else 0), y, part, s)
    y += 14
    page.say(120, y, "登记机构（章）", s)
    page.seal(150, y - 2, REGISTRAR, "不动产登记专用章", 42)
    y += 12
    page.say(176, y, cn_date(prop.cert_date), s, "r")
    page.say(186, 282, f"编号NO {_serial(ctx)}", Style("sans", 10, (180, 40, 40)), "r")
    fields = {
        "cert_number": prop.cert_number,
        "right_holder": holder,
        "location": prop.location,
        "unit_number": prop.unit_number,
        "use": f"{prop.land_use}/{prop.house_use}",
        "area_m2": f"{prop.area_m2:.2f}",
        "issue_date": prop.cert_date.isoformat(),
        "valid_until": prop.land_until.isoformat(),
    }
    return Rendered([page], fields)


def render_m09(ctx: Ctx) -> Rendered:
    case = ctx.case
    prop, loan = case.property, case.loan
    assert loan and loan.proof_date
    bank, owner = case.party("mortgagee"), case.party("mortgagor")
    page = ctx.page()
    page.say(105, 24, "不动产登记证明", Style("serif-bold", 20), "c", tracking=1.5)
    page.say(22, 36, cert_printed(loan.proof_number), Style("serif", 14))
    t = Table(page, 20, 190, 42, VALUE, CERT_LABEL, leading=1.75, pad=2.2)
    lw = 36
    rows = [
        ("证明权利或事项", "抵押权"),
        ("权利人（申请人）", display_name(bank)),
        ("义务人", display_name(owner)),
        ("坐落", prop.location),
        ("不动产单元号", format_spaced(prop.unit_number)),
    ]
    for label, value in rows:
        t.row([Cell(label, lw, CERT_LABEL, "c"), Cell(value)], height=12)
    other = [
        "抵押方式：一般抵押",
        f"担保债权数额：{money(loan.amount_yuan)}元",
        f"债务履行期限：{cn_date(loan.start)}起{cn_date(loan.end)}止",
        f"抵押不动产权证号：{cert_printed(prop.cert_number)}",
    ]
    t.row([Cell("其他", lw, CERT_LABEL, "c"), Cell(other)], height=52)
    t.row(
        [
            Cell("附记", lw, CERT_LABEL, "c"),
            Cell([f"借款合同编号：{loan.loan_contract}", f"抵押合同编号：{loan.mortgage_contract}"]),
        ],
        height=30,
    )
    y = t.close()
    s = BODY.at(10.5)
    text = (
        "根据《中华人民共和国民法典》等法律法规，对本证明所列不动产权利或登记事项，经审查核实，准予登记，颁发此证明。"
    )
    for i, part in enumerate(page.wrap(text, s, 166, 7)):
        y += 6.5
        page.say(22 + (7 if i == 0 else 0), y, part, s)
    y += 16
    page.say(120, y, "登记机构（章）", s)
    page.seal(150, y - 2, REGISTRAR, "不动产登记专用章", 42)
    y += 12
    page.say(176, y, cn_date(loan.proof_date), s, "r")
    page.say(186, 282, f"编号NO {_serial(ctx)}", Style("sans", 10, (180, 40, 40)), "r")
    fields = {
        "cert_number": loan.proof_number,
        "right_holder": display_name(bank),
        "obligor": display_name(owner),
        "mortgagee": display_name(bank),
        "mortgagor": display_name(owner),
        "location": prop.location,
        "unit_number": prop.unit_number,
        "loan_amount_yuan": f"{loan.amount_yuan:.2f}",
        "issue_date": loan.proof_date.isoformat(),
    }
    return Rendered([page], fields)


def render_m12(ctx: Ctx) -> Rendered:
    case = ctx.case
    tax, prop = case.tax, case.property
    assert tax
    payer = case.party("buyer")
    page = ctx.page()
    page.say(105, 26, "中华人民共和国", Style("serif-bold", 16), "c", tracking=2)
    page.say(105, 38, "税收完税证明", Style("serif-bold", 22), "c", tracking=3)
    page.line(
        48, [(105, "（ 文书式 ）", BODY.at(10), "c"), (190, f"№ {tax.voucher_number}", Style("sans", 11, RED), "r")]
    )
    page.line(
        57, [(20, f"填发日期：{cn_date(tax.paid)}", BODY.at(10.5)), (100, f"税务机关：{tax.office}", BODY.at(10.5))]
    )
    t = Table(page, 18, 192, 61, BODY.at(10), LABEL.at(9.5), pad=1.6)
    t.row(
        [
            Cell("纳税人识别号", 26, LABEL),
            Cell(id_of(payer), 56),
            Cell("纳税人名称", 24, LABEL),
            Cell(display_name(payer)),
        ],
        height=11,
    )
    cols = (36, 18, 22, 38, 24)
    t.row(
        [
            Cell("原凭证号", cols[0], LABEL, "c"),
            Cell("税种", cols[1], LABEL, "c"),
            Cell("品目名称", cols[2], LABEL, "c"),
            Cell("税款所属时期", cols[3], LABEL, "c"),
            Cell("入（退）库日期", cols[4], LABEL, "c"),
            Cell("实缴（退）金额", None, LABEL, "c"),
        ],
        height=10,
    )
    period = f"{tax.paid:%Y-%m}-01至{tax.paid:%Y-%m}-{_month_end(tax.paid):02d}"
    t.row(
        [
            Cell(tax.original_voucher, cols[0], None, "c"),
            Cell("契税", cols[1], None, "c"),
            Cell("房屋买卖", cols[2], None, "c"),
            Cell(period, cols[3], None, "c"),
            Cell(tax.paid.isoformat(), cols[4], None, "c"),
            Cell(money(tax.amount_yuan), None, None, "r"),
        ],
        height=30,
    )
    t.row(
        [
            Cell("金额合计", 26, LABEL, "c"),
            Cell(f"（大写）{rmb_upper(tax.amount_yuan)}", 100),
            Cell(f"¥{money(tax.amount_yuan)}", None, None, "r"),
        ],
        height=11,
    )
    notes = [
        f"计税依据：{money(tax.base_yuan)}元；税率：{tax.rate_pct.normalize()}%",
        f"房屋坐落：{prop.location}",
        f"合同编号：{case.sale.contract_number if case.sale else ''}",
    ]
    t.row(
        [
            Cell(["税务机关", "（盖章）"], 26, LABEL, "c"),
            Cell(f"填票人：{tax.clerk}", 44),
            Cell(["备注"], 12, LABEL, "c"),
            Cell(notes),
        ],
        height=40,
    )
    y = t.close()
    page.seal(46, y - 18, tax.office, "征税专用章", 38)
    page.say(105, y + 8, "妥善保管", Style("sans", 10.5), "c")
    footer(page, "本凭证不作纳税人记账、抵扣凭证", BODY.at(9))
    fields = {
        "tax_amount_yuan": f"{tax.amount_yuan:.2f}",
        "price_yuan": f"{tax.base_yuan:.2f}",
        "location": prop.location,
        "issue_date": tax.paid.isoformat(),
    }
    if isinstance(payer, Company):
        fields.update(org_name=payer.org_name, uscc=payer.uscc)
    else:
        fields.update(name=payer.name, id_number=payer.id_number)
    if case.sale:
        fields["contract_number"] = case.sale.contract_number
    return Rendered([page], fields, [party_entry("buyer", payer)])


def _month_end(d) -> int:
    import calendar

    return calendar.monthrange(d.year, d.month)[1]
