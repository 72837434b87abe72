"""The bad-input and fault corpus: every hostile or careless input we know of, built from scratch.

Run as a script to write the corpus to a folder and try it by hand::

    python tests/robustness/corpus.py /tmp/mlsm-corpus
    mlsm enhance /tmp/mlsm-corpus/images -o /tmp/mlsm-out      # exit 1: the bad ones fail alone

Four kinds of case, each a small record with what must happen:

- :data:`IMAGE_CASES`: files ``mlsm enhance`` reads. ``ok`` files give one complete output;
  ``fail`` files give exactly one stderr line naming the file whose cause matches ``cause``,
  no output and no temporary file, and never stop the batch.
- :data:`OPTION_CASES`: command-line options; usage errors exit 2 with one line before any
  output folder is made.
- :data:`MODEL_CASES`: broken or hostile ``--model`` safetensors files (shapes, tensors, metadata,
  out-of-bounds configs that would build a network until memory runs out): exit 2, one line
  naming the file, within seconds.
- :data:`API_CASES`: inputs to ``model.enhance`` in Python: each either works, scaled by its
  true range, or raises ``ValueError``/``TypeError`` with a message that says what is wrong.
"""
from __future__ import annotations

import io
import json
import os
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

# --------------------------------------------------------------------------- image helpers


def dark_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A dark uint8 RGB picture with some structure (what mlsm is for)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 20 + 25 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None] + rng.normal(0, 4, (height, width, 3))
    return np.clip(base + 25, 0, 255).astype(np.uint8)


def jpeg_bytes(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=options.pop("quality", 90), **options)
    return buffer.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG announcing width x height pixels (a decompression bomb's header)."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b""))


def _save(image: Image.Image, **options) -> Callable[[Path], None]:
    return lambda path: image.save(path, **options)


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _exif(**tags) -> bytes:
    fields = Image.Exif()
    for tag, value in tags.items():
        fields[int(tag[1:], 16)] = value
    return fields.tobytes()


def _corrupt_exif_offset() -> bytes:
    raw = bytearray(_exif(x010F="mlsm-camera"))
    tiff = 6 if raw.startswith(b"Exif\x00\x00") else 0
    struct.pack_into(">I" if raw[tiff:tiff + 2] == b"MM" else "<I", raw, tiff + 4, 0x7FFF0000)
    return bytes(raw)


def _big_exif() -> bytes:
    fields = Image.Exif()
    fields[0x010F] = "mlsm-camera"
    fields.get_ifd(0x8769)[0x927C] = b"N" * 70_000  # a 70 KB maker note: too long for JPEG
    return fields.tobytes()


def _progressive_with_scans(extra: int) -> bytes:
    data = jpeg_bytes(dark_pixels(32, 40), progressive=True)
    eoi, last = data.rfind(b"\xff\xd9"), data.rfind(b"\xff\xda")
    return data[:eoi] + data[last:eoi] * extra + data[eoi:]


def _twelve_bit_jpeg() -> bytes:
    """A baseline JPEG whose frame header claims 12-bit samples (Pillow decodes 8 bits only)."""
    data = bytearray(jpeg_bytes(dark_pixels(16, 16)))
    sof = data.find(b"\xff\xc0")
    data[sof + 4] = 12
    return bytes(data)


def _png_bad_crc() -> bytes:
    """A PNG whose IHDR chunk fails its CRC (a flipped bit in transfer)."""
    buffer = io.BytesIO()
    Image.fromarray(dark_pixels(16, 16)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[8 + 8 + 13] ^= 0xFF  # first CRC byte of IHDR
    return bytes(data)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _png16(array: np.ndarray) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        from mlsm.io import write_image
        write_image(path, array, bit_depth=16)
    return build


def _link(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


# --------------------------------------------------------------------------- image cases


@dataclass(frozen=True)
class ImageCase:
    """One input file: ``expect`` is ``ok`` or ``fail``; ``cause`` is a regex for the error line.

    ``named`` cases are given on the command line (folder listing skips them: links, FIFOs);
    ``shape`` is the output's (height, width) for ``ok`` cases.
    """

    name: str
    build: Callable[[Path], None]
    expect: str = "ok"
    cause: str = ""
    named: bool = False
    shape: tuple[int, int] | None = None


_D = dark_pixels
IMAGE_CASES: list[ImageCase] = [
    # readable formats and modes
    ImageCase("rgb8.png", _save(Image.fromarray(_D(20, 24))), shape=(20, 24)),
    ImageCase("rgb16.png", _png16(_D(18, 22).astype(np.uint16) * 257), shape=(18, 22)),
    ImageCase("grey8.png", _save(Image.fromarray(_D(17, 19)[..., 0])), shape=(17, 19)),
    ImageCase("grey16.png", _save(Image.fromarray(_D(15, 21)[..., 0].astype(np.uint16) * 257)), shape=(15, 21)),
    ImageCase("palette_transparent.png", _save(Image.fromarray(_D(16, 16)).quantize(32), transparency=0),
              shape=(16, 16)),
    ImageCase("rgba.png", _save(Image.fromarray(np.dstack([_D(14, 18), np.full((14, 18), 90, np.uint8)]))),
              shape=(14, 18)),
    ImageCase("la.png", _save(Image.fromarray(_D(12, 12)[..., 0]).convert("LA")), shape=(12, 12)),
    ImageCase("bilevel.png", _save(Image.fromarray(_D(12, 20)[..., 0] > 40)), shape=(12, 20)),
    ImageCase("baseline.jpg", _bytes(jpeg_bytes(_D(24, 32))), shape=(24, 32)),
    ImageCase("progressive.jpg", _bytes(jpeg_bytes(_D(24, 32), progressive=True)), shape=(24, 32)),
    ImageCase("grey.jpg", _save(Image.fromarray(_D(20, 20)[..., 0]), format="JPEG"), shape=(20, 20)),
    ImageCase("cmyk.jpg", _save(Image.fromarray(_D(16, 24)).convert("CMYK"), format="JPEG"), shape=(16, 24)),
    ImageCase("q10_444.jpg", _bytes(jpeg_bytes(_D(24, 24), quality=10, subsampling=0)), shape=(24, 24)),
    ImageCase("rotated6.jpg", _bytes(jpeg_bytes(_D(16, 24), exif=_exif(x0112=6))), shape=(24, 16)),
    ImageCase("tiff_rgb.tif", _save(Image.fromarray(_D(16, 16))), shape=(16, 16)),
    ImageCase("bmp_rgb.bmp", _save(Image.fromarray(_D(16, 16))), shape=(16, 16)),
    ImageCase("webp_rgb.webp", _save(Image.fromarray(_D(16, 16)), quality=90), shape=(16, 16)),
    ImageCase("png_named.jpg", _save(Image.fromarray(_D(10, 12)), format="PNG"), shape=(10, 12)),
    ImageCase("SHOUT.JPG", _bytes(jpeg_bytes(_D(16, 16))), shape=(16, 16)),
    # odd sizes
    ImageCase("one_pixel.png", _save(Image.fromarray(_D(1, 1))), shape=(1, 1)),
    ImageCase("row_1x37.png", _save(Image.fromarray(_D(1, 37))), shape=(1, 37)),
    ImageCase("column_37x1.png", _save(Image.fromarray(_D(37, 1))), shape=(37, 1)),
    ImageCase("odd_7x5.jpg", _bytes(jpeg_bytes(_D(7, 5))), shape=(7, 5)),
    ImageCase("strip_3x700.png", _save(Image.fromarray(_D(3, 700))), shape=(3, 700)),
    # names
    ImageCase("nacht foto ночь.png", _save(Image.fromarray(_D(8, 8))), shape=(8, 8)),
    ImageCase("n" * 237 + ".png", _save(Image.fromarray(_D(8, 8))), shape=(8, 8)),   # 241 bytes
    ImageCase("m" * 246 + ".jpg", _bytes(jpeg_bytes(_D(8, 8))), shape=(8, 8)),        # 250 bytes
    ImageCase("-starts-with-dash.png", _save(Image.fromarray(_D(8, 8))), shape=(8, 8)),
    # metadata that is tolerated
    ImageCase("corrupt_exif_offset.jpg", _bytes(lambda: jpeg_bytes(_D(16, 16), exif=_corrupt_exif_offset())),
              shape=(16, 16)),
    ImageCase("exif_70kb.png", _save(Image.fromarray(_D(16, 16)), exif=_big_exif()), shape=(16, 16)),
    ImageCase("icc_rgb.jpg", _bytes(lambda: jpeg_bytes(_D(16, 16), icc_profile=_srgb_profile())), shape=(16, 16)),
    # broken files
    ImageCase("empty.jpg", _bytes(b""), "fail", r"empty"),
    ImageCase("text.jpg", _bytes(b"this is not a photo\n" * 4), "fail", r"not a recognised image"),
    ImageCase("truncated.jpg", _bytes(lambda: _truncated(jpeg_bytes(_D(64, 64)))), "fail", r"truncated"),
    ImageCase("truncated_png.png", _bytes(lambda: _truncated(_png_data(_D(64, 64)))), "fail", r"truncated|corrupt"),
    ImageCase("bad_crc.png", _bytes(_png_bad_crc), "fail", r"CRC error in the IHDR chunk"),
    ImageCase("header_bomb.png", _bytes(png_header_only(100_000, 100_000)), "fail", r"exceeds (the )?limit"),
    ImageCase("scan_bomb.jpg", _bytes(lambda: _progressive_with_scans(600)), "fail", r"more than 500 scans"),
    ImageCase("twelve_bit.jpg", _bytes(_twelve_bit_jpeg), "fail", r"12-bit JPEG is not supported"),
    ImageCase("html.png", _bytes(b"<!doctype html><html><body>404</body></html>"), "fail", r"not a recognised image"),
    ImageCase("zeros.tif", _bytes(b"II*\x00" + b"\x00" * 60), "fail", r"corrupt TIFF"),
    # things that are not regular files (named on the command line)
    ImageCase("fifo.png", lambda path: os.mkfifo(path), "fail", r"FIFO", named=True),
    ImageCase("loop.png", _link("loop.png"), "fail", r"link loop", named=True),
    ImageCase("broken_link.png", _link("gone.png"), "fail", r"broken symbolic link", named=True),
    ImageCase("missing.png", lambda path: None, "fail", r"no such file", named=True),
    ImageCase("notes.txt", _bytes(b"text"), "fail", r"not an image file extension", named=True),
]


def _png_data(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _srgb_profile() -> bytes:
    from PIL import ImageCms
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def build_images(folder: Path, named: bool = False) -> list[Path]:
    """Write the :data:`IMAGE_CASES` files found by folder listing (or, with ``named``, those
    given on the command line) into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in IMAGE_CASES:
        if case.named == named:
            case.build(folder / case.name)
            paths.append(folder / case.name)
    return paths


# --------------------------------------------------------------------------- option cases


@dataclass(frozen=True)
class OptionCase:
    """``mlsm enhance IMAGE -o OUT --model M`` plus ``options``: exit ``code``, stderr matching
    ``message`` (one line when the code is 2, and no output folder made)."""

    name: str
    options: tuple[str, ...]
    code: int
    message: str = ""


OPTION_CASES: list[OptionCase] = [
    OptionCase("brightness_inf", ("--brightness", "inf"), 2, r"brightness"),
    OptionCase("brightness_nan", ("--brightness", "nan"), 2, r"brightness"),
    OptionCase("brightness_negative", ("--brightness", "-1"), 2, r"brightness"),
    OptionCase("brightness_zero", ("--brightness", "0"), 2, r"brightness"),
    OptionCase("brightness_word", ("--brightness", "bright"), 2, r"brightness"),
    OptionCase("suffix_escape", ("--suffix", "/../../escape"), 2, r"suffix"),
    OptionCase("suffix_separator", ("--suffix", "a/b"), 2, r"suffix"),
    OptionCase("suffix_nul", ("--suffix", "a\x00b"), 2, r"suffix"),
    OptionCase("suffix_ok", ("--suffix", "_enhanced"), 0),
    OptionCase("quality_zero", ("--quality", "0"), 2, r"quality"),
    OptionCase("quality_high", ("--quality", "101"), 2, r"quality"),
    OptionCase("quality_word", ("--quality", "best"), 2, r"quality"),
    OptionCase("format_gif", ("--format", "gif"), 2, r"format"),
    OptionCase("tile_zero", ("--tile", "0"), 2, r"tile"),
    OptionCase("tile_negative", ("--tile", "-64"), 2, r"tile"),
    OptionCase("overlap_negative", ("--overlap", "-1"), 2, r"overlap"),
    OptionCase("overlap_over_tile", ("--tile", "64", "--overlap", "64"), 0),  # clamped to tile // 4 (run_tiled)
    OptionCase("threads_zero", ("--threads", "0"), 2, r"threads"),
    OptionCase("threads_word", ("--threads", "many"), 2, r"threads"),
    OptionCase("threads_huge", ("--threads", "9999"), 0, r"threads.*(cap|core)"),
    OptionCase("device_tpu", ("--device", "tpu"), 2, r"device"),
    OptionCase("backend_unknown", ("--backend", "tensorrt"), 2, r"backend"),
    OptionCase("skip_and_overwrite", ("--skip-existing", "--overwrite"), 2, r"not allowed with|overwrite"),
    OptionCase("jpg_with_big_exif", ("--format", "jpg"), 0),
]


# --------------------------------------------------------------------------- model cases


@dataclass(frozen=True)
class ModelCase:
    """A ``--model`` file made from a valid one by ``change(tensors, metadata)``; exit 2 with one
    line naming the file and matching ``cause``."""

    name: str
    change: Callable[[dict, dict], None]
    cause: str


def _set_config(key_path: str, value: Any) -> Callable[[dict, dict], None]:
    def change(tensors: dict, metadata: dict) -> None:
        config = json.loads(metadata["config"])
        *parents, last = key_path.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[last] = value
        metadata["config"] = json.dumps(config)
    return change


def _metadata(key: str, text: str | None) -> Callable[[dict, dict], None]:
    def change(tensors: dict, metadata: dict) -> None:
        if text is None:
            metadata.pop(key)
        else:
            metadata[key] = text
    return change


def _first_weight(tensors: dict) -> str:
    return next(name for name, tensor in tensors.items() if tensor.ndim == 4)


def _reshape_one(tensors: dict, metadata: dict) -> None:
    name = _first_weight(tensors)
    tensors[name] = tensors[name][:, :1].contiguous()


def _drop_one(tensors: dict, metadata: dict) -> None:
    del tensors[_first_weight(tensors)]


def _add_one(tensors: dict, metadata: dict) -> None:
    import torch
    tensors["bogus.weight"] = torch.zeros(2)


MODEL_CASES: list[ModelCase] = [
    ModelCase("wrong_shape", _reshape_one, r"shape|size"),
    ModelCase("missing_tensor", _drop_one, r"missing"),
    ModelCase("extra_tensor", _add_one, r"unexpected|extra"),
    ModelCase("config_list", _metadata("config", "[]"), r"config"),
    ModelCase("config_null", _metadata("config", "null"), r"config"),
    ModelCase("config_not_json", _metadata("config", "{vae: "), r"config"),
    ModelCase("config_missing", _metadata("config", None), r"metadata|config"),
    ModelCase("arch_unknown", _metadata("arch", "transformer"), r"arch"),
    ModelCase("unknown_key", _set_config("vae.bogus_key", 1), r"bogus_key"),
    ModelCase("string_width", _set_config("vae.widths", ["8", "12", "16"]), r"widths"),
    ModelCase("negative_width", _set_config("vae.widths", [-4, 6, 8]), r"widths"),
    ModelCase("huge_width", _set_config("vae.widths", [1_000_000, 6, 8]), r"widths"),
    ModelCase("huge_depth", _set_config("vae.convs_per_level", 1_000_000_000), r"convs_per_level"),
    ModelCase("card_not_json", _metadata("card", "{oops"), r"card"),
    ModelCase("exposure_missing_key", lambda t, m: _break_exposure(t, m, "drop"), r"exposure"),
    ModelCase("exposure_nan", lambda t, m: _break_exposure(t, m, "nan"), r"exposure"),
]


def _break_exposure(tensors: dict, metadata: dict, how: str) -> None:
    spec = json.loads(metadata["exposure"]) if "exposure" in metadata else {"kind": "missing"}
    if how == "drop":
        spec.pop(next(iter(spec)))
    else:
        key = next(k for k, v in spec.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
        spec[key] = float("nan")
    metadata["exposure"] = json.dumps(spec)


def build_model(case: ModelCase, source: Path, target: Path) -> Path:
    """Write ``target``: the safetensors file ``source`` changed by ``case``."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    with safe_open(str(source), framework="pt") as handle:
        metadata = dict(handle.metadata() or {})
    tensors = load_file(str(source))
    case.change(tensors, metadata)
    save_file(tensors, str(target), metadata=metadata)
    return target


# --------------------------------------------------------------------------- API cases


@dataclass(frozen=True)
class ApiCase:
    """``model.enhance(make())``: ``expect`` is ``ok`` (then ``same_as`` names an input of the
    same picture in uint8 form that must give the same result within 1/255), or an exception
    type name whose message matches ``message``."""

    name: str
    make: Callable[[], Any]
    expect: str = "ok"
    message: str = ""
    same_as_uint8: bool = field(default=False)


def _u8() -> np.ndarray:
    return dark_pixels(12, 14, seed=3)


def _with_nan() -> np.ndarray:
    image = _u8().astype(np.float32) / 255
    image[3, 4, 1] = np.nan
    return image


def _with_inf() -> np.ndarray:
    image = _u8().astype(np.float32) / 255
    image[0, 0, 0] = np.inf
    return image


def _torch(array: np.ndarray, layout: str = "chw"):
    import torch
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.permute(2, 0, 1).contiguous() if layout == "chw" else tensor


API_CASES: list[ApiCase] = [
    ApiCase("uint8_hwc", _u8),
    ApiCase("float32_unit", lambda: _u8().astype(np.float32) / 255, same_as_uint8=True),
    ApiCase("float64_unit", lambda: _u8().astype(np.float64) / 255, same_as_uint8=True),
    ApiCase("uint16_full_range", lambda: _u8().astype(np.uint16) * 257, same_as_uint8=True),
    ApiCase("grey_uint8_2d", lambda: _u8()[..., 0], "ValueError", r"\(H, W, 3\) RGB"),
    ApiCase("pil_rgb", lambda: Image.fromarray(_u8()), same_as_uint8=True),
    ApiCase("pil_l", lambda: Image.fromarray(_u8()[..., 0])),
    ApiCase("pil_i16", lambda: Image.fromarray(_u8()[..., 0].astype(np.uint16) * 257)),
    ApiCase("pil_rgba", lambda: Image.fromarray(np.dstack([_u8(), np.full((12, 14), 255, np.uint8)]))),
    ApiCase("torch_uint8_chw", lambda: _torch(_u8()), same_as_uint8=True),
    ApiCase("torch_float_chw", lambda: _torch(_u8().astype(np.float32) / 255), same_as_uint8=True),
    ApiCase("torch_float_nchw", lambda: _torch(_u8().astype(np.float32) / 255)[None], same_as_uint8=True),
    ApiCase("nan_pixel", _with_nan, "ValueError", r"(?i)nan|finite"),
    ApiCase("inf_pixel", _with_inf, "ValueError", r"(?i)inf|finite"),
    ApiCase("int32", lambda: _u8().astype(np.int32), "TypeError|ValueError", r"int32"),
    ApiCase("int64", lambda: _u8().astype(np.int64), "TypeError|ValueError", r"int64"),
    ApiCase("bool", lambda: _u8() > 30, "TypeError|ValueError", r"bool"),
    ApiCase("float_over_range", lambda: _u8().astype(np.float32), "ValueError", r"\[0, 1\]|range"),
    ApiCase("complex", lambda: _u8().astype(np.complex64), "TypeError|ValueError", r"complex"),
    ApiCase("empty_array", lambda: np.zeros((0, 0, 3), np.uint8), "ValueError", r"(?i)empty|size"),
    ApiCase("empty_pil", lambda: Image.new("RGB", (0, 0)), "ValueError", r"(?i)empty|size"),
    ApiCase("four_channels_array", lambda: np.zeros((8, 8, 4), np.uint8), "ValueError", r"(?i)channel|shape"),
    ApiCase("two_channels_array", lambda: np.zeros((8, 8, 2), np.uint8), "ValueError", r"(?i)channel|shape"),
    ApiCase("1d_array", lambda: np.zeros(12, np.uint8), "ValueError", r"(?i)shape|dimension"),
    ApiCase("4d_array", lambda: np.zeros((2, 8, 8, 3), np.uint8), "ValueError", r"(?i)shape|dimension"),
    ApiCase("torch_hwc", lambda: _torch(_u8().astype(np.float32) / 255, "hwc"), "ValueError", r"(?i)channel|layout|shape"),
    ApiCase("torch_2d", lambda: _torch(_u8().astype(np.float32) / 255)[0], "ValueError", r"(?i)shape|dimension"),
    ApiCase("pil_i32_mode", lambda: Image.fromarray(_u8()[..., 0].astype(np.int32) * 1000, "I"),
            "TypeError|ValueError|ok", r"mode"),
    ApiCase("pil_f_mode", lambda: Image.fromarray(_u8()[..., 0].astype(np.float32) / 255, "F"),
            "TypeError|ValueError|ok", r"mode"),
    ApiCase("string", lambda: "photo.jpg", "TypeError", r"(?i)str|image"),
    ApiCase("none", lambda: None, "TypeError", r"(?i)none|image"),
    ApiCase("list", lambda: _u8().tolist(), "TypeError", r"(?i)list|image"),
]


def write_corpus(root: Path, weights: Path | None = None) -> None:
    """The image corpus in ``root/images`` (named cases in ``root/named``), the option and API
    case lists as JSON, and, given a valid ``weights`` file, the broken models in ``root/models``."""
    build_images(root / "images")
    build_images(root / "named", named=True)
    (root / "options.json").write_text(json.dumps([case.__dict__ for case in OPTION_CASES], indent=1))
    if weights is not None:
        (root / "models").mkdir(exist_ok=True)
        for case in MODEL_CASES:
            build_model(case, weights, root / "models" / f"{case.name}.safetensors")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python tests/robustness/corpus.py OUT [VALID.safetensors]")
    write_corpus(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None)
    print(f"{len(IMAGE_CASES)} image, {len(OPTION_CASES)} option, {len(MODEL_CASES)} model and "
          f"{len(API_CASES)} API cases; images in {Path(sys.argv[1]) / 'images'}")
