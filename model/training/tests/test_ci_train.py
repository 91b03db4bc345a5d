"""The retrain loop (tools/ci-train.sh), run for real with tiny settings, all on loopback: a copy of
this repository in a temp git repo, its DVC remote and model store on moto's S3 server, a real
MLflow server. Then the run a merge of that release commit would start (--if-changed: nothing
to train), and `repro` of the new release in a fresh clone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
import yaml
from conftest import REPO_ROOT, make_dataset
from servers import mlflow_server, moto_s3

BIN = Path(sys.executable).parent
SCRIPT = "model/training/tools/ci-train.sh"
TINY = ["model.input_width=32", "model.input_height=32", "model.base_filters=8", "model.depth=2",
        "train.epochs=2", "train.threads=1", "train.batch_size=4", "train.device=cpu", "train.max_minutes=5",
        "train.early_stopping_patience=5", "export.parity_images=2", "export.calibration_images=4"]


def _run(cmd, cwd, env, timeout=900, ok=True):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if ok:
        assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}"
    return r


def _copy_working_tree(dst: Path) -> None:
    """What `git clone` of the working tree would hold (tracked + untracked, not ignored)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        src = REPO_ROOT / f
        if src.is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)


def _link_node_modules(repo: Path) -> None:
    # a symlink, which .gitignore's `node_modules/` (directories only) does not match
    (repo / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    with (repo / ".git" / "info" / "exclude").open("a") as f:
        f.write("/node_modules\n")


@pytest.fixture
def loop(tmp_path):
    # The loop publishes and deploys through the generator CLI (TypeScript, run by tsx). `npm test`
    # and CI run pytest after `npm ci`, so there it always runs; only a pytest run on its own in
    # a checkout without node_modules skips it, and says why.
    if not (REPO_ROOT / "node_modules" / ".bin" / "tsx").exists():
        pytest.skip("node_modules not installed (npm ci): the loop needs the generator CLI")
    repo = tmp_path / "repo"
    _copy_working_tree(repo)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "DVC_NO_ANALYTICS": "1",
           "OMP_NUM_THREADS": "1", "WMS_VENV": str(BIN.parent)}
    for k in ("MLFLOW_TRACKING_URI", "WMS_MODEL_STORE", "AWS_PROFILE"):
        env.pop(k, None)
    with moto_s3(tmp_path / "moto") as s3url, mlflow_server(tmp_path / "mlflow") as mlflow_url:
        env["AWS_ENDPOINT_URL_S3"] = s3url
        s3 = boto3.client("s3", endpoint_url=s3url, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
        for b in ("wms-dvc", "wms-models"):
            s3.create_bucket(Bucket=b)
        # the temp repo: this tree, a tiny dataset under the committed pointer, pushed to the
        # DVC remote (the committed .dvc/config's `storage`, on loopback), then gone locally
        training = repo / "model" / "training"
        _run(["git", "init", "-q", "-b", "main"], repo, env)
        _link_node_modules(repo)
        data = training / "dataset" / "water-meters"
        make_dataset(data, n=16, size=(48, 40))
        _run([BIN / "dvc", "add", "-q", "dataset/water-meters"], training, env)
        _run(["git", "add", "-A"], repo, env)
        _run(["git", "commit", "-qm", "base"], repo, env)
        _run([BIN / "dvc", "push", "-q", "dataset/water-meters.dvc"], training, env)
        shutil.rmtree(data)
        shutil.rmtree(repo / ".dvc" / "cache")
        yield {"repo": repo, "training": training, "env": env, "s3": s3, "mlflow": mlflow_url, "tmp": tmp_path}


def _git(repo, env, *args) -> str:
    return _run(["git", *args], repo, env).stdout


def test_the_loop_trains_publishes_registers_and_stages_then_does_not_retrain_its_own_commit(loop):
    repo, training, env, s3 = loop["repo"], loop["training"], {**loop["env"]}, loop["s3"]
    # without MLflow the loop refuses before any work
    r = _run(["bash", SCRIPT, "--store", "s3://wms-models"], repo, env, ok=False)
    assert r.returncode == 2 and "MLFLOW_TRACKING_URI is not set" in r.stderr
    env["MLFLOW_TRACKING_URI"] = loop["mlflow"]
    r = _run(["bash", SCRIPT, "--store", "s3://wms-models", "--bogus"], repo, env, ok=False)
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr
    r = _run(["bash", SCRIPT, "--store", "s3://wms-models", "--version", "1.1.0"], repo, env, ok=False)
    assert r.returncode == 2 and "model/releases/wms/1.1.0 already exists" in r.stderr

    sets = [a for s in TINY for a in ("--set", s)]
    r = _run(["bash", SCRIPT, "--store", "s3://wms-models", *sets], repo, env)
    out = r.stdout + r.stderr
    assert "version 1.2.0" in out  # the next minor after the catalog's newest (1.1.0)

    # commits: the release, then the stage in dev (deployed, no traffic), both on main
    subjects = _git(repo, env, "log", "--format=%s", "-3").splitlines()
    assert subjects[0] == "deploy(dev): stage wms 1.2.0 (deployed, no traffic yet)"
    assert subjects[1] == "release: wms 1.2.0"
    assert _git(repo, env, "status", "--porcelain") == ""
    changed = _git(repo, env, "show", "--name-only", "--format=", "HEAD~1").split()
    assert {"model/training/params.yaml", "model/training/dvc.lock",
            "model/releases/wms/1.2.0/model-card.json", "model/releases/wms/1.2.0/params.yaml"} <= set(changed)
    version_file = yaml.safe_load((repo / "environments" / "dev" / "wms.yaml").read_text())
    assert version_file["live"] == "1.1.0" and "1.2.0" in version_file["retain"]
    assert "deploy --env dev --version 1.2.0 --canary 10" in out  # the switch, once it is Healthy

    # the release folder: the card (store URIs), the params that trained it == training.params
    rel = repo / "model" / "releases" / "wms" / "1.2.0"
    card = json.loads((rel / "model-card.json").read_text())
    params = yaml.safe_load((rel / "params.yaml").read_text())
    assert card["training"]["params"] == params
    assert params == yaml.safe_load((training / "params.yaml").read_text())
    assert params["output"]["version"] == "1.2.0" and params["model"]["input_width"] == 32
    pointer = yaml.safe_load((training / "dataset" / "water-meters.dvc").read_text())["outs"][0]["md5"]
    assert card["training"]["dataVersion"] == f"dvc:md5:{pointer}"
    assert card["artifact"]["uri"] == "s3://wms-models/wms/1.2.0/model.onnx"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="wms-models")["Contents"]}
    assert keys == {"wms/1.2.0/model.onnx", "wms/1.2.0/model.int8.onnx"}  # the card lives in git
    assert card["variants"]["int8"]["uri"] == "s3://wms-models/wms/1.2.0/model.int8.onnx"

    # MLflow: the run the card names, and a registered version of `wms` tagged with the release
    run_id = card["training"]["mlflowRunId"]
    assert run_id
    run = requests.get(f"{loop['mlflow']}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=10).json()
    assert {m["key"] for m in run["run"]["data"]["metrics"]} >= {"test_iou", "val_iou_final"}
    versions = requests.get(f"{loop['mlflow']}/api/2.0/mlflow/model-versions/search",
                            params={"filter": "name='wms'"}, timeout=10).json()["model_versions"]
    assert any({"key": "wms.version", "value": "1.2.0"} in v.get("tags", []) for v in versions)

    # the DVC remote holds the data and the run's outputs: dvc status is clean at the release commit
    assert "up to date" in _run([BIN / "dvc", "status"], training, env).stdout

    # a merge of that commit triggers the workflow again: in a fresh clone, --if-changed pulls,
    # finds the pipeline up to date with dvc.lock, and trains nothing
    clone = loop["tmp"] / "clone"
    _run(["git", "clone", "-q", str(repo), str(clone)], loop["tmp"], env)
    _link_node_modules(clone)
    r = _run(["bash", SCRIPT, "--store", "s3://wms-models", "--if-changed"], clone, env)
    assert "nothing to train" in r.stdout
    assert _git(clone, env, "rev-parse", "HEAD") == _git(repo, env, "rev-parse", "HEAD")
    assert not (clone / "model" / "releases" / "wms" / "1.3.0").exists()

    # the release is reproducible from the repository: repro reruns the pipeline with its params
    r = _run([BIN / "python", "-m", "wms_training", "repro", "--release", "../releases/wms/1.2.0"],
             clone / "model" / "training", env)
    report = json.loads(r.stdout)
    assert report["reproduced"] is True and report["release"] == "1.2.0"
    assert {m["metric"] for m in report["metrics"]} == {"val.iou", "val.dice", "test.iou", "test.dice"}
    assert "Running stage 'train'" in r.stdout + r.stderr  # really rerun, not read from the cache


def test_the_workflow_runs_the_loop_documents_what_it_needs_and_skips_its_own_commits():
    text = (REPO_ROOT / ".github" / "workflows" / "train.yaml").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    used = set(re.findall(r"\$\{\{\s*((?:vars|secrets)\.[A-Z_]+)", text))
    assert used >= {"vars.TRAIN_RUNNER", "vars.MLFLOW_TRACKING_URI", "vars.CI_ROLE_ARN"}
    for name in used | {"secrets.GITHUB_TOKEN"}:
        assert name in header, f"train.yaml uses {name} without documenting it in its header"
    wf = yaml.safe_load(text)
    steps = wf["jobs"]["train"]["steps"]
    run = next(s["run"] for s in steps if "ci-train.sh" in s.get("run", ""))
    assert "source scripts/node.sh" in run and "$IF_CHANGED" in run
    env = next(s["env"] for s in steps if "ci-train.sh" in s.get("run", ""))
    assert "'--if-changed'" in env["IF_CHANGED"] and "push" in env["IF_CHANGED"]
    assert "${{ inputs.version }}" in env["VERSION"]
    # dvc.lock lives beside dvc.yaml, inside the watched folder
    assert "model/training/**" in wf[True]["push"]["paths"]
