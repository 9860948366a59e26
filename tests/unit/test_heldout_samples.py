"""The held-out sample family (samples/heldout): same truth format as the committed samples, other templates."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from ocr.codes import check_cert_number, check_id_number, check_unit_number, check_uscc
from samples.fonts import fonts_available
from samples.generate import main as generate_main
from samples.text import rmb_upper

pytestmark = pytest.mark.skipif(not fonts_available(), reason="Noto CJK fonts (fonts-noto-cjk) not installed")

FIELD_KEYS = {
    "uscc", "id_number", "name", "org_name", "legal_rep", "right_holder", "obligor", "location", "unit_number",
    "cert_number", "area_m2", "price_yuan", "tax_amount_yuan", "contract_number", "use", "registration_type",
    "issue_date", "valid_until", "agent_name", "loan_amount_yuan", "mortgagee", "mortgagor",
}  # fmt: skip
DATE_KEYS = ("issue_date", "valid_until")
MONEY_KEYS = ("price_yuan", "tax_amount_yuan", "loan_amount_yuan")
CHECKS = {
    "uscc": check_uscc,
    "id_number": check_id_number,
    "unit_number": check_unit_number,
    "cert_number": check_cert_number,
}
REQUIRED_LAYOUTS = {
    "running_text",
    "label_below",
    "table_header_above",
    "table_label_left",
    "two_column",
    "unit_in_label",
    "stamp_over_value",
    "footnote",
}
JINAN = {
    "历下区": "370102", "市中区": "370103", "槐荫区": "370104", "天桥区": "370105", "历城区": "370112",
    "长清区": "370113", "章丘区": "370114", "济阳区": "370115", "莱芜区": "370116", "钢城区": "370117",
}  # fmt: skip
SEED, DPI = 11, 100
ROOT = Path(__file__).resolve().parents[2]


def squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


_NUMERALS = "〇一二三四五六七八九"


def _numeral_small(n: int) -> str:
    if n < 10:
        return _NUMERALS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")


def date_forms(value: str) -> list[str]:
    d = date.fromisoformat(value)
    y, m, dd = d.year, d.month, d.day
    numeral = "".join(_NUMERALS[int(c)] for c in str(y)) + f"年{_numeral_small(m)}月{_numeral_small(dd)}日"
    return [
        value,
        f"{y}年{m:02d}月{dd:02d}日",
        f"{y}年{m}月{dd}日",
        f"{y}.{m:02d}.{dd:02d}",
        f"{y}.{m}.{dd}",
        f"{y}/{m}/{dd}",
        f"{y}/{m:02d}/{dd:02d}",
        numeral,
    ]


def printed_somewhere(key: str, value: str, text: str) -> bool:
    """Is ``value`` on the page as printed, or as a form it is the normal form of (万元, 大写, dates)?"""
    flat = squash(text)
    if key in DATE_KEYS:
        return any(squash(f) in flat for f in date_forms(value))
    if key in MONEY_KEYS or key == "area_m2":
        v = Decimal(value)
        forms = [value, f"{v:,.2f}"]
        if v == v.to_integral_value():
            forms.append(f"{int(v)}元")
        if key != "area_m2":
            forms.append(rmb_upper(v))
            w = v / 10000
            w_text = f"{w:f}".rstrip("0").rstrip(".") if "." in f"{w:f}" else f"{w:f}"
            forms += [f"{w_text}万元", f"{w_text}万"]
            # A bare figure under a label that gives the unit: 价款（万元） 286.
            if "万元" in flat and re.search(rf"(?<![0-9.]){re.escape(w_text)}(?![0-9])", flat):
                return True
        return any(squash(f) in flat for f in forms)
    return squash(value) in flat


@pytest.fixture(scope="module")
def heldout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two cases written through the command line (an enterprise transfer and a resale)."""
    out = tmp_path_factory.mktemp("heldout") / "a"
    assert generate_main(["--heldout", "--out", str(out), "--seed", str(SEED), "--cases", "2", "--dpi", str(DPI)]) == 0
    return out


def _truths(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _page_count(path: Path) -> int:
    if path.suffix == ".pdf":
        return len(PdfReader(path).pages)
    with Image.open(path) as img:
        return getattr(img, "n_frames", 1)


def test_the_generator_gives_identical_bytes_for_the_same_seed(heldout_dir: Path, tmp_path: Path) -> None:
    from samples.heldout import generate

    again = generate(tmp_path / "b", seed=SEED, cases=2, dpi=DPI)
    names = sorted(p.relative_to(tmp_path / "b").as_posix() for p in again)
    assert names == sorted(p.relative_to(heldout_dir).as_posix() for p in heldout_dir.rglob("*") if p.is_file())
    for name in names:
        assert (tmp_path / "b" / name).read_bytes() == (heldout_dir / name).read_bytes(), name


def test_another_seed_gives_other_cases() -> None:
    from samples.heldout import heldout_plan

    ours = heldout_plan(SEED, 2, DPI)
    other = heldout_plan(SEED + 1, 2, DPI)
    assert [c.property.location for c in ours.cases] != [c.property.location for c in other.cases]


def test_files_and_truth_are_laid_out_like_a_random_set(heldout_dir: Path) -> None:
    truths = _truths(heldout_dir)
    assert truths
    files = sorted(p for p in heldout_dir.iterdir() if p.suffix in {".jpg", ".png", ".tif", ".pdf"})
    assert sorted(t["file"] for t in truths) == [p.name for p in files]
    suffixes = {p.suffix for p in files}
    assert ".jpg" in suffixes and suffixes & {".pdf", ".tif"}
    cases = sorted((heldout_dir / "cases").glob("*.json"))
    assert [p.stem for p in cases] == ["case-01", "case-02"]
    for truth in truths:
        path = heldout_dir / truth["file"]
        assert _page_count(path) == len(truth["pages"])
        assert truth["case"] in {"case-01", "case-02"}
        for n, page in enumerate(truth["pages"], start=1):
            assert page["page"] == n
            assert re.fullmatch(r"M(0[1-9]|[12][0-9]|30)", page["material"])
            assert page["rotation"] in (0, 90, 180, 270)
            assert page["lines"] and all(isinstance(s, str) and s.strip() for s in page["lines"])
            assert set(page["scan"]) == {"mode", "blur", "noise", "jpeg_quality", "source_page", "document_pages"}
            assert isinstance(page["layout"], list)
    for path in cases:
        case = json.loads(path.read_text(encoding="utf-8"))
        listed = {d["file"] for d in case["documents"]}
        assert listed and all((heldout_dir / f).is_file() for f in listed)


def test_every_truth_field_is_normalised_and_its_identifiers_pass_their_checks(heldout_dir: Path) -> None:
    problems = []
    for truth in _truths(heldout_dir):
        for page in truth["pages"]:
            where = f"{truth['file']} p{page['page']}"
            fields = page["fields"]
            for key, value in fields.items():
                if key not in FIELD_KEYS:
                    problems.append(f"{where}: unknown key {key}")
                if not value or value != squash(value):
                    problems.append(f"{where}: {key} not normalised: {value!r}")
                if key in CHECKS:
                    check = CHECKS[key](value)
                    if not check.valid or check.value != value:
                        problems.append(f"{where}: {key} {value} fails its check or is not normalised")
                if key in DATE_KEYS and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    problems.append(f"{where}: {key} {value} is not ISO")
                if (key in MONEY_KEYS or key == "area_m2") and not re.fullmatch(r"\d+\.\d{2}", value):
                    problems.append(f"{where}: {key} {value} is not a plain decimal")
            if "unit_number" in fields and "location" in fields:
                district = next((d for d in JINAN if d in fields["location"]), None)
                if district is None or JINAN[district] != fields["unit_number"][:6]:
                    problems.append(f"{where}: unit number outside the district of the location")
            for party in page.get("parties", []):
                ident = party.get("uscc") or party.get("id_number")
                party_check = check_uscc if "uscc" in party else check_id_number
                if not ident or not party_check(ident).valid:
                    problems.append(f"{where}: party {party} without a valid identifier")
    assert problems == []


def test_every_truth_field_is_printed_on_its_page_or_derives_from_what_is(heldout_dir: Path) -> None:
    missing = []
    count = 0
    for truth in _truths(heldout_dir):
        for page in truth["pages"]:
            text = "\n".join(page["lines"])
            for key, value in page["fields"].items():
                count += 1
                if not printed_somewhere(key, value, text):
                    missing.append(f"{truth['file']} p{page['page']}: {key}={value}")
    assert count > 40
    assert missing == []


def test_a_ten_case_set_shows_every_layout_class_and_colour_scans() -> None:
    from samples.heldout import LAYOUTS, heldout_plan, render

    plan = heldout_plan(SEED, 10, 72)
    by_id = {c.case_id: c for c in plan.cases}
    seen: set[str] = set()
    materials: set[str] = set()
    keys: dict[str, set[str]] = {}
    for fp in plan.files:
        doc = render(fp, by_id[fp.case], SEED)
        materials.add(fp.material)
        keys.setdefault(fp.material, set()).update(doc.fields)
        for page in doc.pages:
            assert set(page.layout) <= set(LAYOUTS)
            seen.update(page.layout)
    assert seen >= REQUIRED_LAYOUTS, REQUIRED_LAYOUTS - seen
    assert {"M01", "M03", "M05", "M08", "M09", "M10", "M11", "M12", "M19", "M20", "M21"} <= materials
    assert any(fp.spec.mode == "RGB" for fp in plan.files)
    assert len({(fp.material, fp.variant % 2) for fp in plan.files}) == 2 * len(materials)
    # The same facts under the same keys as the committed samples of each material.
    committed: dict[str, set[str]] = {}
    for truth in _truths(ROOT / "samples" / "scans"):
        for page in truth["pages"]:
            committed.setdefault(page["material"], set()).update(page["fields"])
    assert {m: sorted(committed.get(m, set()) - k) for m, k in keys.items() if committed.get(m, set()) - k} == {}


def test_the_family_does_not_use_the_tuned_on_renderers() -> None:
    code = "import sys, samples.heldout; print([m for m in sys.modules if m.startswith('samples.docs')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
