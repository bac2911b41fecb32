"""Physical read-out of a set of lines: number of dislocations, total line length, dislocation
density and the spacing of dislocations within pile-ups, per image and per set, for predicted
and (where annotated) true lines, with the error of the one against the other.

Units: pixels by default; where the pixel size is known (from the file's metadata or the config)
lengths are also given in micrometres and the projected density (line length per image area) in
um^-1; where the foil thickness is known too (config), the density is also given in m^-2 (line
length per volume, the usual dislocation density).

Pile-ups are found geometrically (docs/metrics.md): two dislocations belong to the same pile-up
when their mean directions differ by at most ``max_angle_deg`` and their closest points are at
most ``max_gap`` apart; connected groups of at least ``min_members`` dislocations are pile-ups.
Closed lines (loops) never belong to a pile-up: they are counted and measured, but a row of
loops of one habit plane is not a pile-up of gliding dislocations.
Within a pile-up the dislocations are ordered along the normal of their mean direction and the
spacing is the distance between neighbours along that normal; an image's spacing is the median
over all neighbour pairs of all its pile-ups.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .evaluate import annotated_classes, read_truth
from .geometry import CLOSED_CHAIN_PX, is_closed, polyline_length
from .io import RealSet, imaged_area_px, read_grey_values, read_labelme_lines, read_pixel_size_nm

Array = np.ndarray


@dataclass(frozen=True)
class PileupParams:
    max_angle_deg: float = 20.0  # largest direction difference within a pile-up
    max_gap: float = 60.0  # largest closest-point distance (px) between neighbours of a pile-up
    min_members: int = 3  # fewer dislocations than this are not a pile-up


def mean_direction(points: Array) -> Array:
    """Unit vector of a line's overall direction (first principal axis of its points)."""
    pts = np.asarray(points, dtype=np.float64)
    centred = pts - pts.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[0]


def axis_angle_deg(a: Array, b: Array) -> float:
    """Angle between two undirected axes, in [0, 90] degrees."""
    return math.degrees(math.acos(min(1.0, abs(float(np.dot(a, b))))))


def closed_lines(lines: list[Array]) -> list[int]:
    """Indices of the closed lines (loops: last point within 1.5 px of the first)."""
    return [i for i, ln in enumerate(lines) if is_closed(ln, CLOSED_CHAIN_PX)]


def pileup_groups(lines: list[Array], params: PileupParams = PileupParams()) -> list[list[int]]:
    """Indices of the dislocations of each pile-up (see the module docstring)."""
    n = len(lines)
    if n < params.min_members:
        return []
    dirs = [mean_direction(ln) for ln in lines]
    lo = np.array([ln.min(axis=0) for ln in lines])
    hi = np.array([ln.max(axis=0) for ln in lines])
    trees = [cKDTree(ln) for ln in lines]
    adjacency = np.zeros((n, n), bool)
    for i in range(n):
        for j in range(i + 1, n):
            if np.any(lo[i] - hi[j] > params.max_gap) or np.any(lo[j] - hi[i] > params.max_gap):
                continue  # bounding boxes farther apart than max_gap
            if axis_angle_deg(dirs[i], dirs[j]) > params.max_angle_deg:
                continue
            if trees[i].query(lines[j], distance_upper_bound=params.max_gap)[0].min() <= params.max_gap:
                adjacency[i, j] = adjacency[j, i] = True
    loops = closed_lines(lines)
    adjacency[loops, :] = adjacency[:, loops] = False
    _, labels = connected_components(adjacency, directed=False)
    groups = [list(np.flatnonzero(labels == k)) for k in range(labels.max() + 1)]
    return [g for g in groups if len(g) >= params.min_members]


def pileup_spacings(lines: list[Array], params: PileupParams = PileupParams(),
                    groups: list[list[int]] | None = None) -> list[float]:
    """Neighbour spacings (px) along the normal within every pile-up of ``lines`` (``groups``:
    the pile-ups, when :func:`pileup_groups` has already found them)."""
    spacings: list[float] = []
    for group in pileup_groups(lines, params) if groups is None else groups:
        dirs = np.array([mean_direction(lines[i]) for i in group])
        dirs[np.dot(dirs, dirs[0]) < 0] *= -1  # one orientation before averaging axes
        axis = dirs.mean(axis=0)
        normal = np.array([-axis[1], axis[0]]) / np.linalg.norm(axis)
        offsets = np.sort([float(np.dot(lines[i].mean(axis=0), normal)) for i in group])
        spacings.extend(np.diff(offsets).tolist())
    return spacings


@dataclass
class Readout:
    """The physical quantities of one image's dislocations."""

    n_dislocations: int
    length_px: float
    density_per_px: float  # length / area, px^-1
    spacing_px: float  # median neighbour spacing within pile-ups (nan: no pile-up)
    n_pileups: int
    n_loops: int  # closed dislocations, counted in n_dislocations too
    loop_diameter_px: float  # median diameter of a circle as long as each loop (nan: no loop)


def readout(lines: list[Array], area_px: float, params: PileupParams = PileupParams()) -> Readout:
    """Physical read-out of the dislocation lines of one image that shows ``area_px`` pixels of
    the specimen (:func:`~disloctem.io.imaged_area_px`; the density is NaN where it shows none)."""
    lines = [np.asarray(ln, dtype=np.float64) for ln in lines if len(ln) >= 2]
    length = float(sum(polyline_length(ln) for ln in lines))
    groups = pileup_groups(lines, params)
    spacings = pileup_spacings(lines, params, groups)
    diameters = [polyline_length(lines[i]) / math.pi for i in closed_lines(lines)]
    density = length / float(area_px) if area_px > 0 else float("nan")  # nan: a frame without a finite pixel
    return Readout(len(lines), length, density,
                   float(np.median(spacings)) if spacings else float("nan"), len(groups),
                   len(diameters), float(np.median(diameters)) if diameters else float("nan"))


def physical_units(r: Readout, pixel_size_nm: float | None, thickness_nm: float | None = None) -> dict[str, float]:
    """Length in um, projected density in um^-1 and spacing in nm where the pixel size is known;
    the density in m^-2 (length per volume) where the foil thickness is known as well."""
    if not pixel_size_nm:
        return {}
    um = pixel_size_nm * 1e-3
    out = {"length_um": r.length_px * um, "density_per_um": r.density_per_px / um,
           "spacing_nm": r.spacing_px * pixel_size_nm, "loop_diameter_nm": r.loop_diameter_px * pixel_size_nm}
    if thickness_nm:
        out["density_m2"] = r.density_per_px / (pixel_size_nm * 1e-9) / (thickness_nm * 1e-9)
    return out


READOUT_FIELDS = ["n_dislocations", "length_px", "density_per_px", "spacing_px", "n_pileups", "n_loops",
                  "loop_diameter_px"]
UNIT_FIELDS = ["length_um", "density_per_um", "spacing_nm", "loop_diameter_nm", "density_m2"]


def readout_row(stem: str, pred: Readout, truth: Readout | None, pixel_size_nm: float | None,
                thickness_nm: float | None = None) -> dict:
    """One CSV row: predicted values, true values and their differences where there is a truth."""
    row: dict = {"image": stem, "pixel_size_nm": pixel_size_nm or "", "thickness_nm": thickness_nm or ""}
    for prefix, r in (("pred", pred), ("true", truth)):
        if r is None:
            continue
        row |= {f"{prefix}_{k}": getattr(r, k) for k in READOUT_FIELDS}
        row |= {f"{prefix}_{k}": v for k, v in physical_units(r, pixel_size_nm, thickness_nm).items()}
    if truth is not None:
        for k in READOUT_FIELDS:
            row[f"error_{k}"] = getattr(pred, k) - getattr(truth, k)
    return row


def write_rows(rows: list[dict], path: str | Path, extra: dict | None = None) -> None:
    """Write dict rows as CSV (columns in first-seen order), each with the ``extra`` columns first."""
    rows = [{**(extra or {}), **r} for r in rows]
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields or ["image"])
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def _nanmean(values: list[float]) -> float:
    arr = np.array([v for v in values if v == v], dtype=float)
    return float(arr.mean()) if arr.size else float("nan")


def _has(row: dict, key: str) -> bool:
    return row.get(key) not in (None, "")


def summarise_readout(rows: list[dict]) -> dict[str, float]:
    """Set-level read-out: totals and means of the per-image values (predictions over every
    image, truth over the annotated ones), and the mean absolute per-image error (and its
    relative form: divided by the mean true value) over the annotated images."""
    out: dict[str, float] = {"n_images": len(rows)}
    for prefix in ("pred", "true"):
        have = [r for r in rows if _has(r, f"{prefix}_n_dislocations")]
        if not have:
            continue
        if prefix == "true":
            out["n_annotated"] = len(have)
        out[f"{prefix}_n_dislocations"] = float(sum(float(r[f"{prefix}_n_dislocations"]) for r in have))
        out[f"{prefix}_length_px"] = float(sum(float(r[f"{prefix}_length_px"]) for r in have))
        out[f"{prefix}_density_per_px"] = _nanmean([float(r[f"{prefix}_density_per_px"]) for r in have])
        out[f"{prefix}_spacing_px"] = _nanmean([float(r[f"{prefix}_spacing_px"]) for r in have])
        if all(_has(r, f"{prefix}_n_loops") for r in have):  # rows written before loops were counted lack them
            out[f"{prefix}_n_loops"] = float(sum(float(r[f"{prefix}_n_loops"]) for r in have))
            out[f"{prefix}_loop_diameter_px"] = _nanmean([float(r[f"{prefix}_loop_diameter_px"]) for r in have])
        for unit in ("density_per_um", "density_m2"):
            if all(_has(r, f"{prefix}_{unit}") for r in have):
                out[f"{prefix}_{unit}"] = _nanmean([float(r[f"{prefix}_{unit}"]) for r in have])
    annotated = [r for r in rows if _has(r, "true_n_dislocations")]
    for k in ("n_dislocations", "length_px", "density_per_px", "spacing_px", "n_loops") if annotated else ():
        if not all(_has(r, f"error_{k}") for r in annotated):
            continue
        out[f"mae_{k}"] = _nanmean([abs(float(r[f"error_{k}"])) for r in annotated])
        truth = _nanmean([abs(float(r[f"true_{k}"])) for r in annotated])
        out[f"rel_mae_{k}"] = out[f"mae_{k}"] / truth if truth and truth == truth else float("nan")
    return out


def measure_set(rs: RealSet, pred_dir: str | Path, params: PileupParams = PileupParams(),
                pixel_size_nm: float | None = None, thickness_nm: float | None = None) -> list[dict]:
    """Per-image read-out rows of the predicted dislocations of a set, with the annotated truth
    where the image has one. The pixel size is ``pixel_size_nm`` when given, else what each
    image file's metadata says."""
    truth_stems = set(rs.annotated_stems()) if "dislocation" in annotated_classes(rs) else set()
    rows = []
    for stem, image in sorted(rs.images.items()):
        values = read_grey_values(image)  # read once: the shape and the imaged area
        shape, area = values.shape, imaged_area_px(values)
        pred_file = Path(pred_dir) / f"{stem}.json"
        pred = [ln.points for ln in read_labelme_lines(pred_file)[0] if ln.cls == "dislocation"] \
            if pred_file.exists() else []
        truth = None
        if stem in truth_stems:
            truth = readout(read_truth(rs, stem, ["dislocation"], shape)["dislocation"].lines, area, params)
        size = pixel_size_nm or read_pixel_size_nm(image)
        rows.append(readout_row(stem, readout(pred, area, params), truth, size, thickness_nm))
    return rows


KEYS = ("set", "method", "dataset")


def write_physics_summary(readout_files: list[str], out_csv: str | Path) -> None:
    """``results/physics/summary.csv``: one row per (set, method, dataset) with
    :func:`summarise_readout` of its per-image rows."""
    summary = []
    for path in readout_files:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            continue
        summary.append({k: rows[0][k] for k in KEYS} | summarise_readout(rows))
    write_rows(summary, out_csv)
