"""Page clean-up before OCR: red seals, contrast, skew, quarter turns, blank pages. Pure functions on Pillow images.

Every measurement and `prepare` work in gray; a colour page becomes gray through `lift_seals`, which takes the red
ink of seals (公章) off it first, so the same colour page always gives the same gray, whoever converts it.

Skew angles follow Pillow's `Image.rotate`: positive is counter-clockwise. A page turned by `page.rotate(2.0)`
(its text lines rising to the right) has a skew of +2.0, and `deskew` turns it back by -2.0.
`rotate_quadrant` alone counts clockwise, the way a clerk says "turn it a quarter to the right".

Measurements run on a reduced copy of the page so that each function stays well under 150 ms for a 300-dpi A4
page on one core; only the final rotation or contrast stretch touches every pixel.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageChops

_SKEW_WORK_SIDE = 1300  # longer side, in px, of the copy skew is measured on
_SKEW_MAX_POINTS = 60_000  # ink pixels sampled for the projection profiles
_SKEW_COARSE_STEP = 0.25
_SKEW_FINE_STEP = 0.02
_SKEW_PLATEAU = 0.001  # fine-search scores this close to the best count as the same peak
_SKEW_MIN_PEAK = 1.15  # best profile energy over the median one; below it the page has no text lines to go by
_SKEW_MIN_CORRECTION = 0.1  # degrees; smaller skews are left alone rather than resampling the page for nothing
_MARGIN = 0.04  # share of each side ignored when measuring: scanner edges, punch holes, lid shadow

_INK_MIN_SEPARATION = 40  # grey levels between ink and paper for a pixel class to count as ink at all
_INK_MIN_SHARE = 0.0005  # share of ink pixels below which skew is not measured

_BLANK_WORK_SIDE = 1200
_BLANK_INK_DELTA = 48  # darker than the paper by this much is ink; show-through stays lighter
_BLANK_MAX_INK_SHARE = 0.0003  # about a page number's worth of ink; one short line of text is more

_CONTRAST_LOW, _CONTRAST_HIGH = 0.5, 99.5  # percentiles mapped to black and white
_CONTRAST_GOOD_SPAN = 160  # pages whose ink-to-paper span reaches this are left untouched
_CONTRAST_MIN_SPAN = 40  # below this there is no ink to stretch (blank or show-through only)

# A pixel is seal ink when it is much redder than it is green or blue (R − max(G, B)) AND bright in red, measured
# against the paper's own red: black print under a seal is dark in all three channels, and dark red-brown print
# (maroon) is too dark in red to be a seal. Between the two ends of each ramp pixels are blended (seal rims).
_SEAL_REDNESS = (16, 48)
_SEAL_RED_OF_PAPER = (0.55, 0.75)
_SEAL_PAPER_PERCENTILE = 90.0  # of the red channel: where the paper is
_SEAL_CORE = 192  # weight (of 255) from which a pixel counts as seal ink when measuring how red the seal is
_SEAL_MIN_CORE_PIXELS = 200  # fewer such pixels are specks: the seal's red is not measured, only the channel used
_CORE_TABLE = [255 if v >= _SEAL_CORE else 0 for v in range(256)]
_SEAL_STRIP_ROWS = 256

_CLOCKWISE = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def estimate_skew(image: Image.Image, max_angle: float = 5.0) -> float:
    """The text's skew in degrees within ±`max_angle` (counter-clockwise positive); 0.0 for pages without text.

    Projection profiles: the ink of a reduced, binarised copy is sheared by each candidate angle and summed per
    row; the angle whose row sums are most peaked (text lines collapsing onto rows) wins, coarse then fine.
    """
    small = _reduced(_gray(image), _SKEW_WORK_SIDE)
    pixels = _without_margins(np.asarray(small))
    ink = _ink_mask(pixels)
    if ink is None:
        return 0.0
    ys, xs = np.nonzero(ink)
    stride = max(1, math.ceil(ys.size / _SKEW_MAX_POINTS))
    ys = ys[::stride].astype(np.float64)
    xs = xs[::stride].astype(np.float64) - pixels.shape[1] / 2.0
    height = pixels.shape[0]

    coarse = np.arange(-max_angle, max_angle + _SKEW_COARSE_STEP / 2, _SKEW_COARSE_STEP)
    coarse_scores = _profile_energy(ys, xs, height, coarse)
    best = int(np.argmax(coarse_scores))
    if coarse_scores[best] < _SKEW_MIN_PEAK * float(np.median(coarse_scores)):
        return 0.0
    centre = float(coarse[best])
    reach = math.ceil(_SKEW_COARSE_STEP / _SKEW_FINE_STEP)
    fine = centre + np.arange(-reach, reach + 1) * _SKEW_FINE_STEP
    fine = fine[np.abs(fine) <= max_angle + 1e-9]
    fine_scores = _profile_energy(ys, xs, height, fine)
    # Thick lines give a flat-topped peak; its middle is a steadier estimate than whichever end scores highest.
    top = fine[fine_scores >= fine_scores.max() * (1.0 - _SKEW_PLATEAU)]
    return round(float(np.clip((top.min() + top.max()) / 2.0, -max_angle, max_angle)), 2)


def deskew(image: Image.Image, max_angle: float = 5.0) -> tuple[Image.Image, float]:
    """The page turned straight (white fill, same size) and the skew removed in degrees (0.0 when none was)."""
    skew = estimate_skew(image, max_angle)
    if abs(skew) < _SKEW_MIN_CORRECTION:
        return image, 0.0
    return straighten(image, skew), skew


def straighten(image: Image.Image, skew: float) -> Image.Image:
    """The page turned back by a measured `skew` (white fill, same size), in its own mode: how `deskew` and
    `prepare` turn it, so a colour copy turned by the skew `prepare` reported lines up with the gray one."""
    if not skew:
        return image
    fill = 255 if image.mode in ("L", "1", "P", "I", "F") else (255,) * len(image.getbands())
    return image.rotate(-skew, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=fill)


def rotate_quadrant(image: Image.Image, degrees: int) -> Image.Image:
    """The page turned CLOCKWISE by 0, 90, 180 or 270 degrees (any multiple of 90, negatives counter-clockwise)."""
    if degrees % 90:
        raise ValueError(f"quadrant rotation must be a multiple of 90 degrees, not {degrees}")
    turn = degrees % 360
    return image.copy() if turn == 0 else image.transpose(_CLOCKWISE[turn])


def quadrant_points(points: np.ndarray, size: tuple[int, int], degrees: int) -> np.ndarray:
    """Where points (N×2, x and y in pixels) of a page of `size` land once it is turned by `rotate_quadrant`
    with the same `degrees`: so boxes found before the turn need not be found again after it."""
    turn = degrees % 360
    if turn % 90:
        raise ValueError(f"a quarter turn is a multiple of 90 degrees, not {degrees}")
    width, height = size
    x, y = points[:, 0], points[:, 1]
    if turn == 90:  # clockwise
        return np.stack([height - y, x], axis=1)
    if turn == 180:
        return np.stack([width - x, height - y], axis=1)
    if turn == 270:
        return np.stack([y, width - x], axis=1)
    return points.copy()


def normalize_contrast(image: Image.Image) -> Image.Image:
    """A low-contrast scan stretched so ink is near black and paper near white; other pages come back as given."""
    return _stretch_contrast(image)[0]


def is_blank(image: Image.Image) -> bool:
    """True when the page carries no more ink than a few specks (show-through and scanner edges ignored)."""
    pixels = _without_margins(np.asarray(_reduced(_gray(image), _BLANK_WORK_SIDE)))
    if pixels.size == 0:
        return True
    paper = float(np.percentile(pixels, 90))
    ink = int(np.count_nonzero(pixels < paper - _BLANK_INK_DELTA))
    return ink < _BLANK_MAX_INK_SHARE * pixels.size


def lift_seals(image: Image.Image) -> Image.Image:
    """The page in gray for OCR: a colour page with its red seal ink lifted to paper; a gray page as it is.

    Where a pixel is seal red (see `_SEAL_REDNESS`) its gray comes from the red channel, in which red ink is as
    light as paper and black print under it stays black, scaled so the seal's red lands on the paper's level;
    elsewhere it is the ordinary luminance. A colour page without red ink gives exactly `convert("L")`.
    The page is worked through in strips of rows, so an OCR worker holds little more than the page and its gray.
    """
    if image.mode != "RGB":
        return image if image.mode == "L" else image.convert("L")
    paper = _percentile(image.histogram()[:256], _SEAL_PAPER_PERCENTILE)  # the red channel's histogram
    redness_table = _ramp(*_SEAL_REDNESS)
    bright_table = _ramp(paper * _SEAL_RED_OF_PAPER[0], paper * _SEAL_RED_OF_PAPER[1])
    sealed: list[tuple[tuple[int, int, int, int], Image.Image]] = []  # strips with seal ink, and its weights
    seal_histogram = np.zeros(256, dtype=np.int64)  # the red of what is surely seal ink
    for top in range(0, image.height, _SEAL_STRIP_ROWS):
        box = (0, top, image.width, min(image.height, top + _SEAL_STRIP_ROWS))
        red, green, blue = image.crop(box).split()
        redness = ImageChops.subtract(red, ImageChops.lighter(green, blue)).point(redness_table)
        weight = ImageChops.multiply(redness, red.point(bright_table))
        if weight.getbbox() is None:
            continue
        sealed.append((box, weight))
        seal_histogram += np.asarray(red.histogram(mask=weight.point(_CORE_TABLE)), dtype=np.int64)
    gray = image.convert("L")
    if not sealed:
        return gray
    if int(seal_histogram.sum()) < _SEAL_MIN_CORE_PIXELS:
        lift = list(range(256))
    else:
        gain = max(1.0, paper / max(1, _percentile(seal_histogram, 50.0)))
        lift = [min(255, round(v * gain)) for v in range(256)]
    for box, weight in sealed:
        # Pasting through the weights blends: weight × lifted red + (1 − weight) × luminance.
        gray.paste(image.crop(box).getchannel("R").point(lift), box[:2], weight)
    return gray


def prepare(image: Image.Image) -> tuple[Image.Image, dict[str, float | bool]]:
    """Seals lifted off a colour page (`lift_seals`), contrast normalisation, then deskew; returns the gray page
    and what was done: `{"skew_deg": float, "contrast_stretched": bool}`."""
    stretched, did_stretch = _stretch_contrast(_gray(image))
    straight, skew = deskew(stretched)
    return straight, {"skew_deg": skew, "contrast_stretched": did_stretch}


# --- helpers --------------------------------------------------------------------------------------------------


def _gray(image: Image.Image) -> Image.Image:
    return lift_seals(image)


def _percentile(histogram: list[int] | np.ndarray, percent: float) -> int:
    """The level below which `percent` of a 256-bin histogram's pixels lie."""
    counts = np.cumsum(np.asarray(histogram[:256], dtype=np.int64))
    if counts[-1] == 0:
        return 255
    return int(np.searchsorted(counts, counts[-1] * percent / 100.0))


def _ramp(low: float, high: float) -> list[int]:
    """A lookup table rising from 0 at `low` to 255 at `high`."""
    span = max(1.0, high - low)
    return [int(np.clip(round((v - low) * 255.0 / span), 0, 255)) for v in range(256)]


def _reduced(image: Image.Image, longest: int) -> Image.Image:
    factor = math.ceil(max(image.size) / longest)
    return image.reduce(factor) if factor > 1 else image


def _without_margins(pixels: np.ndarray) -> np.ndarray:
    dy, dx = round(pixels.shape[0] * _MARGIN), round(pixels.shape[1] * _MARGIN)
    return pixels[dy : pixels.shape[0] - dy, dx : pixels.shape[1] - dx]


def _ink_mask(pixels: np.ndarray) -> np.ndarray | None:
    """Dark pixels by Otsu's threshold, or None when the page has no distinct ink."""
    if pixels.size == 0:
        return None
    hist = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    dark_count = np.cumsum(hist)
    light_count = dark_count[-1] - dark_count
    dark_sum = np.cumsum(hist * levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        dark_mean = dark_sum / dark_count
        light_mean = (dark_sum[-1] - dark_sum) / light_count
        between = dark_count * light_count * (light_mean - dark_mean) ** 2
    between = np.nan_to_num(between, nan=-1.0)
    threshold = int(np.argmax(between))
    if between[threshold] <= 0 or light_mean[threshold] - dark_mean[threshold] < _INK_MIN_SEPARATION:
        return None
    ink = pixels <= threshold
    share = np.count_nonzero(ink) / pixels.size
    if share < _INK_MIN_SHARE:
        return None
    return ink


def _profile_energy(ys: np.ndarray, xs: np.ndarray, height: int, angles: np.ndarray) -> np.ndarray:
    """For each angle, the sum of squared row counts of the ink sheared by that angle."""
    slopes = np.tan(np.radians(angles))
    pad = math.ceil(float(np.abs(xs).max(initial=0.0)) * float(np.abs(slopes).max(initial=0.0))) + 1
    rows = height + 2 * pad
    sheared = np.rint(ys[None, :] + xs[None, :] * slopes[:, None]).astype(np.int64) + pad
    flat = sheared + (np.arange(len(angles), dtype=np.int64) * rows)[:, None]
    counts = np.bincount(flat.ravel(), minlength=rows * len(angles)).reshape(len(angles), rows)
    return (counts.astype(np.float64) ** 2).sum(axis=1)


def _stretch_contrast(image: Image.Image) -> tuple[Image.Image, bool]:
    gray = _gray(image)
    hist = np.asarray(gray.histogram()[:256], dtype=np.float64)
    total = hist.sum()
    if total == 0:
        return image, False
    cumulative = np.cumsum(hist) / total * 100.0
    low = int(np.searchsorted(cumulative, _CONTRAST_LOW))
    high = int(np.searchsorted(cumulative, _CONTRAST_HIGH))
    span = high - low
    if span >= _CONTRAST_GOOD_SPAN or span < _CONTRAST_MIN_SPAN:
        return image, False
    levels = np.arange(256, dtype=np.float64)
    table = np.clip(np.rint((levels - low) * 255.0 / span), 0, 255).astype(np.uint8)
    return gray.point(table.tolist()), True
