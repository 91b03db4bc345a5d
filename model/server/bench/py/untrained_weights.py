"""Rebuild the seeded untrained U-Net in PyTorch (exactly as wms_training.untrained does) and
prove it is the same network as the ONNX file: the bench compares servers on the same weights.

usage: python untrained_weights.py <model.onnx> <model-card.json> <out.pt>
prints one JSON line: {"maxAbsLogitDiff": ...}
"""

import json
import sys

import numpy as np
import onnxruntime as ort
import torch
from wms_training.model import build_model

onnx_path, card_path, out = sys.argv[1:4]
card = json.load(open(card_path))
p = card["training"]["params"]
size, seed = int(p["input_size"]), int(p["seed"])
torch.manual_seed(seed)
model = build_model({"base_filters": p["base_filters"], "depth": p["depth"]}).eval()
with torch.no_grad():
    model.train()
    model(torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed)))
    model.eval()
    x = np.random.default_rng(1).standard_normal((1, 3, size, size)).astype(np.float32)
    ref = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    got = model(torch.from_numpy(x)).numpy()
diff = float(np.abs(ref - got).max())
if diff > 1e-3:
    sys.exit(f"rebuilt weights differ from {onnx_path}: max |logit diff| {diff}")
torch.save(model.state_dict(), out)
print(json.dumps({"maxAbsLogitDiff": diff}))
