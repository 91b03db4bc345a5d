"""Rebuild the bench's ONNX model in eager PyTorch (folded.py) and prove it is the same network:
the bench compares servers on the same weights.

usage: python onnx_weights.py <model.onnx> <model-card.json> <out.pt>
prints one JSON line: {"maxAbsLogitDiff": ...}
"""

import json
import sys

import numpy as np
import onnxruntime as ort
import torch
from folded import folded_unet, load_from_onnx

onnx_path, card_path, out = sys.argv[1:4]
card = json.load(open(card_path))
model = load_from_onnx(folded_unet(card), onnx_path)
size = int(card["io"]["input"]["shape"][2])
x = np.random.default_rng(1).standard_normal((1, 3, size, size)).astype(np.float32)
ref = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
with torch.no_grad():
    got = model(torch.from_numpy(x)).numpy()
diff = float(np.abs(ref - got).max())
if diff > 1e-3:
    sys.exit(f"rebuilt weights differ from {onnx_path}: max |logit diff| {diff}")
torch.save(model.state_dict(), out)
print(json.dumps({"maxAbsLogitDiff": diff}))
