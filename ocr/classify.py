"""Which material (M01–M39) a page is, from its text and layout, with a confidence.

The keyword tables are data (`ocr/data/classify.toml`); this module only scores them. A title phrase among
the page's title lines (the first lines, or tall lines near the top) outweighs the same phrase in the body,
where other documents merely cite it (an application form names the certificate it concerns).
"""

from __future__ import annotations

import math
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from statistics import median

from ocr.engines.base import Line

UNKNOWN = "unknown"


@dataclass(frozen=True)
class MaterialRule:
    code: str
    name: str
    titles: tuple[str, ...]
    keywords: tuple[str, ...]
    against: tuple[str, ...]


@dataclass(frozen=True)
class Scoring:
    title: float
    title_elsewhere: float
    keyword: float
    against: float
    min_score: float
    temperature: float
    title_band_lines: int
    title_height_ratio: float
    title_slack: int


@dataclass(frozen=True)
class Rules:
    scoring: Scoring
    materials: Mapping[str, MaterialRule]


@dataclass(frozen=True)
class Classification:
    material: str  # "M05", or "unknown"
    confidence: float  # 0..1
    scores: Mapping[str, float] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # the phrases that decided it

    @property
    def known(self) -> bool:
        return self.material != UNKNOWN


def squash(text: str) -> str:
    """Compare text as printed but without whitespace, full-width forms folded (（ → (, ： → :)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _strings(table: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"classify.toml: '{key}' must be a list of non-empty strings")
    return tuple(squash(v) for v in value)


def load_rules(text: str | None = None) -> Rules:
    raw = text if text is not None else resources.files("ocr").joinpath("data/classify.toml").read_text("utf-8")
    data = tomllib.loads(raw)
    s = data.pop("scoring")
    scoring = Scoring(
        title=float(s["title"]),
        title_elsewhere=float(s["title_elsewhere"]),
        keyword=float(s["keyword"]),
        against=float(s["against"]),
        min_score=float(s["min_score"]),
        temperature=float(s["temperature"]),
        title_band_lines=int(s["title_band_lines"]),
        title_height_ratio=float(s["title_height_ratio"]),
        title_slack=int(s["title_slack"]),
    )
    materials = {}
    for code, table in data.items():
        if not (len(code) == 3 and code[0] == "M" and code[1:].isdigit()):
            raise ValueError(f"classify.toml: '{code}' is not a material code")
        materials[code] = MaterialRule(
            code=code,
            name=str(table["name"]),
            titles=_strings(table, "titles"),
            keywords=_strings(table, "keywords"),
            against=_strings(table, "against"),
        )
    return Rules(scoring, materials)


@cache
def default_rules() -> Rules:
    return load_rules()


def _title_lines(lines: Sequence[Line], scoring: Scoring) -> list[str]:
    """The first lines in reading order, and lines clearly taller than the body in the top third."""
    if not lines:
        return []
    heights = [max(1, ln.box[3] - ln.box[1]) for ln in lines]
    body = median(heights)
    page_top = min(ln.box[1] for ln in lines)
    page_bottom = max(ln.box[3] for ln in lines)
    band = page_top + (page_bottom - page_top) / 3
    chosen = [squash(ln.text) for ln in lines[: scoring.title_band_lines]]
    chosen += [
        squash(ln.text)
        for ln, h in zip(lines, heights, strict=True)
        if ln.box[1] <= band and h >= body * scoring.title_height_ratio
    ]
    return chosen


def classify(lines: Sequence[Line], rules: Rules | None = None, *, continues: str | None = None) -> Classification:
    """The page's material. `continues`: the material of the previous page of the same file, when that page
    carried its title; a page with no title of its own (a contract's second page) is taken as its continuation.
    """
    rules = rules or default_rules()
    sc = rules.scoring
    page = squash("".join(ln.text for ln in lines))
    titles = _title_lines(lines, sc)
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    for code, rule in rules.materials.items():
        score, why = 0.0, []
        best_title = max(
            (t for t in rule.titles if any(t in line and len(line) <= len(t) + sc.title_slack for line in titles)),
            key=len,
            default=None,
        )
        if best_title is not None:
            score += sc.title
            why.append(f"title {best_title}")
        elif any(t in page for t in rule.titles):
            score += sc.title_elsewhere
        hits = [k for k in rule.keywords if k in page]
        score += sc.keyword * len(hits)
        why += hits
        score -= sc.against * sum(1 for a in rule.against if a in "|".join(titles))
        scores[code] = score
        evidence[code] = why
    if not scores:
        return Classification(UNKNOWN, 0.0)
    titled = any(why and why[0].startswith("title ") for why in evidence.values())
    if continues in scores and not titled:
        return Classification(continues, 0.9, scores, ("continues the previous page",))
    best = max(scores, key=lambda c: (scores[c], -int(c[1:])))
    if scores[best] < sc.min_score:
        return Classification(UNKNOWN, 0.0, scores)
    weights = {c: math.exp((s - scores[best]) / sc.temperature) for c, s in scores.items()}
    confidence = weights[best] / sum(weights.values())
    return Classification(best, round(confidence, 4), scores, tuple(evidence[best]))
