"""The committed sample scans, their ground truth, and the generator that makes them."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from ocr.codes import check_cert_number, check_id_number, check_unit_number, check_uscc
from samples.fonts import fonts_available
from samples.generate import generate_random
from samples.text import rmb_upper

ROOT = Path(__file__).resolve().parents[2] / "samples"
SCANS = ROOT / "scans"
CASES = ROOT / "cases"
IMAGE_SUFFIXES = {".jpg", ".png", ".tif", ".pdf"}
CANONICAL = {
    "uscc", "id_number", "name", "org_name", "legal_rep", "right_holder", "obligor", "location", "unit_number",
    "cert_number", "area_m2", "price_yuan", "tax_amount_yuan", "contract_number", "use", "registration_type",
    "issue_date", "valid_until",
}  # fmt: skip
ADDED = {"agent_name", "loan_amount_yuan", "mortgagee", "mortgagor"}
JINAN = {
    "历下区": "370102", "市中区": "370103", "槐荫区": "370104", "天桥区": "370105", "历城区": "370112",
    "长清区": "370113", "章丘区": "370114", "济阳区": "370115", "莱芜区": "370116", "钢城区": "370117",
}  # fmt: skip
# A word each material prints (domain.md §4), looked for on any page of the file.
KEYWORDS = {
    "M01": "不动产登记申请书", "M02": "询问笔录", "M03": "公民身份号码", "M05": "营业执照", "M06": "法定代表人",
    "M07": "授权委托书", "M08": "不动产权第", "M09": "不动产证明第", "M10": "商品房买卖合同", "M11": "存量房买卖合同",
    "M12": "税收完税证明", "M19": "借款", "M20": "抵押合同", "M21": "解除抵押",
}  # fmt: skip
PLAIN_NUMBER = re.compile(r"^[0-9]+\.[0-9]{2}$")
DATE_KEYS = ("issue_date", "valid_until")
NUMBER_KEYS = ("area_m2", "price_yuan", "tax_amount_yuan", "loan_amount_yuan")


def _scan_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in IMAGE_SUFFIXES)


def _truths(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _count_pages(path: Path) -> int:
    """Open every page of a scan (forcing a full decode) and return how many there are."""
    if path.suffix == ".pdf":
        return len(PdfReader(path).pages)
    with Image.open(path) as img:
        frames = getattr(img, "n_frames", 1)
        for i in range(frames):
            img.seek(i)
            img.load()
        return frames


def _field_problems(fields: dict[str, str]) -> list[str]:
    out = []
    for key, value in fields.items():
        if key not in CANONICAL | ADDED:
            out.append(f"unknown key {key}")
        if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
            out.append(f"{key}: empty or spaced value {value!r}")
    checks = {"uscc": check_uscc, "id_number": check_id_number, "unit_number": check_unit_number}
    for key, check in {**checks, "cert_number": check_cert_number}.items():
        if key in fields and not check(fields[key]).valid:
            out.append(f"{key}: {fields[key]} fails its check")
        if key in fields and check(fields[key]).value != fields[key]:
            out.append(f"{key}: {fields[key]} is not normalised")
    for key in DATE_KEYS:
        if key in fields:
            try:
                date.fromisoformat(fields[key])
            except ValueError:
                out.append(f"{key}: {fields[key]} is not an ISO date")
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fields[key]):
                out.append(f"{key}: {fields[key]} is not YYYY-MM-DD")
    for key in NUMBER_KEYS:
        if key in fields and not PLAIN_NUMBER.match(fields[key]):
            out.append(f"{key}: {fields[key]} is not a plain decimal")
    if "unit_number" in fields and "location" in fields:
        district = next((d for d in JINAN if d in fields["location"]), None)
        if district is None or JINAN[district] != fields["unit_number"][:6]:
            out.append(f"unit number {fields['unit_number']} is not in the district of {fields['location']}")
    return out


def _set_problems(folder: Path) -> list[str]:
    """Everything wrong with a folder of scans and truth files."""
    out = []
    scans = _scan_files(folder)
    truths = {}
    for path in sorted(folder.glob("*.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        if Path(truth["file"]).stem != path.stem:
            out.append(f"{path.name}: describes {truth['file']}")
        truths[truth["file"]] = truth
    for scan in scans:
        if scan.name not in truths:
            out.append(f"{scan.name}: no truth file")
    for name, truth in truths.items():
        path = folder / name
        if not path.is_file():
            out.append(f"{name}: named by its truth but missing")
            continue
        pages = truth["pages"]
        if _count_pages(path) != len(pages):
            out.append(f"{name}: {_count_pages(path)} pages in the file, {len(pages)} in the truth")
        if [p["page"] for p in pages] != list(range(1, len(pages) + 1)):
            out.append(f"{name}: pages not numbered 1..n")
        for page in pages:
            where = f"{name} p{page['page']}"
            if not re.fullmatch(r"M(0[1-9]|[12][0-9]|30)", page["material"]):
                out.append(f"{where}: material {page['material']!r} is not M01-M30")
            if page["rotation"] not in (0, 90, 180, 270):
                out.append(f"{where}: rotation {page['rotation']}")
            if not page["lines"] or not all(isinstance(line, str) and line.strip() for line in page["lines"]):
                out.append(f"{where}: empty lines")
            out += [f"{where}: {p}" for p in _field_problems(page["fields"])]
            for party in page.get("parties", []):
                ident = party.get("uscc") or party.get("id_number")
                check = check_uscc if "uscc" in party else check_id_number
                if not ident or not check(ident).valid:
                    out.append(f"{where}: party {party} has no valid identifier")
        keyword = KEYWORDS.get(pages[0]["material"])
        text = "".join("".join(p["lines"]) for p in pages).replace(" ", "")
        if keyword and keyword not in text:
            out.append(f"{name}: {keyword} not printed")
    return out


def test_every_committed_scan_has_valid_ground_truth() -> None:
    assert _scan_files(SCANS), "no committed scans"
    assert _set_problems(SCANS) == []


def test_committed_pages_open_upright_or_turned_as_their_truth_says() -> None:
    for truth in _truths(SCANS):
        path = SCANS / truth["file"]
        if path.suffix == ".pdf":
            continue
        with Image.open(path) as img:
            portrait = img.height > img.width
        turned = truth["pages"][0]["rotation"] in (90, 270)
        assert portrait != turned, f"{path.name}: {img.size} with rotation {truth['pages'][0]['rotation']}"


def test_committed_pdf_is_scanned_images_without_a_text_layer() -> None:
    pdfs = sorted(SCANS.glob("*.pdf"))
    assert pdfs
    for path in pdfs:
        reader = PdfReader(path)
        assert len(reader.pages) >= 2
        for page in reader.pages:
            assert page.extract_text().strip() == ""
            assert page.images, f"{path.name}: a page without an image"
        metadata = dict(reader.metadata or {})
        assert "/CreationDate" not in metadata and "/ModDate" not in metadata


def test_committed_set_covers_the_required_materials_and_hard_cases() -> None:
    pages = [p for t in _truths(SCANS) for p in t["pages"]]
    materials = {p["material"] for p in pages}
    required = {"M01", "M02", "M03", "M05", "M06", "M07", "M08", "M09", "M10", "M11", "M12", "M19", "M20", "M21"}
    assert required <= materials
    hard = {h for p in pages for h in p["hard"]}
    assert {
        "skew",
        "low_contrast",
        "upside_down",
        "rotated_90",
        "multipage_pdf",
        "multiframe_tiff",
        "phone_photo",
    } <= hard
    assert {p["rotation"] for p in pages} >= {0, 90, 180}
    assert any(abs(p["skew_deg"]) >= 2.5 for p in pages)
    assert 20 <= len(pages) <= 25
    tiffs = sorted(SCANS.glob("*.tif"))
    assert tiffs and all(_count_pages(t) >= 2 for t in tiffs)


def test_committed_set_is_under_8_mb() -> None:
    total = sum(p.stat().st_size for p in SCANS.iterdir() if p.is_file())
    assert total < 8_000_000


def test_case_files_list_existing_documents_with_matching_facts() -> None:
    cases = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in CASES.glob("*.json")}
    assert len(cases) >= 2
    for name, case in cases.items():
        assert case["case"] == name
        prop = case["property"]
        assert prop["unit_number"][:6] == prop["district_code"] == JINAN[prop["district"]]
        for doc in case["documents"]:
            truth = json.loads((SCANS / doc["file"]).with_suffix(".json").read_text(encoding="utf-8"))
            assert truth["case"] == name
            for page in truth["pages"]:
                if "location" in page["fields"]:
                    assert page["fields"]["location"] == prop["location"]
        for party in case["parties"]:
            ident = party.get("uscc") or party.get("id_number")
            assert (check_uscc if "uscc" in party else check_id_number)(ident).valid


def test_enterprise_transfer_case_is_complete() -> None:
    case = json.loads((CASES / "case-01.json").read_text(encoding="utf-8"))
    assert case["business"] == "ENT_NONRES_TRANSFER"
    kinds = {p["role"]: p["kind"] for p in case["parties"]}
    assert kinds["buyer"] == "enterprise" and kinds["seller"] == "individual"
    assert case["property"]["house_use"] != "住宅"
    assert case["tax"]["base_yuan"] == case["sale"]["price_yuan"]
    materials = {d["material"] for d in case["documents"]}
    assert {"M01", "M02", "M03", "M05", "M06", "M07", "M08", "M11", "M12"} <= materials


def test_inconsistent_case_contract_and_certificate_disagree_on_area() -> None:
    flagged = []
    for path in CASES.glob("*.json"):
        case = json.loads(path.read_text(encoding="utf-8"))
        if case.get("inconsistencies"):
            flagged.append(case)
    assert len(flagged) == 1
    case = flagged[0]
    areas = {}
    for doc in case["documents"]:
        truth = json.loads((SCANS / doc["file"]).with_suffix(".json").read_text(encoding="utf-8"))
        for page in truth["pages"]:
            if "area_m2" in page["fields"]:
                areas[page["material"]] = float(page["fields"]["area_m2"])
    assert areas["M11"] - areas["M08"] == pytest.approx(10.0)


def test_amounts_in_words_follow_the_financial_rules() -> None:
    assert rmb_upper("2860000.00") == "贰佰捌拾陆万元整"
    assert rmb_upper("85800") == "捌万伍仟捌佰元整"
    assert rmb_upper("1000500") == "壹佰万零伍佰元整"
    assert rmb_upper("1234567.89") == "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"
    assert rmb_upper("300000.07") == "叁拾万元零柒分"


@pytest.mark.skipif(not fonts_available(), reason="Noto CJK fonts (fonts-noto-cjk) not installed")
def test_generator_gives_identical_bytes_for_the_same_seed(tmp_path: Path) -> None:
    first = generate_random(tmp_path / "a", seed=7, cases=1, dpi=100)
    second = generate_random(tmp_path / "b", seed=7, cases=1, dpi=100)
    names = sorted(p.relative_to(tmp_path / "a") for p in first)
    assert names == sorted(p.relative_to(tmp_path / "b") for p in second)
    assert {p.suffix for p in first} >= {".jpg", ".png", ".tif", ".pdf"}
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert _set_problems(tmp_path / "a") == []
