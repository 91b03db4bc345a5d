"""The preprocessing contract, written into every model card and mirrored by the model server.

exifTranspose -> RGB -> resize (width, height) stretch, bilinear -> x * scale (1/255) ->
(x - mean) / std per channel -> NCHW float32.  Output: sigmoid, probability map resized
back (bilinear) to the photo's displayed size, mask = probability >= threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class BadInputError(ValueError):
    """Input data that cannot be used; the message names the file."""


def preprocessing_spec(width: int, height: int, mean=None, std=None) -> dict:
    return {
        "exifTranspose": True,
        "colorSpace": "RGB",
        "resize": {"width": int(width), "height": int(height), "mode": "stretch", "interpolation": "bilinear"},
        "scale": 1 / 255,
        "mean": [float(v) for v in (mean or IMAGENET_MEAN)],
        "std": [float(v) for v in (std or IMAGENET_STD)],
    }


def open_oriented(path: str | Path, mode: str = "RGB") -> Image.Image:
    """Open an image as displayed: EXIF orientation applied, converted to `mode`."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return im.convert(mode)
    except FileNotFoundError:
        raise BadInputError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise BadInputError(f"{path}: unreadable image ({e})") from None


def resize_rgb(im: Image.Image, width: int, height: int) -> np.ndarray:
    """Stretch-resize with bilinear interpolation; returns HxWx3 uint8."""
    return np.asarray(im.resize((width, height), Image.BILINEAR), dtype=np.uint8)


def normalize(rgb_uint8: np.ndarray, spec: dict) -> np.ndarray:
    """HxWx3 (or NxHxWx3) uint8 -> (N)CHW float32 with the card's scale/mean/std."""
    x = rgb_uint8.astype(np.float32) * np.float32(spec["scale"])
    x = (x - np.asarray(spec["mean"], np.float32)) / np.asarray(spec["std"], np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, -3)).astype(np.float32)


def preprocess_image(im: Image.Image, spec: dict) -> np.ndarray:
    """An already oriented RGB PIL image -> 1x3xHxW float32 tensor (numpy)."""
    r = spec["resize"]
    return normalize(resize_rgb(im, r["width"], r["height"]), spec)[None]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def postprocess(logits_hw: np.ndarray, size: tuple[int, int], threshold: float = 0.5) -> np.ndarray:
    """HxW logits -> boolean mask at `size` (width, height): sigmoid, bilinear resize, threshold."""
    prob = sigmoid(logits_hw.astype(np.float32))
    prob_full = np.asarray(Image.fromarray(prob, mode="F").resize(size, Image.BILINEAR))
    return prob_full >= threshold
