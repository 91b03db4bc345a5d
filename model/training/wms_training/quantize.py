"""int8 for a published release: quantize its fp32 ONNX with calibration photos from the train
split, score fp32 and int8 the same way (val and test, masks at each photo's displayed size,
through the server's pre/post-processing), and report the differences.

`python -m wms_training quantize` is both the study (several `--method`/`--calibration` runs
side by side, one decode of the photos) and the release step (`--out` keeps the chosen one)."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import Pair, list_pairs, load_pair_full, split_of
from .export import ort_session, quantize_int8
from .metrics import iou_dice, summarize
from .preprocess import postprocess, preprocess_image

log = logging.getLogger(__name__)


@dataclass
class Scored:
    """A photo decoded once: the model input, its displayed size and the target mask."""

    id: str
    x: np.ndarray
    size: tuple[int, int]
    target: np.ndarray


def calibration_pairs(pairs: list[Pair], n: int) -> list[Pair]:
    """`n` train-split photos spread over the split (ordered by a hash of the id, not by
    file name: the first names of a folder are one photographer's session)."""
    train = [p for p in pairs if split_of(p.id) == "train"]
    train.sort(key=lambda p: hashlib.sha256(("calib:" + p.id).encode()).hexdigest())
    if len(train) < n:
        raise ValueError(f"--calibration {n}: the train split has only {len(train)} photos")
    return train[:n]


def first_train_pairs(pairs: list[Pair], n: int) -> list[Pair]:
    """What export used to take: the first `n` train photos in file-name order."""
    return [p for p in pairs if split_of(p.id) == "train"][:n]


def decode(pairs: list[Pair], spec: dict, on_bad: str = "skip") -> list[Scored]:
    out = []
    for p in pairs:
        try:
            im, target = load_pair_full(p)
        except Exception as e:  # noqa: BLE001 -- the dataset's few unreadable pairs
            if on_bad != "skip":
                raise
            log.warning("skipping %s: %s", p.id, e)
            continue
        out.append(Scored(p.id, preprocess_image(im, spec).astype(np.float32), im.size, target.astype(bool)))
    return out


def score(model: str | Path, photos: list[Scored], threshold: float, threads: int | None = None) -> dict:
    """Mean IoU/Dice over the photos, masks at displayed size; the masks are kept for agreement."""
    sess = ort_session(model, threads=threads)
    rows, masks = [], []
    for s in photos:
        logits = sess.run(["logits"], {"input": s.x})[0]
        pred = postprocess(logits[0, 0], s.size, threshold)
        iou, dice = iou_dice(pred, s.target)
        rows.append({"iou": iou, "dice": dice})
        masks.append(pred)
    r = summarize(rows)
    return {"iou": r["iou"], "dice": r["dice"], "n": r["n"], "masks": masks}


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> dict:
    """Mask IoU between two models' answers on the same photos: min and mean."""
    ious = [iou_dice(x, y)[0] for x, y in zip(a, b)]
    return {"min": float(min(ious)), "mean": float(np.mean(ious))}


def study(
    model: Path,
    card: dict,
    data_dir: Path,
    configs: list[tuple[str, int, str, bool]],
    out: Path | None,
    threads: int | None = None,
) -> dict:
    """fp32 once, then each (method, calibration count, selection, reduce range) quantized and
    scored; the last config is written to `out` when given."""
    spec = card["io"]["input"]["preprocessing"]
    thr = float(card["io"]["output"]["threshold"])
    pairs = list_pairs(data_dir)
    t = time.time()
    evals = {s: decode([p for p in pairs if split_of(p.id) == s], spec) for s in ("val", "test")}
    log.info("decoded %s photos in %.0fs", {k: len(v) for k, v in evals.items()}, time.time() - t)
    for split, photos in evals.items():
        if not photos:
            raise ValueError(f"{data_dir}: no usable {split} photos to score int8 against fp32")
    fp32 = {s: score(model, ph, thr, threads) for s, ph in evals.items()}
    report: dict = {
        "fp32": {s: {k: v for k, v in r.items() if k != "masks"} for s, r in fp32.items()},
        "int8": [],
    }
    for i, (method, n, selection, reduce_range) in enumerate(configs):
        chosen = (calibration_pairs if selection == "spread" else first_train_pairs)(pairs, n)
        calib = np.concatenate([s.x for s in decode(chosen, spec)])
        last = i == len(configs) - 1
        dest = out if (last and out) else model.with_name(f".study-{method}-{n}-{selection}-{i}.int8.onnx")
        t = time.time()
        quantize_int8(model, dest, calib, method=method, reduce_range=reduce_range)
        took = time.time() - t
        row: dict = {"method": method, "calibrationImages": int(len(calib)), "selection": selection,
                     "reduceRange": reduce_range, "bytes": dest.stat().st_size, "quantizeSeconds": round(took, 1)}
        for s, ph in evals.items():
            q = score(dest, ph, thr, threads)
            row[s] = {"iou": q["iou"], "dice": q["dice"], "n": q["n"],
                      "iouDelta": q["iou"] - fp32[s]["iou"], "diceDelta": q["dice"] - fp32[s]["dice"],
                      "agreement": agreement(q["masks"], fp32[s]["masks"])}
        log.info("%s %d %s%s: val IoU %+.4f, test IoU %+.4f vs fp32", method, n, selection,
                 " reduce-range" if reduce_range else "", row["val"]["iouDelta"], row["test"]["iouDelta"])
        report["int8"].append(row)
        if dest == out:
            report["variant"] = variant(dest, card, row)
        else:
            dest.unlink(missing_ok=True)
    return report


def variant(path: Path, card: dict, row: dict) -> dict:
    """The card's variants.int8 for the file at `path` (a file:// URI until `gen publish`)."""
    from .card import sha256_file

    return {
        "precision": "int8",
        "uri": path.resolve().as_uri(),
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "format": "onnx",
        "opset": int(card["artifact"]["opset"]),
        "metrics": {s: {k: row[s][k] for k in ("iou", "dice", "n")} for s in ("val", "test")},
        "calibration": {"images": row["calibrationImages"], "method": row["method"],
                        "selection": row["selection"], "reduceRange": row["reduceRange"]},
    }
