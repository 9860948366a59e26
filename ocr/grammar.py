"""Value grammars: what a money amount, an area, a date, an address or a name looks like after its label.

A label is followed by what forms of many issuers print there: a bracketed unit or note belonging to the label
("面积(m²)", "价款(万元)", "(大写)"), a footnote mark (※, *, ①), filler ("为", "是", "人民币", "共"), and only
then the value, which ends at its unit, at sentence punctuation or at the next label. Each grammar finds the value
in such a text and says how well the text fitted (`fit`): 1.0 for a value with its own unit or marker right
after the label, less for a bare number, a value found far from its label, or two readings that disagree (大写
and 小写). Units, footnote marks and label text are never values.

Pure and stdlib only; the text given is already folded (NFKC, no whitespace: "m²" and "㎡" read "m2").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ocr.values import clean_text, fold, parse_chinese_amount, parse_date, parse_dates

# What a label may carry after it: a bracketed unit or note, a footnote mark, a colon.
_UNIT_WORDS = (
    r"m2|M2|平方米|平米|平方|元|万元|人民币元|人民币|RMB|大写|小写|人民币大写|币种|人民币万元|单位:?[^()（）]{1,6}"
)
_ANNOTATION = re.compile(rf"^(?:[(（\[【](?:{_UNIT_WORDS})[)）\]】]|[※*＊#①②③④⑤⑥⑦⑧⑨⑩†‡]|[:：;；,，.、|])")
_FILLER = re.compile(
    r"^(?:为|是|计|共计|合计|共|约|总计|暂定|按|人民币|RMB|CNY|币种|金额|:|：|\(小写\)|（小写）|小写)+"
)
_WAN_HINT = re.compile(r"万元")

# Numbers: thousands separators, a decimal part; never the 2 of "m2" nor a digit glued to a letter.
_NUM = r"(?<![0-9A-Za-z.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![0-9])"
# "m" alone at the end of a cell: the engine lost the superscript of m².
_AREA_UNIT = r"(?:平方米|平米|平方|m2|M2|㎡|m(?![0-9A-Za-z]))"
_AREA_WITH_UNIT = re.compile(_NUM + _AREA_UNIT)
_MONEY_MARKED = re.compile(r"[¥￥]" + _NUM.replace("(?<![0-9A-Za-z.,])", "") + r"|" + _NUM + r"(万元|万|元|圆)")
_CAPITAL_CHARS = "零〇壹贰叁肆伍陆柒捌玖拾佰仟万萬亿億元圆角分整正"
_BARE_NUM = re.compile(r"^" + _NUM.replace("(?<![0-9A-Za-z.,])", ""))
# Where a value printed inside a sentence ends.
_SENTENCE_END = re.compile(r"[。；;，,]")
# The longest a value may sit from its label before it is no longer taken as that label's value.
MAX_DISTANCE = 24
# Plausible ranges: an area of a registered unit, an amount of money.
_AREA_RANGE = (Decimal("1"), Decimal("1000000"))
_MONEY_RANGE = (Decimal("1"), Decimal("100000000000"))
# How an address ends: the smallest unit it names.
_ADDRESS_END = re.compile(r"(室|号|户|层|楼|幢|栋|座|单元|门|铺|地块|宗地|车位|库)$")
_ADDRESS_WORDS = re.compile(r"(省|市|区|县|镇|乡|街道|路|街|道|巷|村|小区|花园|苑|庄|号)")
_PERSON = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff·]{1,5}$")
# Surnames: the common single ones (they cover nearly every name on a Jinan register) and the compound ones.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
    "谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢"
    "安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路"
    "游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全"
    "佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚"
    "鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁"
    "芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶"
    "斯元束檀衣信展阴昝智幸奉植衡富尧闭由傅阎钮乜养须巢蒯竺桓仉督岳帅缑亢况海晋楚闫汝鄢涂钦"
)
COMPOUND_SURNAMES = (
    *("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟"),
    *("公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐"),
)


@dataclass(frozen=True)
class Found:
    """A value a grammar found: its normal form, how well the text fitted, where in the text it began."""

    value: str
    fit: float
    start: int = 0
    note: str | None = None


@dataclass(frozen=True)
class Hint:
    """What the label itself said about the value: its unit, and whether the amount is printed in 万元."""

    wan: bool = False
    unit: bool = False


NO_HINT = Hint()


def strip_label_tail(text: str) -> tuple[str, Hint]:
    """The text after a label without the label's own bracketed unit, footnote mark and colon; and the hint.

    Full-width folded (NFKC); spaces inside the rest are kept (a gap between cells ends a one-cell value).
    """
    s = unicodedata.normalize("NFKC", text)
    wan = unit = False
    while True:
        s = s.lstrip()
        match = _ANNOTATION.match(s)
        if not match:
            break
        piece = match.group(0)
        if _WAN_HINT.search(piece):
            wan = True
        if len(piece) > 1:
            unit = True
        s = s[match.end() :]
    return s, Hint(wan=wan, unit=unit)


def _body(text: str, hint: Hint) -> tuple[str, int, Hint]:
    """The folded text after the label's tail and filler, where it began, and the hint with the tail's own."""
    rest, tail = strip_label_tail(text)
    body, skipped = _skip_filler(fold(rest))
    return body, skipped, Hint(wan=hint.wan or tail.wan, unit=hint.unit or tail.unit)


def _decimal(whole: str, frac: str | None) -> Decimal | None:
    try:
        return Decimal(whole.replace(",", "") + (f".{frac}" if frac else ""))
    except InvalidOperation:
        return None


def _in_range(value: Decimal, bounds: tuple[Decimal, Decimal]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _plain(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _distance_fit(start: int) -> float:
    """A value right after its label fits; one a few characters on a little less; further on, less again."""
    if start <= 2:
        return 1.0
    if start <= 8:
        return 0.97
    return 0.9


def _skip_filler(text: str) -> tuple[str, int]:
    match = _FILLER.match(text)
    return (text[match.end() :], match.end()) if match else (text, 0)


def find_area(text: str, hint: Hint = NO_HINT) -> Found | None:
    """建筑面积 128.56平方米 / 128.56㎡ / 128.56m2, or a bare number when the label carried the unit."""
    body, skipped, hint = _body(text, hint)
    window = _SENTENCE_END.split(body, maxsplit=1)[0] if not _AREA_WITH_UNIT.match(body) else body
    match = _AREA_WITH_UNIT.search(window[: MAX_DISTANCE + 16])
    if match and match.start() <= MAX_DISTANCE:
        value = _decimal(match.group(1), match.group(2))
        if value is not None and _in_range(value, _AREA_RANGE):
            return Found(_plain(value), _distance_fit(match.start()), skipped + match.start())
    bare = _BARE_NUM.match(body)
    if bare:
        value = _decimal(bare.group(1), bare.group(2))
        follow = body[bare.end() : bare.end() + 1]
        if value is not None and _in_range(value, _AREA_RANGE) and not _glued(follow):
            return Found(_plain(value), 0.97 if hint.unit else 0.93, skipped)
    return None


def _glued(follow: str) -> bool:
    """A number followed by a letter or a Chinese character that is no unit is part of something else (2层, 3号)."""
    return bool(follow) and (follow.isalpha() and follow not in "元万")


def find_money(text: str, hint: Hint = NO_HINT) -> Found | None:
    """An amount in yuan: ¥2,860,000.00 / 2,860,000.00元 / 286万元 / 贰佰捌拾陆万元整, or a bare number after a
    label that carried its unit (价款(万元) 286). When both 大写 and 小写 are printed they must agree."""
    body, skipped, hint = _body(text, hint)
    window = body[: MAX_DISTANCE + 40]
    figure: Found | None = None
    for match in _MONEY_MARKED.finditer(window):
        if match.start() > MAX_DISTANCE + 16:
            break
        if match.group(1) is not None:  # ¥ amount
            value = _decimal(match.group(1), match.group(2))
            scale = 10_000 if hint.wan and not match.group(2) and value is not None and value < 100_000 else 1
        else:
            value = _decimal(match.group(3), match.group(4))
            scale = 10_000 if match.group(5) in ("万元", "万") else 1
        if value is None:
            continue
        value *= scale
        if _in_range(value, _MONEY_RANGE):
            figure = Found(_plain(value), _distance_fit(match.start()), skipped + match.start())
            break
    capital = _capital(window)
    if figure is None:
        bare = _BARE_NUM.match(body)
        if bare and not _glued(body[bare.end() : bare.end() + 1]):
            value = _decimal(bare.group(1), bare.group(2))
            if value is not None:
                value *= 10_000 if hint.wan else 1
                if _in_range(value, _MONEY_RANGE):
                    figure = Found(_plain(value), 0.97 if hint.unit else 0.93, skipped)
    if figure is not None and capital is not None:
        if capital[0] == figure.value:
            return Found(figure.value, 1.0, figure.start)
        return Found(figure.value, 0.5, figure.start, note=f"大写 reads {capital[0]}, 小写 {figure.value}")
    if figure is not None:
        return figure
    if capital is not None and capital[1] <= MAX_DISTANCE:
        return Found(capital[0], 0.95, skipped + capital[1])
    return None


def _capital(text: str) -> tuple[str, int] | None:
    """The first 大写 amount in `text` and where it starts."""
    for match in re.finditer(rf"[{_CAPITAL_CHARS}]{{2,}}", text):
        value = parse_chinese_amount(match.group(0))
        if value is not None and Decimal(value) > 0:
            return value, match.start()
    return None


def find_date(text: str, *, last: bool = False) -> Found | None:
    """The first (or, for a range, the last) calendar date near the label."""
    body, skipped, _ = _body(text, NO_HINT)
    window = body[: MAX_DISTANCE + 30]
    if last:
        dates = parse_dates(window)
        return Found(dates[-1], 1.0, skipped) if len(dates) >= 2 else None
    value = parse_date(window[: MAX_DISTANCE + 12])
    return Found(value, 1.0 if _starts_with_date(body) else 0.95, skipped) if value else None


def _starts_with_date(body: str) -> bool:
    return bool(re.match(r"^(?:\d{4}|[〇零一二三四五六七八九]{4})", body))


def find_address(text: str) -> Found | None:
    """An address up to the punctuation that ends it: 济南市历下区和平路308号2单元301室."""
    rest, _ = strip_label_tail(text)
    cell = rest.strip().split(" ")[0] if rest.strip() else ""
    body = re.sub(r"^(?:为|是|于|位于|坐落于|在)", "", fold(cell))
    value = clean_text(_SENTENCE_END.split(body, maxsplit=1)[0])
    if not value or len(value) < 4 or not _ADDRESS_WORDS.search(value):
        return None
    value = re.sub(r"的(?:房屋|房产|不动产|商品房|物业).*$", "", value)
    # Nothing follows the room in an address: what does is the next cell, read on without a gap.
    room = value.find("室")
    if room >= 0:
        value = value[: room + 1]
    fit = 1.0 if _ADDRESS_END.search(value) else 0.85
    return Found(value, fit, 0)


def find_person(text: str) -> Found | None:
    """A person's name standing alone after its label: a surname and one to three given characters (a middle
    dot for 维吾尔族 names). A name without a known surname is kept, but never sure."""
    rest, _ = strip_label_tail(text)
    cell = rest.strip().split(" ")[0] if rest.strip() else ""
    cell = re.sub(r"[(（【\[].*$", "", _SENTENCE_END.split(cell, maxsplit=1)[0])  # 张三（以下简称乙方）
    value = clean_text(cell)
    if not value or not _PERSON.match(value) or not person_fit(value):
        return None
    return Found(value, person_fit(value), 0)


def person_fit(name: str) -> float:
    """How much `name` looks like a Chinese personal name: 1.0 for a known surname and 2–4 characters."""
    if "·" in name:
        return 0.95
    compound = name[:2] in COMPOUND_SURNAMES
    if (compound and 3 <= len(name) <= 4) or (name[0] in SURNAMES and 2 <= len(name) <= 4):
        return 1.0
    return 0.8 if 2 <= len(name) <= 4 else 0.0  # five characters and more, no dot: words, not a name


# What a property is used for, as certificates, contracts and applications print it (规划用途 / 房屋用途).
USES = (
    "成套住宅",
    "非成套住宅",
    "住宅",
    "公寓",
    "别墅",
    "商业服务",
    "商服",
    "商业",
    "商铺",
    "办公",
    "工业",
    "厂房",
    "仓储",
    "车库",
    "车位",
    "储藏室",
    "储藏间",
    "地下室",
    "教育",
    "医疗",
    "酒店",
    "综合",
    "其他",
    "其它",
)
_USE_SPLIT = re.compile(r"[/／、]")


_USE_AT_START = re.compile(rf"^(?:[\u4e00-\u9fff]{{2,10}}/)?(?:{'|'.join(USES)})")


def find_use(text: str) -> Found | None:
    """The use of a property: 住宅, 商业, 办公…; with the land's use before a "/" (城镇住宅用地/住宅)."""
    rest, _ = strip_label_tail(text)
    cell = rest.strip().split(" ")[0] if rest.strip() else ""
    cell = re.sub(r"^(?:为|是)", "", fold(cell))
    match = _USE_AT_START.match(cell)
    if not match:
        return None
    follow = cell[match.end() : match.end() + 1]
    # Anything but punctuation right after the use: the next cell read on without a gap.
    return Found(match.group(0), 1.0 if not follow or _SENTENCE_END.match(follow) else 0.9, 0)


# A contract's or a receipt's number: ASCII (JNCL2026083134476) or a bank's "SQ2026个贷字第61084号".
_CODE_WITH_WORDS = re.compile(r"[0-9A-Za-z(\[〔][0-9A-Za-z()\[\]〔〕\-]*[\u4e00-\u9fff]{0,6}?第\d{1,10}号")
_CODE_ASCII = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{3,}")


def find_code(text: str) -> Found | None:
    rest, _ = strip_label_tail(text)
    body, skipped = _skip_filler(fold(rest))
    worded = _CODE_WITH_WORDS.search(body[: MAX_DISTANCE + 24])
    if worded and worded.start() <= 4:
        return Found(worded.group(0).upper(), 1.0, skipped + worded.start())
    match = _CODE_ASCII.search(body)
    if not match:
        return None
    follow = body[match.end() : match.end() + 1]
    # A code running on into Chinese characters was cut short (SQ2026 of SQ2026个贷字第61084号).
    fit = 0.8 if follow and "\u4e00" <= follow <= "\u9fff" and follow not in "号" else 1.0
    if match.start() > 2:
        fit = min(fit, 0.95)
    return Found(match.group(0).upper(), fit, skipped + match.start())
