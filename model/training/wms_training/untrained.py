"""A randomly initialised (seeded) U-Net exported with a valid card marked "example": true.

It lets the model server be built and tested before any real training has run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .card import build_card, write_card
from .export import OPSET, export_onnx, parity
from .model import build_model, check_input_size


def export_untrained(out: str | Path, size: int = 512, seed: int = 0, base: int = 16, depth: int = 4,
                     version: str = "0.0.0-untrained") -> dict:
    check_input_size(size, size, depth)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = build_model({"base_filters": base, "depth": depth}).eval()
    # Random BatchNorm statistics would leave the output nearly constant; one pass in train
    # mode on seeded noise gives running stats that make the logits depend on the input.
    with torch.no_grad():
        model.train()
        model(torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed)))
        model.eval()
    onnx_path = export_onnx(model, out / "model.onnx", size, size)
    x = np.random.default_rng(seed).standard_normal((2, 3, size, size)).astype(np.float32)
    par = parity(model, onnx_path, x)
    zero = {"iou": 0.0, "dice": 0.0, "n": 0}
    card = build_card(
        onnx_path=onnx_path,
        width=size,
        height=size,
        opset=OPSET,
        version=version,
        params={"seed": seed, "base_filters": base, "depth": depth, "input_size": size, "epochs": 0},
        metrics={"val": dict(zero), "test": dict(zero)},
        data_ver="none:untrained",
        example=True,
        description="EXAMPLE ONLY: randomly initialised U-Net (seed %d), not trained; its masks are "
        "meaningless. Mask = sigmoid(logits) resized back (bilinear) to the photo's displayed size, "
        "then >= threshold." % seed,
    )
    write_card(card, out / "model-card.json")
    return {"onnx": str(onnx_path), "card": str(out / "model-card.json"), "parity": par}
