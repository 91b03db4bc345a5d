"""The stages after training: evaluate (val + test at displayed size) and export (ONNX,
parity, optional int8, model card, MLflow registration).  `train` runs both at the end."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from .card import build_card, data_version, sha256_file, write_card
from .config import public, resolve
from .data import list_pairs, load_pair_full, split_of
from .evaluate import (
    evaluate_pairs,
    onnx_mask_fn,
    plot_curves,
    torch_mask_fn,
    write_per_image_csv,
)
from .export import export_onnx, latency_ms, parity, quantize_int8
from .model import build_model
from .preprocess import preprocess_image, preprocessing_spec
from .quantize import calibration_pairs

log = logging.getLogger(__name__)


def _io(params: dict) -> dict:
    mc = params["model"]
    w, h = int(mc["input_width"]), int(mc["input_height"])
    return {
        "io": {
            "input": {"name": "input", "preprocessing": preprocessing_spec(w, h)},
            "output": {"name": "logits", "threshold": float(params["output"]["threshold"])},
        }
    }


def load_best(params: dict, run_dir: Path) -> torch.nn.Module:
    best = run_dir / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"{best}: no best checkpoint (run `train` first)")
    ck = torch.load(best, map_location="cpu", weights_only=False)
    model = build_model(params["model"])
    model.load_state_dict(ck["model"])
    return model.eval()


def split_pairs(params: dict, run_dir: Path, split: str):
    data_dir = resolve(params, params["data"]["dir"])
    summary = _summary(run_dir)
    skipped = set(summary.get("skipped", []))
    pairs = list_pairs(data_dir)[: summary.get("limit") or None]
    return [p for p in pairs if split_of(p.id) == split and p.id not in skipped]


def dataset_split(params: dict, run_dir: Path) -> dict:
    """Pairs per split of the dataset that evaluation reads (not of whatever cache training
    loaded: a cache carried to a GPU machine may leave the test split behind)."""
    return {s: len(split_pairs(params, run_dir, s)) for s in ("train", "val", "test")}


def _summary(run_dir: Path) -> dict:
    f = run_dir / "train_summary.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def evaluate_run(params: dict, run_dir: str | Path) -> dict:
    """Best checkpoint on val and test at the photos' displayed size -> metrics.json,
    per_image.csv, curves.png."""
    run_dir = Path(run_dir)
    torch.set_num_threads(int(params["train"].get("threads", 2)))
    model = load_best(params, run_dir)
    fn = torch_mask_fn(model, _io(params))
    on_bad = params["data"].get("on_bad", "error")
    results, rows = {}, {}
    for split in ("val", "test"):
        t = time.time()
        r = evaluate_pairs(split_pairs(params, run_dir, split), fn, on_bad)
        results[split] = {"iou": r["iou"], "dice": r["dice"], "n": r["n"]}
        rows[split] = r["per_image"]
        log.info("%s: IoU %.4f Dice %.4f on %d images (%.0fs)", split, r["iou"], r["dice"], r["n"], time.time() - t)
    summary = _summary(run_dir)
    metrics = {**results, "training": {**{k: summary.get(k) for k in
                                          ("best_epoch", "epochs_run", "stop_reason", "train_seconds")},
                                       "split": dataset_split(params, run_dir)}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_per_image_csv(run_dir / "per_image.csv", rows)
    hist = run_dir / "history.json"
    if hist.is_file():
        plot_curves(json.loads(hist.read_text()), run_dir / "curves.png")
    return metrics


def _real_batch(pairs, params, n: int) -> np.ndarray:
    spec = _io(params)["io"]["input"]["preprocessing"]
    xs = [preprocess_image(load_pair_full(p)[0], spec) for p in pairs[:n]]
    return np.concatenate(xs).astype(np.float32)


def export_run(params: dict, run_dir: str | Path, out_dir: str | Path | None = None) -> dict:
    """ONNX + parity on real photos + optional int8 + validated model card + MLflow."""
    from .tracking import Tracker

    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(params["train"].get("threads", 2)))
    ec, mc = params.get("export", {}), params["model"]
    w, h = int(mc["input_width"]), int(mc["input_height"])
    opset = int(ec.get("opset", 17))
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.is_file():
        raise FileNotFoundError(f"{metrics_file}: run `evaluate` first")
    metrics = json.loads(metrics_file.read_text())
    model = load_best(params, run_dir)
    onnx_path = export_onnx(model, out_dir / "model.onnx", w, h, opset)

    val_pairs = split_pairs(params, run_dir, "val")
    test_pairs = split_pairs(params, run_dir, "test")
    par = parity(model, onnx_path, _real_batch(val_pairs, params, int(ec.get("parity_images", 8))),
                 float(params["output"]["threshold"]))
    log.info("ONNX parity on %d real photos: max |logit diff| %.3g, min mask IoU %.6f",
             par["n"], par["maxAbsLogitDiff"], par["minMaskIoU"])
    if par["minMaskIoU"] < 0.999 or par["maxAbsLogitDiff"] > 1e-3:
        raise RuntimeError(f"ONNX export disagrees with PyTorch: {par}")

    io = _io(params)
    onnx_test = evaluate_pairs(test_pairs, onnx_mask_fn(onnx_path, io))
    report = {"parity": par, "onnx_fp32_test": {"iou": onnx_test["iou"], "dice": onnx_test["dice"], "n": onnx_test["n"]}}
    int8_variant = None
    if ec.get("quantize_int8"):
        # calibration photos spread over the train split; the variant is scored like `metrics`
        # (val and test, masks at the photo's displayed size), so the two compare directly
        method = str(ec.get("calibration_method", "minmax"))
        train_pairs = split_pairs(params, run_dir, "train")
        chosen = calibration_pairs(train_pairs, min(int(ec.get("calibration_images", 64)), len(train_pairs)))
        calib = _real_batch(chosen, params, len(chosen))
        reduce_range = bool(ec.get("int8_reduce_range", True))
        int8_path = quantize_int8(onnx_path, out_dir / "model.int8.onnx", calib, method=method,
                                  reduce_range=reduce_range)
        fn = onnx_mask_fn(int8_path, io)
        q = {s: evaluate_pairs(pairs, fn) for s, pairs in (("val", val_pairs), ("test", test_pairs))}
        x1 = calib[:1]
        int8_variant = {
            "precision": "int8",
            "uri": int8_path.resolve().as_uri(),
            "sha256": sha256_file(int8_path),
            "bytes": int8_path.stat().st_size,
            "format": "onnx",
            "opset": opset,
            "metrics": {s: {"iou": r["iou"], "dice": r["dice"], "n": r["n"]} for s, r in q.items()},
            "calibration": {"images": int(len(calib)), "method": method, "selection": "spread",
                            "reduceRange": reduce_range},
            "latencyMs": round(latency_ms(int8_path, x1), 2),
        }
        report["quantization"] = {
            "int8": int8_variant,
            "fp32": {"bytes": onnx_path.stat().st_size, "test": report["onnx_fp32_test"],
                     "latencyMs": round(latency_ms(onnx_path, x1), 2)},
        }
        log.info("int8 (%d photos, %s) test IoU %.4f (%.1f ms) vs fp32 %.4f (%.1f ms)", len(calib), method,
                 q["test"]["iou"], int8_variant["latencyMs"], onnx_test["iou"],
                 report["quantization"]["fp32"]["latencyMs"])

    summary = _summary(run_dir)
    tracker = Tracker.from_env(run_dir, params)
    card = build_card(
        onnx_path=onnx_path,
        width=w,
        height=h,
        opset=opset,
        version=str(params["output"]["version"]),
        params=public(params),
        metrics={"val": metrics["val"], "test": metrics["test"]},
        data_ver=data_version(resolve(params, params["data"]["dir"])),
        mlflow_run_id=tracker.run_id,
        duration_s=float(summary.get("train_seconds", 0.0)),
        device=summary.get("device"),
        split=dataset_split(params, run_dir),
        threshold=float(params["output"]["threshold"]),
    )
    if int8_variant:
        card["variants"] = {"int8": int8_variant}
    write_card(card, out_dir / "model-card.json")
    (out_dir / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
    if tracker.enabled:
        tracker.log_metrics({"val_iou_final": metrics["val"]["iou"], "val_dice_final": metrics["val"]["dice"],
                             "test_iou": metrics["test"]["iou"], "test_dice": metrics["test"]["dice"],
                             "onnx_max_abs_logit_diff": par["maxAbsLogitDiff"]})
        for f in ("curves.png", "metrics.json", "per_image.csv"):
            tracker.log_artifact(run_dir / f)
        for f in ("model.onnx", "model-card.json", "export_report.json"):
            tracker.log_artifact(out_dir / f)
        report["registeredVersion"] = tracker.register_onnx(onnx_path, card)
        tracker.finish()
    log.info("wrote %s and %s", onnx_path, out_dir / "model-card.json")
    return {"onnx": str(onnx_path), "card": str(out_dir / "model-card.json"), **report}
