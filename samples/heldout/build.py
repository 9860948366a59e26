"""Render, scan and write a held-out set: the files, their truth (the samples' format) and the case files."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from samples.facts import Case, case_facts
from samples.heldout.base import Doc, HCtx
from samples.heldout.cards import render_m03, render_m05
from samples.heldout.contracts import render_m10, render_m11, render_m19, render_m20, render_m21
from samples.heldout.fmt import derive, squash
from samples.heldout.forms import render_m01
from samples.heldout.plan import HeldoutFile, HeldoutPlan, heldout_plan
from samples.heldout.titles import render_m08, render_m09, render_m12
from samples.scan import phone_photo, scan
from samples.truth import problems
from samples.writers import write_json, write_scan

RENDERERS = {
    "M01": render_m01,
    "M03": render_m03,
    "M05": render_m05,
    "M08": render_m08,
    "M09": render_m09,
    "M10": render_m10,
    "M11": render_m11,
    "M12": render_m12,
    "M19": render_m19,
    "M20": render_m20,
    "M21": render_m21,
}


class TruthError(AssertionError):
    """A renderer claimed a field it did not print, or printed it in a form that does not give the value."""


def _np_rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def render(fp: HeldoutFile, case: Case, seed: int, dpi: int | None = None) -> Doc:
    """The upright pages of one file's document, checked: every claimed field is printed and derives its value."""
    ctx = HCtx(case, dpi or fp.spec.dpi, random.Random(f"heldout:{seed}:{fp.stem}:render"), fp.role, fp.variant)
    doc = RENDERERS[fp.material](ctx)
    check(doc, fp.stem)
    return doc


def check(doc: Doc, stem: str) -> None:
    bad = problems(doc.fields)
    for key, value in doc.fields.items():
        for printed, unit in doc.shown[key]:
            try:
                derived = derive(key, printed, unit)
            except (ValueError, ArithmeticError) as exc:
                bad.append(f"{key}: printed {printed!r} does not parse: {exc}")
                continue
            if derived != value:
                bad.append(f"{key}: printed {printed!r} ({unit}) gives {derived!r}, not {value!r}")
    texts = [squash("\n".join(p.lines)) for p in doc.pages]
    for key in doc.fields:
        if not any(squash(printed) in t for printed, _ in doc.shown[key] for t in texts):
            bad.append(f"{key}: not printed on any page")
    if bad:
        raise TruthError(f"{stem}: {bad}")


def page_fields(doc: Doc, text: str) -> dict[str, str]:
    flat = squash(text)
    return {k: v for k, v in doc.fields.items() if any(squash(printed) in flat for printed, _ in doc.shown[k])}


def page_parties(doc: Doc, text: str) -> list[dict[str, str]]:
    flat = squash(text)
    return [p for p in doc.parties if (p.get("uscc") or p.get("id_number") or "") in flat]


def make_file(fp: HeldoutFile, case: Case, seed: int, out: Path) -> tuple[Path, dict]:
    doc = render(fp, case, seed)
    spec = fp.spec
    frames, pages = [], []
    for index, page in enumerate(doc.pages):
        page_spec = replace(spec, skew_deg=fp.skews[index] if index < len(fp.skews) else spec.skew_deg)
        rng = _np_rng("heldout", seed, fp.stem, index)
        hard = list(page_spec.hard)
        if page_spec.phone:
            img, dpi_f, skew_f = phone_photo(page.image, page_spec, rng)
            dpi, skew = round(dpi_f), round(skew_f, 2)
        else:
            img, dpi, skew = scan(page.image, page_spec, rng), page_spec.dpi, page_spec.skew_deg
        if abs(skew) >= 2.5 and not page_spec.phone:
            hard.append("skew")
        if page_spec.mode == "1":
            hard.append("bilevel")
        if fp.fmt == "pdf" and len(doc.pages) > 1:
            hard.append("multipage_pdf")
        if fp.fmt == "tif" and len(doc.pages) > 1:
            hard.append("multiframe_tiff")
        frames.append(img)
        text = "\n".join(page.lines)
        entry: dict = {
            "page": index + 1,
            "material": fp.material,
            "rotation": page_spec.rotation,
            "skew_deg": skew,
            "dpi": dpi,
            "hard": hard,
            "lines": page.lines,
            "fields": page_fields(doc, text),
        }
        parties = page_parties(doc, text)
        if len(parties) > 1:
            entry["parties"] = parties
        if page.seals:
            entry["seals"] = page.seals
        entry["scan"] = {
            "mode": {"L": "grey", "RGB": "colour", "1": "bilevel"}[page_spec.mode],
            "blur": page_spec.blur,
            "noise": page_spec.noise,
            "jpeg_quality": page_spec.quality
            if fp.fmt in ("jpg", "pdf") or (fp.fmt == "tif" and page_spec.mode != "1")
            else None,
            "source_page": index + 1,
            "document_pages": len(doc.pages),
        }
        entry["layout"] = list(page.layout)
        pages.append(entry)
    path = out / f"{fp.stem}.{fp.fmt}"
    dpi = pages[0]["dpi"]
    write_scan(frames, path, fp.fmt, dpi, spec.quality)
    truth = {"file": path.name, "case": fp.case, "pages": pages}
    write_json(path.with_suffix(".json"), truth)
    return path, truth


def run(plan: HeldoutPlan, out: Path, verbose: bool = False) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cases_dir = out / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    by_id = {c.case_id: c for c in plan.cases}
    written: list[Path] = []
    documents: dict[str, list[dict]] = {c.case_id: [] for c in plan.cases}
    for fp in plan.files:
        path, truth = make_file(fp, by_id[fp.case], plan.seed, out)
        written += [path, path.with_suffix(".json")]
        entry = {"file": path.name, "material": fp.material, "role": fp.role, "pages": len(truth["pages"])}
        documents[fp.case].append({k: v for k, v in entry.items() if v != ""})
        if verbose:
            hard = sorted({h for p in truth["pages"] for h in p["hard"]})
            print(
                f"{path.name:42s} {fp.material} {len(truth['pages'])} page(s) "
                f"{path.stat().st_size / 1024:7.0f} KB {' '.join(hard)}"
            )
    for case in plan.cases:
        facts = case_facts(case)
        facts["family"] = "heldout"
        facts["documents"] = documents[case.case_id]
        case_path = cases_dir / f"{case.case_id}.json"
        write_json(case_path, facts)
        written.append(case_path)
    return written


def generate(out: Path, seed: int, cases: int, dpi: int = 300, verbose: bool = False) -> list[Path]:
    """Write a held-out set into ``out`` (files with ``X.json`` truth beside them) and ``out/cases``."""
    return run(heldout_plan(seed, cases, dpi), Path(out), verbose)
