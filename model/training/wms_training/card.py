"""Model card: build, validate against model/model-card.schema.json, data/git versions."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
from pathlib import Path

import jsonschema

from .preprocess import preprocessing_spec

TRAINING_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TRAINING_DIR.parents[1]
SCHEMA_PATH = REPO_ROOT / "model" / "model-card.schema.json"

DATA_LICENSE = "CC-BY-NC-ND-4.0"
DATA_NOTICE = (
    "The weights were trained on the Water Meters dataset (Toloka, via Kaggle), licensed "
    "CC BY-NC-ND 4.0 (https://creativecommons.org/licenses/by-nc-nd/4.0/): attribution, "
    "non-commercial use only."
)


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_card(card: dict) -> None:
    """Raise ValueError listing every schema problem as `[path] message`."""
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(card), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"[{'/'.join(str(p) for p in e.absolute_path) or '(root)'}] {e.message}" for e in errors]
        raise ValueError("model card does not match model-card.schema.json:\n  " + "\n  ".join(lines))


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=TRAINING_DIR, capture_output=True, text=True, timeout=10
        )
        sha = out.stdout.strip()
        return sha if out.returncode == 0 and sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_version(data_dir: str | Path) -> str:
    """The DVC hash of the data when DVC tracks it (a .dvc file beside it), else a sha256
    over the sorted relative file list and contents, prefixed "sha256:"."""
    data_dir = Path(data_dir).resolve()
    dvc_file = data_dir.with_name(data_dir.name + ".dvc")
    if dvc_file.is_file():
        try:
            import yaml

            outs = yaml.safe_load(dvc_file.read_text()).get("outs", [])
            if outs and outs[0].get("md5"):
                return "dvc:md5:" + outs[0]["md5"]
        except Exception:  # fall back to hashing the files ourselves
            pass
    return files_sha256(data_dir)


def files_sha256(data_dir: str | Path) -> str:
    """"sha256:" over the sorted relative names and contents of the photos and masks (how cards
    named their data before it was under DVC)."""
    data_dir = Path(data_dir).resolve()
    h = hashlib.sha256()
    for p in sorted(q for q in data_dir.rglob("*") if q.is_file() and q.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        h.update(p.relative_to(data_dir).as_posix().encode() + b"\0")
        h.update(sha256_file(p).encode() + b"\n")
    return "sha256:" + h.hexdigest()


def build_card(
    *,
    onnx_path: str | Path,
    width: int,
    height: int,
    opset: int,
    version: str,
    params: dict,
    metrics: dict,
    data_ver: str,
    mlflow_run_id: str = "",
    duration_s: float = 0.0,
    device: str | None = None,
    split: dict | None = None,
    threshold: float = 0.5,
    example: bool = False,
    description: str | None = None,
    name: str = "wms",
) -> dict:
    onnx_path = Path(onnx_path).resolve()
    training = {
        "gitCommit": git_commit(),
        "dataVersion": data_ver,
        "mlflowRunId": mlflow_run_id or "",
        "params": params,
        "durationSeconds": round(float(duration_s), 1),
    }
    if device:
        training["device"] = device
    if split:
        training["split"] = {k: int(v) for k, v in split.items()}
    card = {
        "name": name,
        "version": version,
        "createdAt": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "description": description
        or "U-Net segmenting the counter window of water-meter photos. Mask = sigmoid(logits) "
        "resized back (bilinear) to the photo's displayed size, then >= threshold.",
        "training": training,
        "metrics": metrics,
        "artifact": {
            "uri": onnx_path.as_uri(),
            "sha256": sha256_file(onnx_path),
            "bytes": onnx_path.stat().st_size,
            "format": "onnx",
            "opset": int(opset),
        },
        "io": {
            "input": {
                "name": "input",
                "shape": [-1, 3, int(height), int(width)],
                "layout": "NCHW",
                "dtype": "float32",
                "preprocessing": preprocessing_spec(width, height),
            },
            "output": {"name": "logits", "activation": "sigmoid", "threshold": float(threshold), "resizeBack": "bilinear"},
        },
        "license": {"data": DATA_LICENSE, "notice": DATA_NOTICE},
    }
    if example:
        card["example"] = True
    validate_card(card)
    return card


def write_card(card: dict, path: str | Path) -> Path:
    validate_card(card)
    path = Path(path)
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path
