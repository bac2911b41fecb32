import json
import logging

import cv2
import numpy as np
import pytest
import tifffile

from disloctem.io import (
    InputError,
    class_of_label,
    fill_smoothly,
    heldout_set,
    ignored_labelme_shapes,
    image_shape,
    padding_mask,
    read_grayscale,
    read_labelme_lines,
    read_mask,
    remove_scan_streaks,
    resolve_set,
    scan_real_set,
    to_grey,
)


def test_read_16bit_tiff_and_colour_png(tmp_path):
    img16 = (np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", img16)
    out = read_grayscale(tmp_path / "a.tif")
    assert out.shape == (48, 64) and out.dtype == np.float32
    assert out.min() == 0 and out.max() == 1
    colour = np.zeros((10, 12, 3), np.uint8)
    colour[:, 6:] = 200
    cv2.imwrite(str(tmp_path / "c.png"), colour)
    out = read_grayscale(tmp_path / "c.png")
    assert out.shape == (10, 12) and out[0, 0] == 0 and out[0, 11] == 1
    assert image_shape(tmp_path / "c.png") == (10, 12)


def test_hot_and_dead_pixels_of_a_raw_frame_do_not_squeeze_the_micrograph(tmp_path):
    rng = np.random.default_rng(0)
    frame = rng.normal(2000, 40, (128, 128))  # a 16-bit camera frame, noisy ground
    frame[40, 10:120] += 300  # a bright 1-px line
    frame[10:120, 80:82] -= 300  # a dark 2-px line
    frame[90:100, 20:30] += 600  # a bright blob
    clean = frame.copy()
    spikes = rng.random(frame.shape) < 0.001
    frame[spikes] = 65535  # hot pixels
    frame[5:7, 5:7] = 65535  # an X-ray hit of 2x2 pixels
    frame[100, 100] = 0  # a dead pixel
    tifffile.imwrite(tmp_path / "raw.tif", frame.astype(np.uint16))
    out = read_grayscale(tmp_path / "raw.tif")
    want = (clean - clean.min()) / (clean.max() - clean.min())
    unchanged = ~spikes
    unchanged[4:8, 4:8] = unchanged[100, 100] = False
    assert np.abs(out - want)[unchanged].max() < 0.01  # lines and blob kept, scaled as without spikes
    assert out[40, 10:120].mean() - np.median(out) > 0.2 and np.median(out) - out[10:120, 80].mean() > 0.2
    assert out[5:7, 5:7].max() < 0.8 and out[spikes].max() < 0.8
    clean16 = clean.astype(np.uint16).astype(np.float32)
    tifffile.imwrite(tmp_path / "clean.tif", clean16.astype(np.uint16))
    plain = (clean16 - clean16.min()) / (clean16.max() - clean16.min())
    assert np.array_equal(read_grayscale(tmp_path / "clean.tif"), plain)  # no spikes: plain min-max scaling


def _micrograph_with_lines(rng: np.random.Generator, along_a_column: bool) -> np.ndarray:
    """A 16-bit-like frame: shading from top to bottom and left to right, pixel noise, a dark
    diagonal line, a bright line nearly along a row and, if asked, a dark 2-px line exactly
    along a column (which, in an image with streaks across it, would be taken for one)."""
    y, x = np.mgrid[0:240, 0:320]
    img = 1000 + 2.0 * y + 0.5 * x + rng.normal(0, 10, (240, 320))
    cv2.line(img, (20, 10), (300, 230), 800, 2)
    cv2.line(img, (0, 100), (319, 106), 1400, 1)
    if along_a_column:
        img[30:200, 150:152] -= 150
    return img.astype(np.float32)


def test_scan_streaks_are_removed_and_the_lines_and_shading_kept(tmp_path):
    rng = np.random.default_rng(0)
    clean = _micrograph_with_lines(rng, along_a_column=False)
    for turned in (False, True):  # streaks along the rows, and along the columns of a turned image
        rows = clean.T.copy() if turned else clean
        streaked = rows + rng.normal(0, 15, (rows.shape[0], 1)).astype(np.float32)  # 1.5 x the pixel noise
        out = remove_scan_streaks(streaked)
        left = (out - rows).mean(axis=1)
        assert np.abs(np.diff(left)).mean() < 0.1 * np.abs(np.diff(streaked.mean(axis=1) - rows.mean(axis=1))).mean()
        assert left.std() < 4  # of the streaks (standard deviation 15) only their broad average is left
        assert np.abs((out - out.mean()) - (rows - rows.mean())).mean() < 4  # lines and shading as they were
    tifffile.imwrite(tmp_path / "streaked.tif", np.clip(streaked.T, 0, 65535).astype(np.uint16))
    read = read_grayscale(tmp_path / "streaked.tif")  # on reading, too
    assert np.abs(np.diff((read - read.mean()).mean(axis=0))).mean() < 0.002


def test_an_image_without_scan_streaks_is_left_as_it_is():
    rng = np.random.default_rng(1)
    img = _micrograph_with_lines(rng, along_a_column=True)
    assert np.array_equal(remove_scan_streaks(img), img)
    quantised = np.round(img / 8)  # 8-bit steps: most row differences are whole levels or 0
    assert np.array_equal(remove_scan_streaks(quantised), quantised)
    flat = np.full((50, 60), 7.0, np.float32)
    assert np.array_equal(remove_scan_streaks(flat), flat)
    y, x = np.mgrid[0:90, 0:120]
    smooth = (100 + 20 * np.sin(x / 7.0) + 15 * np.cos(y / 9.0)).astype(np.float32)  # noise-free (denoised, filled)
    smooth[:, 60:63] -= 50  # a line along a whole column
    assert np.array_equal(remove_scan_streaks(smooth), smooth)
    for shape in ((3, 10), (10, 3), (1, 1)):  # too few rows or columns to tell
        tiny = rng.random(shape).astype(np.float32)
        assert np.array_equal(remove_scan_streaks(tiny), tiny)


def test_nan_and_infinite_pixels_are_filled_and_an_image_without_a_finite_one_names_the_file(tmp_path):
    img = np.random.default_rng(0).uniform(0.4, 0.6, (64, 64)).astype(np.float32)
    img[3, 4] = np.nan
    img[:, :12] = np.inf  # the border a registration leaves
    tifffile.imwrite(tmp_path / "hole.tif", img)
    got = read_grayscale(tmp_path / "hole.tif")
    assert np.isfinite(got).all() and got.min() == 0.0 and got.max() == 1.0
    tifffile.imwrite(tmp_path / "empty.tif", np.full((16, 16), np.nan, np.float32))
    with pytest.raises(InputError, match="empty.tif: no pixel has a finite value"):
        read_grayscale(tmp_path / "empty.tif")


def micrograph_with_padding(value: float) -> tuple[np.ndarray, np.ndarray]:
    """A noisy frame shifted by (17, 9) px with ``value`` in the band it leaves, and that band."""
    img = np.random.default_rng(1).normal(0.5, 0.05, (128, 160)).astype(np.float32)
    band = np.zeros(img.shape, bool)
    band[:9], band[:, :17] = True, True
    img[band] = value
    return img, band


@pytest.mark.parametrize("value", [0.0, 1.0, np.nan])
def test_padding_of_a_shifted_frame_is_found_and_nothing_else(value):
    img, band = micrograph_with_padding(value)
    img[60:62, 40:120] = 0.0  # a line as dark as black padding, 2 px wide
    img[100:104, 100:104] = 1.0  # a small saturated speck, as bright as white padding
    img[20:126, 70:75] = 0.0  # a saturated dark line 5 px wide (0.3 % of the frame) ...
    img[30:34, 20:160] = 1.0  # ... and a bright one 4 px wide to the border (2.7 %): they cross it
    assert np.array_equal(padding_mask(img), band)
    assert not padding_mask(np.full((32, 32), 0.5, np.float32)).any()  # a blank frame is no padding


def test_padding_is_filled_without_an_edge_and_the_micrograph_kept():
    img, band = micrograph_with_padding(0.0)
    filled = fill_smoothly(img, band)
    assert np.array_equal(filled[~band], img[~band])
    assert 0.45 < filled[band].min() and filled[band].max() < 0.55  # the micrograph's level, no black
    step = np.abs(np.diff(cv2.GaussianBlur(filled, (0, 0), 2.0)[40:100], axis=1))[:, 10:24].max()
    assert step < 0.02  # the 0.5 step at the band's edge is gone


@pytest.mark.parametrize("compression", ["lzw", "zlib", "zstd", "packbits"])
def test_compressed_tiffs_read_as_the_uncompressed_image(tmp_path, compression):
    img16 = (np.arange(40 * 56).reshape(40, 56) * 29 % 65536).astype(np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", img16)
    tifffile.imwrite(tmp_path / "packed.tif", img16, compression=compression)
    assert np.array_equal(read_grayscale(tmp_path / "packed.tif"), read_grayscale(tmp_path / "plain.tif"))


def test_a_jpeg_compressed_tiff_reads_close_to_its_source(tmp_path):
    ramp = np.tile(np.linspace(0, 255, 64), (48, 1)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "j.tif", ramp, compression="jpeg", compressionargs={"level": 95})
    assert np.abs(read_grayscale(tmp_path / "j.tif") - ramp / 255.0).max() < 0.05


def test_a_single_frame_saved_as_a_stack_of_one_is_that_frame(tmp_path):
    frame = (np.arange(30 * 20).reshape(30, 20) % 251).astype(np.uint8)
    tifffile.imwrite(tmp_path / "flat.tif", frame)
    tifffile.imwrite(tmp_path / "one.tif", frame[None, None])
    assert np.array_equal(read_grayscale(tmp_path / "one.tif"), read_grayscale(tmp_path / "flat.tif"))
    assert np.array_equal(to_grey(frame[..., None]), frame)  # (H, W, 1): one sample per pixel
    tifffile.imwrite(tmp_path / "two.tif", np.stack([frame, frame]))
    with pytest.raises(InputError, match=r"two.tif: a stack of images \(shape \(2, 30, 20\)\)"):
        read_grayscale(tmp_path / "two.tif")


def test_complex_pixels_are_refused_naming_the_file(tmp_path):
    tifffile.imwrite(tmp_path / "fft.tif", np.ones((8, 8), np.complex64))
    with pytest.raises(InputError, match="fft.tif: complex pixel values"):
        read_grayscale(tmp_path / "fft.tif")


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="broken.png: not a readable image"):
        read_grayscale(bad)


def test_labelme_lines_keep_line_shapes_of_known_classes(tmp_path):
    doc = {"shapes": [
        {"label": "dislocation", "shape_type": "linestrip", "points": [[0, 0], [5, 5], [9, 9]]},
        {"label": "slip_trace", "shape_type": "line", "points": [[0, 1], [9, 1]]},
        {"label": "dislocation", "shape_type": "polygon", "points": [[0, 0], [1, 0], [1, 1]]},
        {"label": "precipitate", "shape_type": "linestrip", "points": [[0, 0], [1, 1]]},
    ], "imageHeight": 10, "imageWidth": 12}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    lines, size = read_labelme_lines(tmp_path / "a.json")
    assert [ln.cls for ln in lines] == ["dislocation", "slip_trace"] and size == (10, 12)


def test_labels_name_their_class_however_they_are_written(tmp_path):
    for label, cls in (("dislocation", "dislocation"), ("Dislocation ", "dislocation"), ("dislocations", "dislocation"),
                       ("Slip trace", "slip_trace"), ("slip-traces", "slip_trace"), ("SLIP_TRACE", "slip_trace"),
                       ("Grain boundary", "grain_boundary"), ("grain-boundaries", "grain_boundary")):
        assert class_of_label(label) == cls, label
    for label in ("precipitate", "disl", "slip", "dislocation loop", "", None, 3):
        assert class_of_label(label) is None, label
    doc = {"shapes": [{"label": "Slip traces", "shape_type": "linestrip", "points": [[0, 1], [9, 1]]},
                      {"label": "dislocation", "shape_type": "polygon", "points": [[0, 0], [5, 0], [5, 5]]},
                      {"label": "Precipitate", "shape_type": "linestrip", "points": [[0, 0], [1, 1]]}]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    assert [ln.cls for ln in read_labelme_lines(tmp_path / "a.json")[0]] == ["slip_trace"]
    assert ignored_labelme_shapes(tmp_path / "a.json") == ["'dislocation' (polygon)", "'Precipitate' (linestrip)"]


def test_bad_labelme_names_the_file(tmp_path):
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(InputError, match="x.json: not a Labelme JSON file"):
        read_labelme_lines(tmp_path / "x.json")


def test_scan_real_set_layout(tmp_path):
    for sub in ["images", "labelme", "masks/dislocation"]:
        (tmp_path / sub).mkdir(parents=True)
    for stem in ["f1", "f2"]:
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "labelme" / "f1.json").write_text(json.dumps({"shapes": []}))
    cv2.imwrite(str(tmp_path / "masks" / "dislocation" / "f2.png"), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(tmp_path / "masks" / "dislocation" / "orphan.png"), np.zeros((8, 8), np.uint8))
    rs = scan_real_set("s", tmp_path)
    assert sorted(rs.images) == ["f1", "f2"] and list(rs.labelme) == ["f1"]
    assert list(rs.masks["dislocation"]) == ["f2"] and rs.annotated_stems() == ["f1", "f2"]


def test_scan_reads_bmp_and_names_the_files_it_leaves_out(tmp_path, caplog):
    (tmp_path / "images").mkdir()
    frame = np.full((8, 8), 90, np.uint8)
    frame[:, 4] = 10
    for name in ["a.bmp", "b.png", "b.tif", "c.PNG"]:
        cv2.imwrite(str(tmp_path / "images" / name), frame)
    (tmp_path / "images" / "notes.txt").write_text("session log")
    (tmp_path / "images" / ".DS_Store").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        rs = scan_real_set("s", tmp_path)
    assert {s: p.name for s, p in rs.images.items()} == {"a": "a.bmp", "b": "b.png", "c": "c.PNG"}
    assert read_grayscale(rs.images["a"])[0, 4] == 0.0
    assert "two images named b (b.png and b.tif); only b.png is read" in caplog.text
    assert "1 files are not in an image format read here" in caplog.text and "(notes.txt)" in caplog.text
    assert "DS_Store" not in caplog.text


def test_masks_are_read_as_annotators_save_them(tmp_path, caplog):
    """Class folders named in any case or the plural, TIFF masks, 16-bit masks of 0 and 1,
    colour masks; what is left out is named in a warning."""
    for sub in ["images", "labelme", "masks/Dislocations", "masks/slip-trace", "masks/defects"]:
        (tmp_path / sub).mkdir(parents=True)
    for stem in ["f1", "f2"]:
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.png"), np.zeros((8, 8), np.uint8))
    line16 = np.zeros((8, 8), np.uint16)
    line16[3] = 1
    tifffile.imwrite(tmp_path / "masks" / "Dislocations" / "f1.tif", line16)
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[:, 5, 2] = 255  # a red line (OpenCV's BGR)
    cv2.imwrite(str(tmp_path / "masks" / "slip-trace" / "f2.png"), colour)
    cv2.imwrite(str(tmp_path / "masks" / "slip-trace" / "f1.jpg"), colour)
    cv2.imwrite(str(tmp_path / "masks" / "f1.png"), colour[..., 0])
    (tmp_path / "labelme" / "f3.json").write_text(json.dumps({"shapes": []}))
    with caplog.at_level(logging.WARNING):
        rs = scan_real_set("s", tmp_path)
    assert list(rs.masks["dislocation"]) == ["f1"] and list(rs.masks["slip_trace"]) == ["f2"]
    assert read_mask(rs.masks["dislocation"]["f1"]).sum() == 8
    assert np.array_equal(np.flatnonzero(read_mask(rs.masks["slip_trace"]["f2"]).any(axis=0)), [5])
    for expected in ("defects: names no class", "slip-trace: 1 files left out (f1.jpg)",
                     "masks: 1 files left out (f1.png): masks go in masks/<class>/",
                     "labelme: 1 files name no image in images/ and are left out (f3.json)"):
        assert expected in caplog.text


def test_spread_subset_keeps_evenly_spaced_annotated_images(tmp_path):
    for sub in ["images", "masks/dislocation", "labelme"]:
        (tmp_path / sub).mkdir(parents=True)
    for i in range(12):
        cv2.imwrite(str(tmp_path / "images" / f"f{i:02d}.png"), np.zeros((8, 8), np.uint8))
        if i < 10:  # f10 and f11 are not annotated
            cv2.imwrite(str(tmp_path / "masks" / "dislocation" / f"f{i:02d}.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "labelme" / "f09.json").write_text(json.dumps({"shapes": []}))
    rs = scan_real_set("s", tmp_path)
    cut = rs.spread_subset(4)
    assert cut.annotated_stems() == ["f00", "f03", "f06", "f09"] and sorted(cut.images) == cut.annotated_stems()
    assert list(cut.labelme) == ["f09"] and list(cut.masks["dislocation"]) == ["f00", "f03", "f06", "f09"]
    assert rs.spread_subset(1).annotated_stems() == ["f00"]
    assert rs.spread_subset(None) is rs and rs.spread_subset(10) is rs and len(rs.images) == 12
    assert resolve_set("s", {"s": str(tmp_path)}, "unused", 4).annotated_stems() == cut.annotated_stems()


def test_resolve_set_cuts_real_sets_only(tiny_dataset):
    val = heldout_set(tiny_dataset).annotated_stems()
    assert resolve_set("heldout", {}, tiny_dataset, 1).annotated_stems() == val and len(val) > 1


def test_set_without_images_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="has no images/ folder"):
        scan_real_set("s", tmp_path)


def test_heldout_set_is_the_val_split(tiny_dataset):
    rs = heldout_set(tiny_dataset)
    assert sorted(rs.images) == ["img_00004", "img_00005"] and rs.annotated


def test_pixel_size_from_imagej_tiff_and_none_for_png(tmp_path):
    from disloctem.io import read_pixel_size_nm

    img = np.zeros((20, 30), np.uint16)
    tifffile.imwrite(tmp_path / "cal.tif", img, imagej=True, resolution=(1 / 0.25, 1 / 0.25),
                     metadata={"unit": "um"})
    assert read_pixel_size_nm(tmp_path / "cal.tif") == pytest.approx(250.0)
    tifffile.imwrite(tmp_path / "plain.tif", img, resolution=(300, 300))  # a DPI is not a pixel size
    assert read_pixel_size_nm(tmp_path / "plain.tif") is None
    cv2.imwrite(str(tmp_path / "a.png"), img.astype(np.uint8))
    assert read_pixel_size_nm(tmp_path / "a.png") is None


def test_digitalmicrograph_image_and_calibration(tmp_path, monkeypatch):
    """DM3/DM4 go through rosettasciio's reader (no DM file can be written here, so the reader's
    documented return value stands in for a file)."""
    import rsciio.digitalmicrograph as dm

    from disloctem.io import read_pixel_size_nm

    data = np.arange(12, dtype=np.int16).reshape(3, 4)
    fake = [{"data": np.zeros(5), "axes": []},
            {"data": data, "axes": [{"scale": 0.5, "units": "nm"}, {"scale": 0.02, "units": "µm"}]}]
    monkeypatch.setattr(dm, "file_reader", lambda path, **kw: fake)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "frame.dm4").write_bytes(b"")
    img = read_grayscale(tmp_path / "images" / "frame.dm4")
    assert img.shape == (3, 4) and img.min() == 0 and img.max() == 1
    assert read_pixel_size_nm(tmp_path / "images" / "frame.dm4") == pytest.approx(20.0)
    assert list(scan_real_set("dm", tmp_path).images) == ["frame"]
    assert image_shape(tmp_path / "images" / "frame.dm4") == (3, 4)


def test_readable_images_skip_a_broken_frame_with_a_warning(tmp_path, caplog):
    from disloctem.io import readable_images

    for stem in ("a", "c"):
        cv2.imwrite(str(tmp_path / f"{stem}.png"), np.full((8, 8), 100, np.uint8))
    (tmp_path / "b.png").write_bytes(b"not a png")
    images = {p.stem: p for p in tmp_path.glob("*.png")}
    skipped: list[str] = []
    with caplog.at_level(logging.WARNING):
        got = [(stem, img.shape) for stem, _, img in readable_images(images, skipped)]
    assert got == [("a", (8, 8)), ("c", (8, 8))] and skipped == [str(tmp_path / "b.png")]
    assert "skipping image" in caplog.text and "b.png" in caplog.text


def test_unreadable_digitalmicrograph_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.dm3"
    bad.write_bytes(b"\x00\x00\x00\x03 not really")
    with pytest.raises(InputError, match="broken.dm3: cannot read DigitalMicrograph file"):
        read_grayscale(bad)
