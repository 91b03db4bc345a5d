"""Evaluation at the photo's displayed size, through the same pre/post-processing the model
server uses, with a PyTorch model, an ONNX file or a running server (by URL)."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

from .data import Pair, list_pairs, load_pair_full
from .metrics import iou_dice, summarize
from .preprocess import BadInputError, postprocess, preprocess_image

log = logging.getLogger(__name__)

# A mask function takes an oriented RGB photo (and its file path) and returns a boolean mask
# at the photo's displayed size.
MaskFn = Callable[[Image.Image, Path], np.ndarray]


def logits_mask_fn(logits_fn: Callable[[np.ndarray], np.ndarray], card: dict) -> MaskFn:
    spec = card["io"]["input"]["preprocessing"]
    thr = float(card["io"]["output"]["threshold"])

    def fn(im: Image.Image, _path: Path) -> np.ndarray:
        logits = logits_fn(preprocess_image(im, spec))
        return postprocess(logits[0, 0], im.size, thr)

    return fn


def onnx_mask_fn(onnx_path: str | Path, card: dict, threads: int | None = None) -> MaskFn:
    from .export import ort_session

    sess = ort_session(onnx_path, threads=threads)
    in_name, out_name = card["io"]["input"]["name"], card["io"]["output"]["name"]
    return logits_mask_fn(lambda x: sess.run([out_name], {in_name: x})[0], card)


def torch_mask_fn(model, card: dict) -> MaskFn:
    import torch

    model = model.eval().to("cpu")

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()

    return logits_mask_fn(run, card)


def url_mask_fn(url: str, timeout: float = 60.0) -> MaskFn:
    """POST the photo's original bytes to <url>/predictions/wms; the response is a PNG mask."""
    import requests

    endpoint = url.rstrip("/") + "/predictions/wms"

    def fn(im: Image.Image, path: Path) -> np.ndarray:
        body = Path(path).read_bytes()
        ctype = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
        r = requests.post(endpoint, data=body, headers={"Content-Type": ctype, "Accept": "image/png"}, timeout=timeout)
        if r.status_code != 200:
            raise RuntimeError(f"{endpoint} answered {r.status_code} for {path}: {r.text[:200]}")
        mask = np.asarray(Image.open(io.BytesIO(r.content)).convert("L")) >= 127
        if (mask.shape[1], mask.shape[0]) != im.size:
            raise RuntimeError(
                f"{endpoint}: mask for {path} is {mask.shape[1]}x{mask.shape[0]}, photo as displayed is "
                f"{im.size[0]}x{im.size[1]}"
            )
        return mask

    return fn


def evaluate_pairs(pairs: Iterable[Pair], mask_fn: MaskFn, on_bad: str = "error") -> dict:
    rows = []
    skipped = []
    for pair in pairs:
        try:
            im, target = load_pair_full(pair)
        except BadInputError as e:
            if on_bad == "skip":
                log.warning("skipping pair: %s", e)
                skipped.append(pair.id)
                continue
            raise
        pred = mask_fn(im, pair.image)
        iou, dice = iou_dice(pred, target.astype(bool))
        rows.append({"id": pair.id, "iou": iou, "dice": dice, "pred_pixels": int(pred.sum()),
                     "true_pixels": int(target.sum()), "width": im.size[0], "height": im.size[1]})
    s = summarize(rows)
    out = {"n": s["n"], "iou": s["iou"], "dice": s["dice"], "per_image": rows}
    if skipped:
        out["skipped"] = skipped
    return out


def evaluate_folder(folder: str | Path, mask_fn: MaskFn, on_bad: str = "error") -> dict:
    return evaluate_pairs(list_pairs(folder), mask_fn, on_bad)


def write_per_image_csv(path: str | Path, rows_by_split: dict[str, list[dict]]) -> Path:
    path = Path(path)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["split", "id", "iou", "dice", "pred_pixels", "true_pixels", "width", "height"])
        for split, rows in rows_by_split.items():
            for r in rows:
                w.writerow([split, r["id"], f"{r['iou']:.6f}", f"{r['dice']:.6f}", r["pred_pixels"],
                            r["true_pixels"], r["width"], r["height"]])
    return path


def plot_curves(history: list[dict], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(ep, [h["train_loss"] for h in history], label="train loss")
    a.plot(ep, [h["val_loss"] for h in history], label="val loss")
    a.set_xlabel("epoch"), a.set_title("BCE + Dice loss"), a.legend()
    b.plot(ep, [h["val_iou"] for h in history], label="val IoU")
    b.plot(ep, [h["val_dice"] for h in history], label="val Dice")
    b.set_xlabel("epoch"), b.set_title("validation (model input size)"), b.legend()
    b.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def dumps(obj) -> str:
    return json.dumps(obj, indent=2)
