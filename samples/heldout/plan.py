"""What a held-out set holds: cases drawn from a seed, their files, the edition and scan of each."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from decimal import Decimal

from samples.facts import BUSINESSES, DISTRICTS, Case, Company, make_case, make_company, make_uscc
from samples.scan import ScanSpec

# Materials per business; the role says whose card or licence it is.
MATERIALS: dict[str, list[tuple[str, str]]] = {
    "ENT_NONRES_TRANSFER": [
        ("M01", ""),
        ("M05", "buyer"),
        ("M03", "seller"),
        ("M03", "agent"),
        ("M08", ""),
        ("M11", ""),
        ("M12", ""),
    ],
    "RESALE_TRANSFER": [("M01", ""), ("M03", "buyer"), ("M03", "seller"), ("M08", ""), ("M11", ""), ("M12", "")],
    "NEW_HOME_TRANSFER": [("M01", ""), ("M03", "buyer"), ("M05", "seller"), ("M10", ""), ("M12", "")],
    "MORT_FIRST": [
        ("M01", ""),
        ("M03", "mortgagor"),
        ("M05", "mortgagee"),
        ("M08", ""),
        ("M19", ""),
        ("M20", ""),
    ],
    "MORT_CANCEL": [("M01", ""), ("M03", "agent"), ("M05", "mortgagee"), ("M09", ""), ("M21", "")],
}
CONTRACTS = ("M10", "M11", "M19", "M20")
# Banks of the held-out family (invented), with the numbering their contracts use.
BANKS = (
    ("恒岱银行股份有限公司", "济南{d}支行", "HD"),
    ("济南舜泉农村商业银行股份有限公司", "{d}支行", "SQ"),
)


@dataclass
class HeldoutFile:
    stem: str
    case: str
    material: str
    fmt: str
    spec: ScanSpec
    role: str = ""
    variant: int = 0
    skews: list[float] = field(default_factory=list)


@dataclass
class HeldoutPlan:
    seed: int
    cases: list[Case]
    files: list[HeldoutFile]


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(["heldout", str(seed), *map(str, parts)]))


def _localise(case: Case, rng: random.Random) -> None:
    """Give the case this family's own bank and contract numbering (the facts stay coherent)."""
    prop = case.property
    if case.sale:
        sale = case.sale
        if case.business == "NEW_HOME_TRANSFER":
            sale.contract_number = f"{sale.signed:%Y}YS{rng.randint(0, 999999):06d}"
        else:
            sale.contract_number = f"CLHT{sale.signed:%Y}{rng.randint(0, 9999999):07d}"
    if case.loan:
        bank_name, branch, prefix = BANKS[rng.randrange(len(BANKS))]
        bank: Company = make_company(rng, district=prop.district)
        bank.org_name = bank_name + branch.format(d=prop.district[:-1])
        bank.uscc = make_uscc(rng, DISTRICTS[prop.district], modern=rng.random() < 0.5)
        bank.company_type = "股份有限公司分公司"
        bank.rep_title = "行长"
        bank.scope = (
            "经营中国银行业监督管理机构依照有关法律、行政法规和其他规定批准的业务，经营范围以批准文件所列的为准。"
        )
        bank.capital_yuan = Decimal(0)
        case.parties["mortgagee"] = bank
        loan = case.loan
        year = loan.start.year
        loan.loan_contract = f"{prefix}{year}个贷字第{rng.randint(1, 99999):05d}号"
        loan.mortgage_contract = f"{prefix}{year}个抵字第{rng.randint(1, 99999):05d}号"


def _spec(rng: random.Random, dpi: int, material: str, landscape: bool, multipage: bool) -> ScanSpec:
    colour_odds = 0.7 if material in ("M05", "M08", "M09") else 0.25
    spec = ScanSpec(
        dpi=dpi,
        skew_deg=round(rng.choice([-1, 1]) * rng.uniform(0.2, 3.2), 2),
        blur=round(rng.uniform(0.4, 1.2), 2),
        noise=round(rng.uniform(0.8, 4.5), 2),
        quality=rng.randint(55, 92),
        mode="RGB" if rng.random() < colour_odds else "L",
        uneven=round(rng.uniform(0.02, 0.09), 3),
    )
    if spec.mode == "RGB":
        spec.paper = (rng.randint(246, 253), rng.randint(243, 250), rng.randint(232, 244))
    roll = rng.random()
    if roll < 0.05:
        spec.rotation = 180
        spec.hard.append("upside_down")
    elif roll < 0.10:
        spec.rotation = rng.choice([90, 270])
        spec.hard.append(f"rotated_{spec.rotation}")
    elif roll < 0.18:
        spec.contrast, spec.paper = (90, 186), (236, 232, 222)
        spec.hard.append("low_contrast")
    elif roll < 0.24 and not landscape and not multipage:
        spec.phone, spec.mode, spec.dpi = True, "RGB", min(dpi, 200)
        spec.hard.append("phone_photo")
    return spec


def heldout_plan(seed: int, n_cases: int, dpi: int) -> HeldoutPlan:
    cases, files = [], []
    for i in range(n_cases):
        case_id = f"case-{i + 1:02d}"
        business = BUSINESSES[i % len(BUSINESSES)]
        case = make_case(_rng(seed, case_id, "facts"), case_id, business)
        _localise(case, _rng(seed, case_id, "local"))
        cases.append(case)
        rng = _rng(seed, case_id, "plan")
        for material, role in MATERIALS[business]:
            stem = f"{case_id}-{material}" + (f"-{role}" if role else "")
            # Each material's editions take turns over the cases, so a 10-case set shows all of them.
            variant = i + seed + sum(map(ord, material + role))
            landscape = material == "M05" and variant % 2 == 0
            multipage = material in CONTRACTS
            spec = _spec(rng, dpi, material, landscape, multipage)
            fmt = "jpg"
            if multipage:
                fmt = "pdf" if (i + seed) % 2 == 0 else "tif"
            elif material == "M12" and rng.random() < 0.4:
                fmt = "png"
            if fmt == "tif" and rng.random() < 0.5:
                spec.mode = "1"
            if fmt == "png":
                spec = replace(spec, noise=0.0, uneven=0.0, mode="L", phone=False, dpi=dpi)
                spec.hard = [h for h in spec.hard if h != "phone_photo"]
            skews = [round(rng.uniform(-1.8, 1.8), 2) for _ in range(6)] if multipage else []
            files.append(HeldoutFile(stem, case_id, material, fmt, spec, role, variant, skews))
    return HeldoutPlan(seed, cases, files)
