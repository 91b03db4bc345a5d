"""int8 study and release step (wms_training.quantize) on the untrained example model and
synthetic photos: fast, and every claim it prints is checked here."""

import json

import numpy as np
import pytest
from conftest import make_dataset

from wms_training.data import list_pairs, split_of
from wms_training.quantize import calibration_pairs, first_train_pairs, study
from wms_training.untrained import export_untrained


def test_calibration_photos_come_from_the_train_split_spread_and_fixed(tmp_path):
    pairs = list_pairs(make_dataset(tmp_path / "d", n=60, size=(24, 24)))
    chosen = calibration_pairs(pairs, 8)
    assert len(chosen) == 8 and all(split_of(p.id) == "train" for p in chosen)
    assert [p.id for p in chosen] == [p.id for p in calibration_pairs(pairs, 8)]
    # not simply the first train photos by file name (the old choice)
    assert [p.id for p in chosen] != [p.id for p in first_train_pairs(pairs, 8)]
    train = sum(split_of(p.id) == "train" for p in pairs)
    with pytest.raises(ValueError, match=f"the train split has only {train} photos"):
        calibration_pairs(pairs, train + 1)


def test_study_scores_fp32_and_each_int8_alike_and_keeps_the_last(tmp_path):
    data = make_dataset(tmp_path / "d", n=40, size=(40, 32))
    out = export_untrained(tmp_path / "m", size=32, seed=0)
    model = tmp_path / "m" / "model.onnx"
    card = json.loads((tmp_path / "m" / "model-card.json").read_text())
    dest = tmp_path / "model.int8.onnx"
    report = study(model, card, data, [("minmax", 4, "first", False), ("minmax", 6, "spread", True)], dest, threads=1)
    assert out and dest.is_file() and dest.stat().st_size < model.stat().st_size
    assert set(report["fp32"]) == {"val", "test"}
    rows = report["int8"]
    assert [(r["calibrationImages"], r["selection"], r["reduceRange"]) for r in rows] == [
        (4, "first", False), (6, "spread", True)]
    for r in rows:
        for s in ("val", "test"):
            assert r[s]["n"] == report["fp32"][s]["n"] > 0
            assert r[s]["iouDelta"] == pytest.approx(r[s]["iou"] - report["fp32"][s]["iou"])
            assert 0 <= r[s]["agreement"]["min"] <= r[s]["agreement"]["mean"] <= 1
    # the study's scratch files are gone; only --out stays
    assert not list(tmp_path.glob("m/.study-*"))
    assert np.isfinite(rows[-1]["test"]["iou"])
    # the kept file is the last setting's: 7-bit weights (|w| <= 64), and the variant describes it
    import hashlib

    import onnx
    from onnx import numpy_helper

    weights = [numpy_helper.to_array(t) for t in onnx.load(str(dest)).graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert weights and max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64
    v = report["variant"]
    assert v["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest() and v["bytes"] == dest.stat().st_size
    assert v["uri"] == dest.resolve().as_uri() and v["calibration"]["reduceRange"] is True
    assert v["metrics"]["test"]["iou"] == rows[-1]["test"]["iou"]


def test_full_range_weights_when_asked(tmp_path):
    data = make_dataset(tmp_path / "d", n=40, size=(40, 32))
    export_untrained(tmp_path / "m", size=32, seed=0)
    card = json.loads((tmp_path / "m" / "model-card.json").read_text())
    dest = tmp_path / "full.int8.onnx"
    study(tmp_path / "m" / "model.onnx", card, data, [("minmax", 4, "spread", False)], dest, threads=1)
    import onnx
    from onnx import numpy_helper

    weights = [numpy_helper.to_array(t) for t in onnx.load(str(dest)).graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) > 64
