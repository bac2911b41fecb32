"""Reading micrographs and annotations, writing Labelme files; the real-data layout.

Real set layout (see docs/data.md)::

    <set>/images/<stem>.(png|jpg|jpeg|tif|tiff|bmp|dm3|dm4)
    <set>/labelme/<stem>.json          optional, linestrip/line shapes
    <set>/masks/<class>/<stem>.(png|tif|tiff|bmp)   optional, nonzero = line
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import CLASSES

Array = np.ndarray
log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dm3", ".dm4")
DM_SUFFIXES = (".dm3", ".dm4")
NM_PER_UNIT = {"nm": 1.0, "um": 1e3, "µm": 1e3, "μm": 1e3, "micron": 1e3, "microns": 1e3, "a": 0.1, "å": 0.1,
               "angstrom": 0.1, "pm": 1e-3, "mm": 1e6, "m": 1e9}
LINE_SHAPES = ("linestrip", "line")
MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp")  # lossless formats only: JPEG artefacts would be lines


class InputError(ValueError):
    """Bad input data; the message names the file and what is wrong."""


def read_grayscale(path: str | Path) -> Array:
    """A micrograph as float32 in [0, 1] (:func:`read_grey_values`). Padding (:func:`padding_mask`:
    the constant or NaN border of a drift-corrected or rotated frame) is filled smoothly from the
    micrograph (:func:`fill_smoothly`), so its edge is no line; hot and dead pixels are removed
    (:func:`remove_spikes`), and so are the streaks of a scanned image (:func:`remove_scan_streaks`)."""
    img = read_grey_values(path)
    padding = padding_mask(img)
    if padding.all():
        raise InputError(f"{path}: no pixel has a finite value (all NaN or infinite)")
    if padding.any():
        img = fill_smoothly(img, padding)
    img = remove_scan_streaks(remove_spikes(img))
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def imaged_area_px(values: Array) -> int:
    """How many pixels of a micrograph's grey values (:func:`read_grey_values`) show the
    specimen: all but its padding (:func:`padding_mask`), the area a line density is taken over."""
    return int((~padding_mask(values)).sum())


def read_grey_values(path: str | Path) -> Array:
    """A micrograph's grey values as float32, as stored; 8- and 16-bit, integer or float, grey or
    colour (converted to grey); TIFFs compressed or not (LZW, Deflate, JPEG: tifffile with
    imagecodecs), a single frame stored as a stack of one (1, H, W) too."""
    path = Path(path)
    if path.suffix.lower() in DM_SUFFIXES:
        img = read_dm_signal(path)["data"]
    elif path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            img = tifffile.imread(path)
        except Exception as exc:  # tifffile raises many types
            raise InputError(f"{path}: cannot read TIFF ({exc})") from exc
    else:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise InputError(f"{path}: not a readable image")
    img = to_grey(drop_single_frame_axes(np.asarray(img)))
    if np.iscomplexobj(img):
        raise InputError(f"{path}: complex pixel values (a Fourier transform?), not a micrograph")
    if img.ndim != 2:
        raise InputError(f"{path}: a stack of images (shape {img.shape}), not one image; "
                         f"split it into frames with disloctem-frames")
    return img.astype(np.float32)


def readable_images(images: dict[str, Path], skipped: list[str]) -> Iterator[tuple[str, Path, Array]]:
    """(stem, path, grey image) of every readable image, in stem order. An unreadable one is
    skipped with a warning naming it and its path appended to ``skipped`` (a documented skip, so
    one broken frame does not stop a whole video)."""
    for stem, path in sorted(images.items()):
        try:
            img = read_grayscale(path)
        except InputError as exc:
            log.warning("skipping image: %s", exc)
            skipped.append(str(path))
            continue
        yield stem, path, img


PADDING_MIN_SHARE = 0.005  # a constant border region counts as padding from this share of the image on


def padding_mask(img: Array) -> Array:
    """The pixels of a frame that hold no micrograph: NaN or infinite ones, and regions of one
    constant value, the frame's lowest or highest, that are bands or corners along its border
    (:func:`border_bands`), not a saturated line that crosses it. Drift correction, registration
    and rotation of in-situ frames leave such bands and corners (0, white or NaN); their
    straight, sharp edge is the strongest line-like feature of the frame. A real micrograph's
    noise never holds thousands of exactly equal pixels, except where the camera saturated. A
    saturated line of the padding's own value that runs into it is taken with it."""
    mask = ~np.isfinite(img)
    finite = img[~mask]
    if finite.size == 0:
        return mask
    padding = mask.copy()
    for value in {float(finite.min()), float(finite.max())}:
        padding |= border_bands(img == value)
    return mask if padding.all() else padding  # a blank frame is no padding


def border_bands(region: Array) -> Array:
    """The parts of a boolean ``region`` that are 3 px wide or more, cover at least
    :data:`PADDING_MIN_SHARE` of the frame and run along its border: as many pixels on the
    frame's outermost rows and columns as the square root of their area (a band or a corner;
    a line crossing the border touches it with its width only)."""
    core = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=4)
    area = stats[:, cv2.CC_STAT_AREA]
    contact = np.bincount(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]), minlength=n)
    along = (area >= PADDING_MIN_SHARE * region.size) & (contact >= np.sqrt(area))
    along[0] = False
    return along[labels]


def fill_smoothly(img: Array, fill: Array) -> Array:
    """``img`` with the pixels where ``fill`` is set replaced by a smooth continuation of the
    others (push-pull: a Gaussian pyramid of the valid pixels and their weights, pulled back up
    where a level has no valid pixel), so no edge is left where they meet."""
    valid = (~fill).astype(np.float32)
    data = np.where(fill, 0.0, img).astype(np.float32)
    levels = []
    while (valid <= 0).any() and min(valid.shape) > 1:
        levels.append((data, valid))
        data, valid = cv2.pyrDown(data), cv2.pyrDown(valid)
    est = np.where(valid > 1e-6, data / np.maximum(valid, 1e-6), float(img[~fill].mean())).astype(np.float32)
    for data, valid in reversed(levels):
        up = cv2.pyrUp(est, dstsize=(data.shape[1], data.shape[0]))
        weight = np.clip(valid, 0.0, 1.0)
        est = weight * (data / np.maximum(valid, 1e-6)) + (1.0 - weight) * up
    return np.where(fill, est, img).astype(np.float32)


def remove_spikes(img: Array) -> Array:
    """``img`` with hot and dead pixels replaced by the median around them.

    Raw camera frames carry isolated extreme pixels (hot or dead pixels, X-ray hits): a few
    hundredths of a percent of them at the top of a 16-bit range squeeze the micrograph into a
    sliver of grey levels once the image is scaled to [0, 1], and the lines vanish. A pixel is a
    spike when it lies beyond the bulk of the grey levels (more than one bulk range r above the
    99.5th or below the 0.5th percentile) *and* beyond every pixel of the 5x5 ring around it by
    more than r, so clusters of up to 3x3 pixels go, while a line of any width, which always
    crosses that ring, and bright or dark regions stay as they are.
    """
    lo, hi = np.percentile(img, [0.5, 99.5])
    r = float(hi - lo)
    far = (img > hi + r) | (img < lo - r)
    if r <= 0 or not far.any():
        return img
    ring = np.ones((5, 5), np.uint8)
    ring[1:4, 1:4] = 0
    spikes = far & ((img > cv2.dilate(img, ring, borderType=cv2.BORDER_REFLECT) + r)
                    | (img < cv2.erode(img, ring, borderType=cv2.BORDER_REFLECT) - r))
    if not spikes.any():
        return img
    out = img.copy()
    out[spikes] = cv2.medianBlur(img, 5)[spikes]
    return out


STREAK_SIGMA = 8.0  # rows: offsets that change more slowly from row to row are shading, and kept
STREAK_TRIM = 0.25  # share of a row's differences left out at each end of their range
# rows are corrected where the median second difference of their steps (see row_streaks) exceeds
# this many times the pixel noise's share of a step (its standard deviation over the square root
# of the row length): pixel noise alone gives 2.2-2.5; the development sets at most 3.1 (63
# tanaka_2um frames, 16 held-out synthetic images), 4.4 along rows and 6.2 along columns on
# legros_dev (a JPEG: the edges of its 8-px blocks); streaks of 1.3 grey levels on them (standard
# deviation 0.005 of the range) 3.6-56, median 27
STREAK_SIGNIFICANCE = 10.0


def remove_scan_streaks(img: Array) -> Array:
    """``img`` (as float32) without the brightness offsets of its rows against their neighbours,
    and of its columns (:func:`row_streaks`): the streaks along the fast scan of a STEM image, or
    of a camera's row read-out. Both are measured on ``img`` as given, since an offset of whole
    rows leaves the differences between columns as they are. An image without such streaks is
    returned as it is, uncopied. Streaks of 2.5 grey levels a row (standard deviation 0.01 of the
    range) had made the default model trace 49 lines on legros_dev, where it traced 6
    (docs/design.md, "Scan streaks")."""
    out = img.astype(np.float32, copy=False)
    of_rows, of_columns = row_streaks(out), row_streaks(out.T)
    if of_rows is not None:
        out = out - of_rows[:, None]
    if of_columns is not None:
        out = out - of_columns[None, :]
    return out


def row_streaks(rows: Array) -> Array | None:
    """The brightness offset of each row of ``rows`` against its neighbours, or None where the
    rows have no streaks.

    The step from one row to the next is the trimmed mean (:data:`STREAK_TRIM`), along the row,
    of the two rows' difference, which leaves out lines and edges that cross a quarter of the row
    or less. Content changes these steps smoothly from row to row, streaks (an offset of each row
    of its own) abruptly: the rows have streaks where the median second difference of the steps
    exceeds :data:`STREAK_SIGNIFICANCE` times what pixel noise gives (at least one grey level of
    an 8-bit copy, so that the smooth content of a noise-free frame does not count). Summed, the
    steps give each row's offset, of which only what changes faster than a Gaussian of
    :data:`STREAK_SIGMA` rows is a streak: shading and broad bands are the image's. A line that
    runs exactly along a row for more than a quarter of the image counts as a streak where the
    image has streaks. Frames of under 4 rows or 8 columns are left alone."""
    if rows.shape[0] < 4 or rows.shape[1] < 8:
        return None
    steps, spread, quantum = row_steps(rows)
    grey_level = float(rows.max() - rows.min()) / 255  # a floor for noise-free (denoised, filled) frames
    noise = max(float(np.median(spread)), quantum, grey_level) / np.sqrt(rows.shape[1])
    if np.median(np.abs(np.diff(steps, n=2))) <= STREAK_SIGNIFICANCE * noise:
        return None
    offsets = np.concatenate([[0.0], np.cumsum(steps)])
    return (offsets - smooth_keeping_trends(offsets, STREAK_SIGMA)).astype(np.float32)


def row_steps(rows: Array) -> tuple[Array, Array, float]:
    """For each pair of neighbouring rows, the step from one to the next (the mean of the central
    half of their differences, :data:`STREAK_TRIM`) and the spread of those differences (their
    interquartile range as a standard deviation); and the smallest nonzero difference, the grey
    step of a quantised image (0 where there is none). One partition gives all of it."""
    diffs = np.diff(rows, axis=0)
    n = diffs.shape[1]
    lo = int(STREAK_TRIM * n)
    diffs = np.partition(diffs, [lo, n - 1 - lo], axis=1)
    steps = diffs[:, lo:n - lo].mean(axis=1, dtype=np.float64)
    spread = (diffs[:, n - 1 - lo] - diffs[:, lo]).astype(np.float64) / 1.349
    quantum = np.min(np.abs(diffs), where=diffs != 0, initial=np.inf)
    return steps, spread, float(quantum) if np.isfinite(quantum) else 0.0


def smooth_keeping_trends(values: Array, sigma: float) -> Array:
    """``values`` (1-d) smoothed by a Gaussian of ``sigma`` samples, continued beyond each end by
    the straight line fitted to the last 4 ``sigma`` values there, so a linear trend, such as the
    shading of an unevenly lit micrograph, is kept as it is up to the ends, and an end value far
    off the trend (a streak in the first row) does not pull the smooth curve to itself."""
    from scipy.ndimage import gaussian_filter1d

    if len(values) < 2:
        return values.astype(np.float64, copy=True)
    pad = int(np.ceil(4 * sigma))
    n = min(len(values), pad)
    t = np.arange(n, dtype=np.float64)
    head = np.polyval(np.polyfit(t, values[:n], 1), np.arange(-pad, 0))
    tail = np.polyval(np.polyfit(t, values[-n:], 1), n - 1 + np.arange(1, pad + 1))
    padded = np.concatenate([head, values, tail])
    return gaussian_filter1d(padded, sigma, mode="nearest")[pad:pad + len(values)]


def drop_single_frame_axes(img: Array) -> Array:
    """``img`` without the leading axes of length 1 that some software writes for a single
    frame (a stack of one, (1, H, W) or (1, 1, H, W)); an image with two axes stays as it is."""
    while img.ndim > 2 and img.shape[0] == 1:
        img = img[0]
    return img


def to_grey(img: Array) -> Array:
    """One grey channel from an (H, W, 1|2|3|4) array (grey, or grey + alpha: the grey; colour,
    with or without alpha: the mean of the colours); any other array is returned as it is."""
    if img.ndim == 3 and img.shape[2] in (1, 2, 3, 4):
        return img[..., :3].mean(axis=2) if img.shape[2] >= 3 else img[..., 0]
    return img


def read_dm_signals(path: str | Path, lazy: bool = False) -> list[dict]:
    """The signals of a Gatan DigitalMicrograph file (DM3/DM4) as rosettasciio returns them: dicts
    with ``data`` (dask arrays when ``lazy``) and ``axes`` (each with ``scale`` and ``units``)."""
    try:
        from rsciio.digitalmicrograph import file_reader
    except ImportError as exc:  # pragma: no cover - rosettasciio is a dependency
        raise InputError(f"{path}: reading DM3/DM4 needs rosettasciio (pip install rosettasciio)") from exc
    try:
        return file_reader(str(path), lazy=lazy)
    except Exception as exc:  # the reader raises many types on corrupt files
        raise InputError(f"{path}: cannot read DigitalMicrograph file ({exc})") from exc


def read_dm_signal(path: str | Path) -> dict:
    """The first 2-D image of a Gatan DigitalMicrograph file (DM3/DM4) (see :func:`read_dm_signals`)."""
    signals = read_dm_signals(path)
    for sig in signals:
        if np.asarray(sig["data"]).ndim == 2:
            return sig
    raise InputError(f"{path}: no 2-D image in this DigitalMicrograph file (an image series is split "
                     f"into frames with disloctem-frames)")


def to_nm(scale: float, unit: str) -> float | None:
    """A length ``scale`` in ``unit`` as nm; None for an unknown unit or a scale that is not positive."""
    factor = NM_PER_UNIT.get(str(unit).strip().lower())
    return float(scale) * factor if factor and scale and float(scale) > 0 else None


def dm_pixel_size_nm(signal: dict) -> float | None:
    """Pixel size in nm from the calibration of a DM signal's last (x) axis, if it states one."""
    axes = signal.get("axes") or []
    return to_nm(axes[-1].get("scale", 0), axes[-1].get("units", "")) if axes else None


def read_pixel_size_nm(path: str | Path) -> float | None:
    """Pixel size in nm from an image file's metadata, where it states one: the axis calibration
    of DM3/DM4 files, ImageJ's unit + resolution tags or FEI/Thermo Fisher's PixelWidth in TIFF
    files. None when the file does not say (PNG, JPEG, plain TIFF: a DPI value is not a pixel
    size and is ignored)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in DM_SUFFIXES:
        return dm_pixel_size_nm(read_dm_signal(path))
    if suffix not in (".tif", ".tiff"):
        return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            fei = tif.fei_metadata
            if fei and fei.get("Scan", {}).get("PixelWidth"):
                return float(fei["Scan"]["PixelWidth"]) * 1e9
            ij = tif.imagej_metadata or {}
            tag = tif.pages[0].tags.get("XResolution")
            if ij.get("unit") and tag is not None:
                num, den = tag.value
                return to_nm(den / num, ij["unit"]) if num else None
    except Exception as exc:  # tifffile raises many types
        raise InputError(f"{path}: cannot read TIFF metadata ({exc})") from exc
    return None


@dataclass
class AnnotatedLine:
    cls: str
    points: Array  # (N, 2) polyline, x/y in pixels


def class_of_label(label: object) -> str | None:
    """The line class a Labelme label names: one of :data:`CLASSES`, also when written with
    capitals, spaces or hyphens, or in the plural ("Slip trace", "grain-boundaries"); None for
    any other label."""
    if not isinstance(label, str):
        return None
    word = "_".join(label.strip().lower().replace("-", " ").split())
    for cls in CLASSES:
        if word in (cls, cls + "s", cls[:-1] + "ies"):
            return cls
    return None


def _labelme_data(path: Path) -> tuple[dict, list]:
    try:
        data = json.loads(path.read_text())
        shapes = data["shapes"]
        if not isinstance(shapes, list):
            raise TypeError("'shapes' is not a list")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a Labelme JSON file ({exc.__class__.__name__}: {exc})") from exc
    return data, shapes


def _is_line(shape: object) -> bool:
    return (isinstance(shape, dict) and shape.get("shape_type", "polygon") in LINE_SHAPES
            and class_of_label(shape.get("label")) is not None)


def read_labelme_lines(path: str | Path) -> tuple[list[AnnotatedLine], tuple[int, int] | None]:
    """Line shapes of a Labelme file and the (height, width) it declares.

    A line is a ``linestrip`` or ``line`` shape whose label names a class
    (:func:`class_of_label`); other shapes are left out (:func:`ignored_labelme_shapes` lists
    them). A file that is not Labelme JSON raises :class:`InputError` naming the file.
    """
    path = Path(path)
    data, shapes = _labelme_data(path)
    lines = []
    for i, shape in enumerate(shapes):
        if not _is_line(shape):
            continue
        pts = np.asarray(shape.get("points", []), dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise InputError(f"{path}: shape {i} has malformed points")
        if len(pts) >= 2:
            lines.append(AnnotatedLine(class_of_label(shape["label"]), pts))
    size = None
    if "imageHeight" in data and "imageWidth" in data:
        size = (int(data["imageHeight"]), int(data["imageWidth"]))
    return lines, size


def ignored_labelme_shapes(path: str | Path) -> list[str]:
    """The shapes of a Labelme file that :func:`read_labelme_lines` leaves out, each as
    ``'label' (shape type)``: a label that names no line class, or a shape that is not a line
    (a polygon, which is Labelme's default drawing mode, a point, a rectangle)."""
    return [f"{shape.get('label')!r} ({shape.get('shape_type', 'polygon')})" if isinstance(shape, dict)
            else repr(shape) for shape in _labelme_data(Path(path))[1] if not _is_line(shape)]


def labelme_document(lines: list[AnnotatedLine], image_name: str, height: int, width: int,
                     group_ids: list[int | None] | None = None,
                     scores: list[float] | None = None) -> dict:
    """A Labelme 5 document with one ``linestrip`` shape per line."""
    shapes = []
    for i, line in enumerate(lines):
        shape = {
            "label": line.cls,
            "points": np.round(np.asarray(line.points, dtype=np.float64), 2).tolist(),
            "group_id": None if group_ids is None else group_ids[i],
            "description": "" if scores is None else f"score={scores[i]:.3f}",
            "shape_type": "linestrip",
            "flags": {},
        }
        shapes.append(shape)
    return {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": int(height),
        "imageWidth": int(width),
    }


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Hard-link ``src`` to ``dst`` (no copy of the bytes); copy where linking is impossible
    (another file system, or links not supported)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_json(path: str | Path, data: dict | list, indent: int | None = 1) -> None:
    """Write JSON, creating the folder; ``indent=None`` writes compactly (several times faster
    for large point lists)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent))


@dataclass
class RealSet:
    """One folder of real micrographs and whatever annotations it holds."""

    name: str
    root: Path
    images: dict[str, Path] = field(default_factory=dict)  # stem -> image file
    labelme: dict[str, Path] = field(default_factory=dict)  # stem -> labelme file
    masks: dict[str, dict[str, Path]] = field(default_factory=dict)  # class -> stem -> mask file

    @property
    def annotated(self) -> bool:
        return bool(self.labelme) or any(self.masks.values())

    def annotated_stems(self) -> list[str]:
        stems = set(self.labelme)
        for files in self.masks.values():
            stems |= set(files)
        return sorted(stems & set(self.images))

    def spread_subset(self, n: int | None) -> RealSet:
        """The set cut to ``n`` of its annotated images, spread evenly over their name order
        (frames of one video are alike: evenly spread frames stand for the whole recording);
        the set itself when ``n`` is None or covers all its annotated images."""
        stems = self.annotated_stems()
        if n is None or n >= len(stems):
            return self
        keep = {stems[i] for i in np.round(np.linspace(0, len(stems) - 1, n)).astype(int)}
        return RealSet(self.name, self.root,
                       images={s: p for s, p in self.images.items() if s in keep},
                       labelme={s: p for s, p in self.labelme.items() if s in keep},
                       masks={c: {s: p for s, p in files.items() if s in keep} for c, files in self.masks.items()})


def scan_real_set(name: str, root: str | Path) -> RealSet:
    """Index a real set folder; raises :class:`InputError` when it has no ``images/`` folder."""
    root = Path(root)
    img_dir = root / "images"
    if not img_dir.is_dir():
        raise InputError(f"{root}: real set {name!r} has no images/ folder (see docs/data.md)")
    rs = RealSet(name, root)
    unknown = []
    for p in sorted(img_dir.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            if p.stem in rs.images:
                log.warning("%s: two images named %s (%s and %s); only %s is read", img_dir, p.stem,
                            rs.images[p.stem].name, p.name, rs.images[p.stem].name)
                continue
            rs.images[p.stem] = p
        elif p.is_file() and not p.name.startswith("."):
            unknown.append(p.name)
    if unknown:
        log.warning("%s: %d files are not in an image format read here (%s) and are left out (%s)", img_dir,
                    len(unknown), " ".join(IMAGE_SUFFIXES), _first_names(unknown))
    if (root / "labelme").is_dir():
        files = sorted((root / "labelme").glob("*.json"))
        rs.labelme = {p.stem: p for p in files if p.stem in rs.images}
        _warn_of_orphans(root / "labelme", [p for p in files if p.stem not in rs.images])
    if (root / "masks").is_dir():
        _scan_masks(rs, root / "masks")
    return rs


def _scan_masks(rs: RealSet, mask_root: Path) -> None:
    """Mask files of ``rs`` from ``masks/<class>/`` (:func:`class_of_label` reads the folder
    name); what is left out is named in a warning."""
    for mdir in sorted(p for p in mask_root.iterdir() if p.is_dir()):
        cls = class_of_label(mdir.name)
        if cls is None:
            log.warning("%s: names no class (%s), its masks are left out", mdir, ", ".join(CLASSES))
            continue
        files = [p for p in sorted(mdir.iterdir()) if p.suffix.lower() in MASK_SUFFIXES]
        other = [p.name for p in sorted(mdir.iterdir()) if p.is_file() and p.suffix.lower() not in MASK_SUFFIXES]
        if other:
            log.warning("%s: %d files left out (%s): masks are read from %s files only", mdir, len(other),
                        _first_names(other), "/".join(MASK_SUFFIXES))
        rs.masks.setdefault(cls, {}).update({p.stem: p for p in files if p.stem in rs.images})
        _warn_of_orphans(mdir, [p for p in files if p.stem not in rs.images])
    loose = sorted(p.name for p in mask_root.iterdir() if p.is_file())
    if loose:
        log.warning("%s: %d files left out (%s): masks go in masks/<class>/ (docs/data.md)", mask_root,
                    len(loose), _first_names(loose))


def _first_names(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def _warn_of_orphans(folder: Path, files: list[Path]) -> None:
    if files:
        log.warning("%s: %d files name no image in images/ and are left out (%s)", folder, len(files),
                    _first_names([p.name for p in files]))


def read_splines(dataset_dir: str | Path) -> dict[str, list[dict]]:
    """stem -> line records of a dataset's ``splines.jsonl`` (docs/data.md; small: support points
    and how each line was drawn)."""
    out = {}
    with open(Path(dataset_dir) / "splines.jsonl") as fh:
        for line in fh:
            rec = json.loads(line)
            out[rec["image"]] = rec["lines"]
    return out


def read_mask(path: str | Path) -> Array:
    """A binary mask (bool): nonzero means line, at any bit depth (a 16-bit mask of 0 and 1 too)
    and in any colour channel (alpha aside)."""
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if m is None or m.ndim not in (2, 3):
        raise InputError(f"{path}: not a readable mask image")
    return (m[..., :3].max(axis=2) if m.ndim == 3 else m) > 0


HELDOUT = "heldout"


def heldout_set(dataset_dir: str | Path) -> RealSet:
    """The val split of a synthetic dataset, as a set annotated by its Labelme files."""
    root = Path(dataset_dir)
    splits = json.loads((root / "splits.json").read_text())
    stems = splits["val"]
    return RealSet(HELDOUT, root,
                   images={s: root / "images" / f"{s}.png" for s in stems},
                   labelme={s: root / "labelme" / f"{s}.json" for s in stems})


def resolve_set(name: str, real_sets: dict[str, str], dataset_dir: str | Path,
                max_images: int | None = None) -> RealSet:
    """A set by name: ``heldout`` is the val split of ``dataset_dir``, others are real folders,
    cut to ``max_images`` annotated images (:meth:`RealSet.spread_subset`; a dataset's
    ``eval_images``, which concerns real sets only)."""
    if name == HELDOUT:
        return heldout_set(dataset_dir)
    return scan_real_set(name, real_sets[name]).spread_subset(max_images)


def image_shape(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file, read from its header where possible."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except Exception:
        return read_grayscale(path).shape  # type: ignore[return-value]
