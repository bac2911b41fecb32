"""Frames of in-situ TEM recordings as the ``images/`` folder of a real set.

A recording is a video file (AVI, MP4, ... read with OpenCV), a multi-page or multi-dimensional
TIFF, or a DigitalMicrograph image series (DM3/DM4, read with rosettasciio). Frames are written
as TIFF files with their original grey levels (8 or 16 bit, else float32) and, where the
recording states it, the pixel size in ImageJ's tags, which :func:`disloctem.io.read_pixel_size_nm`
reads back. Command line: ``disloctem-frames RECORDING OUT_DIR [--every N] [--start I] [--stop J]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .io import DM_SUFFIXES, InputError, dm_pixel_size_nm, read_dm_signals, read_pixel_size_nm, to_grey

Array = np.ndarray

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".wmv", ".mpg", ".mpeg")
TIFF_SUFFIXES = (".tif", ".tiff")


def video_frames(path: Path) -> Iterator[Array]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"{path}: not a video OpenCV can open")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield np.round(to_grey(frame)).astype(np.uint8) if frame.ndim == 3 else frame
    finally:
        cap.release()


def tiff_frames(path: Path) -> tuple[Iterator[Array], float | None]:
    """Frames of a TIFF, read one page at a time (every axis but Y, X and colour samples counts
    frames), and its pixel size."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes, shape, n_pages = series.axes, series.shape, len(series.pages)
    except Exception as exc:  # tifffile raises many types
        raise InputError(f"{path}: cannot read TIFF ({exc})") from exc
    plane = axes.replace("S", "")
    if not plane.endswith("YX"):
        raise InputError(f"{path}: TIFF axes {axes!r} do not end in Y, X")
    n_frames = int(np.prod([n for a, n in zip(axes, shape) if a not in "YXS"]))
    if n_frames != n_pages:
        raise InputError(f"{path}: {n_frames} frames in {n_pages} TIFF pages; write the stack one frame per page")

    def frames() -> Iterator[Array]:
        with tifffile.TiffFile(path) as tif:
            for i in range(n_pages):
                yield to_grey(tif.series[0].asarray(key=i))

    return frames(), read_pixel_size_nm(path)


def dm_frames(path: Path) -> tuple[Iterator[Array], float | None]:
    """Frames of a DigitalMicrograph image or image series (read lazily, one frame at a time)
    and its pixel size."""
    for sig in read_dm_signals(path, lazy=True):
        data = sig["data"]
        if data.ndim >= 2:
            stack = data.reshape(-1, *data.shape[-2:])
            return (np.asarray(stack[i]) for i in range(stack.shape[0])), dm_pixel_size_nm(sig)
    raise InputError(f"{path}: no image in this DigitalMicrograph file")


def recording_frames(path: str | Path) -> tuple[Iterator[Array], float | None]:
    """(frames, pixel size in nm or None) of a recording; an unknown file type raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return video_frames(path), None
    if suffix in TIFF_SUFFIXES:
        return tiff_frames(path)
    if suffix in DM_SUFFIXES:
        return dm_frames(path)
    raise InputError(f"{path}: unknown recording type {suffix!r} (videos: {', '.join(VIDEO_SUFFIXES)}; "
                     f"TIFF; DM3/DM4)")


def write_frame(path: Path, frame: Array, pixel_size_nm: float | None) -> None:
    """One frame as TIFF, grey levels kept (uint8/uint16; other types as float32), with the pixel
    size in ImageJ's unit and resolution tags when known."""
    import tifffile

    if frame.dtype not in (np.uint8, np.uint16):
        frame = frame.astype(np.float32)
    if pixel_size_nm:
        per_nm = 1.0 / pixel_size_nm
        tifffile.imwrite(path, frame, imagej=True, resolution=(per_nm, per_nm), metadata={"unit": "nm"})
    else:
        tifffile.imwrite(path, frame)


def write_frames(recording: str | Path, out_dir: str | Path, every: int = 1, start: int = 0,
                 stop: int | None = None) -> tuple[list[Path], float | None]:
    """Write frames ``start, start + every, ...`` (before ``stop``) of a recording to
    ``out_dir/<recording stem>_f<index>.tif`` (index zero-padded to 5 digits, counted in the
    recording). Returns the files written and the pixel size (nm) the recording states."""
    if every < 1 or start < 0 or (stop is not None and stop <= start):
        raise ValueError(f"frames: need every >= 1, start >= 0 and stop > start (got {every}, {start}, {stop})")
    recording = Path(recording)
    frames, pixel_size = recording_frames(recording)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, frame in enumerate(frames):
        if stop is not None and index >= stop:
            break
        if index < start or (index - start) % every:
            continue
        path = out_dir / f"{recording.stem}_f{index:05d}.tif"
        write_frame(path, np.asarray(frame), pixel_size)
        written.append(path)
    if not written:
        raise InputError(f"{recording}: no frame in the range asked for (start {start}, stop {stop})")
    return written, pixel_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="disloctem-frames",
        description="Write the frames of an in-situ TEM recording (video, TIFF stack, DM3/DM4 series) "
                    "as TIFF files into a real set's images/ folder.")
    parser.add_argument("recording", type=Path)
    parser.add_argument("out_dir", type=Path, help="for example resources/real_tem/<set>/images")
    parser.add_argument("--every", type=int, default=1, help="keep every N-th frame (default 1)")
    parser.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    parser.add_argument("--stop", type=int, default=None, help="stop before this frame")
    args = parser.parse_args(argv)
    try:
        written, pixel_size = write_frames(args.recording, args.out_dir, args.every, args.start, args.stop)
    except (InputError, ValueError) as exc:
        print(f"disloctem-frames: {exc}", file=sys.stderr)
        return 1
    size = f"{pixel_size:.4g} nm per pixel" if pixel_size else "pixel size not stated in the recording"
    print(f"{len(written)} frames written to {args.out_dir} ({size})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
