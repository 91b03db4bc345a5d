"""A release's recorded params and metrics: reproduce it with `dvc repro` and compare.

Every release folder in the catalog (model/releases/<name>/<version>/) holds `params.yaml`, the
params that trained it (equal to its card's `training.params`), and, for trained releases,
`metrics.json`. `repro` writes those params into the pipeline's params.yaml, runs the DVC
pipeline and compares the new metrics.json with the release's.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from .card import data_version, files_sha256

# Where the data was on the machine that trained the release, not what it was (the card's
# training.dataVersion says that): a reproduction reads the DVC-tracked copy instead.
MACHINE_LOCAL = {("data", "dir"): "dataset/water-meters", ("data", "cache_file"): None}
# val/test IoU and Dice of a reproduction may differ from the release's by this much: the same
# seed and split, but GPU kernels (cuDNN) are not bit-deterministic and torch versions move.
DEFAULT_TOLERANCE = 0.01


def load_release_params(release_dir: Path) -> dict:
    f = release_dir / "params.yaml"
    if not f.is_file():
        raise FileNotFoundError(f"{f}: no params.yaml in the release folder (every release records the "
                                "params that trained it; the card's training.params has them)")
    return yaml.safe_load(f.read_text())


def repro_params(release: dict, current: dict) -> dict:
    """The release's params over the current params.yaml (keys added since keep their current
    values), with the machine-local paths pointed at this checkout's DVC-tracked data."""
    out = copy.deepcopy(current)

    def merge(dst: dict, src: dict) -> None:
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = copy.deepcopy(v)

    merge(out, release)
    for (section, key), value in MACHINE_LOCAL.items():
        out.setdefault(section, {})[key] = value
    return out


def compare_metrics(expected: dict, got: dict, tolerance: float) -> tuple[list[dict], bool]:
    rows = []
    for split in ("val", "test"):
        for m in ("iou", "dice"):
            e, g = expected.get(split, {}).get(m), got.get(split, {}).get(m)
            if e is None or g is None:
                raise ValueError(f"metrics.json lacks {split}.{m} (release: {e}, reproduction: {g})")
            rows.append({"metric": f"{split}.{m}", "release": round(e, 4), "reproduced": round(g, 4),
                         "diff": round(g - e, 4), "ok": abs(g - e) <= tolerance})
    return rows, all(r["ok"] for r in rows)


def repro(release_dir: Path, training_dir: Path, tolerance: float, run: bool = True) -> int:
    release_dir, training_dir = release_dir.resolve(), training_dir.resolve()
    card = json.loads((release_dir / "model-card.json").read_text())
    expected_file = release_dir / "metrics.json"
    if not expected_file.is_file():
        raise FileNotFoundError(f"{expected_file}: the release has no metrics to reproduce (an untrained example?)")
    params = repro_params(load_release_params(release_dir), yaml.safe_load((training_dir / "params.yaml").read_text()))
    data = card.get("training", {}).get("dataVersion", "")
    copy_ = training_dir / "dataset" / "water-meters"
    ours = None
    if data.startswith("dvc:md5:"):
        ours = data_version(copy_)  # what the pointer beside it says
    elif data.startswith("sha256:") and run:
        # named before the dataset was under DVC: the DVC-tracked copy must hash the same
        if not copy_.is_dir():
            raise FileNotFoundError(f"{copy_}: no dataset (dvc pull dataset/water-meters.dvc)")
        ours = files_sha256(copy_)
    if ours is not None and ours != data:
        raise ValueError(f"{release_dir / 'model-card.json'}: training.dataVersion {data} is not the data in "
                         f"{copy_} ({ours}); check out the commit that trained it")
    device = card.get("training", {}).get("device")
    print(f"repro: {card['name']} {card['version']} was trained on {device}; "
          f"params.yaml now holds its params (git checkout params.yaml restores it)", file=sys.stderr)
    (training_dir / "params.yaml").write_text(
        f"# params of release {card['version']} (python -m wms_training repro)\n" + yaml.safe_dump(params, sort_keys=False))
    if run:
        # every stage again (-f), not the cached outputs; not logged to MLflow, which would register
        # a second model version under the release's name
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.pop("MLFLOW_TRACKING_URI", None)
        subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro", "-f"], cwd=training_dir, env=env,
                       check=True, stdout=sys.stderr)
    got = json.loads((training_dir / "runs" / "dvc" / "metrics.json").read_text())
    rows, ok = compare_metrics(json.loads(expected_file.read_text()), got, tolerance)
    print(json.dumps({"release": card["version"], "tolerance": tolerance, "reproduced": ok, "metrics": rows}, indent=2))
    return 0 if ok else 1
