"""Loading and cleaning up page images before OCR: scans, phone photos, rendered pages.

Everything here is cheap numpy/Pillow work, small next to one Tesseract pass:
the image size is checked before any pixel is decoded (decompression bombs),
EXIF orientation is applied, huge photos are brought down to about 300 dpi,
uneven phone-photo lighting is flattened, a photographed page is cut out of its
background and small skew is straightened.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from parsers.errors import DocumentError, LimitExceeded
from parsers.limits import Limits

Gray = npt.NDArray[np.uint8]

# A letter page at 300 dpi is 2550 x 3300; photos larger than this are reduced.
_LONG_SIDE_MAX = 3600
_LONG_SIDE_TARGET = 3300
# Small images are enlarged so Tesseract sees letters of a readable size.
_SHORT_SIDE_MIN = 1500
_SHORT_SIDE_TARGET = 1800


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in {
        b"heic",
        b"heix",
        b"hevc",
        b"hevx",
        b"heim",
        b"heis",
        b"mif1",
        b"msf1",
        b"avif",
    }


def _check_pixels(width: int, height: int, limits: Limits, what: str) -> None:
    if width <= 0 or height <= 0:
        raise DocumentError(f"{what} has no pixels")
    if width * height > limits.max_pixels:
        raise LimitExceeded(
            f"{what} is {width} x {height} pixels, more than the limit of "
            f"{limits.max_pixels:,} pixels"
        )


def load_frames(data: bytes, limits: Limits) -> list[Image.Image]:
    """The pages of an image file (one, or several for a multi-page TIFF), upright.

    Sizes are checked from the header before decoding; frames past
    `limits.max_pages` are not decoded at all.
    """
    if _is_heif(data):
        return [_load_heif(data, limits)]
    try:
        with warnings.catch_warnings():
            # Pillow warns on large images; our own limit below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            frames: list[Image.Image] = []
            # Not n_frames: that walks every frame of a file that may hold thousands.
            multi = bool(getattr(img, "is_animated", False))
            for i in range(limits.max_pages):
                if i:
                    try:
                        img.seek(i)
                    except EOFError:
                        break
                what = f"page {i + 1} of the image" if multi else "the image"
                _check_pixels(img.width, img.height, limits, what)
                img.load()
                frames.append(_upright(img.copy() if multi else img))
                if not multi:
                    break
    except Image.DecompressionBombError as e:
        raise LimitExceeded(
            f"the image has far more pixels than the limit of {limits.max_pixels:,}"
        ) from e
    except UnidentifiedImageError as e:
        raise DocumentError("the file is not an image that could be read") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise DocumentError(f"the image is damaged and could not be read ({e})") from e
    return frames


def _load_heif(data: bytes, limits: Limits) -> Image.Image:
    import pillow_heif  # imported here: only HEIC/HEIF photos need libheif

    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        width, height = heif.size
        _check_pixels(width, height, limits, "the photo")
        img = heif.to_pillow()
    except (ValueError, RuntimeError, OSError) as e:
        raise DocumentError(f"the HEIC photo could not be read ({e})") from e
    return _upright(img)


def _upright(img: Image.Image) -> Image.Image:
    """The image turned as its EXIF Orientation tag says (phones store it sideways)."""
    turned = ImageOps.exif_transpose(img)
    return turned if turned is not None else img


def to_gray(img: Image.Image) -> Image.Image:
    """A grayscale copy; transparent areas become white paper, not black."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        paper.alpha_composite(rgba)
        return paper.convert("L")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / top)).astype(np.uint8))
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if img.mode == "L":
        return img
    return img.convert("RGB").convert("L") if img.mode == "CMYK" else img.convert("L")


def normalise_size(gray: Image.Image, dpi: float | None) -> Image.Image:
    """Huge photos and very high-dpi scans down to about 300 dpi; small pages up to about 210.

    The short side stands for a letter page's width: below 1500 pixels (175 dpi)
    the body text of a bill is too small for Tesseract, which then drops whole
    columns rather than misreading them.
    """
    long_side, short_side = max(gray.size), min(gray.size)
    factor = 1.0
    if dpi and dpi > 400:
        factor = 300.0 / dpi
    if long_side * factor > _LONG_SIDE_MAX:
        factor = _LONG_SIDE_TARGET / long_side
    elif short_side * factor < _SHORT_SIDE_MIN and short_side >= 100:
        factor = min(3.0, _SHORT_SIDE_TARGET / short_side)
    if abs(factor - 1.0) < 0.05:
        return gray
    size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
    if factor < 1.0:
        return gray.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return gray.resize(size, Image.Resampling.BICUBIC)


def max_pool(arr: Gray, k: int) -> Gray:
    """The brightest pixel of each k x k block: a max filter and a reduction in one step."""
    if k <= 1:
        return arr
    h, w = arr.shape[0] // k, arr.shape[1] // k
    if h == 0 or w == 0:
        return arr
    pooled: Gray = arr[: h * k, : w * k].reshape(h, k, w, k).max(axis=(1, 3))
    return pooled


def flatten_lighting(gray: Image.Image) -> Image.Image:
    """Divides out an uneven background (phone-photo shadows, vignetting).

    The paper's brightness is taken as the brightest pixel of blocks about a
    hundredth of the page wide (text is dark, so it drops out), smoothed; this
    costs a few milliseconds. A scan whose paper is evenly white is returned
    unchanged.
    """
    arr = np.asarray(gray, dtype=np.uint8)
    pooled = max_pool(arr, max(1, max(gray.size) // 100))
    bg_small = Image.fromarray(pooled).filter(ImageFilter.GaussianBlur(1.5))
    bg_arr = np.asarray(bg_small, dtype=np.float32)
    lo, hi = np.percentile(bg_arr, [5, 95])
    if hi > 200 and lo > 0.88 * hi:
        return gray
    bg = np.asarray(bg_small.resize(gray.size, Image.Resampling.BILINEAR), dtype=np.float32)
    out = np.clip(arr.astype(np.float32) * 255.0 / np.maximum(bg, 1.0), 0, 255)
    return Image.fromarray(out.astype(np.uint8))


def looks_blank(gray: Image.Image) -> bool:
    """Hardly any dark pixels: the blank back of a sheet, not a page turned sideways."""
    small = np.asarray(gray.reduce(4) if min(gray.size) >= 400 else gray, dtype=np.uint8)
    return float((small < 128).mean()) < 0.001


def otsu_threshold(arr: Gray) -> int:
    hist = np.bincount(arr.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 128
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    w1 = total - w0
    m0 = np.cumsum(hist * levels)
    mean_all = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * w0 / total - m0) ** 2 / (w0 * w1)
    between = np.nan_to_num(between)
    return int(np.argmax(between))


def skew_angle(gray: Image.Image) -> float:
    """Small skew of the text lines, in degrees (counter-clockwise positive), within ±5°.

    Projection profiles of the dark pixels of a small copy: at the right angle
    the rows of text give the sharpest histogram. Computed on pixel coordinates,
    so no image is rotated during the search.
    """
    factor = max(1, max(gray.size) // 1000)
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray, dtype=np.uint8)
    dark = small < min(otsu_threshold(small), 200)
    ys, xs = np.nonzero(dark)
    if ys.size < max(200, 0.002 * dark.size) or ys.size > 0.4 * dark.size:
        return 0.0
    xs_c = xs.astype(np.float64) - small.shape[1] / 2
    ys_f = ys.astype(np.float64)
    offset = small.shape[1]

    def score(deg: float) -> float:
        t = math.tan(math.radians(deg))
        rows = np.round(ys_f + xs_c * t).astype(np.int64) + offset
        hist = np.bincount(rows)
        return float(np.dot(hist, hist))

    coarse = max(np.arange(-5.0, 5.01, 0.5), key=score)
    fine = max(np.arange(coarse - 0.5, coarse + 0.51, 0.1), key=score)
    # A page turned counter-clockwise by a tilts its rows by tan(a) per pixel, the
    # shear that the best score undoes.
    return float(round(fine, 2))


def rotate(gray: Image.Image, degrees: float) -> Image.Image:
    """Turns counter-clockwise by `degrees`, filling the corners with white paper."""
    if degrees % 90 == 0:
        turns = {
            90: Image.Transpose.ROTATE_90,
            180: Image.Transpose.ROTATE_180,
            270: Image.Transpose.ROTATE_270,
        }
        key = int(degrees) % 360
        return gray.transpose(turns[key]) if key else gray
    return gray.rotate(degrees, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)


def deskew(gray: Image.Image) -> Image.Image:
    angle = skew_angle(gray)
    # Below half a degree Tesseract's own line finding copes; rotating costs more.
    return rotate(gray, -angle) if abs(angle) >= 0.5 else gray


def _quad_from_mask(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64] | None:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    s = xs + ys
    d = xs - ys
    tl = (xs[np.argmin(s)], ys[np.argmin(s)])
    br = (xs[np.argmax(s)], ys[np.argmax(s)])
    tr = (xs[np.argmax(d)], ys[np.argmax(d)])
    bl = (xs[np.argmin(d)], ys[np.argmin(d)])
    return np.array([tl, tr, br, bl], dtype=np.float64)


def _polygon_area(q: npt.NDArray[np.float64]) -> float:
    x, y = q[:, 0], q[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _perspective_coeffs(
    dst: npt.NDArray[np.float64], src: npt.NDArray[np.float64]
) -> tuple[float, ...]:
    """Coefficients for Image.transform(PERSPECTIVE): output point -> input point."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    sol = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return tuple(float(c) for c in sol)


def unwarp_page(gray: Image.Image) -> Image.Image:
    """Cuts a photographed sheet out of a darker background and squares it up.

    Only when a clearly brighter quadrilateral covering a good part of the
    photo, with background visible around it, is found; a scan is returned as is.
    """
    factor = max(1, max(gray.size) // 250)
    # Text is dark on the sheet too; max pooling closes it so the sheet is one region.
    closed = max_pool(np.asarray(gray, dtype=np.uint8), factor)
    h, w = closed.shape
    t = otsu_threshold(closed)
    low = closed[closed <= t]
    high = closed[closed > t]
    if low.size == 0 or high.size == 0:
        return gray
    # Nearer the desk than Otsu's cut: a shadow across the sheet stays sheet.
    sheet = closed > float(low.mean()) + 0.35 * (float(high.mean()) - float(low.mean()))
    border = np.concatenate([sheet[0, :], sheet[-1, :], sheet[:, 0], sheet[:, -1]])
    inside_mean = float(closed[sheet].mean()) if sheet.any() else 0.0
    outside_mean = float(closed[~sheet].mean()) if (~sheet).any() else 255.0
    if border.mean() > 0.5 or inside_mean - outside_mean < 40:
        return gray
    quad = _quad_from_mask(sheet)
    if quad is None:
        return gray
    area = _polygon_area(quad)
    if area < 0.3 * w * h or area > 0.97 * w * h:
        return gray
    quad *= factor
    top_w = np.hypot(*(quad[1] - quad[0]))
    bot_w = np.hypot(*(quad[2] - quad[3]))
    left_h = np.hypot(*(quad[3] - quad[0]))
    right_h = np.hypot(*(quad[2] - quad[1]))
    diag1 = np.hypot(*(quad[2] - quad[0]))
    diag2 = np.hypot(*(quad[3] - quad[1]))
    # A sheet seen at an angle is still nearly a rectangle; anything else is a
    # misjudged outline (a shadow cut off a corner), and the photo is better left as is.
    if (
        min(
            top_w / bot_w,
            bot_w / top_w,
            left_h / right_h,
            right_h / left_h,
            diag1 / diag2,
            diag2 / diag1,
        )
        < 0.85
    ):
        return gray
    out_w = int(max(top_w, bot_w))
    out_h = int(max(left_h, right_h))
    if out_w < 100 or out_h < 100:
        return gray
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], dtype=np.float64)
    coeffs = _perspective_coeffs(dst, quad)
    sheet_img = gray.transform(
        (out_w, out_h),
        Image.Transform.PERSPECTIVE,
        coeffs,
        resample=Image.Resampling.BILINEAR,
        fillcolor=255,
    )
    # The sheet's shadowed edge left in the picture makes Tesseract take the text
    # beside it for part of a picture (a column of amounts went missing): trim it.
    m = max(2, round(0.01 * out_w))
    return sheet_img.crop((m, m, out_w - m, out_h - m))


def prepare(img: Image.Image) -> Image.Image:
    """The grayscale page image as Tesseract should see it first."""
    dpi_info = img.info.get("dpi")
    dpi = float(dpi_info[0]) if isinstance(dpi_info, tuple) and dpi_info else None
    gray = normalise_size(to_gray(img), dpi)
    sheet = unwarp_page(gray)
    if sheet is not gray:
        gray = normalise_size(sheet, None)  # the sheet alone may be small now
    gray = flatten_lighting(gray)
    return deskew(gray)


def _components(mask: npt.NDArray[np.bool_]) -> Iterator[tuple[int, int, int, int, int]]:
    """Connected dark regions (8-neighbour) as (top, left, bottom, right, pixel count)."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    for y0, x0 in zip(ys.tolist(), xs.tolist(), strict=True):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        stack = [(y0, x0)]
        top, left, bottom, right, count = y0, x0, y0, x0, 0
        while stack:
            y, x = stack.pop()
            count += 1
            top, bottom = min(top, y), max(bottom, y)
            left, right = min(left, x), max(right, x)
            for ny in (y - 1, y, y + 1):
                if ny < 0 or ny >= h:
                    continue
                for nx in (x - 1, x, x + 1):
                    if 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        yield top, left, bottom, right, count


def ink_in_region(
    gray: Image.Image,
    region: Box,
    words: list[Box],
    text_height: int,
    *,
    min_width: float = 1.5,
    min_height: float = 0.5,
) -> bool:
    """Handwritten strokes inside `region`, printed words and ruled lines aside.

    Printed words (the boxes Tesseract read confidently) are blanked, long
    horizontal runs (the signature line, underscores) removed, specks filtered
    out; what is left counts as ink when one connected stroke is larger than a
    printed letter: `min_width` text heights wide (or 1.4 high), and at least
    `min_height` text heights high.
    """
    left = max(0, region.left)
    top = max(0, region.top)
    right = min(gray.width, region.right)
    bottom = min(gray.height, region.bottom)
    if right - left < 4 or bottom - top < 4:
        return False
    # Work at a scale where the label's letters are about 20 px high.
    scale = min(1.0, 20.0 / max(text_height, 1))
    crop = gray.crop((left, top, right, bottom))
    arr = np.asarray(crop, dtype=np.uint8)
    threshold = min(otsu_threshold(np.asarray(gray.reduce(4), dtype=np.uint8)), 170)
    dark = arr < threshold
    for b in words:
        dark[
            max(0, b.top - top - 2) : max(0, b.bottom - top + 2),
            max(0, b.left - left - 2) : max(0, b.right - left + 2),
        ] = False
    if scale < 1.0:
        small = Image.fromarray((dark * 255).astype(np.uint8)).resize(
            (max(1, round(dark.shape[1] * scale)), max(1, round(dark.shape[0] * scale))),
            Image.Resampling.BOX,
        )
        dark = np.asarray(small, dtype=np.uint8) > 90
    h_px = max(4, round(text_height * scale))
    dark = _without_rules(dark, run=3 * h_px)
    # Specks (toner, JPEG noise) go; pen strokes a few pixels wide stay.
    dark = (
        np.asarray(
            Image.fromarray((dark * 255).astype(np.uint8)).filter(ImageFilter.MedianFilter(3)),
            dtype=np.uint8,
        )
        > 127
    )
    if dark.sum() < h_px:
        return False
    for c_top, c_left, c_bottom, c_right, count in _components(dark):
        width = c_right - c_left + 1
        height = c_bottom - c_top + 1
        wide = width >= min_width * h_px or (min_width <= 1.5 and height >= 1.4 * h_px)
        if count >= h_px and wide and height >= min_height * h_px:
            return True
    return False


def _without_rules(dark: npt.NDArray[np.bool_], run: int) -> npt.NDArray[np.bool_]:
    """Removes horizontal runs at least `run` pixels long (ruled lines, underscores)."""
    h, w = dark.shape
    if w < run:
        return dark
    padded = np.concatenate(
        [np.zeros((h, 1), dtype=np.int32), np.cumsum(dark, axis=1, dtype=np.int32)], axis=1
    )
    full = (padded[:, run:] - padded[:, :-run]) == run  # window starting at x is all dark
    # Every pixel covered by some all-dark window belongs to a line.
    cover = np.concatenate(
        [np.zeros((h, 1), dtype=np.int32), np.cumsum(full, axis=1, dtype=np.int32)], axis=1
    )
    xs = np.arange(w)
    hi = np.minimum(xs + 1, full.shape[1])
    lo = np.minimum(np.maximum(0, xs - run + 1), hi)
    line = (cover[:, hi] - cover[:, lo]) > 0
    # The line's blurred edges one pixel above and below go with it.
    grown = line.copy()
    grown[1:] |= line[:-1]
    grown[:-1] |= line[1:]
    kept: npt.NDArray[np.bool_] = dark & ~grown
    return kept
