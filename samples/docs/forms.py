"""Forms filled in at the window: M01 申请书, M02 询问笔录, M06 法定代表人身份证明书, M07 授权委托书."""

from __future__ import annotations

from datetime import timedelta

from ocr.codes import format_spaced
from samples.docs.base import (
    Ctx,
    Rendered,
    cert_printed,
    display_name,
    footer,
    id_kind,
    id_of,
    party_entry,
)
from samples.docs.cards import _front, _paste_card
from samples.facts import Case, Company, Person
from samples.page import BODY, FORM_INK, LABEL, Cell, Flow, Page, Style, Table
from samples.text import cn_date, money

HEAD = Style("sans-bold", 10.5, FORM_INK)
TITLE = Style("serif-bold", 20)

_TYPES = ("首次登记", "转移登记", "变更登记", "注销登记", "更正登记", "其他")
_MATTERS = ("国有建设用地使用权/房屋所有权", "抵押权", "预告登记", "地役权", "居住权")


def sides(case: Case) -> tuple[str, str]:
    """The roles of the 权利人 and the 义务人 on the application."""
    if case.business.startswith("MORT"):
        return "mortgagee", "mortgagor"
    return "buyer", "seller"


def _primary_fields(p: Person | Company) -> dict[str, str]:
    if isinstance(p, Company):
        return {"org_name": p.org_name, "uscc": p.uscc, "legal_rep": p.legal_rep.name}
    return {"name": p.name, "id_number": p.id_number}


def _ticks(options: tuple[str, ...], chosen: str) -> str:
    return " ".join(("{x}" if o == chosen else "{ }") + o for o in options)


def _party_rows(t: Table, title: str, p: Person | Company, agent: Person | None) -> None:
    w = (38, 62, 24)
    t.row([Cell(title, w[0], LABEL), Cell(display_name(p), w[1]), Cell("证件种类", w[2], LABEL), Cell(id_kind(p))])
    t.row([Cell("证件号", w[0], LABEL), Cell(id_of(p), w[1]), Cell("联系电话", w[2], LABEL), Cell(p.phone)])
    addr = p.address
    t.row([Cell("通讯地址", w[0], LABEL), Cell(addr)])
    if isinstance(p, Company):
        rep = "负责人" if p.rep_title == "行长" else "法定代表人"
        t.row(
            [
                Cell(rep, w[0], LABEL),
                Cell(p.legal_rep.name, w[1]),
                Cell("联系电话", w[2], LABEL),
                Cell(p.legal_rep.phone),
            ]
        )
    if agent:
        t.row(
            [Cell("代理人姓名", w[0], LABEL), Cell(agent.name, w[1]), Cell("联系电话", w[2], LABEL), Cell(agent.phone)]
        )
        t.row(
            [
                Cell("代理人证件号", w[0], LABEL),
                Cell(agent.id_number, w[1]),
                Cell("证件种类", w[2], LABEL),
                Cell("居民身份证"),
            ]
        )


def render_m01(ctx: Ctx) -> Rendered:
    case = ctx.case
    prop = case.property
    holder_role, obligor_role = sides(case)
    holder, obligor = case.party(holder_role), case.party(obligor_role)
    agent = case.parties.get("agent")
    assert agent is None or isinstance(agent, Person)
    page = ctx.page()
    page.say(105, 22, "不动产登记申请书", TITLE, "c", tracking=1.5)
    page.line(31, [(190, "单位：平方米、元", BODY.at(9), "r")])
    t = Table(page, 18, 192, 34, BODY.at(10), LABEL.at(9.5), pad=1.6)
    t.row(
        [
            Cell("收件编号", 20, LABEL),
            Cell(case.receipt_number, 34),
            Cell("收件人", 16, LABEL),
            Cell(case.clerk, 22),
            Cell("收件日期", 20, LABEL),
            Cell(cn_date(case.application_date)),
        ]
    )
    t.row([Cell("申请登记事项", None, HEAD, "c")])
    reg = "首次登记" if case.business == "MORT_FIRST" else "注销登记" if case.business == "MORT_CANCEL" else "转移登记"
    matter = "抵押权" if case.business.startswith("MORT") else _MATTERS[0]
    t.row([Cell("登记类型", 38, LABEL), Cell(_ticks(_TYPES, reg))])
    t.row([Cell("登记事项", 38, LABEL), Cell(_ticks(_MATTERS, matter))])
    t.row([Cell("申请人情况", None, HEAD, "c")])
    holder_title = "抵押权人（名称）" if holder_role == "mortgagee" else "权利人姓名（名称）"
    obligor_title = "抵押人（姓名）" if obligor_role == "mortgagor" else "义务人姓名（名称）"
    _party_rows(t, holder_title, holder, agent)
    _party_rows(t, obligor_title, obligor, None)
    t.row([Cell("不动产情况", None, HEAD, "c")])
    w = (38, 62, 24)
    t.row([Cell("坐落", w[0], LABEL), Cell(prop.location)])
    t.row(
        [
            Cell("不动产单元号", w[0], LABEL),
            Cell(format_spaced(prop.unit_number), w[1]),
            Cell("不动产类型", w[2], LABEL),
            Cell("房屋"),
        ]
    )
    t.row(
        [Cell("面积", w[0], LABEL), Cell(f"{prop.area_m2:.2f}", w[1]), Cell("用途", w[2], LABEL), Cell(prop.house_use)]
    )
    if prop.cert_number:
        t.row([Cell("原不动产权证书号", w[0], LABEL), Cell(cert_printed(prop.cert_number))])
    if case.loan and case.business == "MORT_FIRST":
        loan = case.loan
        t.row(
            [
                Cell("被担保债权数额", w[0], LABEL),
                Cell(money(loan.amount_yuan), w[1]),
                Cell("抵押方式", w[2], LABEL),
                Cell("一般抵押"),
            ]
        )
        t.row([Cell("债务履行期限", w[0], LABEL), Cell(f"{cn_date(loan.start)}起{cn_date(loan.end)}止")])
    if case.loan and case.business == "MORT_CANCEL":
        t.row([Cell("不动产登记证明号", w[0], LABEL), Cell(cert_printed(case.loan.proof_number))])
    t.row([Cell("登记原因及证明", None, HEAD, "c")])
    t.row([Cell("登记原因", w[0], LABEL), Cell(case.reason)])
    proofs = {
        "ENT_NONRES_TRANSFER": ["1.存量房买卖合同", "2.税收完税证明", "3.不动产权证书"],
        "RESALE_TRANSFER": ["1.存量房买卖合同", "2.税收完税证明", "3.不动产权证书"],
        "NEW_HOME_TRANSFER": ["1.商品房买卖合同（已备案）", "2.税收完税证明", "3.购房发票"],
        "MORT_FIRST": ["1.借款合同", "2.抵押合同", "3.不动产权证书"],
        "MORT_CANCEL": ["1.解除抵押证明", "2.不动产登记证明"],
    }[case.business]
    t.row([Cell("登记原因证明文件", w[0], LABEL), Cell(proofs)])
    t.row(
        [
            Cell("申请证书版式", w[0], LABEL),
            Cell("{x}单一版 { }集成版", w[1]),
            Cell("分别持证", w[2], LABEL),
            Cell("{ }是 {x}否"),
        ]
    )
    t.row([Cell("备注", w[0], LABEL), Cell("")], height=9)
    y = t.close()
    style = BODY.at(10)
    lines = page.wrap(
        "本申请人对填写的上述内容及提交的申请材料的真实性负责。如有不实，申请人愿承担相关法律责任。", style, 170, 7
    )
    for i, part in enumerate(lines):
        y += 6
        page.say(20 + (7 if i == 0 else 0), y, part, style)
    y += 11
    page.line(y, [(20, "权利人（申请人）签章：", style), (108, "义务人（申请人）签章：", style)])
    _sign(page, holder, 58, y, agent)
    _sign(page, obligor, 146, y, None)
    y += 12
    page.line(y, [(20, "代理人签字：", style), (108, "代理人签字：", style)])
    if agent:
        page.signature(44, y + 1, 24, 8, len(agent.name))
    y += 12
    day = cn_date(case.application_date)
    page.line(y, [(50, day, style), (138, day, style)])
    footer(page, "济南市不动产登记中心制", BODY.at(8))

    fields = {
        "registration_type": case.registration_type,
        "right_holder": display_name(holder),
        "obligor": display_name(obligor),
        "location": prop.location,
        "unit_number": prop.unit_number,
        "area_m2": f"{prop.area_m2:.2f}",
        "use": prop.house_use,
        "issue_date": case.application_date.isoformat(),
        **_primary_fields(holder),
    }
    if prop.cert_number:
        fields["cert_number"] = prop.cert_number
    if case.business == "MORT_CANCEL" and case.loan:
        fields["cert_number"] = case.loan.proof_number
    if agent:
        fields["agent_name"] = agent.name
    if case.loan and case.business == "MORT_FIRST":
        fields["loan_amount_yuan"] = f"{case.loan.amount_yuan:.2f}"
    if holder_role == "mortgagee":
        fields["mortgagee"] = display_name(holder)
        fields["mortgagor"] = display_name(obligor)
    parties = [party_entry(holder_role, holder), party_entry(obligor_role, obligor)]
    if agent:
        parties.append(party_entry("agent", agent))
    return Rendered([page], fields, parties)


def _sign(page: Page, p: Person | Company, x: float, y: float, agent: Person | None) -> None:
    if isinstance(p, Company):
        page.seal(x + 16, y + 1, p.org_name, "", 38)
    else:
        page.signature(x, y + 1, 22, 8, len(p.name))
        page.fingerprint(x + 20, y - 3)


def render_m02(ctx: Ctx) -> Rendered:
    case = ctx.case
    prop = case.property
    holder_role, obligor_role = sides(case)
    holder, obligor = case.party(holder_role), case.party(obligor_role)
    agent = case.parties.get("agent")
    # Who answers: a person for each side (the agent stands in for a company).
    first = agent if isinstance(holder, Company) and isinstance(agent, Person) else holder
    second = obligor if isinstance(obligor, Person) else obligor.legal_rep
    assert isinstance(first, Person) and isinstance(second, Person)
    recorder = ctx.rng.choice(["孙丽", "刘洋", "高静", "马晓婷", "陈晨"])

    def new_page() -> Page:
        return ctx.page()

    flow = Flow(new_page, top=20, bottom=262, left=24, right=186)
    page = flow.page
    flow.heading("不动产登记询问笔录", TITLE, before=4, after=6)
    s = BODY.at(11)
    flow.y += 6
    page.line(
        flow.y, [(24, f"受理编号：{case.receipt_number}", s), (120, f"询问时间：{cn_date(case.application_date)}", s)]
    )
    flow.y += 8
    page.line(flow.y, [(24, f"询问人：{case.clerk}", s), (120, f"记录人：{recorder}", s)])
    flow.y += 8
    role1 = "被询问人（权利人代理人）" if first is agent else "被询问人（权利人）"
    page.line(flow.y, [(24, f"{role1}：{first.name}", s), (120, f"证件号：{first.id_number}", s)])
    flow.y += 8
    page.line(flow.y, [(24, f"被询问人（义务人）：{second.name}", s), (120, f"证件号：{second.id_number}", s)])
    flow.y += 8
    page.say(24, flow.y, f"不动产坐落：{prop.location}", s)
    flow.y += 4
    page.hline(24, 186, flow.y, 0.3)
    shared = "单独所有"
    qa = [
        ("申请登记事项是否为申请人的真实意思表示？", "是，是我们的真实意思表示。"),
        ("申请登记的不动产是共有，还是单独所有？", f"{shared}。"),
        ("申请登记的不动产是按份共有，还是共同共有？共有份额是多少？", "不涉及，不是共有。"),
        (
            f"本次申请的是{case.registration_type}，登记原因是{case.reason}，对吗？",
            "对。",
        ),
        ("申请登记的不动产是否存在查封、异议登记或者其他限制处分的情形？", "不存在。"),
    ]
    if case.sale:
        qa.append(
            (
                "双方是否已签订买卖合同？成交价格是多少？",
                f"已签订，合同编号{case.sale.contract_number}，成交价格人民币{money(case.sale.price_yuan)}元。",
            )
        )
    if case.business == "MORT_FIRST" and case.loan:
        qa.append(("抵押合同是否约定禁止或者限制转让抵押不动产？", "约定抵押期间转让抵押不动产须经抵押权人书面同意。"))
    qa.append(("提交的申请材料是否真实、有效？", "真实有效，如有虚假愿承担法律责任。"))
    qa.append(("还有其他需要说明的吗？", "没有。"))
    flow.space(2)
    for q, a in qa:
        flow.para("问：" + q, s, indent=0, leading=1.85, after=0)
        flow.para("答：" + a, s, indent=0, leading=1.85, after=1.2)
    flow.para("以上笔录我已看过，与我所说的一致。", s, indent=0, after=1.0)
    flow.need(40)
    y = flow.y + 14
    page = flow.page
    page.line(y, [(24, "被询问人签字（按指印）：", s)])
    page.signature(78, y + 1, 22, 8, 2)
    page.fingerprint(96, y - 3)
    page.signature(112, y + 1, 22, 8, 2)
    page.fingerprint(130, y - 3)
    y += 14
    page.line(y, [(24, "询问人签字：", s)])
    page.signature(52, y + 1, 22, 8, 2)
    y += 12
    page.say(186, y, cn_date(case.application_date), s, "r")
    for n, pg in enumerate(flow.pages, start=1):
        footer(pg, f"第{n}页 共{len(flow.pages)}页")
    fields = {
        "name": first.name,
        "id_number": first.id_number,
        "location": prop.location,
        "registration_type": case.registration_type,
        "issue_date": case.application_date.isoformat(),
    }
    if case.sale:
        fields["contract_number"] = case.sale.contract_number
        fields["price_yuan"] = f"{case.sale.price_yuan:.2f}"
    parties = [party_entry("agent" if first is agent else holder_role, first), party_entry(obligor_role, second)]
    return Rendered(flow.pages, fields, parties)


def render_m06(ctx: Ctx) -> Rendered:
    co = ctx.case.party(ctx.role)
    assert isinstance(co, Company)
    rep = co.legal_rep
    day = ctx.case.application_date - timedelta(days=ctx.rng.randint(2, 9))
    title = "负责人身份证明书" if co.rep_title == "行长" else "法定代表人身份证明书"
    flow = Flow(ctx.page, top=30, bottom=270, left=28, right=182)
    flow.heading(title, TITLE.at(22), before=6, after=12)
    s = BODY.at(13)
    who = "负责人" if co.rep_title == "行长" else "法定代表人"
    flow.para(
        f"兹证明{rep.name}同志（性别：{rep.sex}，身份证号码：{rep.id_number}）系我单位{who}，职务：{co.rep_title}。",
        s,
        leading=2.1,
    )
    flow.para(f"现由其代表我单位办理坐落于{ctx.case.property.location}的不动产登记相关事宜。", s, leading=2.1)
    flow.para("特此证明。", s, leading=2.1, after=8)
    page = flow.page
    rows = [
        ("单位名称（盖章）：", co.org_name),
        ("统一社会信用代码：", co.uscc),
        ("单位地址：", co.address),
        ("联系电话：", co.phone),
    ]
    y = flow.y + 4
    for label, value in rows:
        y += 10
        page.line(y, [(40, label + value, s)])
    page.seal(110, y - 24, co.org_name, "", 40)
    y += 12
    page.say(176, y, cn_date(day), s, "r")
    y += 14
    page.say(28, y, f"附：{who}身份证复印件", s)
    box_top = y + 6
    page.rect(52, box_top, 158, box_top + 68, 0.25)
    _paste_card(page, _front(ctx, rep), 62, box_top + 7, ctx.rng.uniform(-1, 1))
    fields = {
        "org_name": co.org_name,
        "uscc": co.uscc,
        "legal_rep": rep.name,
        "name": rep.name,
        "id_number": rep.id_number,
        "location": ctx.case.property.location,
        "issue_date": day.isoformat(),
    }
    return Rendered(flow.pages, fields, [party_entry(ctx.role, co), party_entry("legal_rep", rep)])


def render_m07(ctx: Ctx) -> Rendered:
    case = ctx.case
    principal = case.party(ctx.role)
    agent = case.party("agent")
    assert isinstance(agent, Person)
    day = case.application_date - timedelta(days=ctx.rng.randint(1, 8))
    until = case.application_date + timedelta(days=ctx.rng.choice([45, 60, 90]))
    flow = Flow(ctx.page, top=26, bottom=272, left=26, right=184)
    flow.heading("授权委托书", TITLE.at(22), before=4, after=10)
    s = BODY.at(12)
    page = flow.page
    if isinstance(principal, Company):
        who = "负责人" if principal.rep_title == "行长" else "法定代表人"
        rows = [
            ("委托人：", principal.org_name),
            ("统一社会信用代码：", principal.uscc),
            (f"{who}：", f"{principal.legal_rep.name}    职务：{principal.rep_title}"),
            ("住所：", principal.address),
        ]
    else:
        rows = [("委托人：", principal.name), ("身份证号码：", principal.id_number), ("住址：", principal.address)]
    rows += [
        ("受托人：", f"{agent.name}    性别：{agent.sex}"),
        ("身份证号码：", agent.id_number),
        ("联系电话：", agent.phone),
    ]
    flow.fields(rows, s, leading=2.0)
    flow.space(4)
    me = "我单位" if isinstance(principal, Company) else "本人"
    flow.para(
        f"现委托上述受托人作为{me}的代理人，代为办理坐落于{case.property.location}的不动产{case.registration_type}相关事宜。",
        s,
        leading=2.0,
    )
    flow.para("委托事项及权限：", s, leading=2.0, after=0)
    for item in (
        "1.代为提交不动产登记申请材料，代为签署不动产登记申请书、询问笔录等相关文件；",
        "2.代为缴纳登记费及相关税费；",
        "3.代为领取不动产权证书、不动产登记证明及相关文书。",
    ):
        flow.para(item, s, leading=2.0, after=0)
    flow.para(f"委托期限：自{cn_date(day)}起至{cn_date(until)}止。", s, leading=2.0)
    flow.para(f"受托人在上述权限内所签署的一切文件，{me}均予以承认。受托人无转委托权。", s, leading=2.0)
    y = flow.y + 16
    page = flow.page
    if isinstance(principal, Company):
        page.line(y, [(30, "委托人（盖章）：", s), (112, f"{who}（签字）：", s)])
        page.seal(76, y - 6, principal.org_name, "", 40)
        page.signature(150, y + 1, 24, 8, len(principal.legal_rep.name))
    else:
        page.line(y, [(30, "委托人（签字）：", s)])
        page.signature(66, y + 1, 24, 8, len(principal.name))
        page.fingerprint(84, y - 3)
    y += 16
    page.line(y, [(30, "受托人（签字）：", s)])
    page.signature(66, y + 1, 24, 8, len(agent.name))
    y += 16
    page.say(180, y, cn_date(day), s, "r")
    fields = {
        "agent_name": agent.name,
        "location": case.property.location,
        "issue_date": day.isoformat(),
        "valid_until": until.isoformat(),
    }
    if isinstance(principal, Company):
        fields.update(org_name=principal.org_name, uscc=principal.uscc, legal_rep=principal.legal_rep.name)
    else:
        fields.update(name=principal.name, id_number=principal.id_number)
    return Rendered(flow.pages, fields, [party_entry(ctx.role, principal), party_entry("agent", agent)])
