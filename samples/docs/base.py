"""What every material renderer shares: its inputs, its output and a few printed fragments."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from samples.facts import Case, Company, Person
from samples.page import BODY, Page, Style
from samples.text import cn_date


@dataclass
class Ctx:
    case: Case
    dpi: int
    rng: random.Random
    role: str = ""  # whose ID card / licence (M03, M05, M06, M07)

    def page(self, paper: tuple[int, int, int] = (255, 255, 255)) -> Page:
        return Page(self.dpi, self.rng, paper=paper)


@dataclass
class Rendered:
    """A rendered document: its upright pages, the fields it prints and the parties it names."""

    pages: list[Page]
    fields: dict[str, str]
    parties: list[dict[str, str]] = field(default_factory=list)


def party_entry(role: str, p: Person | Company) -> dict[str, str]:
    if isinstance(p, Company):
        return {"role": role, "org_name": p.org_name, "uscc": p.uscc}
    return {"role": role, "name": p.name, "id_number": p.id_number}


def display_name(p: Person | Company) -> str:
    return p.org_name if isinstance(p, Company) else p.name


def id_kind(p: Person | Company) -> str:
    return "营业执照" if isinstance(p, Company) else "居民身份证"


def id_of(p: Person | Company) -> str:
    return p.uscc if isinstance(p, Company) else p.id_number


def cert_printed(number: str) -> str:
    """Certificate numbers are printed with full-width parentheses: 鲁（2019）济南市…"""
    return number.replace("(", "（").replace(")", "）")


SMALL = BODY.at(9)


def footer(page: Page, text: str, style: Style = SMALL) -> None:
    page.say(page.w_mm / 2, page.h_mm - 14, text, style, "c")


def page_numbers(pages: list[Page], style: Style = SMALL) -> None:
    for n, page in enumerate(pages, start=1):
        footer(page, f"第{n}页 共{len(pages)}页", style)


def date_line(page: Page, x: float, y: float, d: date, style: Style = BODY, align: str = "l") -> None:
    page.say(x, y, cn_date(d), style, align)
