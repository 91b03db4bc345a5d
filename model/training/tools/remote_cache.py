"""Carry a prepared dataset cache to a machine that has no copy of the dataset (a rented GPU box
with a small upload limit), and unpack it there for `train --set data.cache_file=...`.

    python tools/remote_cache.py pack   data/cache/dataset_512x512_....npz  pack.npz [--quality 95] [--splits train,val]
    python tools/remote_cache.py unpack pack.npz cache.npz

The photos travel as JPEG (4:4:4, --quality), so the unpacked cache is close to the original but
not bit-identical: train there, then evaluate on the real pipeline here (the test split need not
travel at all). Masks travel losslessly (bit-packed).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def pack(src: Path, dst: Path, quality: int, splits: set[str]) -> dict:
    z = np.load(src, allow_pickle=False)
    keep = np.flatnonzero(np.isin(z["splits"], sorted(splits)))
    images, masks = z["images"][keep], z["masks"][keep]
    blobs = []
    for im in images:
        b = io.BytesIO()
        Image.fromarray(im).save(b, "JPEG", quality=quality, subsampling=0)
        blobs.append(np.frombuffer(b.getvalue(), np.uint8))
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    tmp = dst.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        ids=z["ids"][keep],
        splits=z["splits"][keep],
        skipped=z["skipped"],
        shape=np.array(images.shape),
        jpeg=np.concatenate(blobs),
        offsets=offsets,
        masks=np.packbits(masks.astype(bool), axis=-1),
    )
    tmp.replace(dst)
    return {"images": len(keep), "bytes": dst.stat().st_size, "quality": quality, "splits": sorted(splits)}


def unpack(src: Path, dst: Path) -> dict:
    z = np.load(src, allow_pickle=False)
    n, h, w, _ = (int(v) for v in z["shape"])
    jpeg, off = z["jpeg"], z["offsets"]
    images = np.stack([np.asarray(Image.open(io.BytesIO(jpeg[off[i]:off[i + 1]].tobytes())).convert("RGB"))
                       for i in range(n)])
    masks = np.unpackbits(z["masks"], axis=-1, count=w).astype(np.uint8)
    tmp = dst.with_suffix(".tmp.npz")
    np.savez(tmp, ids=z["ids"], splits=z["splits"], images=images, masks=masks, skipped=z["skipped"])
    tmp.replace(dst)
    return {"images": n, "size": [w, h], "bytes": dst.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--quality", type=int, default=95)
    p.add_argument("--splits", default="train,val")
    u = sub.add_parser("unpack")
    u.add_argument("src", type=Path)
    u.add_argument("dst", type=Path)
    a = ap.parse_args(argv)
    if not a.src.is_file():
        print(f"Error: {a.src}: no such file", file=sys.stderr)
        return 2
    out = pack(a.src, a.dst, a.quality, set(a.splits.split(","))) if a.cmd == "pack" else unpack(a.src, a.dst)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
