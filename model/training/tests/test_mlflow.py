"""Training logs params, per-epoch metrics, the curve, the ONNX file and the card to a real
MLflow tracking server (a subprocess with a SQLite backend) and registers a model version."""

import json
import os
import subprocess

import yaml
from conftest import PYTHON, TRAINING_DIR, make_dataset, tiny_params
from servers import mlflow_server


def test_training_logs_and_registers_in_mlflow(tmp_path):
    data = make_dataset(tmp_path / "water-meters", n=24, size=(48, 48))
    params = tiny_params(data, tmp_path / "cache", epochs=2)
    params.pop("_base_dir")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_dir = tmp_path / "run"
    with mlflow_server(tmp_path / "mlflow") as url:
        env = {**os.environ, "MLFLOW_TRACKING_URI": url, "MLFLOW_EXPERIMENT_NAME": "wms-test"}
        r = subprocess.run([PYTHON, "-m", "wms_training", "train", "--params", str(tmp_path / "params.yaml"),
                            "--run-dir", str(run_dir)], cwd=TRAINING_DIR, env=env, capture_output=True,
                           text=True, timeout=240)
        assert r.returncode == 0, r.stderr[-3000:]

        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=url)
        card = json.loads((run_dir / "model-card.json").read_text())
        run_id = card["training"]["mlflowRunId"]
        assert run_id and run_id == (run_dir / "mlflow_run_id").read_text().strip()
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["train.epochs"] == "2" and run.data.params["model.depth"] == "2"
        hist = client.get_metric_history(run_id, "val_iou")
        assert [m.step for m in hist] == [0, 1]
        assert run.data.metrics["test_iou"] == card["metrics"]["test"]["iou"]
        names = {a.path for a in client.list_artifacts(run_id)}
        assert {"curves.png", "metrics.json", "per_image.csv", "model.onnx", "model-card.json"} <= names
        versions = client.search_model_versions("name='wms'")
        assert len(versions) == 1 and versions[0].run_id == run_id
        # the tag `gen registry-sync` matches releases by
        assert versions[0].tags["wms.version"] == card["version"]


def test_training_without_tracking_uri_skips_mlflow(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from wms_training.train import train

    data = make_dataset(tmp_path / "water-meters", n=12, size=(48, 48))
    caplog.set_level("INFO")
    s = train(tiny_params(data, tmp_path / "cache", epochs=1), tmp_path / "run")
    assert s["epochs_run"] == 1
    assert not (tmp_path / "run" / "mlflow_run_id").exists()
    assert not (tmp_path / "run" / "mlruns").exists()
    assert "MLFLOW_TRACKING_URI not set: MLflow tracking skipped" in caplog.text
