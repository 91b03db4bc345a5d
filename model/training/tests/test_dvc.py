"""`dvc repro` of model/training/dvc.yaml on a small sample in a temporary git repo, then
`dvc push` / `dvc pull` against a real S3-compatible server (moto_server subprocess)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import REPO_ROOT, TRAINING_DIR, make_dataset
from servers import moto_s3

BIN = Path(sys.executable).parent


def _run(cmd, cwd, env, timeout=300):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def dvc_repo(tmp_path):
    repo = tmp_path / "repo"
    training = repo / "model" / "training"
    training.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "model" / "model-card.schema.json", repo / "model")
    shutil.copytree(TRAINING_DIR / "wms_training", training / "wms_training",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(TRAINING_DIR / "dvc.yaml", training)
    params = yaml.safe_load((TRAINING_DIR / "params.yaml").read_text())
    params["data"].update({"dir": "dataset/water-meters", "cache_dir": "data/cache"})
    params["model"].update({"input_width": 32, "input_height": 32, "base_filters": 8, "depth": 2})
    params["train"].update({"epochs": 2, "threads": 1, "batch_size": 4, "crop_epochs": 1, "crop_size": 16})
    params["export"].update({"quantize_int8": False, "parity_images": 2})
    (training / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    make_dataset(training / "dataset" / "water-meters", n=16, size=(48, 40))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "DVC_NO_ANALYTICS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    _run(["git", "init", "-q"], repo, env)
    _run([BIN / "dvc", "init", "-q"], repo, env)
    # the production remote definition, exactly as committed
    shutil.copy(REPO_ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    return repo, training, env


def test_repro_push_pull_against_local_s3(dvc_repo, tmp_path):
    repo, training, env = dvc_repo
    dvc = str(BIN / "dvc")
    cfg = (repo / ".dvc" / "config").read_text()
    assert "s3://wms-dvc/" in cfg and 'remote = storage' in cfg

    _run([dvc, "add", "dataset/water-meters"], training, env)
    out = _run([dvc, "repro"], training, env, timeout=400)
    for stage in ("prepare", "train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in out
    lock = yaml.safe_load((training / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"prepare", "train", "evaluate", "export"}
    onnx_file = training / "runs" / "dvc" / "export" / "model.onnx"
    card = json.loads((training / "runs" / "dvc" / "export" / "model-card.json").read_text())
    data_md5 = yaml.safe_load((training / "dataset" / "water-meters.dvc").read_text())["outs"][0]["md5"]
    assert card["training"]["dataVersion"] == f"dvc:md5:{data_md5}"
    assert card["artifact"]["sha256"] == _sha(onnx_file)
    metrics = json.loads((training / "runs" / "dvc" / "metrics.json").read_text())
    assert card["metrics"]["test"]["iou"] == metrics["test"]["iou"]
    # nothing left to do
    assert "up to date" in _run([dvc, "status"], training, env)
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "pipeline run"], repo, env)

    with moto_s3(tmp_path) as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="wms-dvc")
        _run([dvc, "remote", "modify", "--local", "storage", "endpointurl", endpoint], repo, env)
        push = _run([dvc, "push"], training, env)
        assert "pushed" in push
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="wms-dvc").get("Contents", [])]
        assert keys and all(k.startswith("water-meters/files/md5/") for k in keys)
        assert len(keys) >= 16 + 2  # the photos and masks at least, plus models

        before = _sha(onnx_file)
        shutil.rmtree(repo / ".dvc" / "cache")
        shutil.rmtree(training / "dataset" / "water-meters")
        onnx_file.unlink()
        _run([dvc, "pull"], training, env)
        assert _sha(onnx_file) == before
        assert len(list((training / "dataset" / "water-meters" / "images").iterdir())) == 16
        assert "up to date" in _run([dvc, "status"], training, env)
