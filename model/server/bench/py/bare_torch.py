"""Eager PyTorch alone (no server, no pre/postprocessing) on the bench's weights, for scale.

usage: python bare_torch.py <model.pt> <model-card.json> <threads> <runs>
prints one JSON line: {"latenciesMs": [...], "wallMs": ...}
"""

import json
import sys
import time

import torch
from folded import folded_unet

weights, card_path, threads, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
card = json.load(open(card_path))
size = int(card["io"]["input"]["shape"][2])
torch.set_num_threads(threads)
model = folded_unet(card)
model.load_state_dict(torch.load(weights, map_location="cpu"))
model.eval()
x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
lat = []
with torch.no_grad():
    for _ in range(2):
        model(x)
    start = time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        model(x)
        lat.append((time.perf_counter() - t) * 1000)
print(json.dumps({"latenciesMs": lat, "wallMs": (time.perf_counter() - start) * 1000}))
