"""The dataset under DVC: the committed pointer (model/training/dataset/water-meters.dvc)
describes the shared dataset exactly, and `dvc push` / `dvc pull` through the committed
`storage` remote (a real S3-compatible server on loopback standing in for s3://wms-dvc)
restores it byte for byte in a fresh clone."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import yaml
from conftest import REPO_ROOT, TRAINING_DIR
from servers import moto_s3

BIN = Path(sys.executable).parent
POINTER = TRAINING_DIR / "dataset" / "water-meters.dvc"


def _run(cmd, cwd, env, timeout=600):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_pointer_is_committed_outside_ignored_paths_and_names_the_remote():
    out = yaml.safe_load(POINTER.read_text())["outs"][0]
    assert out["path"] == "water-meters" and out["md5"].endswith(".dir") and out["nfiles"] > 1500
    # git tracks the pointer (no .gitignore rule hides it); DVC's own rule hides the data
    r = subprocess.run(["git", "check-ignore", "-q", str(POINTER)], cwd=REPO_ROOT)
    assert r.returncode == 1, "the pointer must not be ignored by git"
    assert (TRAINING_DIR / "dataset" / ".gitignore").read_text().split() == ["/water-meters"]
    params = yaml.safe_load((TRAINING_DIR / "params.yaml").read_text())
    assert params["data"]["dir"] == "dataset/water-meters"


def test_push_then_pull_in_a_fresh_clone_restores_the_dataset_byte_for_byte(real_data, tmp_path):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    dvc = BIN / "dvc"
    # a repository with exactly the committed DVC files: config, pointer, its .gitignore
    origin = tmp_path / "origin"
    (origin / "model" / "training" / "dataset").mkdir(parents=True)
    _run(["git", "init", "-q", "-b", "main"], origin, env)
    _run([dvc, "init", "-q"], origin, env)
    shutil.copy(REPO_ROOT / ".dvc" / "config", origin / ".dvc" / "config")
    for f in ("water-meters.dvc", ".gitignore"):
        shutil.copy(TRAINING_DIR / "dataset" / f, origin / "model" / "training" / "dataset" / f)
    _run(["git", "add", "-A"], origin, env)
    _run(["git", "commit", "-qm", "dataset pointer"], origin, env)
    training = origin / "model" / "training"
    # the data as the maintainer has it: the shared copy, which the pointer must describe
    shutil.copytree(real_data, training / "dataset" / "water-meters")
    # into the cache; had the data differed from the pointer, commit would have rewritten it
    _run([dvc, "commit", "-q", "-f", "dataset/water-meters.dvc"], training, env)
    assert _run(["git", "status", "--porcelain"], origin, env) == ""
    assert "up to date" in _run([dvc, "status"], training, env)

    with moto_s3(tmp_path) as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="wms-dvc")
        _run([dvc, "remote", "modify", "--local", "storage", "endpointurl", endpoint], origin, env)
        _run([dvc, "push", "dataset/water-meters.dvc"], training, env)
        # a fresh clone: no data, no cache; the remote reachable
        clone = tmp_path / "clone"
        _run(["git", "clone", "-q", str(origin), str(clone)], tmp_path, env)
        _run([dvc, "remote", "modify", "--local", "storage", "endpointurl", endpoint], clone, env)
        ctraining = clone / "model" / "training"
        _run([dvc, "pull", "dataset/water-meters.dvc"], ctraining, env)
        assert _digests(ctraining / "dataset" / "water-meters") == _digests(real_data)
        assert "up to date" in _run([dvc, "status"], ctraining, env)
        assert _run(["git", "status", "--porcelain"], clone, env) == ""
