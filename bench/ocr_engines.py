"""OCR engines on realistic pages: pages/minute on a pool of worker processes, CER, peak RSS per worker.

    python -m bench.ocr_engines                 # every configuration below, 3 runs each, medians
    python -m bench.ocr_engines --runs 1 --only rapidocr   # configurations whose name starts so

Renders seven 300-dpi A4 pages of registration documents (application form, sale contract, business
licence, tax certificate, property certificate, power of attorney, and a fine-print page in 7-9 pt)
with random but realistic fields, degraded like a scan (skew, blur, noise, JPEG), and knows every
printed line's text and box. CER compares what an engine
read with what was printed, region by region (so a table read cell by cell in another order is not an
error): whitespace is ignored, full-width digits/letters count as their ASCII twins, every other
difference (：vs :, a missing character, a line not found, a line found twice) is an error.

No module-level numpy import here: worker processes import this module (it is ``__main__``) before
their initializer limits the BLAS/OpenMP threads.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

from ocr.codes import compute_id_check_digit, compute_uscc_check_char
from ocr.engines.base import Box, Line

DPI = 300
A4 = (2480, 3508)  # 210 × 297 mm at 300 dpi
MARGIN = 236  # 20 mm
FONT_DIR = "/usr/share/fonts/opentype/noto"
SERIF, SERIF_BOLD = "NotoSerifCJK-Regular.ttc", "NotoSerifCJK-Bold.ttc"
SANS, SANS_BOLD = "NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc"
_SC = 2  # the Simplified Chinese face in the Noto CJK collections


# ---------------------------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class Printed:
    text: str
    box: Box


@dataclass
class Page:
    name: str
    image: Image.Image
    printed: list[Printed] = field(default_factory=list)


def px(points: float) -> int:
    return round(points / 72 * DPI)


_FONTS: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def font(name: str, points: float) -> ImageFont.FreeTypeFont:
    key = (name, px(points))
    if key not in _FONTS:
        _FONTS[key] = ImageFont.truetype(f"{FONT_DIR}/{name}", key[1], index=_SC)
    return _FONTS[key]


class Sheet:
    """A page being drawn; records every text line it prints."""

    def __init__(self, name: str, size: tuple[int, int] = A4) -> None:
        self.image = Image.new("L", size, 255)
        self.draw = ImageDraw.Draw(self.image)
        self.name = name
        self.printed: list[Printed] = []
        self.y = MARGIN

    def text(self, xy: tuple[int, int], text: str, face: ImageFont.FreeTypeFont) -> Box:
        self.draw.text(xy, text, font=face, fill=0)
        left, top, right, bottom = (round(v) for v in self.draw.textbbox(xy, text, font=face))
        self.printed.append(Printed(text, (left, top, right, bottom)))
        return (left, top, right, bottom)

    def width(self, text: str, face: ImageFont.FreeTypeFont) -> int:
        return round(self.draw.textlength(text, font=face))

    def wrap(self, text: str, face: ImageFont.FreeTypeFont, width: int, indent: int = 0) -> list[str]:
        """Chinese wraps anywhere; Latin words and numbers are kept whole."""
        tokens: list[str] = []
        for ch in text:
            if tokens and ch.isascii() and ch.isalnum() and tokens[-1][-1:].isascii() and tokens[-1][-1:].isalnum():
                tokens[-1] += ch
            else:
                tokens.append(ch)
        lines, current, limit = [], "", width - indent
        for token in tokens:
            if current and self.width(current + token, face) > limit:
                lines.append(current)
                current, limit = token.lstrip(), width
            else:
                current += token
        if current:
            lines.append(current)
        return lines

    def title(self, text: str, points: float = 22, face: str = SERIF_BOLD) -> None:
        f = font(face, points)
        w = self.width(text, f)
        self.text(((self.image.width - w) // 2, self.y), text, f)
        self.y += px(points) * 2

    def line(self, text: str, points: float = 12, face: str = SERIF, x: int = MARGIN, gap: float = 1.7) -> None:
        self.text((x, self.y), text, font(face, points))
        self.y += round(px(points) * gap)

    def pair(self, left: str, right: str, points: float = 12, face: str = SERIF) -> None:
        """Two items on one baseline: a left one and a right-aligned one."""
        f = font(face, points)
        self.text((MARGIN, self.y), left, f)
        self.text((self.image.width - MARGIN - self.width(right, f), self.y), right, f)
        self.y += round(px(points) * 1.7)

    def paragraph(self, text: str, points: float = 12, face: str = SERIF, indent: bool = True) -> None:
        f = font(face, points)
        width = self.image.width - 2 * MARGIN
        first = self.width("国国", f) if indent else 0
        for i, chunk in enumerate(self.wrap(text, f, width, first)):
            self.text((MARGIN + (first if i == 0 else 0), self.y), chunk, f)
            self.y += round(px(points) * 1.75)
        self.y += px(points) // 3

    def table(self, rows: Sequence[Sequence[str]], widths: Sequence[float], points: float = 11) -> None:
        """A ruled table; `widths` are fractions of the text width; an empty cell prints nothing."""
        f = font(SERIF, points)
        total = self.image.width - 2 * MARGIN
        xs = [MARGIN]
        for w in widths:
            xs.append(xs[-1] + round(w * total))
        xs[-1] = MARGIN + total
        pad, leading = px(points) // 2, round(px(points) * 1.5)
        top = self.y
        self.draw.line([(xs[0], top), (xs[-1], top)], fill=0, width=3)
        for row in rows:
            wrapped = [self.wrap(cell, f, xs[i + 1] - xs[i] - 2 * pad) if cell else [] for i, cell in enumerate(row)]
            height = max(1, *(len(w) for w in wrapped)) * leading + 2 * pad
            for i, lines in enumerate(wrapped):
                y = self.y + (height - len(lines) * leading) // 2 + (leading - px(points)) // 2
                for text in lines:
                    self.text((xs[i] + pad, y - px(points) // 8), text, f)
                    y += leading
            self.y += height
            self.draw.line([(xs[0], self.y), (xs[-1], self.y)], fill=0, width=3)
        for x in xs:
            self.draw.line([(x, top), (x, self.y)], fill=0, width=3)
        self.y += px(points)

    def done(self, rng: random.Random, degrade: bool = True) -> Page:
        if not degrade:
            return Page(self.name, self.image, self.printed)
        angle = rng.uniform(-0.4, 0.4)
        return Page(
            self.name, scanned(self.image, rng, angle), [skewed(p, self.image.size, angle) for p in self.printed]
        )


def scanned(image: Image.Image, rng: random.Random, angle: float) -> Image.Image:
    """Like a flatbed scan: a slight skew, off-white paper, grey ink, blur, sensor noise, JPEG at quality 80."""
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    blurred = image.filter(ImageFilter.GaussianBlur(0.9))
    paper = Image.new("L", image.size, rng.randint(228, 244))
    inked = Image.composite(Image.new("L", image.size, rng.randint(15, 50)), paper, ImageOps.invert(blurred))
    noisy = ImageChops.add(inked, Image.effect_noise(image.size, 14), offset=-128)
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=80)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def skewed(item: Printed, size: tuple[int, int], angle: float) -> Printed:
    """The printed line's box after `Image.rotate(angle)` about the page centre (counter-clockwise)."""
    cx, cy = size[0] / 2, size[1] / 2
    a = math.radians(angle)
    left, top, right, bottom = item.box
    xs, ys = [], []
    for x, y in ((left, top), (right, top), (right, bottom), (left, bottom)):
        dx, dy = x - cx, y - cy
        xs.append(cx + dx * math.cos(a) + dy * math.sin(a))
        ys.append(cy - dx * math.sin(a) + dy * math.cos(a))
    return Printed(item.text, (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))))


# ------------------------------------------------------------------------------------ random fields

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉晨宇浩"
    "然子轩欣怡梓涵思远建国志强海燕晓东立新文博俊杰雪梅"
)
DISTRICTS = [
    ("370102", "济南市", "历下区"),
    ("370103", "济南市", "市中区"),
    ("370104", "济南市", "槐荫区"),
    ("370105", "济南市", "天桥区"),
    ("370112", "济南市", "历城区"),
    ("370202", "青岛市", "市南区"),
    ("370203", "青岛市", "市北区"),
    ("370212", "青岛市", "崂山区"),
    ("370602", "烟台市", "芝罘区"),
    ("370302", "淄博市", "淄川区"),
]
ROADS = [
    "泺源大街",
    "经十路",
    "解放路",
    "和平路",
    "文化东路",
    "山大路",
    "历山路",
    "舜耕路",
    "香港中路",
    "延安三路",
    "南京路",
    "辽阳西路",
    "北园大街",
    "工业南路",
    "花园路",
    "二环东路",
]
ESTATES = [
    "阳光花园",
    "绿地国际城",
    "鲁能领秀城",
    "万科城",
    "恒大名都",
    "中海国际社区",
    "保利华庭",
    "龙湖春江郦城",
    "海尔世纪公馆",
    "融创中心",
]
COMPANY_WORDS = [
    "鲁信",
    "华泰",
    "金诚",
    "恒通",
    "瑞丰",
    "宏达",
    "盛世",
    "泰和",
    "东方",
    "齐鲁",
    "海润",
    "远洋",
    "众诚",
    "新城",
    "鼎盛",
    "博远",
]
COMPANY_KINDS = [
    "置业",
    "房地产开发",
    "建设工程",
    "物业管理",
    "商贸",
    "投资",
    "科技",
    "建筑安装",
]
USES = ["住宅", "商业", "办公", "成套住宅", "车库", "商服用地/商业"]
BANKS = ["中国建设银行股份有限公司济南分行", "中国工商银行股份有限公司青岛市南支行", "交通银行股份有限公司山东省分行"]
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class Fields:
    """One random applicant, property and deal."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        code, self.city, self.district = rng.choice(DISTRICTS)
        self.division = code
        self.person = self.name()
        self.buyer = self.name()
        self.agent = self.name()
        self.birth = date(1955, 1, 1) + timedelta(days=rng.randrange(17000))
        self.id_number = self.id_for(self.birth)
        self.buyer_id = self.id_for(date(1960, 1, 1) + timedelta(days=rng.randrange(15000)))
        self.company = f"{self.city[:2]}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_KINDS)}有限公司"
        body = f"91{code}" + "".join(rng.choice(USCC_CHARS[:10] + "MA") for _ in range(2))
        body += "".join(rng.choice(USCC_CHARS) for _ in range(17 - len(body)))
        self.uscc = body + compute_uscc_check_char(body)
        road, estate = rng.choice(ROADS), rng.choice(ESTATES)
        self.building, self.unit, self.floor = rng.randint(1, 28), rng.randint(1, 4), rng.randint(1, 33)
        self.room = self.floor * 100 + rng.randint(1, 4)
        self.location = (
            f"{self.district}{road}{rng.randint(1, 399)}号{estate}{self.building}号楼{self.unit}单元{self.room}室"
        )
        self.address = f"山东省{self.city}{rng.choice(DISTRICTS)[2]}{rng.choice(ROADS)}{rng.randint(1, 500)}号"
        parcel = f"{rng.randint(1, 20):03d}{rng.randint(1, 30):03d}"
        self.unit_number = f"{code}{parcel}GB{rng.randint(1, 99999):05d}F{rng.randint(1, 9999):04d}{self.floor:04d}"
        self.year = rng.randint(2016, 2025)
        self.cert_number = f"鲁({self.year}){self.city}不动产权第{rng.randint(1, 999999):07d}号"
        self.area = f"{rng.uniform(45, 180):.2f}"
        self.shared_area = f"{rng.uniform(5, 30):.2f}"
        self.price = f"{rng.randint(40, 600) * 10000 + rng.choice((0, 5000, 8800)):d}"
        self.use = rng.choice(USES)
        self.phone = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
        self.day = date(self.year, 1, 1) + timedelta(days=rng.randrange(330))
        self.contract = f"JN{self.year}{rng.randint(1, 99999):05d}"
        self.capital = rng.choice(("500", "1000", "2000", "5000", "10000"))

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))

    def id_for(self, born: date) -> str:
        body = f"{self.division}{born:%Y%m%d}{self.rng.randint(0, 999):03d}"
        return body + compute_id_check_digit(body)

    def money(self, yuan: str) -> str:
        return f"{int(yuan):,}.00"


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


# ---------------------------------------------------------------------------------------- templates


def application(f: Fields, rng: random.Random) -> Sheet:
    s = Sheet("application")
    s.title("不动产登记申请书")
    s.pair(f"收件编号：{f.year}{rng.randint(1, 99999):06d}", f"收件日期：{cn_date(f.day)}")
    s.pair(f"收件人：{f.agent}", "单位：平方米、万元")
    s.table(
        [
            ["申请登记事项", "国有建设用地使用权及房屋所有权转移登记"],
            ["登记原因", "买卖"],
        ],
        [0.25, 0.75],
    )
    s.table(
        [
            ["申请人情况", "登记申请人", "代理人"],
            ["权利人姓名（名称）", f.buyer, f.agent],
            ["身份证件种类", "居民身份证", "居民身份证"],
            ["证件号", f.buyer_id, f.id_number],
            ["通讯地址", f.address, f"山东省{f.city}{f.district}"],
            ["联系电话", f.phone, "0531-8" + "".join(rng.choice("0123456789") for _ in range(7))],
            ["义务人姓名（名称）", f.person, ""],
            ["证件号", f.id_number, ""],
        ],
        [0.25, 0.45, 0.30],
    )
    s.table(
        [
            ["不动产情况", ""],
            ["坐落", f.location],
            ["不动产单元号", f.unit_number],
            ["不动产类型", "房屋"],
            ["面积", f"{f.area}平方米"],
            ["用途", f.use],
            ["原不动产权证书号", f.cert_number],
            ["用海类型", ""],
        ],
        [0.25, 0.75],
    )
    s.line("申请人声明：", points=12, face=SERIF_BOLD)
    s.paragraph(
        "本申请人对填写的上述内容及提交的申请材料的真实性负责。如有不实，申请人愿承担法律责任。"
        "申请人同意不动产登记机构依法查询、核实与本次登记有关的信息，并按照有关规定公开登记结果。"
    )
    s.pair("权利人（签章）：", "义务人（签章）：")
    s.pair(f"{cn_date(f.day)}", f"{cn_date(f.day)}")
    s.y += px(6)
    s.line(
        "注：1. 申请人为自然人的，应当提交身份证明复印件；申请人为法人或者其他组织的，应当提交营业执照复印件。",
        points=8,
    )
    s.line(
        "2. 申请人委托他人代为申请的，应当提交授权委托书及代理人身份证明；本申请书一式一份，由登记机构留存。", points=8
    )
    return s


def contract(f: Fields, rng: random.Random) -> Sheet:
    s = Sheet("contract")
    s.title("存量房买卖合同", points=20)
    s.pair(f"合同编号：{f.contract}", f"签订日期：{cn_date(f.day)}", points=11)
    s.line(f"出卖人（甲方）：{f.person}", points=12)
    s.line(f"身份证号码：{f.id_number}    联系电话：{f.phone}", points=12)
    s.line(f"买受人（乙方）：{f.buyer}", points=12)
    s.line(f"身份证号码：{f.buyer_id}", points=12)
    s.paragraph(
        "根据《中华人民共和国民法典》《中华人民共和国城市房地产管理法》及其他有关法律、法规的规定，"
        "甲、乙双方在平等、自愿、协商一致的基础上就乙方购买甲方房屋事宜达成如下协议："
    )
    s.line("第一条 房屋基本情况", face=SERIF_BOLD)
    s.paragraph(
        f"甲方房屋坐落于{f.location}，不动产权证书号为{f.cert_number}，"
        f"不动产单元号为{f.unit_number}，建筑面积{f.area}平方米，其中分摊共有建筑面积{f.shared_area}平方米，"
        f"房屋用途为{f.use}。该房屋所占土地的使用权以出让方式取得，土地使用期限至2088年12月31日止。"
    )
    s.line("第二条 成交价格与付款方式", face=SERIF_BOLD)
    s.paragraph(
        f"双方协商一致，该房屋成交总价为人民币{f.money(f.price)}元。乙方于本合同签订之日起"
        f"{rng.choice((3, 5, 7))}日内向甲方支付定金人民币{rng.randint(2, 9)}0,000.00元，余款通过{rng.choice(BANKS)}"
        "办理资金监管，于房屋转移登记完成后划转至甲方账户。"
    )
    s.line("第三条 房屋交付", face=SERIF_BOLD)
    s.paragraph(
        f"甲方应当于{cn_date(f.day + timedelta(days=45))}前将该房屋交付乙方，并结清交付前发生的水、电、"
        "燃气、供暖、物业服务等费用。该房屋交付时，甲方应当迁出户籍，房屋内不得有其他人员居住。"
    )
    s.line("第四条 税费承担", face=SERIF_BOLD)
    s.paragraph(
        "本次交易所发生的税费，按照国家及地方有关规定由甲、乙双方各自承担。因一方原因未能按期办理"
        "不动产转移登记的，由该方承担由此产生的费用和损失。"
    )
    s.line("第五条 争议解决", face=SERIF_BOLD)
    s.paragraph("本合同在履行过程中发生争议，由双方协商解决；协商不成的，依法向房屋所在地人民法院起诉。")
    s.pair("甲方（签字）：", "乙方（签字）：")
    s.pair(cn_date(f.day), cn_date(f.day))
    return s


def licence(f: Fields, rng: random.Random) -> Sheet:
    s = Sheet("licence")
    s.title("营 业 执 照", points=26)
    s.line("（副本）", points=14, x=A4[0] // 2 - px(14) * 2)
    s.line(f"统一社会信用代码 {f.uscc}", points=12, face=SANS)
    s.line(f"编号 S{rng.randint(10**10, 10**11 - 1)}", points=11, face=SANS)
    s.y += px(12)
    rows = [
        ("名称", f.company),
        ("类型", "有限责任公司（自然人投资或控股）"),
        ("法定代表人", f.person),
        ("注册资本", f"{f.capital}万元整"),
        ("成立日期", cn_date(date(f.year - rng.randint(2, 15), rng.randint(1, 12), rng.randint(1, 28)))),
        ("营业期限", "长期"),
        ("住所", f.address),
    ]
    label = font(SERIF_BOLD, 13)
    for key, value in rows:
        s.text((MARGIN + px(20), s.y), key, label)
        s.text((MARGIN + px(130), s.y), value, font(SERIF, 13))
        s.y += round(px(13) * 1.9)
    s.text((MARGIN + px(20), s.y), "经营范围", label)
    scope = (
        "许可项目：房地产开发经营；建设工程施工。（依法须经批准的项目，经相关部门批准后方可开展经营活动，"
        "具体经营项目以相关部门批准文件或许可证件为准）一般项目：物业管理；住房租赁；非居住房地产租赁；"
        "园林绿化工程施工；建筑材料销售；信息咨询服务（不含许可类信息咨询服务）。"
        "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
    )
    f13 = font(SERIF, 13)
    for chunk in s.wrap(scope, f13, A4[0] - MARGIN - px(130) - MARGIN):
        s.text((MARGIN + px(130), s.y), chunk, f13)
        s.y += round(px(13) * 1.7)
    s.y += px(30)
    s.line(f"登记机关  {f.city}{f.district}行政审批服务局", points=13, x=A4[0] // 2)
    s.line(cn_date(f.day), points=13, x=A4[0] // 2 + px(60))
    s.y += px(20)
    s.line("国家企业信用信息公示系统网址：http://www.gsxt.gov.cn", points=10.5, face=SANS)
    s.line("市场主体应当于每年1月1日至6月30日通过国家企业信用信息公示系统报送公示年度报告。", points=10.5)
    s.line("国家市场监督管理总局监制", points=10.5, x=A4[0] // 2)
    return s


def tax(f: Fields, rng: random.Random) -> Sheet:
    s = Sheet("tax")
    s.title("中华人民共和国税收完税证明", points=18)
    s.pair(f"填发日期：{cn_date(f.day)}", f"税务机关：国家税务总局{f.city}{f.district}税务局", points=11)
    s.line(f"纳税人识别号：{f.buyer_id}", points=11)
    s.line(f"纳税人名称：{f.buyer}", points=11)
    taxable = int(f.price)
    deed = taxable * rng.choice((1, 1.5, 3)) / 100
    stamp = 0
    rows = [["原凭证号", "税种", "品目名称", "税款所属时期", "入库（退）库日期", "实缴（退）金额"]]
    for tax_name, item, amount in [
        ("契税", "房屋买卖", deed),
        ("印花税", "产权转移书据", stamp),
        ("个人所得税", "财产转让所得", taxable * 0.01),
        ("增值税", "销售不动产", 0),
        ("城市维护建设税", "增值税附征", 0),
        ("教育费附加", "增值税教育费附加", 0),
    ]:
        rows.append(
            [
                f"3370{rng.randint(10**10, 10**11 - 1)}",
                tax_name,
                item,
                f"{f.day:%Y-%m-%d}至{f.day:%Y-%m-%d}",
                f"{f.day:%Y-%m-%d}",
                f"{amount:,.2f}",
            ]
        )
    s.table(rows, [0.2, 0.14, 0.16, 0.2, 0.14, 0.16], points=10)
    s.line(f"金额合计（大写）人民币{rng.choice(('叁万', '肆万伍仟', '壹万贰仟', '陆万'))}元整", points=11)
    s.line(f"金额合计（小写）¥{deed + taxable * 0.01:,.2f}", points=11)
    s.line(f"备注：房屋坐落{f.location}", points=11)
    s.line(f"不动产单元号{f.unit_number}，计税价格{f.money(f.price)}元", points=11)
    s.line(f"合同编号{f.contract}，面积{f.area}平方米", points=11)
    s.line("妥善保管", points=11, x=A4[0] - MARGIN - px(60))
    return s


def certificate(f: Fields, rng: random.Random) -> Sheet:
    s = Sheet("certificate")
    s.pair(f"鲁（{f.year}）{f.city}", f"不动产权第{rng.randint(1, 999999):07d}号", points=14)
    s.y += px(10)
    owner = f.buyer if rng.random() < 0.5 else f.company
    s.table(
        [
            ["权利人", owner],
            ["共有情况", rng.choice(("单独所有", "共同共有", "按份共有"))],
            ["坐落", f.location],
            ["不动产单元号", f.unit_number],
            ["权利类型", "国有建设用地使用权/房屋所有权"],
            ["权利性质", "出让/市场化商品房"],
            ["用途", f"城镇住宅用地/{f.use}"],
            ["面积", f"共有宗地面积{rng.randint(8000, 90000)}.{rng.randint(10, 99)}平方米/房屋建筑面积{f.area}平方米"],
            ["使用期限", f"国有建设用地使用权{f.year - 3}年01月01日起{f.year + 67}年12月31日止"],
            [
                "权利其他状况",
                f"专有建筑面积：{float(f.area) - float(f.shared_area):.2f}平方米，分摊建筑面积：{f.shared_area}平方米；"
                f"房屋结构：钢筋混凝土结构；房屋总层数：{rng.randint(f.floor, 34)}层，所在层：{f.floor}层；"
                f"房屋竣工时间：{f.year - 4}年",
            ],
        ],
        [0.22, 0.78],
        points=12,
    )
    s.line("附记", points=12, face=SERIF_BOLD)
    s.paragraph(
        f"该房屋于{cn_date(f.day)}办理抵押登记，抵押权人为{rng.choice(BANKS)}，被担保主债权数额"
        f"{rng.randint(30, 300)}万元，债务履行期限至{f.year + 20}年{f.day.month}月{f.day.day}日。"
    )
    s.paragraph(f"原不动产权证书号：{f.cert_number}。登记簿记载的业务宗号{f.contract}。")
    s.y += px(20)
    s.line(f"登记机构（章）  {f.city}不动产登记中心", points=12, x=A4[0] // 2)
    s.line(cn_date(f.day), points=12, x=A4[0] // 2 + px(60))
    s.line("中华人民共和国自然资源部监制   编号NO " + f"{rng.randint(10**11, 10**12 - 1)}", points=9, face=SANS)
    return s


def attorney(f: Fields, rng: random.Random) -> Sheet:
    s = Sheet("attorney")
    s.title("授权委托书", points=20, face=SANS_BOLD)
    face = SANS
    s.line(f"委托人：{f.person}", face=face)
    s.line(f"公民身份号码：{f.id_number}", face=face)
    s.line(f"住址：{f.address}", face=face)
    s.line(f"受托人：{f.agent}", face=face)
    s.line(f"公民身份号码：{f.buyer_id}", face=face)
    s.line(f"联系电话：{f.phone}", face=face)
    s.paragraph(
        f"委托人系坐落于{f.location}房屋（不动产单元号{f.unit_number}，建筑面积{f.area}平方米）"
        f"的所有权人。因委托人工作原因不能亲自办理该房屋的相关手续，现委托受托人{f.agent}作为委托人的合法代理人，"
        "全权代表委托人办理下列事项：",
        face=face,
    )
    for i, item in enumerate(
        [
            "代为办理该房屋的不动产转移登记、抵押登记及注销抵押登记手续；",
            "代为签署存量房买卖合同、资金监管协议及相关申请材料；",
            "代为缴纳交易过程中产生的各项税费，领取完税证明；",
            "代为领取不动产权证书、不动产登记证明及房屋价款。",
        ],
        start=1,
    ):
        s.line(f"{i}. {item}", face=face)
    s.paragraph(
        f"委托期限自{cn_date(f.day)}起至{cn_date(f.day + timedelta(days=180))}止。受托人在上述权限范围内"
        "所签署的一切有关文件，委托人均予以承认，由此产生的法律后果由委托人承担。受托人无转委托权。",
        face=face,
    )
    s.y += px(12)
    s.pair(f"委托人（签字）：{f.person}", f"受托人（签字）：{f.agent}", face=face)
    s.pair(cn_date(f.day), cn_date(f.day), face=face)
    s.line(f"公证书编号：（{f.year}）鲁济{rng.choice('南北东西')}证民字第{rng.randint(100, 9999)}号", face=face)
    s.y += px(12)
    s.line("附件：", face=face)
    s.line("1. 委托人居民身份证复印件一份；", face=face)
    s.line("2. 受托人居民身份证复印件一份；", face=face)
    s.line(f"3. 不动产权证书（{f.cert_number}）复印件一份。", face=face)
    s.paragraph("本委托书一式三份，委托人、受托人及不动产登记机构各执一份，具有同等法律效力。", face=face)
    return s


def fine_print(f: Fields, rng: random.Random) -> Sheet:
    """The stress page: notes and annexes in 7 to 9 pt, closely set (what a too-small detection loses)."""
    s = Sheet("fine print")
    s.title("不动产登记资料查询结果证明", points=16)
    for points in (9, 8, 7):
        for i in range(8):
            g = Fields(rng)
            text = f"{points}磅 坐落{g.location}，不动产单元号{g.unit_number}，权利人{g.buyer}"
            s.line(text, points=points, face=SERIF if i % 2 else SANS, gap=1.45)
        s.y += px(points)
    return s


TEMPLATES: tuple[Callable[[Fields, random.Random], Sheet], ...] = (
    application,
    contract,
    licence,
    tax,
    certificate,
    attorney,
    fine_print,
)


def make_pages(n: int = len(TEMPLATES), seed: int = 2024, degrade: bool = True) -> list[Page]:
    """`n` pages, cycling through the templates, each with its own random fields."""
    pages = []
    for i in range(n):
        rng = random.Random(seed * 1000 + i)
        sheet = TEMPLATES[i % len(TEMPLATES)](Fields(rng), rng)
        pages.append(sheet.done(rng, degrade))
    return pages


# ---------------------------------------------------------------------------------------------- CER


def _fold(text: str, strict: bool) -> str:
    """Whitespace never counts; unless strict, full-width ASCII variants count as their ASCII twins."""
    if not strict:
        text = "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in text)
    return "".join(text.split())


def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller of the two areas."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / max(1, smaller)


@dataclass(frozen=True)
class Score:
    errors: int
    chars: int
    errors_strict: int


def score_page(printed: Sequence[Printed], lines: Sequence[Line]) -> Score:
    """Errors region by region: printed lines and read lines that overlap form one region (so a read line
    that merges two printed cells, or one printed line read in two pieces, compares as a whole); in each
    region the texts are joined top-to-bottom, left-to-right and compared by edit distance. A read line
    overlapping nothing printed is all insertions; a printed line nobody read is all deletions."""
    n = len(printed)
    parent = list(range(n + len(lines)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for j, line in enumerate(lines):
        for i, item in enumerate(printed):
            if _overlap(item.box, line.box) > 0.3:
                parent[find(n + j)] = find(i)
    regions: dict[int, tuple[list[tuple[Box, str]], list[tuple[Box, str]]]] = {}
    for i, item in enumerate(printed):
        regions.setdefault(find(i), ([], []))[0].append((item.box, item.text))
    for j, line in enumerate(lines):
        regions.setdefault(find(n + j), ([], []))[1].append((line.box, line.text))
    errors = errors_strict = chars = 0
    for truth, read in regions.values():

        def joined(items: list[tuple[Box, str]]) -> str:
            return "".join(text for _, text in sorted(items, key=lambda it: (it[0][1] // 20, it[0][0])))

        want, got = joined(truth), joined(read)
        chars += len(_fold(want, strict=False))
        errors += edit_distance(_fold(want, strict=False), _fold(got, strict=False))
        errors_strict += edit_distance(_fold(want, strict=True), _fold(got, strict=True))
    return Score(errors, chars, errors_strict)


# ------------------------------------------------------------------------------------------ running


def read_page(png: bytes) -> list[Line]:
    """The pool task: decode one page (as the intake pipeline would) and read it with the worker's engine."""
    from ocr.pool import worker_engine

    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return worker_engine().read(image)


_stock: Any = None


def read_page_stock(png: bytes) -> list[Line]:
    """The reference: RapidOCR's own pipeline (`RapidOCR.__call__`), cls off, onnxruntime on 1 thread."""
    global _stock
    import numpy as np
    from rapidocr import RapidOCR

    from ocr.text import normalize_line

    if _stock is None:
        _stock = RapidOCR(
            params={
                "Global.use_cls": False,
                "Global.log_level": "warning",
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
    with Image.open(io.BytesIO(png)) as image:
        rgb = np.asarray(image.convert("RGB"))[:, :, ::-1]
    result = _stock(np.ascontiguousarray(rgb))
    lines = []
    boxes = result.boxes if result.boxes is not None else []
    for quad, text, score in zip(boxes, result.txts or (), result.scores or (), strict=True):
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        lines.append(Line(normalize_line(text), (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))), float(score)))
    return lines


@dataclass(frozen=True)
class Config:
    name: str
    engine: str
    options: dict[str, Any] = field(default_factory=dict)
    stock: bool = False  # run read_page_stock (the pool's own engine is then unused)


def _rapid(name: str, **options: Any) -> Config:
    return Config(f"rapidocr {name}", "rapidocr", options)


# One setting changed at a time, from RapidOCR's own pipeline to the chosen default.
CONFIGS = (
    Config("rapidocr-stock: RapidOCR.__call__, cls off", "tesseract", stock=True),
    _rapid("det2000 batch6 minw320 (stock sizes)", det_side=2000, rec_batch=6, rec_min_width=320),
    _rapid("det1280 batch6 minw320", det_side=1280, rec_batch=6, rec_min_width=320),
    _rapid("det1280 batch1 minw320", det_side=1280, rec_batch=1, rec_min_width=320),
    _rapid("det1280 batch1 minw0", det_side=1280, rec_batch=1, rec_min_width=0),
    _rapid("det960 batch1 minw0 = default", det_side=960, rec_batch=1, rec_min_width=0),
    _rapid("det960 batch2 minw0", det_side=960, rec_batch=2, rec_min_width=0),
    _rapid("det960 batch6 minw0", det_side=960, rec_batch=6, rec_min_width=0),
    _rapid("det960 batch1 minw320", det_side=960, rec_batch=1, rec_min_width=320),
    _rapid("det960 … margins not trimmed", trim_margins=False),
    _rapid("det960 … arena+mem pattern on", mem_arena=True, mem_pattern=True),
    _rapid("det960 … unclip 2.0", unclip_ratio=2.0),
    _rapid("det800 batch1 minw0", det_side=800),
    _rapid("det640 batch1 minw0", det_side=640),
    Config("tesseract chi_sim psm3 = default", "tesseract"),
    Config("tesseract chi_sim+eng psm3", "tesseract", {"lang": "chi_sim+eng"}),
    Config("tesseract chi_sim psm4", "tesseract", {"psm": 4}),
    Config("tesseract chi_sim psm6", "tesseract", {"psm": 6}),
    Config("tesseract chi_sim psm11", "tesseract", {"psm": 11}),
    Config("tesseract chi_sim psm3, table rules kept", "tesseract", {"remove_rules": False}),
)


@dataclass(frozen=True)
class Result:
    config: Config
    pages_per_minute: float
    cer: float
    cer_strict: float
    peak_rss_mb: float
    startup_s: float


def run(config: Config, pages: Sequence[Page], runs: int, workers: int, repeat: int = 2) -> Result:
    """Each timed run reads the pages `repeat` times over, so one slow page at the end weighs less."""
    from ocr.pool import OcrPool

    pngs = []
    for page in pages:
        buffer = io.BytesIO()
        page.image.save(buffer, "PNG", compress_level=1)
        pngs.append(buffer.getvalue())
    task = read_page_stock if config.stock else read_page
    started = time.perf_counter()
    with OcrPool(config.engine, workers=workers, options=config.options) as pool:
        # Start every worker and let each read a page (models loaded, first-run allocations done): not timed.
        for _ in range(5):
            list(pool.map(task, pngs[:workers]))
            if len(pool.peak_rss_mb()) >= workers:
                break
        startup = time.perf_counter() - started
        rates, readings = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            readings = list(pool.map(task, pngs * repeat))[: len(pngs)]
            rates.append(len(pngs) * repeat / (time.perf_counter() - t0) * 60)
        peaks = pool.peak_rss_mb()
    scores = [score_page(page.printed, lines) for page, lines in zip(pages, readings, strict=True)]
    chars = sum(s.chars for s in scores)
    return Result(
        config,
        statistics.median(rates),
        100 * sum(s.errors for s in scores) / chars,
        100 * sum(s.errors_strict for s in scores) / chars,
        max(peaks.values()),
        startup,
    )


def _header() -> str:
    return f"| {'engine, configuration':<52} | pages/min | CER % | strict CER % | peak RSS/worker MB | start s |"


def _row(r: Result) -> str:
    return (
        f"| {r.config.name:<52} | {r.pages_per_minute:9.1f} | {r.cer:5.2f} | {r.cer_strict:12.2f} |"
        f" {r.peak_rss_mb:18.0f} | {r.startup_s:7.1f} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr_engines", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per configuration; the median is shown")
    parser.add_argument("--pages", type=int, default=len(TEMPLATES))
    parser.add_argument("--repeat", type=int, default=2, help="each timed run reads the pages this many times")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", action="append", default=[], help="configurations whose name starts so")
    parser.add_argument("--save", help="write the rendered pages as PNG into this folder and stop")
    args = parser.parse_args(argv)
    pages = make_pages(args.pages)
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        for i, page in enumerate(pages, 1):
            page.image.save(os.path.join(args.save, f"page-{i:02d}-{page.name}.png"))
        return 0
    lines = sum(len(p.printed) for p in pages)
    print(f"{len(pages)} pages of {A4[0]}×{A4[1]} px (A4, {DPI} dpi), {lines} printed lines; {args.workers} workers,")
    print(
        f"median of {args.runs} runs of {args.repeat}×{len(pages)} pages;"
        " CER ignores whitespace, strict CER also counts ：vs : and （ vs ("
    )
    print(_header())
    print("|" + "|".join("-" * len(c) for c in _header().split("|")[1:-1]) + "|")
    for config in CONFIGS:
        if args.only and not any(config.name.startswith(prefix) for prefix in args.only):
            continue
        print(_row(run(config, pages, args.runs, args.workers, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
