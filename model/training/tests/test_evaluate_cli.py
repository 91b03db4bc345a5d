"""`evaluate` with an ONNX model and with a running server URL print the same JSON report."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import PYTHON, TRAINING_DIR, free_port, make_dataset
from servers import _process


def _eval(*args):
    r = subprocess.run([PYTHON, "-m", "wms_training", "evaluate", *args], cwd=TRAINING_DIR, capture_output=True,
                       text=True, timeout=300)
    return r


def test_evaluate_by_model_and_by_url_agree(tmp_path):
    model_dir = tmp_path / "m"
    r = subprocess.run([PYTHON, "-m", "wms_training", "export-untrained", "--out", str(model_dir), "--size", "32"],
                       cwd=TRAINING_DIR, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    data = make_dataset(tmp_path / "water-meters", n=6, size=(48, 40))
    by_model = _eval("--model", str(model_dir / "model.onnx"), str(data))
    assert by_model.returncode == 0, by_model.stderr
    rep = json.loads(by_model.stdout)
    assert rep["n"] == 6 and len(rep["per_image"]) == 6
    assert set(rep) >= {"n", "iou", "dice", "per_image"}
    assert abs(rep["iou"] - sum(r["iou"] for r in rep["per_image"]) / 6) < 1e-9

    port = free_port()
    server = [sys.executable, str(Path(__file__).with_name("reference_server.py")), str(model_dir / "model.onnx"),
              str(model_dir / "model-card.json"), str(port)]
    with _process(server, f"http://127.0.0.1:{port}/ping", tmp_path / "server.log"):
        by_url = _eval("--url", f"http://127.0.0.1:{port}", str(data))
    assert by_url.returncode == 0, by_url.stderr
    rep_url = json.loads(by_url.stdout)
    assert rep_url["n"] == 6
    assert [r["id"] for r in rep_url["per_image"]] == [r["id"] for r in rep["per_image"]]
    assert abs(rep_url["iou"] - rep["iou"]) < 1e-9


def test_evaluate_needs_exactly_one_source(tmp_path):
    r = _eval(str(tmp_path))
    assert r.returncode == 1 and "exactly one of --model" in r.stderr


def test_evaluate_names_a_missing_mask(tmp_path):
    data = make_dataset(tmp_path / "water-meters", n=3, size=(48, 40))
    (data / "masks" / "id_2_value_2_2.jpg").unlink()
    r = _eval("--model", str(tmp_path / "none.onnx"), str(data))
    assert r.returncode == 2 and "id_2_value_2_2.jpg" in r.stderr and "no mask" in r.stderr
