"""ONNX export (opset 17, dynamic batch, "input" -> "logits"), parity check, int8 quantization."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .metrics import iou_dice

OPSET = 17


def export_onnx(model: torch.nn.Module, path: str | Path, width: int, height: int, opset: int = OPSET) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().to("cpu")
    dummy = torch.zeros(1, 3, height, width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter gives opset 17 directly and folds BatchNorm into the convs.
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=["input"],
            output_names=["logits"],
            opset_version=opset,
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
            dynamo=False,
        )
    import onnx

    onnx.checker.check_model(str(path))
    return path


def ort_session(path: str | Path, threads: int | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def parity(model: torch.nn.Module, onnx_path: str | Path, batch: np.ndarray, threshold: float = 0.5) -> dict:
    """Compare PyTorch and onnxruntime on a batch (N,3,H,W float32, already preprocessed)."""
    model = model.eval().to("cpu")
    sess = ort_session(onnx_path)
    diffs, ious = [], []
    for i in range(len(batch)):
        x = batch[i : i + 1]
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        out = sess.run(["logits"], {"input": x})[0]
        diffs.append(float(np.abs(ref - out).max()))
        t = threshold_logit(threshold)
        iou, _ = iou_dice(out >= t, ref >= t)
        ious.append(iou)
    # dynamic batch: the whole batch at once must give the same answer
    out_all = sess.run(["logits"], {"input": batch})[0]
    with torch.no_grad():
        ref_all = model(torch.from_numpy(batch)).numpy()
    return {
        "n": int(len(batch)),
        "maxAbsLogitDiff": max(diffs + [float(np.abs(ref_all - out_all).max())]),
        "minMaskIoU": float(min(ious)),
        "meanMaskIoU": float(np.mean(ious)),
    }


def threshold_logit(threshold: float) -> float:
    """sigmoid(x) >= t  <=>  x >= logit(t)."""
    return float(np.log(threshold / (1 - threshold)))


CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def quantize_int8(
    fp32_path: str | Path,
    int8_path: str | Path,
    calibration: np.ndarray,
    method: str = "minmax",
    exclude: tuple[str, ...] = (),
    op_types: tuple[str, ...] | None = None,
    reduce_range: bool = True,
    weight_type: str = "int8",
) -> Path:
    """Static int8 (QDQ, per-channel weights) with a calibration set of preprocessed images.
    `method` picks how activation ranges are read from it: minmax (the extremes seen),
    percentile (99.999th, clipping rare outliers) or entropy (KL divergence); the histogram
    methods keep every activation of every photo in memory (64 photos at 512x512 were killed
    for memory on a 24 GiB machine: docs/benchmarks/int8.md).
    `reduce_range` (default on) quantizes weights to 7 bits: x86 CPUs without VNNI run u8s8
    convolutions with VPMADDUBSW, whose int16 pair sums saturate with full-range weights (on
    release 1.1.0 that cost 0.016-0.020 IoU on an AVX2 machine; docs/benchmarks/int8.md)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, data: np.ndarray) -> None:
            self.it = iter(data[i : i + 1] for i in range(len(data)))

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"input": x}

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    pre = int8_path.with_name(int8_path.stem + ".pre.onnx")
    try:
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        src = pre
    except Exception:
        src = fp32_path
    quantize_static(
        str(src),
        str(int8_path),
        Reader(calibration),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8 if weight_type == "int8" else QuantType.QUInt8,
        per_channel=True,
        reduce_range=reduce_range,
        nodes_to_exclude=list(exclude),
        op_types_to_quantize=list(op_types) if op_types else None,
        calibrate_method={
            "minmax": CalibrationMethod.MinMax,
            "percentile": CalibrationMethod.Percentile,
            "entropy": CalibrationMethod.Entropy,
        }[method],
    )
    pre.unlink(missing_ok=True)
    return int8_path


def latency_ms(onnx_path: str | Path, x: np.ndarray, runs: int = 20, threads: int = 2) -> float:
    """Median single-image latency of onnxruntime on this CPU."""
    sess = ort_session(onnx_path, threads=threads)
    sess.run(["logits"], {"input": x})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(["logits"], {"input": x})
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))
