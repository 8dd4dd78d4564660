"""Image inputs: what the Python API accepts where it takes "an image".

A ``str`` or ``os.PathLike`` is a file (``http://`` and ``https://`` strings are URLs where the
call accepts them), ``bytes`` are an encoded image (PNG, JPEG, WebP, GIF, BMP, SVG), a
``PIL.Image.Image`` or a ``numpy`` array of shape (H, W, 3), (H, W, 4) or (H, W) with dtype
uint8 are pixels. Pixels travel to the C++ decoder as an uncompressed BMP, so nothing is lost.
"""
from __future__ import annotations

import os
import struct
from typing import Any, Tuple, Union

import numpy as np

ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, Any]

__all__ = ["ImageInput", "classify", "pixels_to_bmp"]


def is_url(value: str) -> bool:
    lower = value[:8].lower()
    return lower.startswith("http://") or lower.startswith("https://")


def pixels_to_bmp(pixels: np.ndarray) -> bytes:
    """A uint8 (H, W, 3|4) or (H, W) array as a 24-bit BMP (alpha dropped, gray expanded)."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8:
        raise TypeError(f"an image array must have dtype uint8, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"an image array must not be empty, got {array.shape}")
    bgr = array[::-1, :, 2::-1]  # bottom-up rows, BGR
    stride = (width * 3 + 3) & ~3
    rows = np.zeros((height, stride), dtype=np.uint8)
    rows[:, : width * 3] = bgr.reshape(height, width * 3)
    data = rows.tobytes()
    header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    return header + info + data


def classify(image: Any) -> Tuple[str, Any]:
    """("file", path) | ("url", url) | ("bytes", bytes) for one image input."""
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return ("url", path) if is_url(path) else ("file", path)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return "bytes", bytes(image)
    if isinstance(image, np.ndarray):
        return "bytes", pixels_to_bmp(image)
    if hasattr(image, "convert") and hasattr(image, "size") and hasattr(image, "mode"):
        return "bytes", pixels_to_bmp(np.asarray(image.convert("RGB")))
    raise TypeError(
        "an image is a file path, an http(s) URL, encoded bytes, a PIL image or a uint8 numpy "
        f"array; got {type(image).__name__}")
