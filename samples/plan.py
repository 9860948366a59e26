"""What to generate: the committed set (fixed) and random sets (drawn from a seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from decimal import Decimal

from samples.facts import BUSINESSES, Case, make_case
from samples.scan import ScanSpec

COMMITTED_SEED = 2026


@dataclass
class FilePlan:
    stem: str  # file name without extension
    case: str
    material: str
    fmt: str  # jpg, png, tif, pdf
    spec: ScanSpec
    role: str = ""
    keep: list[int] | None = None  # which rendered pages go into the file (0-based); None: all
    skews: list[float] = field(default_factory=list)  # per page; the spec's skew when missing


@dataclass
class Plan:
    seed: int
    cases: list[Case]
    files: list[FilePlan]


def case_rng(seed: int, case_id: str) -> random.Random:
    return random.Random(f"{seed}:{case_id}:facts")


# -- the committed set ------------------------------------------------------------------------------

CLEAN = ScanSpec(dpi=300, blur=0.85, noise=1.3, quality=75, uneven=0.03)


def _spec(**kw) -> ScanSpec:
    return replace(CLEAN, hard=list(kw.pop("hard", [])), **kw)


def committed_plan(seed: int = COMMITTED_SEED) -> Plan:
    c1 = make_case(case_rng(seed, "case-01"), "case-01", "ENT_NONRES_TRANSFER")
    c2 = make_case(case_rng(seed, "case-02"), "case-02", "MORT_FIRST")
    c3 = make_case(case_rng(seed, "case-03"), "case-03", "MORT_CANCEL")
    c4 = make_case(case_rng(seed, "case-04"), "case-04", "NEW_HOME_TRANSFER")
    c5 = make_case(case_rng(seed, "case-05"), "case-05", "RESALE_TRANSFER")
    make_inconsistent(c5)
    colour = (252, 250, 243)
    files = [
        FilePlan("case-01-M01-application", "case-01", "M01", "jpg", _spec(skew_deg=0.6)),
        FilePlan("case-01-M02-interview", "case-01", "M02", "jpg", _spec(skew_deg=-0.4)),
        FilePlan(
            "case-01-M05-licence-buyer", "case-01", "M05", "jpg", _spec(skew_deg=0.9, mode="RGB", paper=colour), "buyer"
        ),
        FilePlan("case-01-M06-legal-rep-buyer", "case-01", "M06", "jpg", _spec(skew_deg=-0.7), "buyer"),
        FilePlan("case-01-M07-poa-buyer", "case-01", "M07", "jpg", _spec(skew_deg=0.35), "buyer"),
        FilePlan("case-01-M03-id-seller", "case-01", "M03", "jpg", _spec(skew_deg=-1.1), "seller"),
        FilePlan("case-01-M03-id-agent", "case-01", "M03", "jpg", _spec(skew_deg=0.5), "agent"),
        FilePlan("case-01-M08-certificate", "case-01", "M08", "jpg", _spec(skew_deg=-0.5, mode="RGB", paper=colour)),
        FilePlan(
            "case-01-M11-contract",
            "case-01",
            "M11",
            "pdf",
            _spec(dpi=200, quality=70),
            skews=[0.4, -0.6, 0.8],
        ),
        FilePlan("case-01-M12-tax", "case-01", "M12", "jpg", _spec(skew_deg=0.8)),
        FilePlan("case-02-M19-loan-contract", "case-02", "M19", "jpg", _spec(dpi=250, skew_deg=3.0), keep=[0]),
        FilePlan(
            "case-02-M20-mortgage-contract",
            "case-02",
            "M20",
            "jpg",
            _spec(dpi=250, skew_deg=-0.8, rotation=180, hard=["upside_down"]),
            keep=[0],
        ),
        FilePlan(
            "case-03-M09-proof", "case-03", "M09", "jpg", _spec(dpi=200, skew_deg=0.5, rotation=90, hard=["rotated_90"])
        ),
        FilePlan(
            "case-03-M21-discharge",
            "case-03",
            "M21",
            "jpg",
            _spec(
                dpi=300,
                skew_deg=-0.9,
                contrast=(92, 182),
                paper=(236, 233, 224),
                noise=3.0,
                blur=1.0,
                hard=["low_contrast"],
            ),
        ),
        FilePlan("case-04-M10-contract", "case-04", "M10", "jpg", _spec(dpi=300, skew_deg=-1.4), keep=[0]),
        FilePlan(
            "case-04-M03-id-buyer-photo",
            "case-04",
            "M03",
            "jpg",
            _spec(
                dpi=200,
                blur=1.1,
                noise=3.5,
                quality=80,
                mode="RGB",
                paper=(246, 244, 236),
                uneven=0.06,
                phone=True,
                hard=["phone_photo"],
            ),
            "buyer",
        ),
        FilePlan("case-05-M01-application", "case-05", "M01", "jpg", _spec(dpi=250, skew_deg=1.8)),
        FilePlan(
            "case-05-M11-contract",
            "case-05",
            "M11",
            "tif",
            _spec(dpi=300, mode="1", blur=0.6, noise=4.0, threshold=140),
            skews=[-0.3, 0.7, -0.5],
        ),
        FilePlan(
            "case-05-M08-certificate",
            "case-05",
            "M08",
            "png",
            _spec(dpi=200, skew_deg=0.4, noise=0.0, blur=0.5, uneven=0.0),
        ),
    ]
    return Plan(seed, [c1, c2, c3, c4, c5], files)


def make_inconsistent(case: Case) -> None:
    """Turn a resale case into one whose contract disagrees with the certificate (area +10 m²)."""
    assert case.sale
    cert_area = case.property.area_m2
    case.sale.area_m2 = cert_area + Decimal(10)
    case.inconsistencies.append(
        {
            "kind": "area_mismatch",
            "field": "area_m2",
            "materials": ["M11", "M08"],
            "printed": {"M11": f"{case.sale.area_m2:.2f}", "M08": f"{cert_area:.2f}"},
            "description": "存量房买卖合同所载建筑面积比不动产权证书多10.00平方米",
        }
    )


# -- random sets -------------------------------------------------------------------------------------

MATERIALS = {
    "ENT_NONRES_TRANSFER": [
        ("M01", ""),
        ("M02", ""),
        ("M05", "buyer"),
        ("M06", "buyer"),
        ("M07", "buyer"),
        ("M03", "seller"),
        ("M03", "agent"),
        ("M08", ""),
        ("M11", ""),
        ("M12", ""),
    ],
    "RESALE_TRANSFER": [
        ("M01", ""),
        ("M02", ""),
        ("M03", "buyer"),
        ("M03", "seller"),
        ("M08", ""),
        ("M11", ""),
        ("M12", ""),
    ],
    "NEW_HOME_TRANSFER": [
        ("M01", ""),
        ("M02", ""),
        ("M03", "buyer"),
        ("M05", "seller"),
        ("M06", "seller"),
        ("M10", ""),
        ("M12", ""),
    ],
    "MORT_FIRST": [
        ("M01", ""),
        ("M02", ""),
        ("M03", "mortgagor"),
        ("M05", "mortgagee"),
        ("M07", "mortgagee"),
        ("M03", "agent"),
        ("M08", ""),
        ("M19", ""),
        ("M20", ""),
    ],
    "MORT_CANCEL": [
        ("M01", ""),
        ("M03", "agent"),
        ("M05", "mortgagee"),
        ("M07", "mortgagee"),
        ("M09", ""),
        ("M21", ""),
    ],
}
CONTRACTS = ("M10", "M11", "M19", "M20")


def _random_spec(rng: random.Random, dpi: int) -> ScanSpec:
    spec = ScanSpec(
        dpi=dpi,
        skew_deg=round(rng.choice([-1, 1]) * rng.uniform(0.3, 3.0), 2),
        blur=round(rng.uniform(0.4, 1.1), 2),
        noise=round(rng.uniform(1.0, 4.0), 2),
        quality=rng.randint(60, 90),
        mode="RGB" if rng.random() < 0.25 else "L",
        uneven=round(rng.uniform(0.02, 0.08), 3),
    )
    roll = rng.random()
    if roll < 0.05:
        spec.rotation = 180
        spec.hard.append("upside_down")
    elif roll < 0.10:
        spec.rotation = rng.choice([90, 270])
        spec.hard.append(f"rotated_{spec.rotation}")
    elif roll < 0.17:
        spec.contrast, spec.paper = (92, 182), (236, 233, 224)
        spec.hard.append("low_contrast")
    elif roll < 0.22:
        spec.phone, spec.mode, spec.dpi = True, "RGB", min(dpi, 200)
        spec.hard.append("phone_photo")
    return spec


def random_plan(seed: int, n_cases: int, dpi: int) -> Plan:
    cases, files = [], []
    for i in range(n_cases):
        case_id = f"case-{i + 1:02d}"
        business = BUSINESSES[i % len(BUSINESSES)]
        case = make_case(case_rng(seed, case_id), case_id, business)
        cases.append(case)
        rng = random.Random(f"{seed}:{case_id}:plan")
        for material, role in MATERIALS[business]:
            stem = f"{case_id}-{material}" + (f"-{role}" if role else "")
            spec = _random_spec(rng, dpi)
            fmt = "jpg"
            # Make sure every case exercises each writer: PDF/TIFF for the multi-page documents, one PNG.
            if material in CONTRACTS:
                fmt = "pdf" if i % 2 == 0 else "tif"
            elif material == "M02":
                fmt = "tif" if i % 2 == 0 else "pdf"
            elif material == "M08":
                fmt = "png"
            if fmt in ("pdf", "tif", "png") and spec.phone:
                spec = replace(spec, phone=False, dpi=dpi, hard=[h for h in spec.hard if h != "phone_photo"])
            if fmt == "tif" and rng.random() < 0.5:
                spec.mode = "1"
            if fmt == "png":
                spec = replace(spec, noise=0.0, uneven=0.0, mode="L")
            skews = [round(rng.uniform(-1.5, 1.5), 2) for _ in range(4)] if fmt in ("pdf", "tif") else []
            files.append(FilePlan(stem, case_id, material, fmt, spec, role, skews=skews))
    return Plan(seed, cases, files)
