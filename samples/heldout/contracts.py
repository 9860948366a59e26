"""Contracts and letters of other issuers: M10, M11 sale contracts, M19 loan, M20 mortgage, M21 discharge."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import cast

from samples.facts import Company, Person
from samples.heldout.base import (
    Doc,
    HCtx,
    HPage,
    full_width,
    ident_of,
    keep_para,
    name_of,
    page_footer,
    party,
    put_ids,
    row,
)
from samples.heldout.fmt import date_as, upper, wan
from samples.page import Cell, Flow, Style, Table
from samples.text import dec, money


def _flow(ctx: HCtx, left: float = 25.0, right: float = 185.0) -> Flow:
    return Flow(ctx.page, top=24, bottom=268, left=left, right=right)


def _amount(value: Decimal, style: str) -> tuple[str, list[tuple[str, str]]]:
    """An amount as a contract sentence prints it, and the printed forms that give its value."""
    fig, cap = money(value), upper(value)
    if style == "figures_upper":
        return f"人民币{fig}元（大写：{cap}）", [(f"{fig}元", ""), (cap, "")]
    if style == "upper_figures":
        return f"人民币（大写）{cap}（小写：¥{fig}）", [(cap, ""), (f"¥{fig}", "")]
    if style == "wan":
        return f"人民币{wan(value)}万元", [(f"{wan(value)}万元", "")]
    if style == "wan_upper":
        return f"人民币{wan(value)}万元（大写：{cap}）", [(f"{wan(value)}万元", ""), (cap, "")]
    if style == "plain":
        return f"人民币{int(dec(value))}元", [(f"{int(dec(value))}元", "")]
    raise ValueError(style)


def _tags_for(style: str) -> tuple[str, ...]:
    tags: tuple[str, ...] = ()
    if "wan" in style:
        tags += ("amount_in_wan",)
    if "upper" in style:
        tags += ("amount_in_capitals",)
    return tags


def _claim(doc: Doc, key: str, value: str, forms: list[tuple[str, str]]) -> None:
    for printed, unit in forms:
        doc.put(key, value, printed, unit)


def _clause(flow: Flow, text: str, style: Style, *tags: str, indent: float = 2) -> None:
    keep_para(flow, text, style, indent=indent)
    page = flow.page
    assert isinstance(page, HPage)
    page.tag(*tags)


def _head(flow: Flow, text: str, style: Style) -> None:
    flow.need(24)
    flow.y += 3 + flow.page.em(style) * 1.2
    flow.page.say(flow.left, flow.y, text, style)
    flow.y += 0.6


def _sign_block(
    flow: Flow,
    left: tuple[str, Person | Company],
    right: tuple[str, Person | Company],
    when: str,
    style: Style,
    date_label: str = "签订日期：",
    place: str = "",
) -> HPage:
    """Two signing parties side by side, the date under them; a company's seal lands on its printed name."""
    flow.need(58)
    page = flow.page
    assert isinstance(page, HPage)
    y = flow.y + 14
    xl, xr = flow.left + 2, (flow.left + flow.right) / 2 + 4
    row(page, y, [(xl, f"{left[0]}（签章）：", style), (xr, f"{right[0]}（签章）：", style)])
    y += 9
    row(page, y, [(xl, name_of(left[1]), style), (xr, name_of(right[1]), style)])
    for x, (_, p) in ((xl, left), (xr, right)):
        if isinstance(p, Company):
            page.seal(x + 24, y - 3, p.org_name, "合同专用章" if page.rng.random() < 0.5 else "", 38)
            page.tag("stamp_over_value")
        else:
            page.signature(x + 4, y + 9, 24, 8, len(p.name))
    y += 14
    reps = [
        (x, f"{'负责人' if p.rep_title == '行长' else '法定代表人'}：{p.legal_rep.name}", style)
        for x, (_, p) in ((xl, left), (xr, right))
        if isinstance(p, Company)
    ]
    if reps:
        row(page, y, reps)
        y += 10
    segs = [(xl, f"{date_label}{when}", style)]
    if place:
        segs.append((xr, f"签订地点：{place}", style))
    row(page, y, segs)
    flow.y = y + 6
    return page


def _party_lines(flow: Flow, role: str, p: Person | Company, style: Style, agent: Person | None = None) -> None:
    rows: list[str]
    if isinstance(p, Company):
        rows = [
            f"{role}：{p.org_name}",
            f"统一社会信用代码：{p.uscc}",
            f"{'负责人' if p.rep_title == '行长' else '法定代表人'}：{p.legal_rep.name}",
            f"住所：{p.address}",
        ]
        if agent:
            rows.append(f"委托代理人：{agent.name}（身份证号码：{agent.id_number}）")
    else:
        rows = [f"{role}：{p.name}", f"证件类型：居民身份证  证件号码：{p.id_number}", f"住址：{p.address}"]
    rows.append(f"联系电话：{p.phone}")
    for text in rows:
        keep_para(flow, text, style, indent=0, leading=1.75, after=0.2)
    flow.y += 2


# -- M10 ---------------------------------------------------------------------------------------------


def render_m10(ctx: HCtx) -> Doc:
    case = ctx.case
    sale, prop = case.sale, case.property
    assert sale
    dev, buyer = case.party("seller"), case.party("buyer")
    assert isinstance(dev, Company) and isinstance(buyer, Person)
    rng = ctx.rng
    body = Style("serif", 11) if ctx.variant % 2 == 0 else Style("sans", 10.5)
    bold = Style("sans-bold", 11.5)
    flow = _flow(ctx)
    doc = Doc(cast("list[HPage]", flow.pages))  # the flow's own list: later pages join it
    cover = flow.page
    row(cover, 34, [(120, "合同编号：", Style("sans", 11)), (141, sale.contract_number, Style("mono", 11.5))])
    if sale.filing_number:
        row(cover, 42, [(120, "备案编号：", Style("sans", 11)), (141, sale.filing_number, Style("mono", 11.5))])
    doc.put("contract_number", sale.contract_number)
    cover.say(105, 108, "商品房买卖合同", Style("serif-bold", 30), "c", tracking=3)
    cover.say(105, 124, "（预售）", Style("serif", 16), "c")
    cover.say(105, 138, "示范文本", Style("sans", 14), "c", tracking=2)
    for k, text in enumerate(("中华人民共和国住房和城乡建设部", "中华人民共和国国家工商行政管理总局")):
        cover.say(105, 214 + k * 9, text, Style("serif", 13), "c")
    cover.say(105, 234, "制定", Style("serif", 13), "c")
    cover.say(105, 246, "二〇一四年四月", Style("serif", 13), "c")
    cover.say(105, 262, "GF—2014—0171", Style("sans", 11), "c")

    flow.break_page()
    flow.heading("商品房买卖合同（预售）", Style("serif-bold", 17), before=2, after=5)
    _party_lines(flow, "出卖人", dev, body)
    _party_lines(flow, "买受人", buyer, body)
    put_ids(doc, dev)
    put_ids(doc, buyer)
    doc.put("obligor", dev.org_name)
    doc.put("right_holder", buyer.name)
    doc.parties = [party("seller", dev), party("buyer", buyer)]
    _clause(
        flow,
        "根据《中华人民共和国合同法》《中华人民共和国城市房地产管理法》及其他法律、法规之规定，"
        "出卖人和买受人在平等、自愿、公平、协商一致的基础上就商品房买卖事项达成如下协议。",
        body,
    )
    _head(flow, "第一章 商品房基本状况", bold)
    area = f"{sale.area_m2:.2f}"
    _clause(
        flow,
        f"第一条 该商品房的规划用途为{prop.house_use}，所在建筑物的主体结构为{prop.structure}，"
        f"建筑总层数为{prop.floors_total}层。",
        body,
        "running_text",
    )
    doc.put("use", prop.house_use)
    _clause(
        flow,
        f"第二条 该商品房坐落于{prop.location}，该商品房为第一条规定项目中的{prop.building}{prop.floor}层{prop.room}。",
        body,
        "running_text",
    )
    doc.put("location", prop.location)
    _clause(
        flow,
        f"第三条 该商品房的房产测绘机构预测该商品房建筑面积共{area}平方米，其中套内建筑面积"
        f"{sale.area_m2 - prop.shared_m2:.2f}平方米，分摊共有建筑面积{prop.shared_m2:.2f}平方米。",
        body,
        "running_text",
    )
    doc.put("area_m2", area, f"{area}平方米")
    _head(flow, "第二章 商品房价款", bold)
    style = ("figures_upper", "upper_figures", "wan_upper", "plain")[ctx.variant % 4]
    phrase, forms = _amount(sale.price_yuan, style)
    unit_price = dec(sale.price_yuan / sale.area_m2)
    _clause(
        flow,
        f"第四条 出卖人与买受人按照建筑面积计算该商品房价款，该商品房单价为每平方米人民币{money(unit_price)}元，"
        f"总价款为{phrase}。",
        body,
        "running_text",
        *_tags_for(style),
    )
    _claim(doc, "price_yuan", f"{sale.price_yuan:.2f}", forms)
    down = dec(round(float(sale.price_yuan) * rng.choice([0.3, 0.35, 0.4]), -4))
    _clause(
        flow,
        f"第五条 买受人采取按揭贷款方式付款，于本合同签订之日支付首付款人民币{money(down)}元，"
        f"余款人民币{money(sale.price_yuan - down)}元以贷款方式支付。",
        body,
    )
    _head(flow, "第三章 商品房交付", bold)
    assert sale.delivery
    delivery = sale.delivery + timedelta(days=300)
    _clause(flow, f"第六条 出卖人应当在{date_as(delivery, 'cn')}前向买受人交付该商品房。", body)
    _clause(
        flow,
        "第七条 该商品房交付时，出卖人应当出示竣工验收备案表、房屋测绘报告及住宅质量保证书、住宅使用说明书。",
        body,
    )
    _head(flow, "第四章 其他事项", bold)
    _clause(
        flow,
        "第八条 本合同自双方签字或盖章之日起生效。本合同及附件共若干页，一式肆份，出卖人、买受人各执壹份，"
        "房地产管理部门、不动产登记机构各执壹份，具有同等法律效力。",
        body,
    )
    when = date_as(sale.signed, ("cn", "cn_short", "dot")[ctx.variant % 3])
    _sign_block(flow, ("出卖人", dev), ("买受人", buyer), when, body, "签订时间：", f"济南市{prop.district}")
    doc.put("issue_date", sale.signed.isoformat(), when)
    page_footer(flow.pages[1:], "第 {n} 页", Style("serif", 9))
    return doc


# -- M11 ---------------------------------------------------------------------------------------------


def render_m11(ctx: HCtx) -> Doc:
    case = ctx.case
    sale, prop = case.sale, case.property
    assert sale
    seller, buyer = case.party("seller"), case.party("buyer")
    agent = case.parties.get("agent") if isinstance(buyer, Company) else None
    assert agent is None or isinstance(agent, Person)
    rng = ctx.rng
    body = Style("serif", 11)
    lab = Style("sans", 9.5, (40, 40, 50))
    flow = Flow(ctx.page, top=24, bottom=250, left=25, right=185)
    doc = Doc(cast("list[HPage]", flow.pages))  # the flow's own list: later pages join it
    page = flow.page
    assert isinstance(page, HPage)
    row(page, 22, [(185, f"合同编号：{sale.contract_number}", Style("mono", 10), "r")])
    doc.put("contract_number", sale.contract_number)
    flow.y = 24
    flow.heading("存量房买卖合同", Style("serif-bold", 20), before=4, after=2)
    flow.y += 5
    page.say(105, flow.y, "（买卖双方自行成交版）", Style("serif", 10.5), "c")
    flow.y += 4
    # The parties in a two-column table: the seller's column, then the buyer's.
    t = Table(page, 22, 188, flow.y, Style("serif", 10), lab, leading=1.6, pad=1.6)
    half = 83
    kind = "统一社会信用代码" if isinstance(buyer, Company) else "证件号码"
    rows = [
        ("出卖人（甲方）", name_of(seller), "买受人（乙方）", name_of(buyer)),
        ("证件号码", ident_of(seller), kind, ident_of(buyer)),
        ("联系电话", seller.phone, "联系电话", buyer.phone),
    ]
    if isinstance(buyer, Company):
        rows.append(("共有情况", "单独所有", "法定代表人", buyer.legal_rep.name))
    if agent:
        rows.append(("", "", "委托代理人", agent.name))
        rows.append(("", "", "代理人证件号码", agent.id_number))
    for a, b, c, d in rows:
        t.row([Cell(a, 27, lab), Cell(b, half - 27), Cell(c, 27, lab), Cell(d)], height=8.5)
    flow.y = t.close() + 3
    page.tag("two_column", "table_label_left")
    put_ids(doc, buyer)
    doc.put("obligor", name_of(seller))
    doc.put("right_holder", name_of(buyer))
    if agent:
        doc.put("agent_name", agent.name)
    doc.parties = [party("seller", seller), party("buyer", buyer)] + ([party("agent", agent)] if agent else [])
    _clause(
        flow,
        "甲、乙双方根据《中华人民共和国民法典》及有关法律法规的规定，在平等、自愿、协商一致的基础上，"
        "就乙方购买甲方房屋事宜达成如下条款：",
        body,
    )
    area = f"{sale.area_m2:.2f}"
    _head(flow, "第一条 房屋基本情况", Style("sans-bold", 11))
    _clause(
        flow,
        f"房屋坐落：{prop.location}，建筑面积{area}平方米，房屋用途：{prop.house_use}，"
        f"不动产权证书号：{full_width(prop.cert_number)}。该房屋占用范围内的土地使用权随房屋一并转让。",
        body,
        "running_text",
    )
    doc.put("location", prop.location)
    doc.put("area_m2", area, f"{area}平方米")
    doc.put("use", prop.house_use)
    doc.put("cert_number", prop.cert_number, full_width(prop.cert_number))
    _head(flow, "第二条 成交价格①", Style("sans-bold", 11))
    marked = flow.page
    assert isinstance(marked, HPage)
    marked.tag("footnote")
    style = ("figures_upper", "upper_figures", "wan", "wan_label")[ctx.variant % 4]
    if style == "wan_label":
        # The unit is in the label and the figure is bare.
        flow.need(10)
        flow.y += 7
        value = wan(sale.price_yuan)
        row(
            flow.page,
            flow.y,
            [(flow.left, "成交价格（万元）：", body), (flow.left + 40, value, Style("serif-bold", 11.5))],
        )
        flow.y += 2
        _claim(doc, "price_yuan", f"{sale.price_yuan:.2f}", [(value, "万元")])
        here = flow.page
        assert isinstance(here, HPage)
        here.tag("unit_in_label", "amount_in_wan")
    else:
        phrase, forms = _amount(sale.price_yuan, style)
        _clause(flow, f"成交价格：{phrase}。", body, "running_text", *_tags_for(style))
        _claim(doc, "price_yuan", f"{sale.price_yuan:.2f}", forms)
    deposit = dec(rng.choice([20000, 30000, 50000, 100000]))
    _head(flow, "第三条 付款方式", Style("sans-bold", 11))
    _clause(
        flow,
        f"乙方于本合同签订之日向甲方支付定金人民币{money(deposit)}元，定金在支付房价款时抵作房价款；"
        "其余房价款由乙方在办理不动产转移登记前通过资金监管账户一次性支付给甲方。",
        body,
    )
    _head(flow, "第四条 房屋交付", Style("sans-bold", 11))
    assert sale.delivery
    _clause(
        flow,
        f"甲方应于{date_as(sale.delivery, 'cn_short')}前将房屋交付乙方，并结清交付前发生的水、电、燃气、物业等费用。",
        body,
    )
    _head(flow, "第五条 税费承担", Style("sans-bold", 11))
    _clause(flow, "本次交易所发生的税费，由甲、乙双方按照国家及本市有关规定各自承担。", body)
    _head(flow, "第六条 不动产登记", Style("sans-bold", 11))
    _clause(
        flow,
        "甲、乙双方应于乙方付清房价款后三十日内，共同向不动产登记机构申请办理不动产转移登记。",
        body,
    )
    _head(flow, "第七条 争议解决", Style("sans-bold", 11))
    _clause(flow, "本合同履行中发生争议的，由双方协商解决；协商不成的，依法向房屋所在地人民法院起诉。", body)
    _head(flow, "第八条 其他", Style("sans-bold", 11))
    _clause(flow, "本合同自双方签字（盖章）之日起生效，一式三份，甲、乙双方各执一份，登记机构存档一份。", body)
    when = date_as(sale.signed, ("dot", "slash", "cn_short")[ctx.variant % 3])
    _sign_block(flow, ("甲方", seller), ("乙方", buyer), when, body)
    doc.put("issue_date", sale.signed.isoformat(), when)
    # The footnote sits at the foot of the page that carries its mark (drawn last: it is the page's last line).
    marked.hline(flow.left, flow.left + 40, 254, 0.2)
    marked.say(
        flow.left, 259, "① 成交价格为双方确认的房屋成交总价，包含房屋占用范围内的土地使用权价款。", Style("serif", 8.5)
    )
    page_footer(flow.pages, "{n}/{total}", Style("sans", 9))
    return doc


# -- loans and mortgages -------------------------------------------------------------------------------


def _bank_style(ctx: HCtx) -> tuple[Style, Style]:
    if ctx.variant % 2:
        return Style("sans", 10.5), Style("sans-bold", 11)
    return Style("serif", 11), Style("serif-bold", 11.5)


def _date_styles(rng: random.Random) -> str:
    return ("cn", "cn_short", "dot", "slash")[rng.randrange(4)]


def render_m19(ctx: HCtx) -> Doc:
    case = ctx.case
    loan, prop = case.loan, case.property
    assert loan
    owner, bank = case.party("mortgagor"), case.party("mortgagee")
    assert isinstance(owner, Person) and isinstance(bank, Company)
    body, bold = _bank_style(ctx)
    flow = _flow(ctx)
    doc = Doc(cast("list[HPage]", flow.pages))  # the flow's own list: later pages join it
    page = flow.page
    row(page, 22, [(25, bank.org_name.split("股份")[0], Style("sans", 9, (150, 40, 40)))])
    page.hline(25, 185, 24, 0.3, (150, 40, 40))
    flow.y = 26
    flow.heading("个人住房借款合同", Style("serif-bold", 19), before=6, after=4)
    flow.y += 5
    row(flow.page, flow.y, [(185, f"合同编号：{full_width(loan.loan_contract)}", Style("sans", 10.5), "r")])
    flow.y += 4
    doc.put("contract_number", loan.loan_contract, full_width(loan.loan_contract))
    _party_lines(flow, "借款人（甲方）", owner, body)
    _party_lines(flow, "贷款人（乙方）", bank, body)
    put_ids(doc, owner)
    put_ids(doc, bank)
    doc.parties = [party("borrower", owner), party("lender", bank)]
    _clause(flow, "甲方因购买/改善住房需要向乙方申请借款，经乙方审查同意，双方协商一致，订立本合同。", body)
    ds = _date_styles(ctx.rng)
    style = ("upper_figures", "wan_upper", "figures_upper")[ctx.variant % 3]
    phrase, forms = _amount(loan.amount_yuan, style)
    _head(flow, "第一条 借款金额", bold)
    _clause(flow, f"乙方向甲方提供借款{phrase}。", body, "running_text", *_tags_for(style))
    _claim(doc, "loan_amount_yuan", f"{loan.amount_yuan:.2f}", forms)
    years = round((loan.end - loan.start).days / 365.25)
    _head(flow, "第二条 借款期限", bold)
    start, end = date_as(loan.start, ds), date_as(loan.end, ds)
    _clause(
        flow,
        f"借款期限为{years * 12}个月，自{start}起至{end}止。实际放款日与上述起始日不一致的，以借款借据为准。",
        body,
        "running_text",
    )
    doc.put("valid_until", loan.end.isoformat(), end)
    _head(flow, "第三条 借款利率", bold)
    _clause(flow, f"本合同项下借款利率为浮动利率，{loan.rate_note}，利率每年一月一日调整一次。", body)
    _head(flow, "第四条 还款方式", bold)
    _clause(flow, "甲方按月以等额本息方式偿还借款本息，还款日为每月放款对应日，首次还款日为放款后次月对应日。", body)
    _head(flow, "第五条 担保", bold)
    _clause(
        flow,
        f"本合同项下借款由甲方以其所有的坐落于{prop.location}的房屋提供抵押担保，该房屋不动产权证书号为"
        f"{full_width(prop.cert_number)}。抵押事宜由双方另行签订抵押合同（编号：{full_width(loan.mortgage_contract)}）。",
        body,
        "running_text",
    )
    doc.put("location", prop.location)
    doc.put("cert_number", prop.cert_number, full_width(prop.cert_number))
    _head(flow, "第六条 违约责任", bold)
    _clause(
        flow,
        "甲方未按约定偿还借款本息的，乙方有权对逾期借款按借款利率上浮百分之五十计收罚息，并有权提前收回全部借款。",
        body,
    )
    _head(flow, "第七条 其他", bold)
    _clause(flow, "本合同自双方签字或盖章之日起生效，一式三份，甲、乙双方各执一份，一份用于办理抵押登记。", body)
    when = date_as(loan.start, ds)
    _sign_block(flow, ("借款人", owner), ("贷款人", bank), when, body)
    doc.put("issue_date", loan.start.isoformat(), when)
    page_footer(flow.pages, "— {n} —", Style("serif", 9))
    return doc


def render_m20(ctx: HCtx) -> Doc:
    case = ctx.case
    loan, prop = case.loan, case.property
    assert loan
    owner, bank = case.party("mortgagor"), case.party("mortgagee")
    assert isinstance(owner, Person) and isinstance(bank, Company)
    body, bold = _bank_style(ctx)
    lab = Style("sans", 9.5, (40, 40, 52))
    flow = _flow(ctx)
    doc = Doc(cast("list[HPage]", flow.pages))  # the flow's own list: later pages join it
    page = flow.page
    assert isinstance(page, HPage)
    flow.y = 20
    flow.heading("个人住房抵押合同", Style("serif-bold", 19), before=6, after=4)
    flow.y += 5
    row(page, flow.y, [(185, f"编号：{full_width(loan.mortgage_contract)}", Style("sans", 10.5), "r")])
    flow.y += 4
    doc.put("contract_number", loan.mortgage_contract, full_width(loan.mortgage_contract))
    _party_lines(flow, "抵押权人", bank, body)
    _party_lines(flow, "抵押人", owner, body)
    put_ids(doc, bank)
    put_ids(doc, owner)
    doc.put("mortgagee", bank.org_name)
    doc.put("mortgagor", owner.name)
    doc.parties = [party("mortgagee", bank), party("mortgagor", owner)]
    ds = _date_styles(ctx.rng)
    style = ("figures_upper", "wan", "upper_figures")[ctx.variant % 3]
    phrase, forms = _amount(loan.amount_yuan, style)
    _head(flow, "第一条 被担保的主债权", bold)
    _clause(
        flow,
        f"本合同担保的主债权为抵押权人依据《个人住房借款合同》（编号：{full_width(loan.loan_contract)}）"
        f"向债务人{owner.name}发放的贷款，本金数额为{phrase}，"
        f"债务履行期限自{date_as(loan.start, ds)}起至{date_as(loan.end, ds)}止。",
        body,
        "running_text",
        *_tags_for(style),
    )
    _claim(doc, "loan_amount_yuan", f"{loan.amount_yuan:.2f}", forms)
    _head(flow, "第二条 抵押物", bold)
    _clause(flow, "抵押人以下列财产设定抵押（抵押物清单）：", body)
    flow.need(40)
    page = flow.page
    assert isinstance(page, HPage)
    t = Table(page, flow.left, flow.right, flow.y + 2, Style("serif", 10), lab, leading=1.6, pad=1.6)
    area = f"{prop.area_m2:.2f}"
    value_wan = wan(dec(round(float(loan.amount_yuan) * 1.6, -4)))
    heads = ["权属证书编号", "建筑面积（㎡）", "用途", "评估价值（万元）"]
    widths = [64, 32, 26, None]
    t.row([Cell(h, w, lab, "c") for h, w in zip(heads, widths, strict=True)], height=8.5)
    vals = [full_width(prop.cert_number), area, prop.house_use, value_wan]
    t.row([Cell(v, w, None, "c") for v, w in zip(vals, widths, strict=True)], height=9)
    t.row([Cell("坐落", 30, lab, "c"), Cell(prop.location)], height=9)
    flow.y = t.close() + 2
    page.tag("table_header_above", "table_label_left", "unit_in_label")
    doc.put("cert_number", prop.cert_number, full_width(prop.cert_number))
    doc.put("area_m2", area, area, "㎡")
    doc.put("use", prop.house_use)
    doc.put("location", prop.location)
    _head(flow, "第三条 担保范围", bold)
    _clause(
        flow,
        "抵押担保的范围包括主债权本金、利息、罚息、复利、违约金、损害赔偿金以及实现债权和抵押权的费用。",
        body,
    )
    _head(flow, "第四条 抵押物的转让", bold)
    _clause(flow, "抵押期间，未经抵押权人书面同意，抵押人不得转让、出租或以其他方式处分抵押物。", body)
    _head(flow, "第五条 抵押登记", bold)
    _clause(flow, "双方应于本合同签订之日起十五日内共同向不动产登记机构申请办理抵押登记。", body)
    _head(flow, "第六条 合同生效", bold)
    _clause(flow, "本合同自双方签字或盖章之日起生效，至被担保的主债权全部清偿之日终止。", body)
    when = date_as(loan.start, ds)
    _sign_block(flow, ("抵押权人", bank), ("抵押人", owner), when, body)
    doc.put("issue_date", loan.start.isoformat(), when)
    page_footer(flow.pages, "第{n}页/共{total}页", Style("serif", 9))
    return doc


def render_m21(ctx: HCtx) -> Doc:
    case = ctx.case
    loan, prop = case.loan, case.property
    assert loan and loan.settled
    owner, bank, agent = case.party("mortgagor"), case.party("mortgagee"), case.party("agent")
    assert isinstance(owner, Person) and isinstance(bank, Company) and isinstance(agent, Person)
    day = case.application_date - timedelta(days=ctx.rng.randint(1, 5))
    body = Style("serif", 12.5) if ctx.variant % 2 == 0 else Style("sans", 11.5)
    flow = Flow(ctx.page, top=30, bottom=272, left=25, right=185)
    doc = Doc(cast("list[HPage]", flow.pages))  # the flow's own list: later pages join it
    page = flow.page
    assert isinstance(page, HPage)
    flow.heading("贷款结清暨解除抵押通知书", Style("serif-bold", 19), before=8, after=10)
    flow.y += 6
    page.say(25, flow.y, "济南市不动产登记中心：", body)
    flow.y += 2
    settled = date_as(loan.settled, ("cn", "cn_short", "dot")[ctx.variant % 3])
    proof = full_width(loan.proof_number)
    if ctx.variant % 2 == 0:
        _clause(
            flow,
            f"我行客户{owner.name}（身份证号码{owner.id_number}）于{date_as(loan.start, 'cn')}在我行办理个人住房贷款，"
            f"借款合同编号为{full_width(loan.loan_contract)}，并以其坐落于{prop.location}的房产设定抵押，"
            f"不动产登记证明号为{proof}。截至{settled}，该笔贷款本息已全部结清。",
            body,
            "running_text",
            indent=2,
        )
    else:
        _clause(flow, "下列个人住房贷款已于结清日全部还清本息，抵押担保的主债权已消灭：", body, indent=2)
        lab = Style("sans", 10.5, (40, 40, 52))
        t = Table(flow.page, 25, 185, flow.y + 2, Style("serif", 11), lab, leading=1.6, pad=2)
        for a, b in (
            ("借款人", owner.name),
            ("身份证号码", owner.id_number),
            ("借款合同编号", full_width(loan.loan_contract)),
            ("抵押房产坐落", prop.location),
            ("不动产登记证明号", proof),
            ("结清日期", settled),
        ):
            t.row([Cell(a, 40, lab, "c"), Cell(b)], height=10)
        flow.y = t.close() + 4
        page.tag("table_label_left")
    _clause(flow, "我行同意解除上述房产的抵押，请贵中心依法办理抵押权注销登记。", body, indent=2)
    _clause(
        flow,
        f"现委托我行员工{agent.name}（身份证号码{agent.id_number}）前往办理注销登记相关手续。",
        body,
        "running_text",
        indent=2,
    )
    _clause(flow, "特此函告。", body, indent=2)
    page = flow.page
    assert isinstance(page, HPage)
    y = flow.y + 22
    row(page, y, [(185, bank.org_name, body, "r")])
    when = date_as(day, ("cn", "cn_numeral", "cn_short")[ctx.rng.randrange(3)])
    row(page, y + 10, [(185, when, body, "r")])
    width = page.measure(bank.org_name, body)
    page.seal(185 - width / 2, y + 2, bank.org_name, "", 40)
    page.tag("stamp_over_value")
    if "〇" in when:
        page.tag("numeral_date")
    small = Style("serif", 10.5)
    row(page, y + 24, [(25, f"联系人：{agent.name}", small), (110, f"联系电话：{bank.phone}", small)])
    doc.put("org_name", bank.org_name)
    doc.put("mortgagee", bank.org_name)
    doc.put("mortgagor", owner.name)
    doc.put("name", owner.name)
    doc.put("id_number", owner.id_number)
    doc.put("location", prop.location)
    doc.put("cert_number", loan.proof_number, proof)
    doc.put("contract_number", loan.loan_contract, full_width(loan.loan_contract))
    doc.put("agent_name", agent.name)
    doc.put("issue_date", day.isoformat(), when)
    doc.parties = [party("mortgagee", bank), party("mortgagor", owner), party("agent", agent)]
    return doc
