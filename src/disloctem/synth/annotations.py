"""Annotations burned into a micrograph by the microscope's or the author's software: a scale bar
with its length, a diffraction-vector arrow, a panel letter, a short text. They are straight
bars, strokes and arrows of full contrast, so a model that never saw them traces them as lines;
drawn into some synthetic images, unlabelled, they teach it not to. They are placed only where no
line is labelled (nor within a margin of one), so every label stays exact."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .microstructure import Line

Array = np.ndarray

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN,
         cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
BAR_LENGTHS = ("1", "2", "5", "10", "20", "50", "100", "200", "250", "500")
UNITS = ("nm", "um", "nm", "mm")
VECTOR_LABELS = ("g", "g = 200", "g=[111]", "g 220", "B", "B = [011]")
PANEL_LETTERS = ("a", "b", "c", "d", "e", "f")
OTHER_TEXTS = ("200 kV", "300kV", "x50k", "t = 12 s", "BF", "WBDF", "STEM", "#3", "25 C")


@dataclass
class Stamp:
    """One annotation drawn on its own canvas: ``ink`` (float coverage 0..1), on a filled
    rectangle of the opposite colour where ``backed``."""

    ink: Array
    backed: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return self.ink.shape


def text_ink(text: str, rng: np.random.Generator, height_px: float) -> Array:
    """``text`` in a random Hershey font about ``height_px`` tall, as a coverage canvas."""
    font = FONTS[int(rng.integers(len(FONTS)))]
    scale = cv2.getFontScaleFromHeight(font, max(5, int(round(height_px))), 1)
    thickness = int(rng.integers(1, max(2, int(height_px / 6)) + 1))
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    pad = thickness + 2
    canvas = np.zeros((h + base + 2 * pad, w + 2 * pad), np.uint8)  # OpenCV writes text on 8 bits only
    cv2.putText(canvas, text, (pad, pad + h), font, scale, 255, thickness,
                cv2.LINE_AA if rng.random() < 0.7 else cv2.LINE_8)
    return canvas.astype(np.float32) / 255.0


def scale_bar_stamp(width: int, rng: np.random.Generator) -> Stamp:
    """A filled bar 8-30 % of the image wide and 2-10 px thick with its length written above or
    below it; on a third of them a backing box."""
    bar_len = int(rng.uniform(0.08, 0.3) * width)
    thick = int(rng.integers(2, 11))
    label = text_ink(f"{rng.choice(BAR_LENGTHS)}{' ' if rng.random() < 0.7 else ''}{rng.choice(UNITS)}",
                     rng, rng.uniform(7, 22))
    gap = int(rng.integers(2, 8))
    w = max(bar_len, label.shape[1]) + 8
    h = label.shape[0] + gap + thick + 8
    ink = np.zeros((h, w), np.float32)
    bar_x = (w - bar_len) // 2
    text_x = (w - label.shape[1]) // 2
    if rng.random() < 0.7:  # text above the bar
        ink[4:4 + label.shape[0], text_x:text_x + label.shape[1]] = label
        ink[4 + label.shape[0] + gap:4 + label.shape[0] + gap + thick, bar_x:bar_x + bar_len] = 1.0
    else:
        ink[4:4 + thick, bar_x:bar_x + bar_len] = 1.0
        ink[4 + thick + gap:4 + thick + gap + label.shape[0], text_x:text_x + label.shape[1]] = label
    return Stamp(ink, backed=bool(rng.random() < 0.35))


def arrow_stamp(rng: np.random.Generator) -> Stamp:
    """A straight arrow 25-110 px long in any direction, 1-3 px thick, labelled at its head
    (diffraction vector g or beam direction B)."""
    length = rng.uniform(25, 110)
    angle = rng.uniform(0, 2 * np.pi)
    dx, dy = length * np.cos(angle), length * np.sin(angle)
    label = text_ink(str(rng.choice(VECTOR_LABELS)), rng, rng.uniform(8, 20))
    lh, lw = label.shape
    m = 6
    w = int(abs(dx)) + lw + 2 * m + 4
    h = int(abs(dy)) + lh + 2 * m + 4
    ink = np.zeros((h, w), np.uint8)
    x0 = m + (lw + int(-dx) if dx < 0 else 0)  # an arrow pointing left or up leaves room for its label
    y0 = m + (lh + int(-dy) if dy < 0 else 0)
    head = (int(round(x0 + dx)), int(round(y0 + dy)))
    cv2.arrowedLine(ink, (x0, y0), head, 255, int(rng.integers(1, 4)), cv2.LINE_AA,
                    tipLength=float(rng.uniform(0.15, 0.35)))
    ink = ink.astype(np.float32) / 255.0
    lx = head[0] + 3 if dx >= 0 else head[0] - lw - 3
    ly = head[1] - lh // 2
    lx, ly = int(np.clip(lx, 0, w - lw)), int(np.clip(ly, 0, h - lh))
    ink[ly:ly + lh, lx:lx + lw] = np.maximum(ink[ly:ly + lh, lx:lx + lw], label)
    return Stamp(ink)


def text_stamp(text: str, rng: np.random.Generator) -> Stamp:
    """A short text (panel letter or acquisition note), on a fifth of them with a backing box."""
    ink = text_ink(text, rng, rng.uniform(8, 26))
    return Stamp(ink, backed=bool(rng.random() < 0.2))


def panel_letter(rng: np.random.Generator) -> str:
    letter = str(rng.choice(PANEL_LETTERS))
    return str(rng.choice([letter, f"({letter})", f"{letter})", letter.upper()]))


def annotation_stamps(width: int, rng: np.random.Generator) -> list[Stamp]:
    """The annotations of one image: a scale bar (80 %), an arrow (50 %), a panel letter (50 %),
    0-2 other texts; at least one."""
    stamps = []
    if rng.random() < 0.8:
        stamps.append(scale_bar_stamp(width, rng))
    if rng.random() < 0.5:
        stamps.append(arrow_stamp(rng))
    if rng.random() < 0.5:
        stamps.append(text_stamp(panel_letter(rng), rng))
    for _ in range(int(rng.integers(0 if stamps else 1, 3))):
        stamps.append(text_stamp(str(rng.choice(OTHER_TEXTS)), rng))
    return stamps


def occupied_mask(lines: list[Line], shape: tuple[int, int], margin: int) -> Array:
    """Pixels within ``margin`` px of any line's curve, and one more (uint8 0/1): OpenCV draws
    the odd thickness ``2 * margin + 1`` two pixels wider."""
    mask = np.zeros(shape, np.uint8)
    for line in lines:
        pts = np.round(line.dense).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(mask, [pts], False, 1, thickness=2 * margin + 1, lineType=cv2.LINE_8)
    return mask


def free_corner_spot(taken: Array, size: tuple[int, int], rng: np.random.Generator,
                     tries: int = 30) -> tuple[int, int] | None:
    """Top-left corner of a ``size`` (h, w) window touching no ``taken`` pixel, nearer the image
    corners than its middle (where annotations usually sit); None if none was found."""
    h, w = taken.shape
    sh, sw = size
    if sh >= h or sw >= w:
        return None
    for _ in range(tries):
        fx, fy = rng.uniform(0, 0.3), rng.uniform(0, 0.3)
        x = int(fx * (w - sw)) if rng.random() < 0.5 else int((1 - fx) * (w - sw))
        y = int(fy * (h - sh)) if rng.random() < 0.5 else int((1 - fy) * (h - sh))
        if not taken[y:y + sh, x:x + sw].any():
            return y, x
    return None


def burn_in_annotations(img: Array, lines: list[Line], rng: np.random.Generator, margin: int = 4) -> Array:
    """``img`` (uint8) with :func:`annotation_stamps` drawn in full white or black (one colour per
    image) where no line lies within ``margin`` px; a stamp without such a place is left out."""
    taken = occupied_mask(lines, img.shape, margin)
    out = img.astype(np.float32)
    colour, backing = (255.0, 0.0) if rng.random() < 0.65 else (0.0, 255.0)
    for stamp in annotation_stamps(img.shape[1], rng):
        spot = free_corner_spot(taken, stamp.shape, rng)
        if spot is None:
            continue
        y, x = spot
        sh, sw = stamp.shape
        window = out[y:y + sh, x:x + sw]
        if stamp.backed:
            window[:] = backing
        window[:] = window * (1 - stamp.ink) + colour * stamp.ink
        taken[max(0, y - margin):y + sh + margin, max(0, x - margin):x + sw + margin] = 1
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
