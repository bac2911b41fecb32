"""Writing a synthetic dataset: images and every label format, reproducibly from one seed.

Layout of ``results/synthetic/{dataset}/``::

    images/<stem>.png              8-bit micrograph
    masks/<class>/<stem>.png       0/255 semantic mask per class (multi-label)
    instances/<stem>.png           uint16 instance ids (1-based index into the image's lines)
    labelme/<stem>.json            Labelme linestrips (dense points on each spline, clipped)
    splines.jsonl                  one record per image with every labelled line's support points
                                   (and, apart, the lines drawn too faint to see)
    coco.json                      COCO instance segmentation (polygons of the label-width band)
    splits.json                    {"train": [...], "val": [...]} stems
    params.json                    every parameter and the seed

Image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so an image does not depend on
how many others are made or in which order: the same config gives byte-identical files.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import CLASSES
from ..geometry import clip_to_image, polyline_length, resample_by_step
from ..io import AnnotatedLine, labelme_document, link_or_copy, write_json
from .annotations import burn_in_annotations
from .foil_edge import FoilEdge, cut_at_edge, sample_foil_edge
from .microstructure import Line, MicrostructureParams, log_uniform, sample_microstructure
from .render import RenderParams, dense_curve, line_snr, rasterise_labels, render_image

Array = np.ndarray
# PNG settings measured fastest (bench/bench_generator.py): run-length coding, for the noisy image
# and the label images alike, and OpenCV's default compression level: naming any level made the
# same encoding three to four times slower here (OpenCV 5.0) for files only a few percent smaller.
PNG_OPTIONS = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]


@dataclass(frozen=True)
class DatasetParams:
    name: str
    size: int = 512
    n_train: int = 100
    n_val: int = 10
    seed: int = 0
    microstructure: MicrostructureParams = field(default_factory=MicrostructureParams)
    render: RenderParams = field(default_factory=RenderParams)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "size": self.size,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "seed": self.seed,
            "microstructure": self.microstructure.public_dict(),
            "render": self.render.to_dict(),
        }


# dataset config keys that are about the workflow, not the images (the same images either way)
NOT_GENERATOR_KEYS = ("kind", "background", "templates_from", "shards", "train", "predict", "finetune_from",
                      "eval_images")


def dataset_params_from_config(name: str, spec: dict, template_files: list[str | Path] = ()) -> DatasetParams:
    """DatasetParams from a ``datasets.<name>`` config section, with the line templates of the
    given files (``p_template`` defaults to 0.5 when templates are given)."""
    from ..config import dataclass_from_dict
    from .templates import load_templates

    values = {k: v for k, v in spec.items() if k not in NOT_GENERATOR_KEYS}
    micro = dict(values.pop("microstructure", {}))
    if template_files:
        micro["templates"] = load_templates(template_files)
        micro.setdefault("p_template", 0.5)
    return dataclass_from_dict(DatasetParams, {"name": name, "microstructure": micro, **values})


def load_backgrounds(folder: str | Path) -> list[Array]:
    """All background PNGs of a folder (8 or 16 bit) as float32 [0, 1], in name order."""
    files = sorted(Path(folder).glob("*.png"))
    if not files:
        raise FileNotFoundError(f"{folder}: no background PNG files")
    out = []
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        out.append(img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0))
    return out


def pick_background(pool: list[Array], size: int, rng: np.random.Generator) -> Array:
    """A random background from the pool: random crop or resize to ``size``, flip and rotation."""
    bg = pool[int(rng.integers(len(pool)))]
    h, w = bg.shape
    if h >= size and w >= size:
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        bg = bg[y:y + size, x:x + size]
    else:
        bg = cv2.resize(bg, (size, size), interpolation=cv2.INTER_CUBIC)
    bg = np.rot90(bg, int(rng.integers(4)))
    if rng.random() < 0.5:
        bg = bg[:, ::-1]
    return np.ascontiguousarray(bg)


def labelme_lines(lines: list[Line], size: int, step: float = 3.0) -> tuple[list[AnnotatedLine], list[int]]:
    """The visible parts of each line as polylines (every ``step`` px), with the 1-based line id
    as group id so a line cut by the border keeps its identity."""
    out, groups = [], []
    for i, line in enumerate(lines, start=1):
        for run in clip_to_image(dense_curve(line), size, size):
            out.append(AnnotatedLine(line.cls, resample_by_step(run, step)))
            groups.append(i)
    return out, groups


def band_polygon(points: Array, width: float) -> Array:
    """Outline of a polyline thickened to ``width``: left side then the right side reversed."""
    pts = np.asarray(points, dtype=np.float64)
    tangent = np.gradient(pts, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1) * (width / 2.0)
    return np.vstack([pts + normal, (pts - normal)[::-1]])


def coco_annotations(lines: list[Line], visible: list[AnnotatedLine], groups: list[int], size: int,
                     label_width: int) -> list[dict]:
    """COCO annotations (without ``id``/``image_id``) of one image: one per line, its visible
    runs as polygons of the label-width band."""
    by_line: dict[int, list[Array]] = {}
    for vis, g in zip(visible, groups):
        by_line.setdefault(g, []).append(vis.points)
    out = []
    for g, runs in by_line.items():
        polys = [np.clip(band_polygon(r, label_width), 0, size - 1) for r in runs]
        allpts = np.vstack(polys)
        x0, y0 = allpts.min(axis=0)
        x1, y1 = allpts.max(axis=0)
        length = sum(polyline_length(r) for r in runs)
        line = lines[g - 1]
        out.append({
            "category_id": CLASSES.index(line.cls) + 1,
            "segmentation": [np.round(p, 2).ravel().tolist() for p in polys],
            "area": round(length * label_width, 2),
            "bbox": [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
            "iscrowd": 0,
            "spline_support": np.round(line.support, 3).tolist(),
            "line_id": g,
        })
    return out


class CocoStream:
    """Writes ``coco.json`` without holding the dataset in memory: images and annotations are
    appended to two temporary files and joined at the end."""

    def __init__(self, path: Path):
        self.path = path
        self._images = open(path.with_suffix(".images.tmp"), "w+")
        self._anns = open(path.with_suffix(".annotations.tmp"), "w+")
        self.n_images = 0
        self.n_anns = 0

    def add(self, file_name: str, size: int, annotations: list[str]) -> None:
        """One image and its annotations, each the JSON text of an annotation dict without
        ``id``/``image_id`` (as :func:`coco_line` writes them); the ids are spliced in as text."""
        self.n_images += 1
        sep = "," if self.n_images > 1 else ""
        self._images.write(sep + json.dumps({"id": self.n_images, "file_name": file_name,
                                             "height": size, "width": size}))
        for ann in annotations:
            self.n_anns += 1
            sep = "," if self.n_anns > 1 else ""
            self._anns.write(f'{sep}{{"id": {self.n_anns}, "image_id": {self.n_images}, {ann[1:]}')

    def close(self) -> None:
        categories = [{"id": i + 1, "name": c, "supercategory": "line"} for i, c in enumerate(CLASSES)]
        with open(self.path, "w") as out:
            out.write('{"info": {"description": "disloctem synthetic dislocation dataset"}, "images": [')
            for part, tail in ((self._images, '], "annotations": ['), (self._anns, "], ")):
                part.seek(0)
                shutil.copyfileobj(part, out)
                out.write(tail)
                part.close()
                Path(part.name).unlink()
            out.write(f'"categories": {json.dumps(categories)}}}')


def coco_line(stem: str, annotations: list[dict]) -> str:
    """One image's line of a shard's ``coco_annotations.jsonl``: the stem and each annotation as
    JSON, tab-separated (JSON text never holds a raw tab), so merging needs no parsing."""
    return "\t".join([json.dumps(stem), *(json.dumps(a) for a in annotations)])


def image_stem(index: int) -> str:
    return f"img_{index:05d}"


@dataclass(frozen=True)
class Sample:
    """One synthetic image and its lines: ``lines`` are labelled; ``faint`` lines are drawn too
    but stand out less than ``render.min_line_snr`` from the image's clutter (no annotator could
    trace them), so they are left out of every label."""

    image: Array
    lines: list[Line]
    faint: list[Line]
    # line SNR (render.line_snr) of each line of ``lines`` and ``faint``, in that order; empty
    # where ``min_line_snr`` is 0 and it is not measured
    snr: list[float] = field(default_factory=list)


def feature_stream(params: DatasetParams, index: int, stream: int, share: float) -> np.random.Generator | None:
    """The random stream ``[seed, index, stream]`` of an optional feature that a ``share`` of the
    images show, if image ``index`` shows it (decided by the stream's first draw); None if not,
    with nothing drawn when ``share`` is 0. A feature on a stream of its own leaves the images
    without it byte-identical whatever its share."""
    if share <= 0:
        return None
    rng = np.random.default_rng([params.seed, index, stream])
    return rng if rng.random() < share else None


def foil_edge_of(params: DatasetParams, index: int) -> FoilEdge | None:
    """The hole in the foil of image ``index`` (a share ``render.p_foil_edge`` of the images have
    one), drawn from the random stream ``[seed, index, 2]``; None for the rest."""
    rng = feature_stream(params, index, 2, params.render.p_foil_edge)
    return None if rng is None else sample_foil_edge(params.size, rng, params.render.p_dark_vacuum)


def flat_foil_of(params: DatasetParams, index: int) -> float | None:
    """How much of its background's shading image ``index`` keeps if it shows a clean, flatly
    lit foil (a share ``render.p_flat_foil`` of the images; the factor log-uniform in
    ``render.flat_shading``), drawn from the random stream ``[seed, index, 3]``; None for the
    rest."""
    rng = feature_stream(params, index, 3, params.render.p_flat_foil)
    return None if rng is None else log_uniform(rng, *params.render.flat_shading)


def render_sample(params: DatasetParams, index: int, pool: list[Array]) -> Sample:
    """Image ``index`` of a dataset and its lines; depends only on the seed and the index. The
    burned-in annotations and the holes in the foil (:func:`foil_edge_of`) draw from streams of
    their own, so images without them are the same whatever ``p_annotations`` and
    ``p_foil_edge`` are, and so do the flat foils (:func:`flat_foil_of`); the annotations keep
    clear of faint lines too, and the lines of an image with a hole are cut where they enter its
    vacuum, in the image and in every label."""
    rng = np.random.default_rng([params.seed, index])
    background = pick_background(pool, params.size, rng)
    lines = sample_microstructure(params.microstructure, params.size, rng)
    edge = foil_edge_of(params, index)
    rendering = render_image(background, lines, params.render, rng, foil_edge=edge,
                             flat_shading=flat_foil_of(params, index))
    if edge is not None:
        lines = cut_at_edge(lines, edge)
    image = rendering.image
    overlay_rng = feature_stream(params, index, 1, params.render.p_annotations)
    if overlay_rng is not None:
        image = burn_in_annotations(image, lines, overlay_rng)
    if params.render.min_line_snr <= 0:
        return Sample(image, lines, [])
    snr = line_snr(lines, rendering)
    seen = snr >= params.render.min_line_snr
    return Sample(image, [ln for ln, s in zip(lines, seen) if s], [ln for ln, s in zip(lines, seen) if not s],
                  [float(x) for x in np.concatenate([snr[seen], snr[~seen]])])


def write_sample(params: DatasetParams, index: int, pool: list[Array], out: Path) -> tuple[str, str]:
    """Render image ``index``, write its image, masks, instances and Labelme file, and return its
    ``splines.jsonl`` line and COCO line (written by the caller, in index order)."""
    stem = image_stem(index)
    size = params.size
    sample = render_sample(params, index, pool)
    image, lines = sample.image, sample.lines
    masks, instances = rasterise_labels(lines, image.shape, params.render.label_width)
    cv2.imwrite(str(out / "images" / f"{stem}.png"), image, PNG_OPTIONS)
    cv2.imwrite(str(out / "instances" / f"{stem}.png"), instances, PNG_OPTIONS)
    for c, cls in enumerate(CLASSES):
        cv2.imwrite(str(out / "masks" / cls / f"{stem}.png"), masks[c], PNG_OPTIONS)
    visible, groups = labelme_lines(lines, size)
    write_json(out / "labelme" / f"{stem}.json", labelme_document(visible, f"../images/{stem}.png", size, size, groups),
               indent=None)
    records = [ln.to_record(j) for j, ln in enumerate(lines + sample.faint, start=1)]
    for rec, snr in zip(records, sample.snr):
        rec["snr"] = float(np.floor(snr * 100.0) / 100.0)  # rounded down: a faint line stays below min_line_snr
    record = {"image": stem, "height": size, "width": size,
              "lines": records[:len(lines)], "faint_lines": records[len(lines):]}
    anns = coco_annotations(lines, visible, groups, size, params.render.label_width)
    return json.dumps(record), coco_line(stem, anns)


_WORKER: dict = {}


def _init_worker(params: DatasetParams, background_dir: str, out: str) -> None:
    cv2.setNumThreads(1)
    _WORKER.update(params=params, pool=load_backgrounds(background_dir), out=Path(out))


def _write_block(indices: range) -> list[tuple[str, str]]:
    return [write_sample(_WORKER["params"], i, _WORKER["pool"], _WORKER["out"]) for i in indices]


LABEL_FOLDERS = ("images", "instances", "labelme", *[f"masks/{c}" for c in CLASSES])
SHARD_COCO = "coco_annotations.jsonl"  # a shard's COCO annotations, one image per line


def write_shard(params: DatasetParams, background_dir: str | Path, out_dir: str | Path, start: int, stop: int,
                workers: int = 1, block: int = 8) -> None:
    """Render images ``start`` .. ``stop - 1`` of a dataset with every per-image label file, plus
    ``splines.jsonl`` and ``coco_annotations.jsonl`` for them, in index order.

    ``workers`` processes render blocks of ``block`` images in parallel; image ``i`` depends
    only on the seed and ``i``, so the files do not depend on the number of workers or shards,
    and memory does not grow with the dataset size.
    """
    out = Path(out_dir)
    for sub in LABEL_FOLDERS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    blocks = [range(i, min(i + block, stop)) for i in range(start, stop, block)]
    with open(out / "splines.jsonl", "w") as jsonl, open(out / SHARD_COCO, "w") as coco:
        if workers > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers, _init_worker, (params, str(background_dir), str(out))) as mp:
                _collect(mp.imap(_write_block, blocks), jsonl, coco)
        else:
            _init_worker(params, str(background_dir), str(out))
            _collect(map(_write_block, blocks), jsonl, coco)


def finish_dataset(params: DatasetParams, out_dir: str | Path) -> None:
    """Turn a folder holding every image's files (one shard, or merged shards) into the dataset:
    ``coco.json`` (ids in image order), ``splits.json``, ``params.json``."""
    out = Path(out_dir)
    coco = CocoStream(out / "coco.json")
    with open(out / SHARD_COCO) as fh:
        for line in fh:
            stem, *anns = line.rstrip("\n").split("\t")
            coco.add(f"images/{json.loads(stem)}.png", params.size, anns)
    coco.close()
    (out / SHARD_COCO).unlink()
    n = params.n_train + params.n_val
    stems = [image_stem(i) for i in range(n)]
    write_json(out / "splits.json", {"train": stems[:params.n_train], "val": stems[params.n_train:]})
    write_json(out / "params.json", params.to_dict())


def write_dataset(params: DatasetParams, background_dir: str | Path, out_dir: str | Path, workers: int = 1,
                  block: int = 8) -> None:
    """Render and write every image and label of a dataset (see the module docstring) in one go."""
    write_shard(params, background_dir, out_dir, 0, params.n_train + params.n_val, workers, block)
    finish_dataset(params, out_dir)


def shard_range(params: DatasetParams, shard: int, shards: int) -> tuple[int, int]:
    """Image indices [start, stop) of shard ``shard`` of ``shards`` (sizes differ by at most one)."""
    n = params.n_train + params.n_val
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return shard * n // shards, (shard + 1) * n // shards


def merge_shards(params: DatasetParams, shard_dirs: list[str | Path], out_dir: str | Path) -> None:
    """Join shards (in order) into the dataset: per-image files are hard-linked (copied where a
    link is impossible), ``splines.jsonl`` and the COCO annotations concatenated; the result is
    byte-identical to :func:`write_dataset` of the same parameters."""
    out = Path(out_dir)
    for sub in LABEL_FOLDERS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    with open(out / "splines.jsonl", "wb") as jsonl, open(out / SHARD_COCO, "wb") as coco:
        for shard in map(Path, shard_dirs):
            for sub in LABEL_FOLDERS:
                for f in sorted((shard / sub).iterdir()):
                    link_or_copy(f, out / sub / f.name)
            for name, fh in (("splines.jsonl", jsonl), (SHARD_COCO, coco)):
                with open(shard / name, "rb") as part:
                    shutil.copyfileobj(part, fh)
    finish_dataset(params, out)


def _collect(results, jsonl, coco) -> None:
    for block in results:
        for record, coco_text in block:
            jsonl.write(record + "\n")
            coco.write(coco_text + "\n")


def read_splits(dataset_dir: str | Path) -> dict[str, list[str]]:
    return json.loads((Path(dataset_dir) / "splits.json").read_text())
