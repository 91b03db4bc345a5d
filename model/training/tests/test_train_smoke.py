"""A tiny end-to-end run (train -> evaluate -> export) on synthetic photos, plus the budget
and resume paths.  Runs in well under two minutes on 2 cores."""

import csv
import hashlib
import json
import time

import numpy as np
import pytest
from conftest import make_dataset, tiny_params

from wms_training.card import validate_card
from wms_training.pipeline import evaluate_run, export_run
from wms_training.train import train


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    data = make_dataset(root / "water-meters", n=40, size=(64, 48))
    params = tiny_params(data, root / "cache", epochs=6)
    params["export"]["quantize_int8"] = True
    t = time.time()
    summary = train(params, root / "run")
    metrics = evaluate_run(params, root / "run")
    report = export_run(params, root / "run")
    return {"root": root, "params": params, "summary": summary, "metrics": metrics, "report": report,
            "seconds": time.time() - t}


def test_smoke_run_learns_and_finishes_quickly(smoke_run):
    assert smoke_run["seconds"] < 120
    s = smoke_run["summary"]
    assert s["stop_reason"] == "epochs" and s["epochs_run"] == 6
    hist = json.loads((smoke_run["root"] / "run" / "history.json").read_text())
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] * 0.8, "loss did not fall"
    # the synthetic 'counter window' is easy: the model must find it
    assert smoke_run["metrics"]["val"]["iou"] > 0.5


def test_smoke_run_writes_every_artifact(smoke_run):
    run = smoke_run["root"] / "run"
    for f in ("best.pt", "last.pt", "metrics.json", "per_image.csv", "curves.png", "model.onnx", "model-card.json"):
        assert (run / f).is_file() and (run / f).stat().st_size > 0, f
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((run / "per_image.csv").open()))
    split = smoke_run["summary"]["split"]
    assert len(rows) == split["val"] + split["test"]
    m = smoke_run["metrics"]
    val_rows = [float(r["iou"]) for r in rows if r["split"] == "val"]
    assert m["val"]["iou"] == pytest.approx(np.mean(val_rows), abs=1e-5)
    card = json.loads((run / "model-card.json").read_text())
    validate_card(card)
    assert "example" not in card
    assert card["metrics"]["test"]["iou"] == pytest.approx(m["test"]["iou"])
    assert card["training"]["split"] == split
    assert card["training"]["dataVersion"].startswith("sha256:")
    assert card["training"]["params"]["train"]["epochs"] == 6
    assert card["io"]["input"]["shape"] == [-1, 3, 32, 32]
    par = smoke_run["report"]["parity"]
    assert par["maxAbsLogitDiff"] < 1e-3 and par["minMaskIoU"] >= 0.999
    # the ONNX model, through the server's pre/post-processing, scores what PyTorch scored
    assert smoke_run["report"]["onnx_fp32_test"]["iou"] == pytest.approx(m["test"]["iou"], abs=0.01)


def test_wall_clock_budget_stops_and_keeps_best(tmp_path):
    data = make_dataset(tmp_path / "water-meters", n=16, size=(48, 48))
    params = tiny_params(data, tmp_path / "cache", epochs=50, max_minutes=0.002)  # 0.12 s
    s = train(params, tmp_path / "run")
    assert s["stop_reason"] == "max_minutes"
    assert s["epochs_run"] < 50
    assert (tmp_path / "run" / "best.pt").is_file()


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    data = make_dataset(tmp_path / "water-meters", n=16, size=(48, 48))
    train(tiny_params(data, tmp_path / "cache", epochs=1), tmp_path / "run")
    s = train(tiny_params(data, tmp_path / "cache", epochs=3), tmp_path / "run", resume=True)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [0, 1, 2]
    assert s["epochs_run"] == 3


def test_seeded_runs_are_identical(tmp_path):
    data = make_dataset(tmp_path / "water-meters", n=12, size=(48, 48))
    a = train(tiny_params(data, tmp_path / "cache", epochs=1), tmp_path / "a")
    b = train(tiny_params(data, tmp_path / "cache", epochs=1), tmp_path / "b")
    ha = json.loads((tmp_path / "a" / "history.json").read_text())
    hb = json.loads((tmp_path / "b" / "history.json").read_text())
    assert ha[0]["train_loss"] == hb[0]["train_loss"] and a["best_val_iou_256"] == b["best_val_iou_256"]


def test_int8_variant_is_measured_beside_fp32(smoke_run):
    q = smoke_run["report"]["quantization"]
    run = smoke_run["root"] / "run"
    assert (run / "model.int8.onnx").is_file()
    int8 = q["int8"]
    assert int8["bytes"] < q["fp32"]["bytes"] / 2
    assert int8["latencyMs"] > 0 and q["fp32"]["latencyMs"] > 0
    assert int8["calibration"] == {"images": 4, "method": "minmax", "selection": "spread", "reduceRange": True}
    # quantization may cost a little accuracy, not the model
    assert int8["metrics"]["test"]["iou"] > q["fp32"]["test"]["iou"] - 0.15
    # the card lists the variant as a file of its own, scored on val and test like `metrics`
    card = json.loads((run / "model-card.json").read_text())
    v = card["variants"]["int8"]
    assert v["precision"] == "int8" and v["uri"].endswith("/model.int8.onnx")
    assert v["sha256"] == hashlib.sha256((run / "model.int8.onnx").read_bytes()).hexdigest()
    assert v["bytes"] == (run / "model.int8.onnx").stat().st_size
    assert v["metrics"]["val"]["n"] == card["metrics"]["val"]["n"]
    assert v["metrics"]["test"] == int8["metrics"]["test"]
