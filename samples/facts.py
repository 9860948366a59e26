"""The facts of a registration case: parties, property, sale, tax, loan — consistent by construction.

Every identifier is made with the project's own check-digit code (``ocr.codes``) and checked
before it is used. Names and companies are invented; districts, their codes and the roads
named in them are real places in Jinan.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from ocr.codes import (
    check_cert_number,
    check_id_number,
    check_unit_number,
    check_uscc,
    compute_id_check_digit,
    compute_org_code_check_char,
    compute_uscc_check_char,
)
from samples.text import add_years, dec

# The day the committed cases were "received"; fixed so output never depends on the clock.
BASE_DATE = date(2026, 11, 16)

DISTRICTS = {
    "历下区": "370102",
    "市中区": "370103",
    "槐荫区": "370104",
    "天桥区": "370105",
    "历城区": "370112",
    "长清区": "370113",
    "章丘区": "370114",
    "济阳区": "370115",
    "莱芜区": "370116",
    "钢城区": "370117",
}
ROADS = {
    "历下区": [
        "泺源大街",
        "泉城路",
        "解放路",
        "文化东路",
        "历山路",
        "山大路",
        "和平路",
        "千佛山路",
        "经十路",
        "燕子山路",
    ],
    "市中区": ["经四路", "经七路", "纬二路", "英雄山路", "二环南路", "舜耕路", "郎茂山路", "共青团路"],
    "槐荫区": ["张庄路", "营市街", "阳光新路", "齐州路", "日照路", "经十路", "西市场大街"],
    "天桥区": ["北园大街", "堤口路", "无影山中路", "济泺路", "明湖西路", "少年路"],
    "历城区": ["花园路", "工业北路", "华信路", "二环东路", "唐冶中路", "洪家楼南路"],
    "长清区": ["大学路", "清河街", "峰山路", "龙泉街"],
    "章丘区": ["汇泉路", "明水大街", "双山大街", "山泉路"],
    "济阳区": ["开元大街", "富阳街", "银河路", "纬二路"],
    "莱芜区": ["鲁中大街", "凤城西大街", "花园北路", "汶源大街"],
    "钢城区": ["府前大街", "钢都大街", "新兴路"],
}
# Other Shandong county codes seen in ID numbers of people living in Jinan.
OTHER_BIRTH_AREAS = {"370124": "平阴县", "370126": "商河县", "370902": "泰山区", "371302": "兰山区", "370303": "张店区"}

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
    "余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟万段"
)
GIVEN_MALE = (
    "建国", "志强", "明远", "海涛", "伟", "磊", "军", "勇", "涛", "鹏", "浩", "宏伟",
    "文博", "晓东", "振华", "立新", "德胜", "俊杰", "子豪", "庆祥", "广德", "泽宇", "国栋", "传亮",
    "兆华", "洪涛", "新民", "宪军", "玉成", "长青", "继文", "恒", "凯", "晨阳", "瑞", "博文",
    "云龙", "家乐",
)  # fmt: skip
GIVEN_FEMALE = (
    "娜", "静", "丽", "敏", "艳", "秀英", "桂兰", "晓燕", "雪梅", "婷", "慧", "玉洁",
    "雅琴", "欣怡", "红梅", "丽华", "芳", "倩", "晓丽", "文静", "佳怡", "淑珍", "春霞", "秀芝",
    "美玲", "海燕", "凤英", "悦", "冰", "琳", "思雨", "晓雯",
)  # fmt: skip
TRADE_NAMES = (
    "泉城", "鲁信", "华瑞", "明湖", "舜耕", "鹊华", "千佛", "泺源", "海岱", "历山", "华山", "金泉",
    "聚丰", "佳和", "宏图", "盛源", "恒泰", "润德", "齐力", "博远", "云起", "嘉禾", "众诚", "天晟",
    "瑞丰", "广宇", "鼎新", "立信",
)  # fmt: skip
INDUSTRIES = {
    "商贸": "一般项目：日用百货销售；五金产品批发；建筑材料销售"
    "；办公用品销售；家用电器销售；食品销售（仅销售预包装食品）；"
    "信息咨询服务（不含许可类信息咨询服务）。（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
    "科技": "一般项目：技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；软件开发；信息系统集成服务；"
    "计算机软硬件及辅助设备零售。（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
    "餐饮管理": "一般项目：餐饮管理；食品销售（仅销售预包装食品）；会议及展览服务；企业管理咨询。许可项目：餐饮服务。"
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动，具体经营项目以相关部门批准文件或许可证件为准）",
    "文化传媒": "一般项目：组织文化艺术交流活动；广告设计、代理；广告制作；会议及展览服务；图文设计制作；"
    "摄像及视频制作服务。（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
    "医药": "许可项目：药品零售；第三类医疗器械经营。一般项目：第"
    "一类医疗器械销售；第二类医疗器械销售；保健食品（预包装）销售。"
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
    "物流": "一般项目：普通货物仓储服务（不含危险化学品等需许可"
    "审批的项目）；国内货物运输代理；装卸搬运；供应链管理服务。"
    "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
}
DEVELOPER_SCOPE = (
    "许可项目：房地产开发经营。一般项目：物业管理；住房租赁；非居住房地产租赁；建筑材料销售。"
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
)
BANK_NAME = "鲁泉银行股份有限公司"  # invented
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass
class Person:
    name: str
    sex: str
    ethnicity: str
    birth: date
    id_number: str
    address: str
    id_issuer: str
    id_valid_from: date
    id_valid_until: date | None  # None: 长期
    phone: str
    kind: str = "individual"


@dataclass
class Company:
    org_name: str
    uscc: str
    legal_rep: Person
    rep_title: str
    address: str
    company_type: str
    capital_yuan: Decimal
    established: date
    scope: str
    authority: str
    licence_date: date
    phone: str
    kind: str = "enterprise"


@dataclass
class Property:
    district: str
    district_code: str
    location: str
    unit_number: str
    cert_number: str
    cert_date: date
    house_use: str
    land_use: str
    right_type: str
    right_nature: str
    area_m2: Decimal
    exclusive_m2: Decimal
    shared_m2: Decimal
    land_area_m2: Decimal
    land_from: date
    land_until: date
    structure: str
    floors_total: int
    floor: int
    completed_year: int
    building: str
    room: str


@dataclass
class Sale:
    contract_number: str
    price_yuan: Decimal
    signed: date
    area_m2: Decimal  # as printed on the contract (differs from the certificate only in an inconsistent case)
    filing_number: str = ""  # 网签备案号 of a new-home contract
    delivery: date | None = None


@dataclass
class Tax:
    voucher_number: str
    original_voucher: str
    base_yuan: Decimal
    rate_pct: Decimal
    amount_yuan: Decimal
    paid: date
    office: str
    clerk: str


@dataclass
class Loan:
    loan_contract: str
    mortgage_contract: str
    amount_yuan: Decimal
    start: date
    end: date
    rate_note: str
    proof_number: str = ""
    proof_date: date | None = None
    settled: date | None = None


@dataclass
class Case:
    case_id: str
    business: str
    registration_type: str
    reason: str
    application_date: date
    receipt_number: str
    clerk: str
    parties: dict[str, Person | Company]
    property: Property
    sale: Sale | None = None
    tax: Tax | None = None
    loan: Loan | None = None
    holder_name: str = ""  # the current 权利人 on the certificate, if there is one
    inconsistencies: list[dict] = field(default_factory=list)

    def party(self, role: str):  # -> Person | Company
        return self.parties[role]


# -- identifiers ---------------------------------------------------------------------------------


def make_id_number(rng: random.Random, area: str, birth: date, male: bool) -> str:
    seq = rng.randint(0, 49) * 20 + rng.randint(0, 9) * 2 + (1 if male else 0)
    body = f"{area}{birth:%Y%m%d}{seq % 1000:03d}"
    number = body + compute_id_check_digit(body)
    assert check_id_number(number, today=BASE_DATE).valid, number
    return number


def make_uscc(rng: random.Random, district_code: str, modern: bool = True) -> str:
    if modern:  # codes issued since 2015 carry an MA-series organisation code
        org8 = "MA" + "".join(rng.choice(CHARSET) for _ in range(6))
    else:
        org8 = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = "91" + district_code + org8 + compute_org_code_check_char(org8)
    code = first17 + compute_uscc_check_char(first17)
    check = check_uscc(code)
    assert check.valid and not check.warnings, (code, check)
    return code


def make_unit_number(rng: random.Random, district_code: str, building: int, room: int) -> str:
    number = (
        f"{district_code}{rng.randint(1, 15):03d}{rng.randint(1, 30):03d}GB{rng.randint(1, 2400):05d}"
        f"F{building:04d}{room:04d}"
    )
    check = check_unit_number(number)
    assert check.valid and not check.warnings, (number, check)
    return number


def make_cert_number(rng: random.Random, year: int, proof: bool = False) -> str:
    kind = "不动产证明" if proof else "不动产权"
    number = f"鲁({year})济南市{kind}第{rng.randint(1000, 399999):07d}号"
    assert check_cert_number(number, today=BASE_DATE).valid, number
    return number


# -- people and companies ------------------------------------------------------------------------


def _rand_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, (end - start).days))


def make_phone(rng: random.Random) -> str:
    return rng.choice(["13", "15", "18", "17"]) + str(rng.randint(0, 9)) + f"{rng.randint(0, 99999999):08d}"


def make_landline(rng: random.Random) -> str:
    return f"0531-{rng.choice('8856')}{rng.randint(0, 9999999):07d}"


def street_address(rng: random.Random, district: str, home: bool = True) -> str:
    road = rng.choice(ROADS[district])
    if home:
        return (
            f"济南市{district}{road}{rng.randint(1, 299)}号{rng.randint(1, 12)}号楼"
            f"{rng.randint(1, 4)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}号"
        )
    number, building = rng.randint(1, 299), rng.randint(1, 6)
    return f"济南市{district}{road}{number}号{building}号楼{rng.randint(1, 24)}{rng.randint(1, 20):02d}室"


def make_person(
    rng: random.Random,
    *,
    sex: str | None = None,
    district: str | None = None,
    finite_id: bool = True,
    born: tuple[int, int] = (1962, 1999),
) -> Person:
    sex = sex or rng.choice("男女")
    district = district or rng.choice(list(DISTRICTS))
    name = rng.choice(SURNAMES) + rng.choice(GIVEN_MALE if sex == "男" else GIVEN_FEMALE)
    for _ in range(1000):
        birth = _rand_date(rng, date(born[0], 1, 1), date(born[1], 12, 31))
        valid_from = _rand_date(rng, date(2012, 1, 1), date(2025, 12, 31))
        age = valid_from.year - birth.year - ((valid_from.month, valid_from.day) < (birth.month, birth.day))
        if age < 16:
            continue
        term = 10 if age <= 25 else 20 if age <= 45 else None
        if term is None and finite_id:
            continue
        until = add_years(valid_from, term) if term else None
        # Cards must still be valid a year after the cases are received.
        if until is None or until > add_years(BASE_DATE, 1):
            break
    else:  # pragma: no cover - the ranges above always leave room
        raise RuntimeError("could not draw a valid ID card")
    area = DISTRICTS[district] if rng.random() < 0.8 else rng.choice(list(OTHER_BIRTH_AREAS))
    return Person(
        name=name,
        sex=sex,
        ethnicity="汉" if rng.random() < 0.93 else "回",
        birth=birth,
        id_number=make_id_number(rng, area, birth, sex == "男"),
        address="山东省" + street_address(rng, district),
        id_issuer=f"济南市公安局{district[:-1]}分局",
        id_valid_from=valid_from,
        id_valid_until=until,
        phone=make_phone(rng),
    )


def make_company(rng: random.Random, *, industry: str | None = None, district: str | None = None) -> Company:
    district = district or rng.choice(list(DISTRICTS)[:5])
    industry = industry or rng.choice(list(INDUSTRIES))
    rep = make_person(rng, sex="男" if rng.random() < 0.7 else "女", district=district, born=(1964, 1988))
    established = _rand_date(rng, date(2015, 3, 1), date(2022, 12, 31))
    return Company(
        org_name=f"济南{rng.choice(TRADE_NAMES)}{industry}有限公司",
        uscc=make_uscc(rng, DISTRICTS[district]),
        legal_rep=rep,
        rep_title=rng.choice(["执行董事兼总经理", "执行董事", "董事长", "经理"]),
        address="山东省" + street_address(rng, district, home=False),
        company_type="有限责任公司（自然人投资或控股）",
        capital_yuan=dec(rng.choice([100, 200, 300, 500, 800, 1000]) * 10000),
        established=established,
        scope=INDUSTRIES[industry],
        authority=f"济南市{district}行政审批服务局",
        licence_date=_rand_date(rng, established, date(2025, 6, 30)),
        phone=make_landline(rng),
    )


def make_developer(rng: random.Random, district: str) -> Company:
    company = make_company(rng, industry="商贸", district=district)
    company.org_name = f"济南{rng.choice(TRADE_NAMES)}置业有限公司"
    company.scope = DEVELOPER_SCOPE
    company.capital_yuan = dec(rng.choice([2000, 5000, 10000]) * 10000)
    company.rep_title = "董事长"
    return company


def make_bank(rng: random.Random, district: str) -> Company:
    bank = make_company(rng, district=district)
    bank.org_name = f"{BANK_NAME}济南{district[:-1]}支行"
    bank.uscc = make_uscc(rng, DISTRICTS[district], modern=False)
    bank.company_type = "股份有限公司分公司（上市、国有控股）"
    bank.rep_title = "行长"  # a branch has a 负责人, not a legal representative
    bank.scope = "许可项目：银行业务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
    return bank


# -- property --------------------------------------------------------------------------------------

_USES = {
    "商业": ("商务金融用地", "出让/其他", 40),
    "办公": ("商务金融用地", "出让/其他", 40),
    "住宅": ("城镇住宅用地", "出让/市场化商品房", 70),
}


def make_property(rng: random.Random, use: str, district: str | None = None) -> Property:
    district = district or rng.choice(list(DISTRICTS))
    land_use, nature, term = _USES[use]
    road = rng.choice(ROADS[district])
    building = rng.randint(1, 9)
    floors_total = rng.randint(6, 28) if use != "商业" else rng.randint(2, 6)
    floor = rng.randint(1, 2) if use == "商业" else rng.randint(2, floors_total)
    room_no = floor * 100 + rng.randint(1, 6)
    unit = rng.randint(1, 3)
    if use == "住宅":
        location = f"济南市{district}{road}{rng.randint(1, 399)}号{building}号楼{unit}单元{room_no}室"
        area = dec(rng.uniform(68, 145))
    else:
        location = f"济南市{district}{road}{rng.randint(1, 399)}号{building}号楼{room_no}室"
        area = dec(rng.uniform(60, 320))
    shared = dec(area * Decimal(str(round(rng.uniform(0.10, 0.20), 4))))
    cert_year = rng.randint(2016, 2024)
    land_from = _rand_date(rng, date(2004, 1, 1), date(cert_year - 2, 12, 31))
    return Property(
        district=district,
        district_code=DISTRICTS[district],
        location=location,
        unit_number=make_unit_number(rng, DISTRICTS[district], building, room_no),
        cert_number=make_cert_number(rng, cert_year),
        cert_date=_rand_date(rng, date(cert_year, 1, 5), date(cert_year, 12, 25)),
        house_use=use,
        land_use=land_use,
        right_type="国有建设用地使用权/房屋所有权",
        right_nature=nature,
        area_m2=area,
        exclusive_m2=area - shared,
        shared_m2=shared,
        land_area_m2=dec(rng.uniform(2000, 26000)),
        land_from=land_from,
        land_until=add_years(land_from, term) - timedelta(days=1),
        structure="钢筋混凝土结构",
        floors_total=floors_total,
        floor=floor,
        completed_year=min(cert_year - 1, land_from.year + rng.randint(2, 4)),
        building=f"{building}号楼",
        room=f"{room_no}室",
    )


# -- cases -------------------------------------------------------------------------------------------

BUSINESSES = ("ENT_NONRES_TRANSFER", "RESALE_TRANSFER", "NEW_HOME_TRANSFER", "MORT_FIRST", "MORT_CANCEL")
REGISTRATION = {
    "ENT_NONRES_TRANSFER": ("转移登记", "买卖"),
    "RESALE_TRANSFER": ("转移登记", "买卖"),
    "NEW_HOME_TRANSFER": ("转移登记", "买卖"),
    "MORT_FIRST": ("抵押权首次登记", "抵押"),
    "MORT_CANCEL": ("抵押权注销登记", "主债权消灭"),
}


def _sale(rng: random.Random, prop: Property, unit_price: tuple[int, int], signed: date, prefix: str) -> Sale:
    price = dec(round(float(prop.area_m2) * rng.randint(*unit_price), -4))
    return Sale(
        contract_number=f"{prefix}{signed:%Y%m%d}{rng.randint(0, 99999):05d}",
        price_yuan=price,
        signed=signed,
        area_m2=prop.area_m2,
        filing_number=f"{signed:%Y}{rng.randint(0, 9999999):07d}" if prefix == "YS" else "",
        delivery=signed + timedelta(days=rng.randint(20, 60)),
    )


def _tax(rng: random.Random, case_district: str, base: Decimal, rate: Decimal, paid: date) -> Tax:
    return Tax(
        voucher_number=f"3370{DISTRICTS[case_district][4:]}{paid:%y%m}{rng.randint(0, 99999999):08d}",
        original_voucher=f"3370{DISTRICTS[case_district][4:]}{paid:%y%m}{rng.randint(0, 99999999):08d}",
        base_yuan=base,
        rate_pct=rate,
        amount_yuan=dec(base * rate / 100),
        paid=paid,
        office=f"国家税务总局济南市{case_district}税务局",
        clerk=rng.choice(SURNAMES) + rng.choice(GIVEN_FEMALE + GIVEN_MALE),
    )


def make_case(rng: random.Random, case_id: str, business: str, application: date | None = None) -> Case:
    """A coherent case of the given business type."""
    application = application or BASE_DATE - timedelta(days=rng.randint(0, 50))
    reg_type, reason = REGISTRATION[business]
    clerk = rng.choice(SURNAMES) + rng.choice(GIVEN_FEMALE + GIVEN_MALE)
    receipt = f"{application:%Y%m%d}{rng.randint(1, 9999):04d}"
    signed = application - timedelta(days=rng.randint(6, 30))
    parties: dict[str, Person | Company] = {}
    sale = tax = loan = None
    if business == "ENT_NONRES_TRANSFER":
        prop = make_property(rng, rng.choice(["商业", "办公"]))
        parties["buyer"] = make_company(rng)
        parties["seller"] = make_person(rng, district=prop.district)
        parties["agent"] = make_person(rng)
        sale = _sale(rng, prop, (16000, 26000), signed, "JNCL")
        tax = _tax(rng, prop.district, sale.price_yuan, Decimal(3), application - timedelta(days=rng.randint(1, 4)))
    elif business == "RESALE_TRANSFER":
        prop = make_property(rng, "住宅")
        parties["buyer"] = make_person(rng)
        parties["seller"] = make_person(rng, district=prop.district)
        sale = _sale(rng, prop, (11000, 21000), signed, "JNCL")
        rate = Decimal(1) if prop.area_m2 <= 90 else Decimal("1.5")  # first home: 1% up to 90 m², 1.5% above
        tax = _tax(rng, prop.district, sale.price_yuan, rate, application - timedelta(days=rng.randint(1, 4)))
    elif business == "NEW_HOME_TRANSFER":
        prop = make_property(rng, "住宅")
        prop.cert_number = ""  # the buyer's first certificate is what the registration will issue
        parties["buyer"] = make_person(rng)
        parties["seller"] = make_developer(rng, prop.district)
        sale = _sale(rng, prop, (13000, 24000), signed - timedelta(days=400), "YS")
        tax = _tax(rng, prop.district, sale.price_yuan, Decimal(1), application - timedelta(days=rng.randint(1, 4)))
    elif business in ("MORT_FIRST", "MORT_CANCEL"):
        prop = make_property(rng, "住宅")
        parties["mortgagor"] = make_person(rng, district=prop.district)
        parties["mortgagee"] = make_bank(rng, prop.district)
        parties["agent"] = make_person(rng)  # the bank's clerk who brings the papers
        start = application - timedelta(days=rng.randint(3, 10)) if business == "MORT_FIRST" else prop.cert_date
        years = rng.choice([10, 15, 20, 25])
        amount = dec(round(float(prop.area_m2) * rng.randint(5000, 9000), -4))
        loan = Loan(
            loan_contract=f"JK{start:%Y}{DISTRICTS[prop.district]}{rng.randint(0, 999999):06d}",
            mortgage_contract=f"DY{start:%Y}{DISTRICTS[prop.district]}{rng.randint(0, 999999):06d}",
            amount_yuan=amount,
            start=start,
            end=add_years(start, years) - timedelta(days=1),
            rate_note=(
                f"按贷款实际发放日前一工作日的5年期以上贷款市场报价利率（LPR）减{rng.choice([20, 30, 40])}个基点确定"
            ),
        )
        if business == "MORT_CANCEL":
            loan.proof_date = start + timedelta(days=rng.randint(3, 12))
            loan.proof_number = make_cert_number(rng, loan.proof_date.year, proof=True)
            loan.settled = application - timedelta(days=rng.randint(5, 25))
    else:
        raise ValueError(f"unknown business {business}")
    holder = parties.get("seller") or parties.get("mortgagor")
    if business == "NEW_HOME_TRANSFER":
        holder = None
    case = Case(
        case_id=case_id,
        business=business,
        registration_type=reg_type,
        reason=reason,
        application_date=application,
        receipt_number=receipt,
        clerk=clerk,
        parties=parties,
        property=prop,
        sale=sale,
        tax=tax,
        loan=loan,
        holder_name=holder.name if isinstance(holder, Person) else "",
    )
    return case


def case_facts(case: Case) -> dict:
    """The case as plain JSON data (dates ISO, amounts plain decimal strings)."""

    def clean(obj):
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if v not in ("", None)}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        if isinstance(obj, date):
            return obj.isoformat()
        if isinstance(obj, Decimal):
            return f"{obj:.2f}"
        return obj

    data = {
        "case": case.case_id,
        "business": case.business,
        "registration_type": case.registration_type,
        "reason": case.reason,
        "application_date": case.application_date,
        "receipt_number": case.receipt_number,
        "parties": [{"role": role, **asdict(p)} for role, p in case.parties.items()],
        "property": asdict(case.property),
        "sale": asdict(case.sale) if case.sale else None,
        "tax": asdict(case.tax) if case.tax else None,
        "loan": asdict(case.loan) if case.loan else None,
        "inconsistencies": case.inconsistencies,
    }
    return clean(data)
