"""Shared fixtures: the real dataset (skipped when absent) and small synthetic datasets."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TRAINING_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TRAINING_DIR.parents[1]
sys.path.insert(0, str(TRAINING_DIR))

REAL_DATA = Path(os.environ.get("WMS_DATA_DIR", REPO_ROOT.parent / "shared" / "datasets" / "water-meters"))
PYTHON = sys.executable

# The suite runs beside other work on a 2-core machine: one thread per library.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def real_data() -> Path:
    # The photos are CC BY-NC-ND and never copied into the repo: tests that need them read
    # ../shared (or WMS_DATA_DIR) and skip, saying so, where the dataset is not beside the clone.
    if not (REAL_DATA / "images").is_dir():
        pytest.skip(f"real dataset not found at {REAL_DATA} (set WMS_DATA_DIR); skipping tests that need it")
    return REAL_DATA


def orientation_of(path: Path) -> int:
    with Image.open(path) as im:
        return im.getexif().get(274, 1)


def save_with_orientation(img: Image.Image, path: Path, orientation: int) -> None:
    """Store `img` (as it should be displayed) the way a phone does for EXIF `orientation` 6:
    the pixel array rotated back, the tag saying 'rotate 90 clockwise to display'."""
    assert orientation in (1, 6)
    stored = img.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else img
    exif = Image.Exif()
    exif[274] = orientation
    stored.save(path, exif=exif.tobytes(), quality=95)


def make_dataset(root: Path, n: int = 24, size=(96, 72), seed: int = 0, rotated_every: int = 4) -> Path:
    """Synthetic water meters: noisy photos with a bright 'counter window' and its mask.
    Every `rotated_every`-th photo is stored rotated with EXIF orientation 6."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(n):
        img = rng.integers(0, 90, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), np.uint8)
        x0, y0 = int(rng.integers(5, w // 2)), int(rng.integers(5, h // 2))
        x1, y1 = x0 + int(rng.integers(w // 4, w // 2)), y0 + int(rng.integers(h // 6, h // 3))
        img[y0:y1, x0:x1] = rng.integers(190, 255, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
        mask[y0:y1, x0:x1] = 255
        name = f"id_{i}_value_{i}_{i}.jpg"
        o = 6 if rotated_every and i % rotated_every == 1 else 1
        save_with_orientation(Image.fromarray(img), root / "images" / name, o)
        Image.fromarray(mask).save(root / "masks" / name, quality=90)
    return root


@pytest.fixture
def synthetic_data(tmp_path) -> Path:
    return make_dataset(tmp_path / "water-meters")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_params(data_dir: Path, cache_dir: Path, **train) -> dict:
    """A config that trains in seconds: 32x32 input, depth 2, 8 filters."""
    return {
        "seed": 1,
        "_base_dir": str(TRAINING_DIR),
        "data": {"dir": str(data_dir), "cache_dir": str(cache_dir), "on_bad": "skip"},
        "model": {"input_width": 32, "input_height": 32, "base_filters": 8, "depth": 2},
        "train": {
            "device": "cpu", "threads": 1, "batch_size": 4, "epochs": 4, "lr": 0.01, "weight_decay": 0.0,
            "bce_weight": 1.0, "dice_weight": 1.0, "plateau_factor": 0.5, "plateau_patience": 2,
            "min_lr": 1e-5, "early_stopping_patience": 10, "max_minutes": 5, "init_prior": 0.1,
            "crop_size": 16, "crop_epochs": 1, "crop_fg_prob": 0.7, **train,
        },
        "augment": {"hflip": 0.5, "rotate_degrees": 10, "scale": [0.9, 1.1], "brightness": 0.1,
                    "contrast": 0.1, "saturation": 0.1},
        "output": {"threshold": 0.5, "version": "0.1.0-test"},
        "export": {"opset": 17, "parity_images": 2, "quantize_int8": False, "calibration_images": 4},
    }
