"""The self-contained HTML report: every figure is embedded, it opens offline."""

from __future__ import annotations

import base64
import csv
import datetime
import html
import io
import json
import re
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from . import CLASSES, __version__  # noqa: E402
from .config import dataset_pseudo_sources  # noqa: E402
from .io import HELDOUT, RealSet, heldout_set, read_grayscale, read_labelme_lines, read_mask, scan_real_set  # noqa: E402

Array = np.ndarray
CLASS_COLOURS = {"dislocation": (255, 60, 60), "slip_trace": (60, 200, 255), "grain_boundary": (80, 255, 80)}
TRUTH_COLOUR = (255, 220, 0)
HIGHER_IS_BETTER = ("line_f1", "line_precision", "line_recall", "cl_f1", "cl_precision", "cl_recall",
                    "class_agreement")
LOWER_IS_BETTER = ("mean_match_dist",)


def tile_data_uri(rgb: Array, width: int) -> str:
    """An image shown ``width`` px wide, embedded as a JPEG (quality 92) of at most twice that
    width: sharp on high-density screens, a tenth of a full-size PNG (large real frames made
    reports of tens of megabytes)."""
    h, w = rgb.shape[:2]
    if w > 2 * width:
        rgb = cv2.resize(rgb, (2 * width, max(1, round(h * 2 * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode()


def tile_tag(rgb: Array, alt: str, width: int) -> str:
    return img_tag(tile_data_uri(rgb, width), alt, width)


def figure_data_uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def img_tag(uri: str, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<img src="{uri}" alt="{html.escape(alt)}"{w}>'


def draw_lines(gray: Array, lines: list[tuple[str, Array]], truth: list[Array] | None = None) -> Array:
    """RGB overlay: true lines (thin, yellow) under predicted lines (coloured by class)."""
    rgb = cv2.cvtColor((np.clip(gray, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    for pts in truth or []:
        cv2.polylines(rgb, [np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)], False,
                      TRUTH_COLOUR, 1, cv2.LINE_AA, shift=4)
    for cls, pts in lines:
        cv2.polylines(rgb, [np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)], False,
                      CLASS_COLOURS.get(cls, (255, 0, 255)), 1, cv2.LINE_AA, shift=4)
    return rgb


def labelme_pairs(path: Path) -> list[tuple[str, Array]]:
    return [(ln.cls, ln.points) for ln in read_labelme_lines(path)[0]] if path.exists() else []


def truth_polylines(rs: RealSet, stem: str) -> list[Array] | None:
    """True Labelme lines for an overlay, or None for a masks-only annotation (tinted instead by
    :func:`truth_mask_rgb`)."""
    if stem in rs.labelme:
        return [ln.points for ln in read_labelme_lines(rs.labelme[stem])[0]]
    return None


def truth_mask_rgb(rgb: Array, rs: RealSet, stem: str) -> Array:
    """Tint the annotated mask pixels of a masks-only annotation on an overlay."""
    for files in rs.masks.values():
        if stem in files:
            m = read_mask(files[stem])
            if m.shape == rgb.shape[:2]:
                rgb[m] = (0.5 * rgb[m] + 0.5 * np.array(TRUTH_COLOUR)).astype(np.uint8)
    return rgb


def prediction_overlay(rs: RealSet, stem: str, pred_dir: Path) -> Array:
    """An image of a set with the predicted lines of ``pred_dir`` over its annotation (lines,
    or tinted mask pixels for a masks-only annotation)."""
    rgb = draw_lines(read_grayscale(rs.images[stem]), labelme_pairs(pred_dir / f"{stem}.json"),
                     truth_polylines(rs, stem))
    return rgb if stem in rs.labelme else truth_mask_rgb(rgb, rs, stem)


# ----------------------------------------------------------------------------- sections


def read_rows(path: str | Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def real_data_section(real_sets: dict[str, RealSet]) -> str:
    if not real_sets:
        return ("<p class='warn'><b>No real images were found.</b> Put real sets into "
                "<code>resources/real_tem/&lt;set&gt;/images/</code> or name them under "
                "<code>real_datasets</code> in the config (docs/data.md). Only the held-out "
                "synthetic split was predicted and evaluated.</p>")
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td><code>{html.escape(str(rs.root))}</code></td>"
        f"<td>{len(rs.images)}</td><td>{len(rs.annotated_stems())}</td>"
        f"<td>{'evaluated' if rs.annotated else 'predicted only (no annotations)'}</td></tr>"
        for n, rs in real_sets.items())
    return ("<table><tr><th>set</th><th>folder</th><th>images</th><th>annotated</th><th>use</th></tr>"
            f"{rows}</table>")


def synthetic_datasets(config: dict) -> list[str]:
    """Names of the rendered (not real or mixed) datasets."""
    return [d for d, spec in config["datasets"].items() if spec.get("kind", "synthetic") == "synthetic"]


def scored_models(config: dict) -> list[tuple[str, str]]:
    """(method, training data) of every trained model, then the baseline's."""
    pairs = [(m, d) for m, spec in config["methods"].items() for d in spec["datasets"]]
    return pairs + ([("baseline", "none")] if config.get("baseline", {}).get("enabled", True) else [])


def gallery_section(config: dict, real_sets: dict[str, RealSet], n: int) -> str:
    parts = []
    for name in synthetic_datasets(config):
        root = Path("results/synthetic") / name
        stems = json.loads((root / "splits.json").read_text())["train"][:n]
        tiles = []
        for stem in stems:
            gray = cv2.imread(str(root / "images" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
            lines = labelme_pairs(root / "labelme" / f"{stem}.json")
            raw = cv2.cvtColor((gray * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
            tiles.append(f"<figure>{tile_tag(raw, stem, 256)}"
                         f"{tile_tag(draw_lines(gray, lines), stem + ' labels', 256)}"
                         f"<figcaption>{stem}: image and labels</figcaption></figure>")
        parts.append(f"<h3>{html.escape(name)}</h3><div class='gallery'>{''.join(tiles)}</div>")
    real_tiles = []
    for rs in real_sets.values():
        for stem in (rs.annotated_stems() or list(rs.images))[:2]:
            gray = read_grayscale(rs.images[stem])
            truth = labelme_pairs(rs.labelme[stem]) if stem in rs.labelme else []
            labelled = truth_mask_rgb(draw_lines(gray, truth), rs, stem)
            caption = f"{html.escape(rs.name)}/{html.escape(stem)}: image and annotation"
            real_tiles.append(f"<figure>{tile_tag(draw_lines(gray, []), stem, 256)}"
                              f"{tile_tag(labelled, stem + ' annotation', 256)}"
                              f"<figcaption>{caption}</figcaption></figure>")
    if real_tiles:
        parts.append(f"<h3>Real frames for comparison</h3><div class='gallery'>{''.join(real_tiles)}</div>")
    parts.append(realism_figure(config, real_sets))
    return "\n".join(parts)


def radial_power_spectrum(img: Array, bins: int = 64) -> tuple[Array, Array]:
    """Radially averaged power spectrum of a mean-free image; frequencies in cycles/pixel."""
    f = np.fft.fftshift(np.abs(np.fft.fft2(img - img.mean())) ** 2)
    h, w = img.shape
    yy, xx = np.indices((h, w))
    r = np.hypot((yy - h // 2) / h, (xx - w // 2) / w)
    edges = np.linspace(0, 0.5, bins + 1)
    idx = np.digitize(r.ravel(), edges) - 1
    valid = (idx >= 0) & (idx < bins)
    power = np.bincount(idx[valid], f.ravel()[valid], bins) / np.maximum(np.bincount(idx[valid], minlength=bins), 1)
    return (edges[:-1] + edges[1:]) / 2, power


def realism_figure(config: dict, real_sets: dict[str, RealSet], per_set: int = 8) -> str:
    """Grey-level histograms, radially averaged power spectra and local contrast (in the U-Net's
    local-standardisation window), synthetic versus real."""
    from .models.common import LOCAL_NORM_SIGMA as local_sigma
    from .models.common import local_mean_std, normalise

    groups: dict[str, list[Array]] = {}
    for name in synthetic_datasets(config):
        root = Path("results/synthetic") / name
        stems = json.loads((root / "splits.json").read_text())["train"][:per_set]
        groups[f"synthetic: {name}"] = [cv2.imread(str(root / "images" / f"{s}.png"), 0) / 255.0 for s in stems]
    for rs in real_sets.values():
        groups[f"real: {rs.name}"] = [read_grayscale(p) for p in list(rs.images.values())[:per_set]]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 3.5))
    for label, imgs in groups.items():
        standard = [normalise(i) for i in imgs]
        ax1.hist(np.concatenate([i.ravel() for i in standard]), bins=100, range=(-5, 5), density=True,
                 histtype="step", label=label)
        spectra = [radial_power_spectrum(i) for i in standard]
        freq = spectra[0][0]
        ax2.loglog(freq[1:], np.mean([s[1] for s in spectra], axis=0)[1:] / max(i.size for i in imgs), label=label)
        local = np.concatenate([local_mean_std(i, local_sigma)[1][::4, ::4].ravel() for i in standard])
        ax3.hist(local, bins=100, range=(0, 1.5), density=True, histtype="step", label=label)
    ax1.set_xlabel("standardised grey level")
    ax1.set_ylabel("density")
    ax2.set_xlabel("spatial frequency (cycles / px)")
    ax2.set_ylabel("power (per pixel)")
    ax3.set_xlabel(f"local std ({local_sigma:g}-px window) / image std")
    ax3.set_ylabel("density")
    ax2.legend(fontsize=7)
    return ("<h3>Realism check</h3><p>Standardised grey-level histograms, radially averaged power "
            "spectra and the local standard deviation relative to the image's (up to 8 images of each "
            "set). Real micrographs with far lower local contrast than the synthetic images look "
            "fainter to a model that sees the image standardised as a whole; the U-Net's second, "
            "locally standardised input channel removes that difference (docs/design.md).</p>"
            + img_tag(figure_data_uri(fig), "realism"))


def training_section(config: dict) -> str:
    parts = []
    for method, spec in config["methods"].items():
        for ds in spec["datasets"]:
            rows = read_rows(Path("results/models") / method / ds / "history.csv")
            if not rows:
                continue
            ep = [int(r["epoch"]) for r in rows]
            fig, ax = plt.subplots(figsize=(5, 3))
            ax2 = ax.twinx()
            for key in rows[0]:
                if key == "train_loss" or key.startswith("val_"):
                    axis, style = (ax, "-") if key.endswith("loss") else (ax2, "--")
                    axis.plot(ep, [float(r[key]) for r in rows], style, label=key.replace("_", " "))
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss")
            ax.set_title(f"{method} on {ds}: {rows[-1]['step']} steps, {float(rows[-1]['elapsed_s']) / 60:.1f} min")
            ax.legend(loc="upper left", fontsize=7)
            ax2.legend(loc="upper right", fontsize=7)
            parts.append(img_tag(figure_data_uri(fig), f"{method} {ds} training"))
    return "<div class='gallery'>" + "".join(parts) + "</div>"


def metrics_section(summary_csv: str | Path) -> str:
    rows = read_rows(summary_csv)
    if not rows:
        return "<p>No evaluation results.</p>"
    cols = list(rows[0].keys())
    best: dict[tuple[str, str, str], float] = {}
    for r in rows:
        for c in cols:
            key = (r["set"], r["class"], c)
            try:
                v = float(r[c])
            except ValueError:
                continue
            if np.isnan(v):
                continue
            if c in HIGHER_IS_BETTER:
                best[key] = max(best.get(key, -np.inf), v)
            elif c in LOWER_IS_BETTER:
                best[key] = min(best.get(key, np.inf), v)
    order = {c: i for i, c in enumerate(CLASSES)}
    rows.sort(key=lambda r: (r["set"] != HELDOUT, r["set"], order.get(r["class"], 9), r["method"], r["dataset"]))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            text = html.escape(r[c])
            try:
                marked = (r["set"], r["class"], c) in best and float(r[c]) == best[(r["set"], r["class"], c)]
            except ValueError:
                marked = False
            cells.append(f"<td class='best'>{text}</td>" if marked else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<p>Set-level scores (counts summed over the images of a set); the best value per set, "
            f"class and column is <span class='best'>marked</span>. <code>heldout</code> is the "
            f"synthetic validation split. Rows of class <code>any</code> pool the annotated classes and "
            f"ignore class in the matching; their <code>class_agreement</code> is the share of matched "
            f"lines named with the true class. Definitions: docs/metrics.md.</p>"
            f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>")


def visibility_table(evaluation_jsons: list[str]) -> str:
    """The held-out dislocations found by line SNR (``dislocations_by_snr`` of the evaluation
    files that have it), one row per method and training data: how visible a line must be for
    each model to find it."""
    rows = []
    for path in sorted(evaluation_jsons):
        ev = json.loads(Path(path).read_text())
        if "dislocations_by_snr" in ev:
            rows.append((ev["method"], ev["dataset"], ev["dislocations_by_snr"]))
    if not rows:
        return ""
    bins = rows[0][2]
    head = "".join(f"<th>SNR {b['snr_from']:g}{'-' + format(b['snr_to'], 'g') if b['snr_to'] else '+'}</th>"
                   for b in bins)
    body = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{html.escape(d)}</td>"
        + "".join(f"<td>{b['cl_recall']:.2f} ({b['lines']})</td>" if b["lines"] else "<td>-</td>" for b in by_snr)
        + "</tr>" for m, d, by_snr in rows)
    return (f"<h3>Held-out dislocations found, by how visible they are</h3>"
            f"<p>The mean share of each held-out synthetic dislocation's centreline that a model finds "
            f"(number of dislocations in brackets), by its line SNR: how far the line stands out of the "
            f"clutter around it (docs/data.md; 1-2 is at the edge of what can be made out, 5 and more is "
            f"plain to see). "
            f"Real micrographs differ, but this says which lines a model can see at all.</p>"
            f"<table><tr><th>method</th><th>training data</th>{head}</tr>{body}</table>")


def overlay_section(config: dict, real_sets: dict[str, RealSet], n: int) -> str:
    """Predicted splines over real (and held-out) images for every model trained on synthetic
    data and the baseline, and over its own set for every self-trained model (the only view of
    its lines on an unannotated video); the real-data studies' models are compared in their
    own section."""
    parts = []
    synthetic = synthetic_datasets(config)
    for method, ds in scored_models(config):
        adapted = set() if ds == "none" else dataset_pseudo_sources(config, ds)
        if adapted:
            sets = {name: rs for name, rs in real_sets.items() if name in adapted}
        elif ds == "none" or ds in synthetic:
            heldout_from = synthetic[0] if ds == "none" else ds
            sets = {HELDOUT: heldout_set(Path("results/synthetic") / heldout_from), **real_sets}
        else:
            continue
        for name, rs in sets.items():
            pred_dir = Path("results/predictions") / name / method / ds
            if not pred_dir.is_dir():
                continue
            tiles = []
            stems = rs.annotated_stems() or list(rs.images)
            for stem in stems[:n]:
                rgb = prediction_overlay(rs, stem, pred_dir)
                tiles.append(f"<figure>{tile_tag(rgb, stem, 360)}"
                             f"<figcaption>{html.escape(stem)}</figcaption></figure>")
            parts.append(f"<h3>{html.escape(method)} trained on {html.escape(ds)}, "
                         f"predicted on {html.escape(name)}</h3><div class='gallery'>{''.join(tiles)}</div>")
    legend = ("<p>Predicted lines: <span style='color:#ff3c3c'>dislocation</span>, "
              "<span style='color:#3cc8ff'>slip trace</span>, <span style='color:#50ff50'>grain boundary</span>; "
              "annotation in <span style='color:#e6c600'>yellow</span> (lines, or tinted mask pixels).</p>")
    return legend + "\n".join(parts)


def _score(rows: list[dict], evalset: str, method: str, dataset: str, key: str, cls: str = "dislocation") -> float:
    for r in rows:
        if (r["set"], r["method"], r["dataset"], r["class"]) == (evalset, method, dataset, cls):
            return float(r[key])
    return float("nan")


def comparison_figure(rows: list[dict]) -> str:
    """Bar chart: dislocation line F1 and centreline F1 of every (method, training data), per set."""
    rows = [r for r in rows if r["class"] == "dislocation"]
    sets = sorted({r["set"] for r in rows}, key=lambda s: (s != HELDOUT, s))
    if not sets:
        return ""
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.8), squeeze=False)
    for ax, evalset in zip(axes[0], sets):
        here = [r for r in rows if r["set"] == evalset]
        labels = [f"{r['method']} / {r['dataset']}" for r in here]
        y = np.arange(len(here))
        ax.barh(y - 0.2, [float(r["line_f1"]) for r in here], 0.4, label="line F1")
        ax.barh(y + 0.2, [float(r["cl_f1"]) for r in here], 0.4, label="centreline F1")
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(evalset, fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return img_tag(figure_data_uri(fig), "dislocation F1 per model and set")


def finetune_curves(config: dict, rows: list[dict]) -> str:
    """Dislocation F1 against the number of real images a synthetic model was fine-tuned on (0:
    the synthetic model itself), one curve per (source set, evaluation set)."""
    curves: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for name, spec in config["datasets"].items():
        if spec.get("kind") == "real" and spec.get("finetune_from") and spec.get("n_train"):
            for method, mspec in config["methods"].items():
                if name in mspec["datasets"]:
                    key = (method, spec["finetune_from"], spec["source"])
                    curves.setdefault(key, [(0, spec["finetune_from"])]).append((spec["n_train"], name))
    if not curves:
        return ""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    plotted = False
    for (method, base, source), points in curves.items():
        points.sort()
        for evalset in sorted({r["set"] for r in rows if r["set"] not in (HELDOUT, source)}):
            for key, style in (("line_f1", "-o"), ("cl_f1", "--s")):
                ys = [_score(rows, evalset, method, ds, key) for _, ds in points]
                if all(np.isnan(ys)):
                    continue
                ax.plot([n for n, _ in points], ys, style, label=f"{method}: {base}+{source} -> {evalset} ({key})")
                plotted = True
    if not plotted:
        plt.close(fig)
        return ""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("real images used for fine-tuning")
    ax.set_ylabel("dislocation F1")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return img_tag(figure_data_uri(fig), "fine-tuning curve")


# study models trained for less than this many minutes are flagged in the report: the same model
# trained twice at such budgets can score further apart than the models do (docs/benchmarks.md)
SHORT_STUDY_MIN = 5.0


def study_budget_note(config: dict, studies: list[str]) -> str:
    """A caution where study models trained for under :data:`SHORT_STUDY_MIN` minutes each (the
    default config's reduced budgets), naming those models unless they are all of them, and the
    longest of their budgets; "" otherwise."""
    budgets = {d: config["datasets"][d].get("train", {}).get("time_budget_min") for d in studies}
    short = {d: b for d, b in budgets.items() if b is not None and b < SHORT_STUDY_MIN}
    if not short:
        return ""
    who = ("These study models" if len(short) == len(studies)
           else "The study models " + ", ".join(f"<code>{html.escape(d)}</code>" for d in short))
    return (f"<p class='warn'>{who} trained for at most {max(short.values()):g} minutes each "
            "(<code>studies.finetune_train</code>, <code>studies.scratch_train</code>). At such budgets "
            "the same model trained twice can score further apart than these models differ, the one "
            "trained from scratch most: read these rows as indicative. <code>config/paper.yaml</code> "
            "trains them at full scale.</p>")


def studies_section(config: dict, summary_csv: str | Path) -> str:
    rows = read_rows(summary_csv)
    if not rows:
        return "<p>No evaluation results.</p>"
    trained = {d for _, d in scored_models(config)}
    studies = [d for d, spec in config["datasets"].items()
               if spec.get("kind", "synthetic") != "synthetic" and d in trained]
    text = ("<p>Dislocation line F1 and centreline F1 of every model on every annotated set: the "
            "synthetic-data models, the generator ablations (one dataset name each), the classical "
            "baseline (training data <code>none</code>) and the real-data studies. A model that saw "
            "annotated frames of a set is not scored on it.</p>")
    if studies:
        text += ("<p>Real-data studies in this run: " + ", ".join(f"<code>{html.escape(d)}</code>" for d in studies)
                 + " (<code>real_S</code>: trained on the frames of S alone; <code>ft{n}_S</code>: the "
                   "synthetic model fine-tuned on n frames of S; <code>mixed_S</code>: fine-tuned on "
                   "synthetic images mixed with frames of S; <code>selftrain_S</code>: fine-tuned on synthetic "
                   "images mixed with the frames of S labelled by the synthetic model where it was sure, no "
                   "annotation used, and scored on S itself).</p>")
        text += study_budget_note(config, studies)
    else:
        text += ("<p>No real-data study ran: the studies need two annotated real sets, one to train on "
                 "and another to score on.</p>")
    return text + comparison_figure(rows) + finetune_curves(config, rows)


PHYSICS_COLUMNS = ["set", "method", "dataset", "n_images", "n_annotated", "pred_n_dislocations",
                   "true_n_dislocations", "mae_n_dislocations", "pred_length_px", "true_length_px",
                   "rel_mae_length_px", "pred_density_per_px", "true_density_per_px", "pred_density_per_um",
                   "true_density_per_um", "pred_density_m2", "true_density_m2", "pred_spacing_px",
                   "true_spacing_px", "mae_spacing_px", "pred_n_loops", "true_n_loops", "pred_loop_diameter_px",
                   "true_loop_diameter_px"]


def physics_section(physics_csv: str | Path, readout_csvs: list[str] = ()) -> str:
    rows = read_rows(physics_csv)
    if not rows:
        return "<p>No predictions to measure.</p>"
    cols = [c for c in PHYSICS_COLUMNS if any(r.get(c) not in (None, "") for r in rows)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_short(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return ("<p>Dislocations per set: count, total length (px), density (line length per image area, "
            "px<sup>-1</sup>, and &micro;m<sup>-1</sup> where the pixel size is known; line length per "
            "volume in m<sup>-2</sup> where the foil thickness is given too) and median neighbour spacing "
            "within pile-ups (px), loops (closed dislocations) and their median diameter (px, of a circle as "
            "long as the loop), predicted (<code>pred_</code>) and annotated (<code>true_</code>, over "
            "the annotated images), with the mean absolute per-image error (<code>mae_</code>, "
            "<code>rel_mae_</code> relative to the mean true value). Per-image values: "
            "<code>results/physics/{set}/{method}/{dataset}.csv</code>. Pile-up rule: docs/metrics.md.</p>"
            f"<div class='scroll'><table><tr>{head}</tr>{body}</table></div>"
            + (f"<p>Image by image, for the sets of {SERIES_MIN_IMAGES} images or more (frames of a "
               f"recording: dislocations arriving, leaving, piling up):</p>{figure}"
               if (figure := readout_series_figure(list(readout_csvs))) else ""))


SERIES_MIN_IMAGES = 5  # sets with at least this many images get their read-out plotted image by image


def natural_key(stem: str) -> list:
    """Sort key that orders frame numbers by value ("f9" before "f10")."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", stem)]


def _value(row: dict, key: str) -> float:
    try:
        return float(row.get(key) or "nan")
    except ValueError:
        return float("nan")


def readout_series_figure(readout_csvs: list[str]) -> str:
    """For each real set of at least :data:`SERIES_MIN_IMAGES` images (an in-situ recording,
    typically), the number of dislocations and their line density image by image, in the natural
    order of the file names, for every model that predicted it, with the annotated values where
    there are any: the read-out as it evolves during the recording. Empty where no set qualifies."""
    series: dict[str, dict[str, list[dict]]] = {}
    for path in readout_csvs:
        rows = read_rows(path)
        if len(rows) >= SERIES_MIN_IMAGES and rows[0]["set"] != HELDOUT:
            series.setdefault(rows[0]["set"], {})[f"{rows[0]['method']} / {rows[0]['dataset']}"] = rows
    if not series:
        return ""
    fig, axes = plt.subplots(len(series), 2, figsize=(11, 2.8 * len(series)), squeeze=False)
    for (name, models), (ax_n, ax_d) in zip(sorted(series.items()), axes):
        order = {stem: i for i, stem in enumerate(sorted({r["image"] for rows in models.values() for r in rows},
                                                         key=natural_key))}
        for label, rows in sorted(models.items()):
            rows = sorted(rows, key=lambda r: order[r["image"]])
            x = [order[r["image"]] for r in rows]
            ax_n.plot(x, [_value(r, "pred_n_dislocations") for r in rows], lw=1, label=label)
            ax_d.plot(x, [_value(r, "pred_density_per_px") for r in rows], lw=1, label=label)
        truth = {r["image"]: r for rows in models.values() for r in rows if r.get("true_n_dislocations")}
        if truth:
            x = [order[stem] for stem in truth]
            ax_n.plot(x, [_value(r, "true_n_dislocations") for r in truth.values()], "ko", ms=3, label="annotated")
            ax_d.plot(x, [_value(r, "true_density_per_px") for r in truth.values()], "ko", ms=3, label="annotated")
        ax_n.set_ylabel("dislocations")
        ax_d.set_ylabel("line density (px$^{-1}$)")
        first, last = min(order, key=order.get), max(order, key=order.get)
        for ax in (ax_n, ax_d):
            ax.set_title(f"{name}: {first} ... {last}", fontsize=9)
            ax.set_xlabel("image, in file-name order")
        ax_d.legend(fontsize=7)
    fig.tight_layout()
    return img_tag(figure_data_uri(fig), "read-out image by image")


def _short(value: str) -> str:
    try:
        v = float(value)
    except ValueError:
        return value
    return value if v.is_integer() and abs(v) < 1e9 else f"{v:.4g}"


def benchmark_section(root: Path = Path("benchmarks")) -> str:
    rows = []
    for tsv in sorted(root.rglob("*.tsv")):
        with open(tsv) as fh:
            recs = list(csv.DictReader(fh, delimiter="\t"))
        if recs:
            r = recs[-1]
            rows.append((str(tsv.relative_to(root).with_suffix("")), float(r["s"]), r.get("max_rss", "NA")))
    if not rows:
        return "<p>No benchmark files yet.</p>"
    body = "".join(f"<tr><td>{html.escape(n)}</td><td>{s:.1f}</td><td>{html.escape(str(m))}</td></tr>"
                   for n, s, m in rows)
    total = sum(s for _, s, _ in rows)
    return (f"<p>Wall time and peak resident memory of every finished job (Snakemake benchmark files; "
            f"the report job itself is not included). Sum of job times: {total / 60:.1f} min.</p>"
            f"<table><tr><th>rule / target</th><th>wall time (s)</th><th>max RSS (MB)</th></tr>{body}</table>")


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f0f0f0}.best{background:#c8f0c8;font-weight:bold}.warn{background:#fff3cd;padding:8px}
.gallery{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}figcaption{font-size:12px;color:#555}
.scroll{overflow-x:auto}pre{background:#f6f6f6;padding:8px;font-size:12px}nav a{margin-right:1em}
"""


def build_report(config: dict, real_sets: dict[str, str], summary_csv: str | Path, out_html: str | Path,
                 physics_csv: str | Path | None = None, readout_csvs: list[str] = (),
                 evaluation_jsons: list[str] = ()) -> None:
    """Write the report from the pipeline's artifacts (paths as in docs/design.md)."""
    sets = {name: scan_real_set(name, path) for name, path in real_sets.items()}
    rep = config.get("report", {})
    sections = [
        ("Real data", real_data_section(sets), "real-data"),
        ("Metrics", metrics_section(summary_csv) + visibility_table(list(evaluation_jsons)), "metrics"),
        ("Studies and ablations", studies_section(config, summary_csv), "studies"),
        ("Physical read-out",
         physics_section(physics_csv, readout_csvs) if physics_csv else "<p>Not measured.</p>", "physics"),
        ("Predicted lines", overlay_section(config, sets, rep.get("overlay_images", 4)), "overlays"),
        ("Training", training_section(config), "training"),
        ("Synthetic data", gallery_section(config, sets, rep.get("gallery_images", 6)), "synthetic"),
        ("Configuration", f"<pre>{html.escape(yaml.safe_dump(config, sort_keys=False))}</pre>", "configuration"),
        ("Run time and memory", benchmark_section(), "benchmarks"),
    ]
    nav = "".join(f"<a href='#{a}'>{html.escape(t)}</a>" for t, _, a in sections)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>disloctem report</title>"
           f"<style>{CSS}</style></head><body><h1>Dislocation lines: synthetic training, real evaluation</h1>"
           f"<p>disloctem {__version__}, built {stamp}.</p><nav>{nav}</nav>"
           + "\n".join(section(t, b, a) for t, b, a in sections) + "</body></html>")
    Path(out_html).write_text(doc)
