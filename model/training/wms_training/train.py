"""Training loop: BCE + Dice, AdamW, ReduceLROnPlateau, early stopping, wall-clock budget,
checkpoint resume.  Writes <run_dir>/{last.pt,best.pt,history.json}."""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from .config import public, resolve
from .data import Dataset, augment, load_cache, prepare, split_counts
from .metrics import iou_dice
from .model import build_model, check_input_size
from .preprocess import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1 - (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def loss_fn(logits, target, cfg) -> torch.Tensor:
    return cfg["bce_weight"] * F.binary_cross_entropy_with_logits(logits, target) + cfg["dice_weight"] * dice_loss(
        logits, target
    )


_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def to_tensors(images_u8: np.ndarray, masks_u8: np.ndarray, device: torch.device | None = None):
    """NHWC uint8 + NHW 0/1 -> NCHW float in [0,1] and N1HW float, on `device` (the uint8 bytes
    travel, the float conversion happens there)."""
    x = torch.from_numpy(np.ascontiguousarray(images_u8)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    y = torch.from_numpy(np.ascontiguousarray(masks_u8)).to(device).unsqueeze(1).float()
    return x, y


def normalize_t(x01: torch.Tensor) -> torch.Tensor:
    """The card's preprocessing after resize: (x/255 - mean) / std."""
    return (x01 - _MEAN.to(x01.device)) / _STD.to(x01.device)


@torch.no_grad()
def validate(model, ds: Dataset, device, cfg, batch_size: int = 16) -> dict:
    model.eval()
    losses, ious, dices = [], [], []
    for i in range(0, len(ds), batch_size):
        x, y = to_tensors(ds.images[i : i + batch_size], ds.masks[i : i + batch_size], device)
        x = normalize_t(x)
        logits = model(x)
        losses.append(float(loss_fn(logits, y, cfg)) * len(x))
        pred = (logits >= 0).cpu().numpy()
        for p, t in zip(pred, y.cpu().numpy()):
            a, b = iou_dice(p, t)
            ious.append(a)
            dices.append(b)
    n = max(len(ds), 1)
    return {"loss": sum(losses) / n, "iou": float(np.mean(ious)), "dice": float(np.mean(dices))}


def random_crops(images: np.ndarray, masks: np.ndarray, size: int, rng, fg_prob: float):
    """One size x size crop per sample; with probability fg_prob it is centred (with jitter) on a
    random mask pixel, so the small counter window is seen often (the full-size epochs that
    follow restore the image-level context and statistics)."""
    n, h, w = masks.shape
    size_h, size_w = min(size, h), min(size, w)
    out_i = np.empty((n, size_h, size_w, 3), images.dtype)
    out_m = np.empty((n, size_h, size_w), masks.dtype)
    for k in range(n):
        ys, xs = np.nonzero(masks[k])
        if len(ys) and rng.random() < fg_prob:
            j = rng.integers(len(ys))
            cy = ys[j] + rng.integers(-size_h // 4, size_h // 4 + 1)
            cx = xs[j] + rng.integers(-size_w // 4, size_w // 4 + 1)
        else:
            cy, cx = rng.integers(h), rng.integers(w)
        y0 = int(np.clip(cy - size_h // 2, 0, h - size_h))
        x0 = int(np.clip(cx - size_w // 2, 0, w - size_w))
        out_i[k] = images[k, y0 : y0 + size_h, x0 : x0 + size_w]
        out_m[k] = masks[k, y0 : y0 + size_h, x0 : x0 + size_w]
    return out_i, out_m


def train(params: dict, run_dir: str | Path, resume: bool = False, limit: int | None = None) -> dict:
    """Train until epochs, early stopping or the max_minutes budget; keep the best checkpoint."""
    from .tracking import Tracker

    t0 = time.time()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tc, mc, ac = params["train"], params["model"], params.get("augment", {})
    width, height, depth = int(mc["input_width"]), int(mc["input_height"]), int(mc["depth"])
    check_input_size(width, height, depth)
    torch.set_num_threads(int(tc.get("threads", 2)))
    seed_everything(int(params["seed"]))
    device = pick_device(tc.get("device", "auto"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest kernels

    if params["data"].get("cache_file"):  # a prepared cache only (no raw dataset at hand)
        cache_path = resolve(params, params["data"]["cache_file"])
        ds = load_cache(cache_path)
        if ds.images.shape[1:3] != (height, width):
            raise ValueError(f"{cache_path}: images are {ds.images.shape[2]}x{ds.images.shape[1]}, "
                             f"params say {width}x{height}")
    else:
        ds, cache_path = prepare(
            resolve(params, params["data"]["dir"]),
            resolve(params, params["data"]["cache_dir"]),
            width,
            height,
            limit=limit,
            on_bad=params["data"].get("on_bad", "error"),
        )
    train_ds, val_ds = ds.subset("train"), ds.subset("val")
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise ValueError(f"need train and val images, got split {split_counts(ds)}")
    log.info("split %s on %s, %d threads", split_counts(ds), device, torch.get_num_threads())

    model = build_model(mc)
    with torch.no_grad():  # start from the foreground prior (~2% of pixels): faster, stabler start
        prior = float(tc.get("init_prior", 0.0))
        if 0 < prior < 1:
            model.head.bias.fill_(float(np.log(prior / (1 - prior))))
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=float(tc["lr"]), weight_decay=float(tc["weight_decay"]))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=float(tc["plateau_factor"]), patience=int(tc["plateau_patience"]),
        min_lr=float(tc.get("min_lr", 0)),
    )
    history: list[dict] = []
    start_epoch, best_iou, best_epoch, stale, spent_before = 0, -1.0, -1, 0, 0.0
    rng = np.random.default_rng(int(params["seed"]))
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if resume and last_path.is_file():
        ck = torch.load(last_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        history, best_iou, best_epoch, stale = ck["history"], ck["best_iou"], ck["best_epoch"], ck["stale"]
        start_epoch, spent_before = ck["epoch"] + 1, ck.get("seconds", 0.0)
        rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        log.info("resumed from %s at epoch %d (best val IoU %.4f)", last_path, start_epoch, best_iou)

    budget_s = float(tc.get("max_minutes", 0)) * 60 or float("inf")
    elapsed = lambda: spent_before + time.time() - t0  # noqa: E731
    tracker = Tracker.from_env(run_dir, params)
    tracker.log_params(public(params))
    stop_reason = "epochs"
    bs = int(tc["batch_size"])
    crop, crop_epochs = int(tc.get("crop_size", 0)), int(tc.get("crop_epochs", 0))
    for epoch in range(start_epoch, int(tc["epochs"])):
        if elapsed() >= budget_s and history:  # always finish one (possibly partial) epoch
            stop_reason = "max_minutes"
            break
        model.train()
        order = rng.permutation(len(train_ds))
        n_batches = len(order) // bs if len(order) >= bs else 1  # drop the last partial batch (BatchNorm)
        tot, seen, te = 0.0, 0, time.time()
        phase = f"crops {crop}px" if crop and epoch < crop_epochs else "full"
        bar = tqdm(range(n_batches), desc=f"epoch {epoch} ({phase})", mininterval=15, leave=False, dynamic_ncols=False, ncols=100)
        out_of_time = False
        for b in bar:
            idx = np.sort(order[b * bs : (b + 1) * bs])
            if crop and epoch < crop_epochs:
                x, y = to_tensors(*random_crops(train_ds.images[idx], train_ds.masks[idx], crop, rng,
                                                float(tc.get("crop_fg_prob", 0.7))), device)
            else:
                x, y = to_tensors(train_ds.images[idx], train_ds.masks[idx], device)
            x, y = augment(x, y, rng, ac)  # augmentation runs where training does
            x = normalize_t(x)
            loss = loss_fn(model(x), y, tc)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
            seen += len(idx)
            bar.set_postfix(loss=f"{tot / seen:.4f}")
            if elapsed() >= budget_s:
                out_of_time = True
                break
        bar.close()
        val = validate(model, val_ds, device, tc)
        sched.step(val["iou"])
        rec = {
            "epoch": epoch,
            "train_loss": tot / max(seen, 1),
            "val_loss": val["loss"],
            "val_iou": val["iou"],
            "val_dice": val["dice"],
            "lr": opt.param_groups[0]["lr"],
            "epoch_seconds": time.time() - te,
            "images": seen,
            "phase": phase,
        }
        history.append(rec)
        improved = val["iou"] > best_iou
        if improved:
            best_iou, best_epoch, stale = val["iou"], epoch, 0
            torch.save({"model": model.state_dict(), "epoch": epoch, "val": val, "model_cfg": mc}, best_path)
        else:
            stale += 1
        log.info(
            "epoch %d [%s]: train_loss %.4f val_loss %.4f val_iou %.4f val_dice %.4f lr %.2e (%.0fs, %s)",
            epoch, phase, rec["train_loss"], val["loss"], val["iou"], val["dice"], rec["lr"], rec["epoch_seconds"],
            "best" if improved else f"no gain for {stale}",
        )
        tracker.log_metrics({k: v for k, v in rec.items() if k not in ("epoch", "phase")}, step=epoch)
        torch.save(
            {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "epoch": epoch, "history": history, "best_iou": best_iou, "best_epoch": best_epoch, "stale": stale,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "seconds": elapsed(),
            },
            last_path,
        )
        (run_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n")
        if out_of_time:
            stop_reason = "max_minutes"
            break
        if stale >= int(tc["early_stopping_patience"]):
            stop_reason = "early_stopping"
            break
    summary = {
        "stop_reason": stop_reason,
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "best_val_iou_256": best_iou,
        "train_seconds": round(elapsed(), 1),
        "device": str(device),
        "split": split_counts(ds),
        "skipped": ds.skipped,
        "limit": limit,
        "cache": str(cache_path),
    }
    (run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("training stopped (%s) after %d epochs, %.0fs; best epoch %d val IoU %.4f",
             stop_reason, len(history), summary["train_seconds"], best_epoch, best_iou)
    tracker.pause()
    return summary
