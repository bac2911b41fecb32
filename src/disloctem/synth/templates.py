"""Line-shape templates from real annotations: every annotated line (Labelme shape, or mask
skeleton branch) normalised so its chord runs from (-0.5, 0) to (0.5, 0)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..geometry import polyline_length
from ..io import RealSet, read_labelme_lines, read_mask
from ..postprocess import mask_to_skeleton_branches
from .microstructure import normalise_template

Array = np.ndarray


def annotated_lines(rs: RealSet, cls: str = "dislocation") -> list[Array]:
    """Every annotated line of one class in a set: Labelme shapes, else mask skeleton branches."""
    lines = []
    for stem in rs.annotated_stems():
        if stem in rs.labelme:
            lines += [ln.points for ln in read_labelme_lines(rs.labelme[stem])[0] if ln.cls == cls]
        elif stem in rs.masks.get(cls, {}):
            lines += mask_to_skeleton_branches(read_mask(rs.masks[cls][stem]))
    return lines


def extract_templates(rs: RealSet, min_length: float = 20.0) -> list[Array]:
    """Normalised shapes of the set's dislocations at least ``min_length`` px long."""
    out = []
    for pts in annotated_lines(rs):
        if polyline_length(pts) >= min_length:
            tpl = normalise_template(pts)
            if tpl is not None:
                out.append(tpl)
    return out


def write_templates(rs: RealSet, out_json: str | Path) -> int:
    templates = extract_templates(rs)
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps({"set": rs.name, "templates": [np.round(t, 5).tolist() for t in templates]}))
    return len(templates)


def load_templates(files: list[str | Path]) -> tuple[Array, ...]:
    out = []
    for f in files:
        out += [np.asarray(t, dtype=np.float64) for t in json.loads(Path(f).read_text())["templates"]]
    return tuple(out)
