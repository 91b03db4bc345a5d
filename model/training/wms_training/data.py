"""Dataset: images/ + masks/ pairs, deterministic split by id hash, resized cache, augmentation."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .preprocess import BadInputError, open_oriented, resize_rgb

log = logging.getLogger(__name__)

IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
SPLITS = ("train", "val", "test")
MASK_THRESHOLD = 127


@dataclass(frozen=True)
class Pair:
    id: str
    image: Path
    mask: Path


def split_of(stem: str, train: float = 0.70, val: float = 0.15) -> str:
    """Deterministic split from sha256 of the file stem: same on every run and machine."""
    u = int(hashlib.sha256(stem.encode()).hexdigest()[:8], 16) / 2**32
    return "train" if u < train else "val" if u < train + val else "test"


def list_pairs(data_dir: str | Path) -> list[Pair]:
    """Every image in <data_dir>/images with its mask in <data_dir>/masks (same file name).

    Raises BadInputError naming the folder or file: missing folder, no images, missing mask."""
    data_dir = Path(data_dir)
    img_dir, mask_dir = data_dir / "images", data_dir / "masks"
    for d in (img_dir, mask_dir):
        if not d.is_dir():
            raise BadInputError(f"{d}: folder not found (expected {data_dir}/images and {data_dir}/masks)")
    images = sorted(p for p in img_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not images:
        raise BadInputError(f"{img_dir}: no images (*.jpg, *.jpeg, *.png) found")
    masks = {p.stem: p for p in mask_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS}
    pairs, missing = [], []
    for img in images:
        m = mask_dir / img.name
        if not m.is_file():
            m = masks.get(img.stem)
        if m is None:
            missing.append(img)
        else:
            pairs.append(Pair(img.stem, img, m))
    if missing:
        names = ", ".join(str(p) for p in missing[:5]) + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else "")
        raise BadInputError(f"no mask in {mask_dir} for image(s): {names}")
    return pairs


def load_mask(path: str | Path) -> np.ndarray:
    """Mask as displayed, thresholded: pixel >= 127 -> 1, else 0 (uint8 HxW)."""
    m = np.asarray(open_oriented(path, "L"))
    return (m >= MASK_THRESHOLD).astype(np.uint8)


def load_pair_full(pair: Pair) -> tuple[Image.Image, np.ndarray]:
    """Oriented RGB image and its full-size binary mask; their sizes must agree."""
    im = open_oriented(pair.image, "RGB")
    mask = load_mask(pair.mask)
    if (mask.shape[1], mask.shape[0]) != im.size:
        raise BadInputError(
            f"{pair.image}: size {im.size[0]}x{im.size[1]} after EXIF orientation does not match its mask "
            f"{pair.mask} ({mask.shape[1]}x{mask.shape[0]})"
        )
    return im, mask


def resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """Binary mask resized (bilinear on 0/1 floats) and re-thresholded at 0.5."""
    f = Image.fromarray(mask.astype(np.float32), mode="F").resize((width, height), Image.BILINEAR)
    return (np.asarray(f) >= 0.5).astype(np.uint8)


def _load_resized(args):
    pair, width, height = args
    try:
        im, mask = load_pair_full(pair)
    except BadInputError as e:
        return str(e)
    return resize_rgb(im, width, height), resize_mask(mask, width, height)


def _cache_key(pairs: list[Pair], width: int, height: int) -> str:
    h = hashlib.sha256(f"v1 {width}x{height}\n".encode())
    for p in pairs:
        for f in (p.image, p.mask):
            st = f.stat()
            h.update(f"{f.name} {st.st_size} {int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:16]


@dataclass
class Dataset:
    ids: list[str]
    splits: np.ndarray  # (N,) str
    images: np.ndarray  # (N,H,W,3) uint8
    masks: np.ndarray  # (N,H,W) uint8 0/1
    skipped: list[str] = field(default_factory=list)

    def subset(self, split: str) -> "Dataset":
        idx = np.flatnonzero(self.splits == split)
        return Dataset([self.ids[i] for i in idx], self.splits[idx], self.images[idx], self.masks[idx])

    def __len__(self) -> int:
        return len(self.ids)


def prepare(data_dir: str | Path, cache_dir: str | Path, width: int, height: int, workers: int = 2,
            limit: int | None = None, on_bad: str = "error") -> tuple[Dataset, Path]:
    """Decode, orient and resize every pair once; reuse the .npz cache when the files are unchanged.

    A pair that cannot be used (unreadable file, mask size differing from the oriented photo)
    raises BadInputError naming every such file; with on_bad="skip" those pairs are left out
    with a warning naming each one (and listed in <cache_dir>/split.json)."""
    if on_bad not in ("error", "skip"):
        raise ValueError(f"on_bad must be 'error' or 'skip', not {on_bad!r}")
    pairs = list_pairs(data_dir)
    if limit:
        pairs = pairs[:limit]
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"dataset_{width}x{height}_{on_bad}_{_cache_key(pairs, width, height)}.npz"
    if path.is_file():
        ds = load_cache(path)
        log.info("dataset cache hit: %s (%d pairs)", path, len(ds))
        return ds, path
    log.info("decoding %d pairs from %s at %dx%d", len(pairs), data_dir, width, height)
    jobs = [(p, width, height) for p in pairs]
    if workers > 1 and len(pairs) > 8:
        with ProcessPoolExecutor(workers) as ex:
            out = list(ex.map(_load_resized, jobs, chunksize=8))
    else:
        out = [_load_resized(j) for j in jobs]
    errors = [o for o in out if isinstance(o, str)]
    if errors and on_bad == "error":
        raise BadInputError(f"{len(errors)} unusable pair(s):\n  " + "\n  ".join(errors))
    for e in errors:
        log.warning("skipping pair: %s", e)
    skipped = [p.id for p, o in zip(pairs, out) if isinstance(o, str)]
    kept = [(p, o) for p, o in zip(pairs, out) if not isinstance(o, str)]
    if not kept:
        raise BadInputError(f"{data_dir}: no usable image/mask pairs")
    ids = [p.id for p, _ in kept]
    ds = Dataset(
        ids,
        np.array([split_of(i) for i in ids]),
        np.stack([o[0] for _, o in kept]),
        np.stack([o[1] for _, o in kept]),
        skipped,
    )
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ids=np.array(ids), splits=ds.splits, images=ds.images, masks=ds.masks,
             skipped=np.array(skipped, dtype=str))
    tmp.replace(path)
    (cache_dir / "split.json").write_text(json.dumps({**split_counts(ds), "skipped": skipped}, indent=2) + "\n")
    log.info("dataset cache written: %s", path)
    return ds, path


def load_cache(path: str | Path) -> Dataset:
    """A cache written by prepare(), read as is (train uses this directly when params name
    data.cache_file, e.g. on a GPU machine that has the cache but not the raw dataset)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such dataset cache (write one with `python -m wms_training prepare`)")
    z = np.load(path, allow_pickle=False)
    missing = {"ids", "splits", "images", "masks", "skipped"} - set(z.files)
    if missing:
        raise BadInputError(f"{path}: not a dataset cache (missing arrays: {', '.join(sorted(missing))})")
    return Dataset(list(z["ids"]), z["splits"], z["images"], z["masks"], list(z["skipped"]))


def split_counts(ds: Dataset) -> dict:
    return {s: int((ds.splits == s).sum()) for s in SPLITS}


# ---------------------------------------------------------------- augmentation (torch)


def augment(images, masks, rng, cfg: dict):
    """Random flips, small rotation/scale (same warp for image and mask), colour jitter on the
    image only.  images: (N,3,H,W) float in [0,1]; masks: (N,1,H,W) float 0/1, on any one device
    (the random draws come from `rng` either way).  Returns both."""
    import torch
    from torch.nn import functional as F

    n, dev = images.shape[0], images.device
    g = lambda lo, hi: torch.from_numpy(rng.uniform(lo, hi, n).astype(np.float32)).to(dev)  # noqa: E731
    deg = float(cfg.get("rotate_degrees", 15))
    smin, smax = cfg.get("scale", [0.9, 1.1])
    theta_rad = g(-deg, deg) * math.pi / 180
    scale = g(smin, smax)
    fx = torch.where(g(0, 1) < cfg.get("hflip", 0.5), -1.0, 1.0)
    fy = torch.where(g(0, 1) < cfg.get("vflip", 0.0), -1.0, 1.0)
    cos, sin = torch.cos(theta_rad) / scale, torch.sin(theta_rad) / scale
    # affine_grid maps output coords to input coords: rotation/scale, then flips
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 1] = cos * fx, -sin * fx
    theta[:, 1, 0], theta[:, 1, 1] = sin * fy, cos * fy
    both = torch.cat([images, masks], dim=1)
    grid = F.affine_grid(theta, list(both.shape), align_corners=False)
    warped = F.grid_sample(both, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    images, masks = warped[:, :3], (warped[:, 3:] >= 0.5).float()

    b, c, s = (float(cfg.get(k, 0.0)) for k in ("brightness", "contrast", "saturation"))
    if b or c or s:
        bf = g(1 - b, 1 + b).view(n, 1, 1, 1)
        cf = g(1 - c, 1 + c).view(n, 1, 1, 1)
        sf = g(1 - s, 1 + s).view(n, 1, 1, 1)
        images = images * bf
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * cf + mean
        gray = (0.299 * images[:, :1] + 0.587 * images[:, 1:2] + 0.114 * images[:, 2:3])
        images = (images - gray) * sf + gray
        images = images.clamp(0, 1)
    return images, masks
