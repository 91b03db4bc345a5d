import json
import subprocess

import numpy as np
import onnx
import pytest
import torch
from conftest import PYTHON, TRAINING_DIR, save_with_orientation
from PIL import Image

from wms_training.card import validate_card
from wms_training.data import list_pairs, load_pair_full
from wms_training.export import export_onnx, parity
from wms_training.model import UNet, check_input_size
from wms_training.preprocess import preprocess_image, preprocessing_spec


def test_unet_shapes_and_configuration():
    m = UNet()  # the seed's: 4 levels, 16 filters
    assert len(m.encoders) == 4 and m.encoders[0][0].out_channels == 16
    assert m.bottleneck[0].out_channels == 256
    assert m(torch.zeros(2, 3, 64, 48)).shape == (2, 1, 64, 48)
    small = UNet(base=4, depth=2)
    assert small(torch.zeros(1, 3, 16, 16)).shape == (1, 1, 16, 16)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in m.parameters())
    with pytest.raises(ValueError, match="multiple of 16"):
        check_input_size(100, 64, 4)


def test_preprocessing_matches_the_card_formula():
    spec = preprocessing_spec(4, 2)
    im = Image.new("RGB", (8, 4), (255, 128, 0))
    x = preprocess_image(im, spec)
    assert x.shape == (1, 3, 2, 4) and x.dtype == np.float32
    expected = [(255 / 255 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0 - 0.406) / 0.225]
    assert np.allclose(x[0, :, 0, 0], expected, atol=1e-5)


def test_export_parity_on_real_photos(tmp_path, real_data):
    torch.manual_seed(0)
    model = UNet(base=8, depth=4)
    with torch.no_grad():  # give BatchNorm non-trivial statistics
        model.train()
        model(torch.randn(4, 3, 128, 128))
    model.eval()
    path = export_onnx(model, tmp_path / "model.onnx", 128, 128)
    m = onnx.load(str(path))
    assert m.opset_import[0].version >= 17
    assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["logits"]
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    spec = preprocessing_spec(128, 128)
    pairs = list_pairs(real_data)[:4]
    batch = np.concatenate([preprocess_image(load_pair_full(p)[0], spec) for p in pairs])
    par = parity(model, path, batch)
    assert par["n"] == 4
    assert par["maxAbsLogitDiff"] < 1e-3
    assert par["minMaskIoU"] >= 0.999


def _cli(*args, cwd=TRAINING_DIR, check=True):
    r = subprocess.run([PYTHON, "-m", "wms_training", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("untrained")
    _cli("export-untrained", "--out", str(out), "--size", "64")
    return out


def test_export_untrained_writes_a_valid_example_card(untrained):
    card = json.loads((untrained / "model-card.json").read_text())
    validate_card(card)
    assert card["example"] is True
    assert card["io"]["input"]["shape"] == [-1, 3, 64, 64]
    assert card["io"]["input"]["preprocessing"]["resize"] == {"width": 64, "height": 64, "mode": "stretch",
                                                               "interpolation": "bilinear"}
    assert card["license"]["data"] == "CC-BY-NC-ND-4.0" and "CC BY-NC-ND" in card["license"]["notice"]
    onnx_file = untrained / "model.onnx"
    assert card["artifact"]["uri"] == onnx_file.resolve().as_uri()
    assert card["artifact"]["bytes"] == onnx_file.stat().st_size
    import hashlib

    assert card["artifact"]["sha256"] == hashlib.sha256(onnx_file.read_bytes()).hexdigest()


def test_export_untrained_is_reproducible(untrained, tmp_path):
    _cli("export-untrained", "--out", str(tmp_path), "--size", "64")
    assert (tmp_path / "model.onnx").read_bytes() == (untrained / "model.onnx").read_bytes()


def test_predict_writes_binary_masks_at_displayed_size(untrained, tmp_path):
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (50, 90, 3), dtype=np.uint8))  # displayed 90x50
    save_with_orientation(photo, tmp_path / "rot.jpg", 6)
    photo.save(tmp_path / "plain.png")
    out = tmp_path / "masks"
    _cli("predict", "--model", str(untrained / "model.onnx"), "--card", str(untrained / "model-card.json"),
         "--out", str(out), str(tmp_path / "rot.jpg"), str(tmp_path / "plain.png"))
    for stem in ("rot", "plain"):
        m = Image.open(out / f"{stem}.png")
        assert m.mode == "L" and m.size == (90, 50)
        assert set(np.unique(np.asarray(m)).tolist()) <= {0, 255}


def test_predict_rejects_an_invalid_card(untrained, tmp_path):
    card = json.loads((untrained / "model-card.json").read_text())
    del card["io"]["input"]["preprocessing"]["mean"]
    (tmp_path / "bad.json").write_text(json.dumps(card))
    r = _cli("predict", "--model", str(untrained / "model.onnx"), "--card", str(tmp_path / "bad.json"),
             "--out", str(tmp_path), str(tmp_path / "x.jpg"), check=False)
    assert r.returncode == 1
    assert "[io/input/preprocessing] 'mean' is a required property" in r.stderr


def test_predict_names_an_unreadable_photo(untrained, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    r = _cli("predict", "--model", str(untrained / "model.onnx"), "--card", str(untrained / "model-card.json"),
             "--out", str(tmp_path / "o"), str(tmp_path / "broken.jpg"), check=False)
    assert r.returncode == 2 and "broken.jpg: unreadable image" in r.stderr
