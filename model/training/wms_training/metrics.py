"""IoU and Dice of binary masks (both empty counts as a perfect match)."""

from __future__ import annotations

import numpy as np


def iou_dice(pred, target) -> tuple[float, float]:
    p = np.asarray(pred).astype(bool)
    t = np.asarray(target).astype(bool)
    if p.shape != t.shape:
        raise ValueError(f"shape mismatch: prediction {p.shape} vs target {t.shape}")
    inter = np.logical_and(p, t).sum()
    union = np.logical_or(p, t).sum()
    total = p.sum() + t.sum()
    if union == 0:
        return 1.0, 1.0
    return float(inter / union), float(2 * inter / total)


def summarize(rows: list[dict]) -> dict:
    """Mean per-image IoU/Dice over rows with keys iou, dice."""
    if not rows:
        return {"iou": 0.0, "dice": 0.0, "n": 0}
    return {
        "iou": float(np.mean([r["iou"] for r in rows])),
        "dice": float(np.mean([r["dice"] for r in rows])),
        "n": len(rows),
    }
