"""Frames of recordings (TIFF stacks, videos, DM series) written as a real set's images."""

import cv2
import numpy as np
import pytest
import tifffile

from disloctem.frames import main, write_frames
from disloctem.io import InputError, read_grayscale, read_pixel_size_nm, scan_real_set


def stack16(n=5, h=24, w=32):
    return (np.arange(n * h * w).reshape(n, h, w) * 7 % 60000).astype(np.uint16)


def test_tiff_stack_frames_keep_grey_levels_and_pixel_size(tmp_path):
    data = stack16()
    tifffile.imwrite(tmp_path / "run.tif", data, imagej=True, resolution=(2.0, 2.0), metadata={"unit": "nm"})
    images = tmp_path / "set" / "images"
    written, size = write_frames(tmp_path / "run.tif", images, every=2)
    assert [p.name for p in written] == ["run_f00000.tif", "run_f00002.tif", "run_f00004.tif"]
    assert size == pytest.approx(0.5)
    for path, index in zip(written, (0, 2, 4)):
        frame = tifffile.imread(path)
        assert frame.dtype == np.uint16 and np.array_equal(frame, data[index])
        assert read_pixel_size_nm(path) == pytest.approx(0.5)
    assert sorted(scan_real_set("run", tmp_path / "set").images) == ["run_f00000", "run_f00002", "run_f00004"]
    assert read_grayscale(written[1]).shape == (24, 32)


def test_a_compressed_tiff_stack_splits_into_its_frames(tmp_path):
    data = stack16(n=4)
    tifffile.imwrite(tmp_path / "run.tif", data, compression="lzw", photometric="minisblack")
    written, _ = write_frames(tmp_path / "run.tif", tmp_path / "images")
    assert [np.array_equal(tifffile.imread(path), frame) for path, frame in zip(written, data)] == [True] * 4


def test_a_stack_is_not_read_as_one_image(tmp_path):
    tifffile.imwrite(tmp_path / "run.tif", stack16())
    with pytest.raises(InputError, match="run.tif: a stack of images .*disloctem-frames"):
        read_grayscale(tmp_path / "run.tif")


def test_video_frames(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for level in (40, 120, 200):
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()
    written, size = write_frames(path, tmp_path / "images", start=1)
    assert [p.name for p in written] == ["clip_f00001.tif", "clip_f00002.tif"] and size is None
    levels = [float(tifffile.imread(p).mean()) for p in written]
    assert levels == [pytest.approx(120, abs=3), pytest.approx(200, abs=3)]


def test_digitalmicrograph_series(tmp_path, monkeypatch):
    import rsciio.digitalmicrograph as dm

    series = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    axes = [{"scale": 1, "units": "s"}, {"scale": 0.2, "units": "nm"}, {"scale": 0.2, "units": "nm"}]
    monkeypatch.setattr(dm, "file_reader", lambda path, **kw: [{"data": series, "axes": axes}])
    (tmp_path / "series.dm4").write_bytes(b"")
    written, size = write_frames(tmp_path / "series.dm4", tmp_path / "images")
    assert len(written) == 3 and size == pytest.approx(0.2)
    assert np.array_equal(tifffile.imread(written[2]), series[2].astype(np.float32))


def test_command_line_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert main([str(tmp_path / "notes.txt"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("disloctem-frames: ") and "unknown recording type '.txt'" in err and "\n" not in err
    tifffile.imwrite(tmp_path / "run.tif", stack16(n=2))
    assert main([str(tmp_path / "run.tif"), str(tmp_path / "out"), "--start", "5"]) == 1
    assert "no frame in the range" in capsys.readouterr().err
    assert main([str(tmp_path / "run.tif"), str(tmp_path / "out")]) == 0
    assert "2 frames written" in capsys.readouterr().out
