"""Contracts and letters: M10 商品房买卖合同, M11 存量房买卖合同, M19 借款合同, M20 抵押合同, M21 解除抵押证明."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from samples.docs.base import Ctx, Rendered, cert_printed, display_name, page_numbers, party_entry
from samples.facts import Company, Person
from samples.page import BODY, LABEL, Cell, Flow, Style, Table
from samples.text import cn_date, dec, money, rmb_upper

TITLE = Style("serif-bold", 20)
S = BODY.at(11.5)
LEAD = 1.85


def _flow(ctx: Ctx) -> Flow:
    return Flow(ctx.page, top=22, bottom=268, left=24, right=186)


def _head(flow: Flow, title: str, numbers: list[str]) -> None:
    flow.heading(title, TITLE, before=6, after=4)
    for n in numbers:
        flow.y += 6.5
        flow.page.say(186, flow.y, n, BODY.at(10.5), "r")
    flow.y += 3


def _party_block(flow: Flow, role: str, p: Person | Company, agent: Person | None = None) -> None:
    if isinstance(p, Company):
        who = "负责人" if p.rep_title == "行长" else "法定代表人"
        rows = [
            (f"{role}：", p.org_name),
            ("统一社会信用代码：", p.uscc),
            (f"{who}：", p.legal_rep.name),
            ("住所：", p.address),
            ("联系电话：", p.phone),
        ]
        if agent:
            rows.insert(3, ("委托代理人：", f"{agent.name}    身份证号码：{agent.id_number}"))
    else:
        rows = [
            (f"{role}：", p.name),
            ("证件类型：", f"居民身份证    证件号码：{p.id_number}"),
            ("住址：", p.address),
            ("联系电话：", p.phone),
        ]
    flow.fields(rows, S, leading=1.95)
    flow.space(2.5)


def _sign(
    flow: Flow, left: tuple[str, Person | Company], right: tuple[str, Person | Company], day: date, place: str = ""
) -> None:
    flow.need(62)
    page = flow.page
    y = flow.y + 14
    page.line(y, [(26, f"{left[0]}（签章）：", S), (108, f"{right[0]}（签章）：", S)])
    for x, (_, p) in ((26, left), (108, right)):
        if isinstance(p, Company):
            page.seal(x + 44, y + 4, p.org_name, "合同专用章", 40)
        else:
            page.signature(x + 32, y + 12, 24, 8, len(p.name))
            page.fingerprint(x + 56, y + 8)
    y += 26
    page.line(y, [(26, "法定代表人或委托代理人：", S), (108, "法定代表人或委托代理人：", S)])
    y += 12
    page.line(y, [(26, f"签订日期：{cn_date(day)}", S), (108, f"签订日期：{cn_date(day)}", S)])
    if place:
        y += 10
        page.line(y, [(26, f"签订地点：{place}", S)])
    flow.y = y + 6


def _para(flow: Flow, text: str) -> None:
    flow.para(text, S, leading=LEAD, after=0.8)


def _unit_price(price: Decimal, area: Decimal) -> str:
    return money(dec(price / area))


def render_m11(ctx: Ctx) -> Rendered:
    case = ctx.case
    sale, prop = case.sale, case.property
    assert sale
    seller, buyer = case.party("seller"), case.party("buyer")
    agent = case.parties.get("agent") if isinstance(buyer, Company) else None
    assert agent is None or isinstance(agent, Person)
    flow = _flow(ctx)
    _head(flow, "存量房买卖合同", [f"合同编号：{sale.contract_number}"])
    _party_block(flow, "出卖人（甲方）", seller)
    _party_block(flow, "买受人（乙方）", buyer, agent)
    _para(
        flow,
        "根据《中华人民共和国民法典》《中华人民共和国城市房地产管理法》及其他有关法律、法规之规定，甲、乙双方在平等、"
        "自愿、协商一致的基础上，就乙方购买甲方存量房屋事宜达成如下协议，以资共同遵守。",
    )
    _para(
        flow,
        f"第一条 房屋基本情况。甲方所有的房屋坐落于{prop.location}（以下简称该房屋），不动产权证书号为"
        f"{cert_printed(prop.cert_number)}。该房屋建筑面积{sale.area_m2:.2f}平方米，规划用途为{prop.house_use}，"
        f"房屋结构为{prop.structure}，所在层为第{prop.floor}层（总层数{prop.floors_total}层）。",
    )
    _para(
        flow,
        "第二条 成交价格。经甲、乙双方协商一致，该房屋成交价格为人民"
        f"币{money(sale.price_yuan)}元（大写：{rmb_upper(sale.price_yuan)}），"
        f"折合每平方米{_unit_price(sale.price_yuan, sale.area_m2)}元。该价"
        "格包括该房屋占用范围内的国有建设用地使用权价款及附属设施设备价款。",
    )
    first = dec(sale.price_yuan * Decimal("0.3"))
    _para(
        flow,
        f"第三条 付款方式。乙方应于本合同签订之日起五日内向甲方支付首期房价款人民币{money(first)}元；剩余房价款人民币"
        f"{money(sale.price_yuan - first)}元于办理转移登记申请受理当日通过存量房交易资金监管账户支付。",
    )
    _para(
        flow,
        f"第四条 房屋交付。甲方应当于{cn_date(sale.delivery or sale.signed)}"
        "前将该房屋交付乙方，交付时应结清该房屋的水、电、燃气、物业、"
        "供暖等费用，并移交钥匙及相关资料。",
    )
    _para(
        flow,
        "第五条 权属状况。甲方保证该房屋权属清楚，不存在查封、异议登记及其他限制转让的情形；如该房屋设有抵押，甲方应于"
        "申请转移登记前办理抵押权注销登记。因甲方原因导致乙方不能取得该房屋所有权的，由甲方承担全部责任。",
    )
    _para(
        flow,
        "第六条 税费承担。因本次房屋买卖发生的契税由乙方缴纳；增"
        "值税、个人所得税等由双方按照国家及本市有关规定各自承担。",
    )
    _para(
        flow,
        "第七条 不动产登记。甲、乙双方应当自本合同签订之日起三十日内，共同向不动产登记机构申请办理转移登记。"
        "因一方原因未能按期申请的，每逾期一日，应按已付房价款的万分之二向对方支付违约金。",
    )
    _para(
        flow,
        "第八条 违约责任。乙方逾期付款超过三十日的，甲方有权解除合同，乙方应按房价款总额的百分之五向甲方支付违约金。"
        "甲方逾期交付房屋超过三十日的，乙方有权解除合同，甲方应退还已付房价款并按房价款总额的百分之五支付违约金。",
    )
    _para(
        flow,
        "第九条 争议解决。本合同履行过程中发生争议的，由双方协商解决；协商不成的，依法向该房屋所在地人民法院起诉。",
    )
    _para(
        flow,
        "第十条 本合同自双方签字（盖章）之日起生效。本合同一式四份"
        "，甲、乙双方各执一份，不动产登记机构一份，税务部门一份，"
        "具有同等法律效力。",
    )
    _sign(flow, ("出卖人", seller), ("买受人", buyer), sale.signed, f"济南市{prop.district}")
    page_numbers(flow.pages)
    seller_name = display_name(seller)
    fields = {
        "contract_number": sale.contract_number,
        "obligor": seller_name,
        "right_holder": display_name(buyer),
        "location": prop.location,
        "cert_number": prop.cert_number,
        "area_m2": f"{sale.area_m2:.2f}",
        "price_yuan": f"{sale.price_yuan:.2f}",
        "use": prop.house_use,
        "issue_date": sale.signed.isoformat(),
        **_ids(buyer),
    }
    if agent:
        fields["agent_name"] = agent.name
    parties = [party_entry("seller", seller), party_entry("buyer", buyer)]
    if agent:
        parties.append(party_entry("agent", agent))
    return Rendered(flow.pages, fields, parties)


def _ids(p: Person | Company) -> dict[str, str]:
    if isinstance(p, Company):
        return {"org_name": p.org_name, "uscc": p.uscc, "legal_rep": p.legal_rep.name}
    return {"name": p.name, "id_number": p.id_number}


def render_m10(ctx: Ctx) -> Rendered:
    case = ctx.case
    sale, prop = case.sale, case.property
    assert sale
    dev, buyer = case.party("seller"), case.party("buyer")
    assert isinstance(dev, Company) and isinstance(buyer, Person)
    flow = _flow(ctx)
    _head(flow, "商品房买卖合同（预售）", [f"合同编号：{sale.contract_number}", f"备案编号：{sale.filing_number}"])
    _party_block(flow, "出卖人", dev)
    _party_block(flow, "买受人", buyer)
    _para(
        flow,
        "根据《中华人民共和国民法典》《中华人民共和国城市房地产管理法"
        "》《城市房地产开发经营管理条例》及其他有关法律、法规之规定，"
        "买受人和出卖人在平等、自愿、公平、协商一致的基础上就商品房买卖事项达成如下协议。",
    )
    _para(
        flow,
        f"第一条 项目建设依据。出卖人以出让方式取得坐落于济南市{prop.district}"
        f"的地块的国有建设用地使用权，土地用途为{prop.land_use}，"
        f"土地使用期限自{cn_date(prop.land_from)}至{cn_date(prop.land_until)}"
        "。出卖人经批准，在上述地块上建设的商品房项目已取得预售许可。",
    )
    _para(
        flow,
        f"第二条 商品房基本情况。该商品房坐落于{prop.location}，"
        f"规划用途为{prop.house_use}，房屋结构为{prop.structure}，"
        f"所在楼层为第{prop.floor}层（地上总层数{prop.floors_total}"
        f"层）。该商品房合同约定建筑面积共{sale.area_m2:.2f}平方米，"
        f"其中套内建筑面积{prop.exclusive_m2:.2f}平方米，分摊共有建筑面积{prop.shared_m2:.2f}平方米。",
    )
    _para(
        flow,
        "第三条 计价方式与价款。按照建筑面积计算，该商品房单价为"
        f"每平方米{_unit_price(sale.price_yuan, sale.area_m2)}元，"
        f"总价款为人民币{money(sale.price_yuan)}元（大写：{rmb_upper(sale.price_yuan)}）。",
    )
    _para(
        flow,
        "第四条 付款方式及期限。买受人采取商业贷款方式付款，首付款于本合同签订当日支付，其余价款由贷款机构直接划入"
        "该项目预售资金监管账户。",
    )
    _para(
        flow,
        f"第五条 交付期限。出卖人应当在{cn_date(sale.delivery or sale.signed)}"
        "前向买受人交付该商品房。该商品房交付时应当符合"
        "规划条件，并取得建设工程竣工验收备案证明文件和房屋测绘报告。",
    )
    _para(
        flow,
        "第六条 面积差异处理。交付时套内建筑面积与合同约定面积发"
        "生误差的，误差比绝对值在3%以内（含3%）的据实结算房价款；"
        "超出3%的，买受人有权解除合同。",
    )
    _para(
        flow,
        "第七条 不动产登记。出卖人应当在该商品房交付使用之日起60日内"
        "，将办理不动产登记需由出卖人提供的资料报送不动产登记机构，"
        "并协助买受人办理转移登记。",
    )
    _para(
        flow,
        "第八条 本合同自双方签字（盖章）之日起生效，经网签备案后报不动产登记机构。本合同一式三份，具有同等法律效力。",
    )
    _sign(flow, ("出卖人", dev), ("买受人", buyer), sale.signed)
    page_numbers(flow.pages)
    fields = {
        "contract_number": sale.contract_number,
        "obligor": dev.org_name,
        "right_holder": buyer.name,
        "org_name": dev.org_name,
        "uscc": dev.uscc,
        "legal_rep": dev.legal_rep.name,
        "name": buyer.name,
        "id_number": buyer.id_number,
        "location": prop.location,
        "area_m2": f"{sale.area_m2:.2f}",
        "price_yuan": f"{sale.price_yuan:.2f}",
        "use": prop.house_use,
        "issue_date": sale.signed.isoformat(),
    }
    return Rendered(flow.pages, fields, [party_entry("seller", dev), party_entry("buyer", buyer)])


def _months(start: date, end: date) -> int:
    after = end + timedelta(days=1)  # terms run to the day before an anniversary
    return (after.year - start.year) * 12 + after.month - start.month


def render_m19(ctx: Ctx) -> Rendered:
    case = ctx.case
    loan, prop = case.loan, case.property
    assert loan
    bank, owner = case.party("mortgagee"), case.party("mortgagor")
    assert isinstance(bank, Company) and isinstance(owner, Person)
    flow = _flow(ctx)
    _head(flow, "个人借款合同", [f"合同编号：{loan.loan_contract}"])
    _party_block(flow, "借款人", owner)
    _party_block(flow, "贷款人", bank)
    _para(
        flow,
        "借款人因个人消费需要向贷款人申请借款，贷款人经审查同意发放。为明确双方的权利义务，经协商一致，订立本合同。",
    )
    _para(flow, f"第一条 借款金额。人民币（大写）{rmb_upper(loan.amount_yuan)}（小写：¥{money(loan.amount_yuan)}）。")
    _para(flow, "第二条 借款用途。本合同项下借款用于借款人家庭住房装修及购置家具、家电，借款人不得改变借款用途。")
    _para(
        flow,
        f"第三条 借款期限。借款期限自{cn_date(loan.start)}起"
        f"至{cn_date(loan.end)}止，共{_months(loan.start, loan.end)}个月。"
        "实际放款日与上述起始日不一致的，以借款借据记载的日期为准。",
    )
    _para(flow, f"第四条 借款利率。本合同项下借款利率为浮动利率，{loan.rate_note}，按月结息。")
    _para(flow, "第五条 还款方式。借款人按照等额本息还款法按月归还借款本息，还款日为每月的放款对应日。")
    _para(
        flow,
        "第六条 担保。本合同项下借款的担保方式为抵押担保。借款人"
        f"以其所有的坐落于{prop.location}的房屋（不动产权证书号："
        f"{cert_printed(prop.cert_number)}）提供抵押担保，抵押合同另行签订，合同编号为{loan.mortgage_contract}。",
    )
    _para(
        flow,
        "第七条 借款人的义务。借款人应按期足额还本付息；借款人的工作单位"
        "、住所、通讯方式等发生变更的，应于变更后十日内书面通知贷款人。",
    )
    _para(
        flow,
        "第八条 违约责任。借款人未按期还款的，贷款人有权对逾期借款按"
        "照本合同约定利率加收50%计收罚息，并有权提前收回已发放的借款。",
    )
    _para(flow, "第九条 争议解决。因履行本合同发生争议的，由双方协商解决；协商不成的，依法向贷款人所在地人民法院起诉。")
    _para(
        flow,
        "第十条 本合同自双方签字（盖章）之日起生效。本合同一式三份，借款人、贷款人各执一份，一份用于办理抵押登记。",
    )
    _sign(flow, ("借款人", owner), ("贷款人", bank), loan.start)
    page_numbers(flow.pages)
    fields = {
        "contract_number": loan.loan_contract,
        "name": owner.name,
        "id_number": owner.id_number,
        "org_name": bank.org_name,
        "uscc": bank.uscc,
        "legal_rep": bank.legal_rep.name,
        "loan_amount_yuan": f"{loan.amount_yuan:.2f}",
        "location": prop.location,
        "cert_number": prop.cert_number,
        "issue_date": loan.start.isoformat(),
        "valid_until": loan.end.isoformat(),
    }
    return Rendered(flow.pages, fields, [party_entry("borrower", owner), party_entry("lender", bank)])


def render_m20(ctx: Ctx) -> Rendered:
    case = ctx.case
    loan, prop = case.loan, case.property
    assert loan
    bank, owner = case.party("mortgagee"), case.party("mortgagor")
    assert isinstance(bank, Company) and isinstance(owner, Person)
    flow = _flow(ctx)
    _head(flow, "不动产抵押合同", [f"合同编号：{loan.mortgage_contract}"])
    _party_block(flow, "抵押权人", bank)
    _party_block(flow, "抵押人", owner)
    _para(
        flow,
        f"为确保抵押权人与债务人{owner.name}签订的编号为{loan.loan_contract}"
        "的《个人借款合同》（以下简称主合同）项下债权的实现，"
        "抵押人愿意以其有权处分的财产提供抵押担保。双方经协商一致，订立本合同。",
    )
    _para(
        flow,
        f"第一条 被担保的主债权。本合同担保的主债权为主合同项下的借款本金人民币{money(loan.amount_yuan)}元"
        f"（大写：{rmb_upper(loan.amount_yuan)}），债务履行期限自{cn_date(loan.start)}起至{cn_date(loan.end)}止。",
    )
    _para(flow, "第二条 抵押财产。抵押财产详见下列抵押物清单：")
    flow.need(30)
    page = flow.page
    t = Table(page, 24, 186, flow.y + 2, BODY.at(10), LABEL.at(9.5), pad=1.4)
    cols = (70, 56, 12)
    t.row(
        [
            Cell("坐落", cols[0], LABEL, "c"),
            Cell("不动产权证书号", cols[1], LABEL, "c"),
            Cell("用途", cols[2], LABEL, "c"),
            Cell("建筑面积（㎡）", None, LABEL, "c"),
        ]
    )
    t.row(
        [
            Cell(prop.location, cols[0], None, "c"),
            Cell(cert_printed(prop.cert_number), cols[1], None, "c"),
            Cell(prop.house_use, cols[2], None, "c"),
            Cell(f"{prop.area_m2:.2f}", None, None, "c"),
        ],
        height=12,
    )
    flow.y = t.close() + 2
    _para(
        flow,
        "第三条 担保范围。抵押担保的范围包括主合同项下的借款本金、利息"
        "、罚息、复利、违约金、损害赔偿金以及实现债权和抵押权的费用。",
    )
    _para(
        flow,
        "第四条 抵押登记。双方应于本合同签订之日起十五日内共同向不动产登记机构申请办理抵押登记。抵押权自登记时设立。",
    )
    _para(
        flow,
        "第五条 抵押财产的转让。抵押期间，未经抵押权人书面同意，抵押人不得转让抵押财产。本约定应记载于不动产登记簿。",
    )
    _para(
        flow,
        "第六条 抵押权的实现。债务人不履行到期债务的，抵押权人有权依"
        "法以抵押财产折价或者以拍卖、变卖该财产所得的价款优先受偿。",
    )
    _para(flow, "第七条 本合同自双方签字（盖章）之日起生效，本合同一式三份，抵押权人、抵押人、不动产登记机构各执一份。")
    _sign(flow, ("抵押权人", bank), ("抵押人", owner), loan.start)
    page_numbers(flow.pages)
    fields = {
        "contract_number": loan.mortgage_contract,
        "mortgagee": bank.org_name,
        "mortgagor": owner.name,
        "org_name": bank.org_name,
        "uscc": bank.uscc,
        "legal_rep": bank.legal_rep.name,
        "name": owner.name,
        "id_number": owner.id_number,
        "location": prop.location,
        "cert_number": prop.cert_number,
        "area_m2": f"{prop.area_m2:.2f}",
        "use": prop.house_use,
        "loan_amount_yuan": f"{loan.amount_yuan:.2f}",
        "issue_date": loan.start.isoformat(),
    }
    return Rendered(flow.pages, fields, [party_entry("mortgagee", bank), party_entry("mortgagor", owner)])


def render_m21(ctx: Ctx) -> Rendered:
    case = ctx.case
    loan, prop = case.loan, case.property
    assert loan and loan.settled
    bank, owner = case.party("mortgagee"), case.party("mortgagor")
    agent = case.party("agent")
    assert isinstance(bank, Company) and isinstance(owner, Person) and isinstance(agent, Person)
    day = case.application_date - timedelta(days=ctx.rng.randint(1, 4))
    flow = Flow(ctx.page, top=30, bottom=270, left=26, right=184)
    flow.heading("解除抵押证明", TITLE.at(22), before=6, after=12)
    s = BODY.at(13)
    flow.y += 4
    flow.page.say(26, flow.y, "济南市不动产登记中心：", s)
    flow.y += 2
    flow.para(
        f"借款人{owner.name}（身份证号码：{owner.id_number}）以其所有的坐落于{prop.location}的房屋"
        f"（不动产权证书号：{cert_printed(prop.cert_number)}）作为抵押物，在我行办理了个人贷款"
        f"（借款合同编号：{loan.loan_contract}），抵押登记证明号为{cert_printed(loan.proof_number)}。",
        s,
        leading=2.0,
    )
    flow.para(
        f"该笔贷款已于{cn_date(loan.settled)}全部结清，我行同意解除上述抵押，并申请注销抵押登记。", s, leading=2.0
    )
    flow.para("特此证明。", s, leading=2.0, after=10)
    page = flow.page
    y = flow.y + 8
    page.line(y, [(92, f"抵押权人（盖章）：{bank.org_name}", s)])
    page.seal(150, y + 4, bank.org_name, "", 40)
    y += 12
    page.line(y, [(92, f"经办人：{agent.name}", s)])
    page.signature(130, y + 1, 22, 8, len(agent.name))
    y += 12
    page.line(y, [(92, f"联系电话：{bank.phone}", s)])
    y += 14
    page.say(180, y, cn_date(day), s, "r")
    fields = {
        "org_name": bank.org_name,
        "mortgagee": bank.org_name,
        "mortgagor": owner.name,
        "name": owner.name,
        "id_number": owner.id_number,
        "location": prop.location,
        "cert_number": loan.proof_number,
        "contract_number": loan.loan_contract,
        "agent_name": agent.name,
        "issue_date": day.isoformat(),
    }
    return Rendered(flow.pages, fields, [party_entry("mortgagee", bank), party_entry("mortgagor", owner)])
