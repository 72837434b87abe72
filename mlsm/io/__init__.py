"""Image reading and writing for mlsm: pixels, EXIF, JPEG tables and quality, atomic writes.

Conventions shared by every function here:

* Pixels are ``numpy`` arrays in **RGB channel order**, shape ``(H, W, 3)``, ``float32`` in
  ``[0, 1]`` (``uint8`` only where a name says so). Row 0 is the top of the image as a viewer
  shows it: the EXIF orientation tag is applied on read and reset to 1 in the returned EXIF.
* Greyscale becomes three equal channels. Alpha (LA, RGBA, palette or colour-key
  transparency) is **dropped, not composited**: the stored colour of each pixel is kept and
  :attr:`ImageInfo.has_alpha` records that there was an alpha channel.
* CMYK (including Adobe's inverted CMYK JPEGs, which Pillow un-inverts) is converted with
  Pillow's profile-free formula ``R = (255 - C)(255 - K) / 255`` (likewise G from M, B from
  Y); an embedded CMYK profile is not applied and is not returned.
* No colour management: RGB pixel values are returned as stored. :attr:`ImageInfo.icc_profile`
  holds the embedded profile only when it describes RGB data (so it can be re-embedded in
  an output made from these pixels).
* 16-bit PNG and TIFF keep their full precision (value / 65535). Pillow decodes 16-bit RGB(A)
  down to 8 bits, so such images are decoded twice (high and low byte planes, see
  :func:`_decode_16bit_colour`) and recombined; no extra package is needed.
* Every failure raises an :class:`ImageError` subclass whose ``str`` is one line,
  ``"<path>: <cause>"``.

Decompression bombs are refused from the header (``width * height > max_pixels``) before any
pixel is decoded. The limit is ``max_pixels`` if given, else the environment variable
``MLSM_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`. Pillow's own guard
(``PIL.Image.MAX_IMAGE_PIXELS``) still raises its error above twice its limit; that error is
reported as :class:`ImageTooLargeError` too, while its softer warning is superseded by
``max_pixels``.

JPEG quality (:func:`estimate_jpeg_quality`) follows the IJG scaling of the tables in
Annex K of ITU-T T.81 (the libjpeg ``jpeg_quality_scaling`` formula).

The package: ``common`` (limits, extensions, errors, :class:`ImageInfo`), ``reading``,
``writing`` (atomic; 16-bit PNG/TIFF encoders), ``jpeg`` (tables, quality estimate, encoder),
``exif`` (orientation, ICC), ``convert`` (dtype conversions) and ``listing`` (files, folders,
globs).
"""
from mlsm.io.common import (DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, MAX_PIXELS_ENV, ImageError, ImageInfo,
                            ImageReadError, ImageTooLargeError, ImageWriteError, ImageWriteNote)
from mlsm.io.convert import to_float32, to_uint8
from mlsm.io.jpeg import encode_jpeg, estimate_jpeg_quality, estimate_quality_from_pixels, ijg_quantization_tables
from mlsm.io.listing import iter_image_files
from mlsm.io.reading import decode_image_bytes, read_image
from mlsm.io.writing import write_image

__all__ = [
    "ImageError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "ImageWriteNote",
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "IMAGE_EXTENSIONS",
    "ImageInfo",
    "read_image",
    "decode_image_bytes",
    "estimate_jpeg_quality",
    "estimate_quality_from_pixels",
    "ijg_quantization_tables",
    "encode_jpeg",
    "write_image",
    "to_uint8",
    "to_float32",
    "iter_image_files",
]
