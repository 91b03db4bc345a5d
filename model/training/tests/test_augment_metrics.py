import numpy as np
import pytest
import torch

from wms_training.data import augment
from wms_training.metrics import iou_dice, summarize


def test_iou_dice_hand_computed():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0, :4] = True  # 4 pixels
    b[0, 2:4] = True
    b[1, 0:2] = True  # 4 pixels, 2 overlap
    iou, dice = iou_dice(a, b)
    assert iou == pytest.approx(2 / 6) and dice == pytest.approx(2 * 2 / 8)
    assert iou_dice(a, a) == (1.0, 1.0)
    assert iou_dice(a, ~a) == (0.0, 0.0)
    assert iou_dice(np.zeros((2, 2)), np.zeros((2, 2))) == (1.0, 1.0)  # both empty
    assert iou_dice(np.zeros((2, 2)), np.ones((2, 2))) == (0.0, 0.0)
    with pytest.raises(ValueError, match="shape mismatch"):
        iou_dice(np.zeros((2, 2)), np.zeros((2, 3)))
    s = summarize([{"iou": 0.5, "dice": 1.0}, {"iou": 1.0, "dice": 0.0}])
    assert s == {"iou": 0.75, "dice": 0.5, "n": 2}


def _aligned_batch(n=6, size=64, seed=0):
    rng = np.random.default_rng(seed)
    masks = torch.zeros(n, 1, size, size)
    for i in range(n):
        y, x = rng.integers(4, size // 2, 2)
        masks[i, 0, y : y + 20, x : x + 12] = 1
    images = torch.zeros(n, 3, size, size)
    images[:, 0:1] = masks  # the red channel is the mask
    images[:, 1] = torch.linspace(0, 1, size)  # a ramp so flips change the green channel
    return images, masks


def test_augmentation_moves_image_and_mask_together():
    images, masks = _aligned_batch()
    cfg = {"hflip": 0.5, "vflip": 0.5, "rotate_degrees": 15, "scale": [0.9, 1.1]}
    out_img, out_mask = augment(images.clone(), masks.clone(), np.random.default_rng(3), cfg)
    assert not torch.equal(out_mask, masks), "augmentation changed nothing"
    assert set(out_mask.unique().tolist()) <= {0.0, 1.0}
    red = out_img[:, 0:1] >= 0.5
    for i in range(len(masks)):
        iou, _ = iou_dice(red[i].numpy(), out_mask[i].numpy() > 0)
        assert iou > 0.95, f"image and mask diverged for sample {i}: IoU {iou}"


def test_colour_jitter_touches_the_image_only():
    images, masks = _aligned_batch()
    cfg = {"hflip": 0.0, "rotate_degrees": 0, "scale": [1.0, 1.0], "brightness": 0.3, "contrast": 0.3,
           "saturation": 0.3}
    out_img, out_mask = augment(images.clone(), masks.clone(), np.random.default_rng(0), cfg)
    assert torch.equal(out_mask, masks)
    assert not torch.allclose(out_img, images, atol=1e-3)
    assert out_img.min() >= 0 and out_img.max() <= 1
