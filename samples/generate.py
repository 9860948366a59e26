"""Generate scan-like pages of registration materials with their ground truth.

    python -m samples.generate --committed                 rebuild samples/scans and samples/cases
    python -m samples.generate --out DIR [--seed N] [--cases N] [--dpi 300]
    python -m samples.generate --heldout --out DIR [--seed N] [--cases N] [--dpi 300]   the held-out family

Same seed, same fonts and same library versions: byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from samples.docs import RENDERERS, Ctx, Rendered
from samples.facts import Case, case_facts
from samples.fonts import FontsMissing
from samples.heldout import generate as generate_heldout
from samples.plan import FilePlan, Plan, committed_plan, random_plan
from samples.scan import phone_photo, scan
from samples.truth import is_printed, problems
from samples.writers import write_json, write_scan

HERE = Path(__file__).resolve().parent
SCANS = HERE / "scans"
CASES = HERE / "cases"
MAX_COMMITTED_BYTES = 8_000_000
_EXTENSIONS = (".jpg", ".png", ".tif", ".pdf", ".json")


def _np_rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _page_fields(doc: Rendered, text: str) -> dict[str, str]:
    return {k: v for k, v in doc.fields.items() if is_printed(k, v, text)}


def _page_parties(doc: Rendered, text: str) -> list[dict[str, str]]:
    found = []
    for party in doc.parties:
        ident = party.get("uscc") or party.get("id_number") or ""
        if ident and is_printed("id_number", ident, text):
            found.append(party)
    return found


def _check_doc(doc: Rendered, material: str, stem: str) -> None:
    """Every field a renderer claims must be printed, on its only page or on one of its pages."""
    bad = problems(doc.fields)
    if bad:
        raise AssertionError(f"{stem}: {bad}")
    texts = ["\n".join(p.lines) for p in doc.pages]
    missing = [k for k, v in doc.fields.items() if not any(is_printed(k, v, t) for t in texts)]
    if missing:
        raise AssertionError(f"{stem} ({material}): fields not printed: {missing}")


def make_file(plan: FilePlan, case: Case, seed: int, out: Path) -> tuple[Path, dict]:
    spec = plan.spec
    ctx = Ctx(case, spec.dpi, random.Random(f"{seed}:{plan.stem}:render"), plan.role)
    doc = RENDERERS[plan.material](ctx)
    _check_doc(doc, plan.material, plan.stem)
    keep = plan.keep if plan.keep is not None else list(range(len(doc.pages)))
    frames, pages = [], []
    for n, index in enumerate(keep, start=1):
        page = doc.pages[index]
        page_spec = replace(spec, skew_deg=plan.skews[index] if index < len(plan.skews) else spec.skew_deg)
        rng = _np_rng(seed, plan.stem, index)
        hard = list(page_spec.hard)
        if page_spec.phone:
            img, dpi, skew = phone_photo(page.image, page_spec, rng)
            dpi, skew = round(dpi), round(skew, 2)
        else:
            img, dpi, skew = scan(page.image, page_spec, rng), page_spec.dpi, page_spec.skew_deg
        # Labels that follow from the page itself rather than from the plan.
        if abs(skew) >= 2.5 and not page_spec.phone:
            hard.append("skew")
        if page_spec.mode == "1":
            hard.append("bilevel")
        if plan.fmt == "pdf" and len(keep) > 1:
            hard.append("multipage_pdf")
        if plan.fmt == "tif" and len(keep) > 1:
            hard.append("multiframe_tiff")
        frames.append(img)
        text = "\n".join(page.lines)
        entry: dict = {
            "page": n,
            "material": plan.material,
            "rotation": page_spec.rotation,
            "skew_deg": skew,
            "dpi": dpi,
            "hard": hard,
            "lines": page.lines,
            "fields": _page_fields(doc, text),
        }
        parties = _page_parties(doc, text)
        if len(parties) > 1:
            entry["parties"] = parties
        if page.seals:
            entry["seals"] = page.seals
        entry["scan"] = {
            "mode": {"L": "grey", "RGB": "colour", "1": "bilevel"}[page_spec.mode],
            "blur": page_spec.blur,
            "noise": page_spec.noise,
            "jpeg_quality": page_spec.quality
            if plan.fmt in ("jpg", "pdf") or (plan.fmt == "tif" and page_spec.mode != "1")
            else None,
            "source_page": index + 1,
            "document_pages": len(doc.pages),
        }
        pages.append(entry)
    path = out / f"{plan.stem}.{plan.fmt}"
    dpi = pages[0]["dpi"]
    write_scan(frames, path, plan.fmt, dpi, spec.quality)
    truth = {"file": path.name, "case": plan.case, "pages": pages}
    write_json(path.with_suffix(".json"), truth)
    return path, truth


def run(plan: Plan, out: Path, cases_dir: Path, verbose: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cases_dir.mkdir(parents=True, exist_ok=True)
    by_id = {c.case_id: c for c in plan.cases}
    written: list[Path] = []
    documents: dict[str, list[dict]] = {c.case_id: [] for c in plan.cases}
    for fp in plan.files:
        path, truth = make_file(fp, by_id[fp.case], plan.seed, out)
        written += [path, path.with_suffix(".json")]
        documents[fp.case].append(
            {"file": path.name, "material": fp.material, "role": fp.role, "pages": len(truth["pages"])}
        )
        if verbose:
            hard = sorted({h for p in truth["pages"] for h in p["hard"]})
            print(
                f"{path.name:42s} {fp.material} {len(truth['pages'])} page(s) "
                f"{path.stat().st_size / 1024:7.0f} KB {' '.join(hard)}"
            )
    for case in plan.cases:
        facts = case_facts(case)
        facts["documents"] = [{k: v for k, v in d.items() if v != ""} for d in documents[case.case_id]]
        case_path = cases_dir / f"{case.case_id}.json"
        write_json(case_path, facts)
        written.append(case_path)
    return written


def generate_random(out: Path, seed: int = 1, cases: int = 3, dpi: int = 300, verbose: bool = False) -> list[Path]:
    """A random set in ``out`` (pages and truth) and ``out/cases`` (case facts)."""
    return run(random_plan(seed, cases, dpi), out, out / "cases", verbose)


def generate_committed(scans: Path = SCANS, cases: Path = CASES, verbose: bool = True) -> int:
    """Rebuild the committed set; returns its total size in bytes."""
    for folder in (scans, cases):
        if folder.is_dir():
            for old in folder.iterdir():
                if old.suffix in _EXTENSIONS:
                    old.unlink()
    run(committed_plan(), scans, cases, verbose)
    return sum(p.stat().st_size for p in scans.iterdir() if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--committed", action="store_true", help="rebuild samples/scans and samples/cases")
    parser.add_argument("--out", type=Path, help="directory for a random set")
    parser.add_argument(
        "--heldout", action="store_true", help="with --out: the held-out family (samples/heldout), not samples/docs"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--dpi", type=int, default=300)
    args = parser.parse_args(argv)
    if args.committed == bool(args.out):
        parser.error("give either --committed or --out DIR")
    if args.heldout and not args.out:
        parser.error("--heldout needs --out DIR")
    if not 72 <= args.dpi <= 600:
        parser.error("--dpi must be between 72 and 600")
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    try:
        if args.committed:
            total = generate_committed()
            print(f"total size of samples/scans: {total / 1e6:.2f} MB ({total} bytes)")
            if total > MAX_COMMITTED_BYTES:
                print(
                    f"error: more than {MAX_COMMITTED_BYTES / 1e6:.0f} MB; lower quality or resolution", file=sys.stderr
                )
                return 1
        elif args.heldout:
            files = generate_heldout(args.out, args.seed, args.cases, args.dpi, verbose=True)
            total = sum(p.stat().st_size for p in files)
            print(f"{len(files)} files, {total / 1e6:.2f} MB in {args.out}")
        else:
            files = generate_random(args.out, args.seed, args.cases, args.dpi, verbose=True)
            total = sum(p.stat().st_size for p in files)
            print(f"{len(files)} files, {total / 1e6:.2f} MB in {args.out}")
    except FontsMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
