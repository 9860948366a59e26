"""Scanner and phone-camera effects applied to a rendered (upright, clean) page.

Every effect is a parameter of :class:`ScanSpec`; randomness comes only from the generator
passed in, so the same spec and seed give the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

_TRANSPOSE = {
    90: Image.Transpose.ROTATE_270,  # PIL names rotations counter-clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


@dataclass
class ScanSpec:
    dpi: int = 300
    skew_deg: float = 0.0  # clockwise, degrees
    rotation: int = 0  # clockwise quarter turns applied last: 0, 90, 180, 270
    blur: float = 0.6  # Gaussian radius in pixels at 300 dpi
    noise: float = 2.5  # sensor noise, standard deviation in grey levels
    quality: int = 75  # JPEG quality (also used for PDF pages)
    mode: str = "L"  # L grey, RGB colour, 1 bilevel
    paper: tuple[int, int, int] = (250, 249, 244)
    uneven: float = 0.03  # depth of the uneven lighting / paper tone
    contrast: tuple[int, int] = (0, 255)  # where ink black and paper white end up (low contrast: (95, 185))
    threshold: int = 150  # bilevel cut
    phone: bool = False
    hard: list[str] = field(default_factory=list)


def _low_freq(rng: np.random.Generator, shape: tuple[int, int], cells: int = 6) -> np.ndarray:
    """A smooth random field in [0, 1] (uneven lighting, paper tone)."""
    h, w = shape
    ch, cw = max(2, round(cells * h / max(h, w))), max(2, round(cells * w / max(h, w)))
    small = (rng.random((ch, cw)) * 255).astype(np.uint8)
    big = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32) / 255.0


def _to_array(img: Image.Image, mode: str) -> np.ndarray:
    if mode == "RGB":
        return np.asarray(img.convert("RGB"), dtype=np.float32)
    return np.asarray(img.convert("L"), dtype=np.float32)


def _paper_and_light(a: np.ndarray, spec: ScanSpec, rng: np.random.Generator) -> np.ndarray:
    lo, hi = spec.contrast
    a = lo + (hi - lo) * (a / 255.0)
    paper = np.array(spec.paper, dtype=np.float32) / 255.0
    a = a * (paper.mean() if a.ndim == 2 else paper)
    light = 1.0 - spec.uneven * _low_freq(rng, a.shape[:2])
    return a * (light[..., None] if a.ndim == 3 else light)


def _from_array(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))


def scan(img: Image.Image, spec: ScanSpec, rng: np.random.Generator) -> Image.Image:
    """A flatbed/ADF scan of the page: paper tone, skew, blur, noise, then the quarter turn."""
    mode = "RGB" if spec.mode == "RGB" else "L"
    a = _paper_and_light(_to_array(img, mode), spec, rng)
    page = _from_array(a)
    if spec.skew_deg:
        # The paper edge shows as a faint line once the sheet sits crooked on the glass.
        edge = Image.new(page.mode, page.size, (150, 150, 150) if mode == "RGB" else 150)
        inner = Image.new("L", page.size, 255)
        inner.paste(0, (0, 0, page.width, 2))
        inner.paste(0, (0, page.height - 2, page.width, page.height))
        page = Image.composite(page, edge, inner)
        lid = (236, 236, 233) if mode == "RGB" else 236
        page = page.rotate(-spec.skew_deg, resample=Image.Resampling.BICUBIC, fillcolor=lid)
    radius = spec.blur * spec.dpi / 300
    if radius > 0.05:
        page = page.filter(ImageFilter.GaussianBlur(radius))
    a = np.asarray(page, dtype=np.float32)
    if spec.noise:
        grain = rng.normal(0.0, spec.noise, a.shape[:2]).astype(np.float32)
        a = a + (grain[..., None] if a.ndim == 3 else grain)
    page = _from_array(a)
    if spec.mode == "1":
        lut = [255 if v > spec.threshold else 0 for v in range(256)]
        page = page.point(lut).convert("1", dither=Image.Dither.NONE)
    if spec.rotation:
        page = page.transpose(_TRANSPOSE[spec.rotation])
    return page


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Coefficients for Image.transform(PERSPECTIVE) mapping output points ``dst`` to input ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return [float(c) for c in np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))]


def phone_photo(img: Image.Image, spec: ScanSpec, rng: np.random.Generator) -> tuple[Image.Image, float, float]:
    """A page photographed on a desk: perspective, shadow, lens blur, colour noise.

    Returns the photo, the page's effective resolution (dpi) and the tilt of its top edge
    in degrees (clockwise).
    """
    a = _paper_and_light(_to_array(img, "RGB"), spec, rng)
    page = _from_array(a)
    out_w, out_h = 1536, 2048
    W, H = page.size
    # Page corners in the photo: the sheet fills ~85% of the frame, seen a little from below.
    jitter = lambda s: float(rng.uniform(-s, s))  # noqa: E731
    tl = (out_w * 0.09 + jitter(25), out_h * 0.07 + jitter(20))
    tr = (out_w * 0.90 + jitter(25), out_h * 0.05 + jitter(20))
    br = (out_w * 0.95 + jitter(20), out_h * 0.95 + jitter(20))
    bl = (out_w * 0.03 + jitter(20), out_h * 0.93 + jitter(20))
    coeffs = _perspective_coeffs([tl, tr, br, bl], [(0, 0), (W, 0), (W, H), (0, H)])
    warped = page.transform((out_w, out_h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    mask = Image.new("L", page.size, 255).transform((out_w, out_h), Image.Transform.PERSPECTIVE, coeffs)
    # Desk: warm grey-brown, its own uneven tone.
    desk = np.empty((out_h, out_w, 3), dtype=np.float32)
    tone = 0.8 + 0.2 * _low_freq(rng, (out_h, out_w), 4)
    for ch, base in enumerate((118, 96, 78)):
        desk[..., ch] = base * tone
    photo = Image.composite(warped, _from_array(desk), mask.filter(ImageFilter.GaussianBlur(1.2)))
    a = np.asarray(photo, dtype=np.float32)
    # The phone's shadow: darker towards one corner, plus a soft blob.
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    gx, gy = rng.uniform(-1, 1), rng.uniform(0.3, 1)
    ramp = (xx / out_w - 0.5) * gx + (yy / out_h - 0.5) * gy
    shade = 1.0 - 0.38 * (ramp - ramp.min()) / (ramp.max() - ramp.min())
    cx, cy = rng.uniform(0.2, 0.8) * out_w, rng.uniform(0.6, 1.0) * out_h
    blob = np.exp(-(((xx - cx) / (out_w * 0.35)) ** 2 + ((yy - cy) / (out_h * 0.25)) ** 2))
    shade *= 1.0 - 0.18 * blob
    a = a * shade[..., None] * np.array([1.0, 0.985, 0.95], dtype=np.float32)  # warm indoor light
    photo = _from_array(a).filter(ImageFilter.GaussianBlur(spec.blur))
    a = np.asarray(photo, dtype=np.float32) + rng.normal(0.0, spec.noise, (out_h, out_w, 3)).astype(np.float32)
    photo = _from_array(a)
    width_px = math.dist(tl, tr)
    dpi = width_px / (W / spec.dpi)
    tilt = math.degrees(math.atan2(tr[1] - tl[1], tr[0] - tl[0]))
    return photo, dpi, tilt
