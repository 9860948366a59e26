"""M01 申请书 as another city prints it: a two-column grid of cells, each label above its value."""

from __future__ import annotations

from ocr.codes import format_spaced
from samples.facts import Company, Person
from samples.heldout.base import (
    Box,
    Doc,
    HCtx,
    HPage,
    box_row,
    full_width,
    ident_of,
    name_of,
    party,
    put_ids,
    row,
)
from samples.heldout.fmt import date_as, wan
from samples.page import Style

X0, X1 = 16.0, 194.0
MID = (X0 + X1) / 2


def _band(page: HPage, y: float, text: str, colour: tuple[int, int, int]) -> float:
    h = 6.4
    page.rect(X0, y, X1, y + h, 0.3, colour, bg=(232, 236, 242))
    row(page, y + 4.6, [(X0 + 2.5, text, Style("sans-bold", 9.5, colour))])
    return y + h


def _applicant(
    page: HPage,
    y: float,
    p: Person | Company,
    agent: Person | None,
    label: Style,
    value: Style,
    colour: tuple[int, int, int],
) -> float:
    half = (X1 - X0) / 2
    kind = "营业执照" if isinstance(p, Company) else "居民身份证"
    y = box_row(
        page,
        X0,
        X1,
        y,
        [Box("姓名（名称）", name_of(p), half), Box("身份证件种类及号码", f"{kind} {ident_of(p)}")],
        label,
        value,
        colour,
    )
    y = box_row(page, X0, X1, y, [Box("通讯地址", p.address)], label, value, colour)
    if isinstance(p, Company):
        head = "负责人" if p.rep_title == "行长" else "法定代表人"
        y = box_row(
            page, X0, X1, y, [Box(head, p.legal_rep.name, half), Box("联系电话", p.phone)], label, value, colour
        )
    else:
        y = box_row(
            page, X0, X1, y, [Box("联系电话", p.phone, half), Box("共有方式", "单独所有")], label, value, colour
        )
    if agent:
        y = box_row(
            page,
            X0,
            X1,
            y,
            [Box("代理人姓名", agent.name, half), Box("代理人身份证件号码", agent.id_number)],
            label,
            value,
            colour,
        )
    return y


def render_m01(ctx: HCtx) -> Doc:
    case = ctx.case
    prop = case.property
    mortgage = case.business.startswith("MORT")
    holder = case.party("mortgagee" if mortgage else "buyer")
    obligor = case.party("mortgagor" if mortgage else "seller")
    agent = case.parties.get("agent")
    assert agent is None or isinstance(agent, Person)
    colour = (28, 52, 96) if ctx.variant % 2 == 0 else (40, 40, 48)
    page = ctx.page()
    doc = Doc([page])
    label = Style("sans", 7.5, colour)
    value = Style("mono", 10) if ctx.variant % 2 else Style("serif", 10.5)
    if ctx.variant % 2:
        page.tag("alt_font")
    page.tag("label_below", "two_column", "unit_in_label", "footnote")

    page.say(105, 20, "不动产登记申请书", Style("serif-bold", 19, colour), "c", tracking=1.0)
    row(
        page,
        29,
        [
            (X0, f"收件号：{case.receipt_number}", Style("sans", 8.5, colour)),
            (X1, f"受理人：{case.clerk}", Style("sans", 8.5, colour), "r"),
        ],
    )
    half = (X1 - X0) / 2
    y = _band(page, 32, "一、申请事项", colour)
    y = box_row(
        page,
        X0,
        X1,
        y,
        [Box("申请登记类型", case.registration_type, half), Box("登记原因", case.reason)],
        label,
        value,
        colour,
    )
    doc.put("registration_type", case.registration_type)
    y = _band(page, y, "二、权利人（申请人）", colour)
    y = _applicant(page, y, holder, agent, label, value, colour)
    y = _band(page, y, "三、义务人", colour)
    y = _applicant(page, y, obligor, None, label, value, colour)
    y = _band(page, y, "四、不动产情况", colour)
    y = box_row(page, X0, X1, y, [Box("不动产坐落", prop.location)], label, value, colour)
    doc.put("location", prop.location)
    spaced = format_spaced(prop.unit_number)
    second: Box
    if case.business == "MORT_CANCEL" and case.loan:
        second = Box("不动产登记证明号", full_width(case.loan.proof_number))
        doc.put("cert_number", case.loan.proof_number, full_width(case.loan.proof_number))
    elif prop.cert_number:
        second = Box("不动产权证书号", full_width(prop.cert_number))
        doc.put("cert_number", prop.cert_number, full_width(prop.cert_number))
    else:
        second = Box("不动产类型", "房屋（预售）")
    y = box_row(page, X0, X1, y, [Box("不动产单元号", spaced, half), second], label, value, colour)
    doc.put("unit_number", prop.unit_number, spaced)
    area = f"{prop.area_m2:.2f}"
    y = box_row(
        page,
        X0,
        X1,
        y,
        [Box("面积（m²）※" if ctx.variant % 2 else "面积(m²)※", area, half), Box("用途", prop.house_use)],
        label,
        value,
        colour,
    )
    doc.put("area_m2", area, area, "㎡")
    doc.put("use", prop.house_use)
    if case.business == "MORT_FIRST" and case.loan:
        loan = case.loan
        amount = wan(loan.amount_yuan)
        term = f"{date_as(loan.start, 'dot')}至{date_as(loan.end, 'dot')}"
        y = box_row(
            page,
            X0,
            X1,
            y,
            [Box("被担保主债权数额（万元）", amount, half), Box("债务履行期限", term)],
            label,
            value,
            colour,
        )
        doc.put("loan_amount_yuan", f"{loan.amount_yuan:.2f}", amount, "万元")
        page.tag("amount_in_wan")
    y = _band(page, y, "五、申请人签章", colour)
    top = y
    y = box_row(
        page,
        X0,
        X1,
        y,
        [Box("权利人（签章）", "", half), Box("义务人（签章）", "")],
        label,
        value,
        colour,
        min_h=20,
    )
    page.signature(X0 + 30, top + 16, 26, 8, 3)
    page.signature(MID + 30, top + 16, 26, 8, 3)
    applied = date_as(case.application_date, ("slash", "cn_short", "dot")[ctx.rng.randrange(3)])
    y = box_row(page, X0, X1, y, [Box("申请日期", applied, half), Box("申请日期", applied)], label, value, colour)
    doc.put("issue_date", case.application_date.isoformat(), applied)
    page.rect(X0, 32, X1, y, 0.45, colour)
    note = Style("serif", 8, colour)
    page.say(X0, y + 6, "※ 面积以不动产登记簿记载为准；本表一式一份，由登记机构留存。", note)
    page.say(X0, y + 10.5, "申请人应如实填写本申请书，并对所填内容及提交材料的真实性负责。", note)

    doc.put("right_holder", name_of(holder))
    doc.put("obligor", name_of(obligor))
    put_ids(doc, holder)
    if agent:
        doc.put("agent_name", agent.name)
    if mortgage:
        doc.put("mortgagee", name_of(holder))
        doc.put("mortgagor", name_of(obligor))
    doc.parties = [
        party("mortgagee" if mortgage else "buyer", holder),
        party("mortgagor" if mortgage else "seller", obligor),
    ]
    if agent:
        doc.parties.append(party("agent", agent))
    return doc
