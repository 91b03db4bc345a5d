"""Masks for photos with an ONNX model and exactly its card's preprocessing (the reference the
model server's parity test compares against)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from .card import validate_card
from .evaluate import onnx_mask_fn
from .preprocess import open_oriented


def predict(model: str | Path, card_path: str | Path, out_dir: str | Path, images: list[str]) -> list[Path]:
    card = json.loads(Path(card_path).read_text())
    validate_card(card)
    fn = onnx_mask_fn(model, card)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for img in images:
        im = open_oriented(img, "RGB")
        mask = fn(im, Path(img))
        out = out_dir / (Path(img).stem + ".png")
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(out)
        written.append(out)
    return written
