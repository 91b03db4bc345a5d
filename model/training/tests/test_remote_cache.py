"""Training on a machine without the dataset: pack a prepared cache (train + val only), unpack it
there, train from `data.cache_file` (tools/gpu_train.sh does this on the GPU machine)."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import TRAINING_DIR, make_dataset, tiny_params

from wms_training.data import load_cache, prepare
from wms_training.train import train

TOOL = TRAINING_DIR / "tools" / "remote_cache.py"


def _tool(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, check=False)


def test_pack_unpack_then_train_without_the_dataset(tmp_path):
    data = make_dataset(tmp_path / "water-meters", n=20, size=(48, 48))
    ds, cache = prepare(data, tmp_path / "cache", 32, 32, workers=1, on_bad="skip")
    assert _tool("pack", cache, tmp_path / "pack.npz", "--quality", 95).returncode == 0
    assert _tool("unpack", tmp_path / "pack.npz", tmp_path / "carried.npz").returncode == 0
    shutil.rmtree(data)  # the GPU machine has no dataset

    carried = load_cache(tmp_path / "carried.npz")
    keep = np.isin(ds.splits, ["train", "val"])
    assert "test" not in set(carried.splits)  # the test split stays home
    assert carried.ids == [i for i, k in zip(ds.ids, keep) if k]
    assert np.array_equal(carried.masks, ds.masks[keep])  # masks travel losslessly
    assert np.abs(carried.images.astype(int) - ds.images[keep].astype(int)).mean() < 3  # JPEG q95

    params = tiny_params(data, tmp_path / "unused", epochs=1)
    params["data"]["cache_file"] = str(tmp_path / "carried.npz")
    s = train(params, tmp_path / "run")
    assert s["split"]["test"] == 0 and s["split"]["train"] == int((carried.splits == "train").sum())
    assert (tmp_path / "run" / "best.pt").is_file()


def test_a_cache_of_another_size_is_refused(tmp_path):
    data = make_dataset(tmp_path / "water-meters", n=12, size=(48, 48))
    _, cache = prepare(data, tmp_path / "cache", 32, 32, workers=1, on_bad="skip")
    params = tiny_params(data, tmp_path / "cache", epochs=1)
    params["model"].update(input_width=16, input_height=16)
    params["data"]["cache_file"] = str(cache)
    with pytest.raises(ValueError, match="images are 32x32, params say 16x16"):
        train(params, tmp_path / "run")


def test_missing_cache_and_missing_pack_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_cache(tmp_path / "nope.npz")
    r = _tool("unpack", tmp_path / "nope.npz", tmp_path / "x.npz")
    assert r.returncode == 2 and "nope.npz" in r.stderr
