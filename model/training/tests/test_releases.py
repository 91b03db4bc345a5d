"""Every release in the catalog records the params that trained it, equal to its card's
training.params; `repro` turns them back into a pipeline params.yaml and judges a reproduction."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import REPO_ROOT, TRAINING_DIR
from wms_training.release import DEFAULT_TOLERANCE, compare_metrics, load_release_params, repro_params

RELEASES = sorted(p for p in (REPO_ROOT / "model" / "releases" / "wms").iterdir() if p.is_dir())


def test_the_catalog_has_releases():
    assert [p.name for p in RELEASES][-2:] == ["1.0.0", "1.1.0"]


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
def test_release_params_equal_the_cards_training_params(release):
    card = json.loads((release / "model-card.json").read_text())
    assert load_release_params(release) == card["training"]["params"]
    assert card["version"] == release.name


@pytest.mark.parametrize("release", [r for r in RELEASES if (r / "metrics.json").exists()], ids=lambda p: p.name)
def test_trained_releases_carry_the_metrics_their_cards_report(release):
    card = json.loads((release / "model-card.json").read_text())
    metrics = json.loads((release / "metrics.json").read_text())
    for split in ("val", "test"):
        assert metrics[split]["iou"] == pytest.approx(card["metrics"][split]["iou"], abs=1e-4)


def test_repro_params_take_the_release_values_and_point_at_the_dvc_data():
    current = yaml.safe_load((TRAINING_DIR / "params.yaml").read_text())
    p = repro_params(load_release_params(REPO_ROOT / "model" / "releases" / "wms" / "1.0.0"), current)
    assert p["model"]["input_width"] == 256 and p["train"]["epochs"] == 40 and p["seed"] == 42
    # the release ran at ../../../shared/...; a reproduction reads the DVC-tracked copy
    assert p["data"]["dir"] == "dataset/water-meters" and p["data"]["cache_file"] is None
    # keys added after the release keep today's values
    assert p["export"]["int8_reduce_range"] == current["export"]["int8_reduce_range"]


def test_the_pipeline_params_are_the_newest_releases_recipe():
    """params.yaml (what the next retrain runs) starts from 1.1.0's recipe, not an older one."""
    current = yaml.safe_load((TRAINING_DIR / "params.yaml").read_text())
    release = load_release_params(REPO_ROOT / "model" / "releases" / "wms" / "1.1.0")
    for section in ("model", "augment"):
        assert current[section] == release[section]
    same = {k: v for k, v in release["train"].items() if k != "device"}
    assert {k: current["train"][k] for k in same} == same


def test_compare_metrics_states_each_difference_and_fails_outside_the_tolerance():
    release = {"val": {"iou": 0.91, "dice": 0.95}, "test": {"iou": 0.90, "dice": 0.94}}
    rows, ok = compare_metrics(release, {"val": {"iou": 0.905, "dice": 0.95}, "test": {"iou": 0.9, "dice": 0.94}},
                               DEFAULT_TOLERANCE)
    assert ok and rows[0] == {"metric": "val.iou", "release": 0.91, "reproduced": 0.905, "diff": -0.005, "ok": True}
    rows, ok = compare_metrics(release, {"val": {"iou": 0.88, "dice": 0.95}, "test": {"iou": 0.9, "dice": 0.94}},
                               DEFAULT_TOLERANCE)
    assert not ok and [r["metric"] for r in rows if not r["ok"]] == ["val.iou"]
    with pytest.raises(ValueError, match="test.dice"):
        compare_metrics(release, {"val": {"iou": 0.9, "dice": 0.9}, "test": {"iou": 0.9}}, DEFAULT_TOLERANCE)


def test_releases_named_by_file_hash_were_trained_on_the_data_the_dvc_pointer_tracks(real_data):
    """1.0.0 and 1.1.0 predate the pointer and name their data by a sha256 over its files: the
    dataset the pointer describes (test_dataset_dvc.py: dvc commit leaves it unchanged) hashes
    to exactly that, so `repro` reads the same photos they were trained on."""
    from wms_training.card import files_sha256

    named = {json.loads((r / "model-card.json").read_text())["training"]["dataVersion"]
             for r in RELEASES if (r / "metrics.json").exists()}
    assert named == {files_sha256(real_data)}


def test_repro_refuses_a_release_trained_on_other_data_before_touching_params(tmp_path):
    from wms_training.release import repro

    training = tmp_path / "training"
    (training / "dataset").mkdir(parents=True)
    (training / "params.yaml").write_text((TRAINING_DIR / "params.yaml").read_text())
    (training / "dataset" / "water-meters.dvc").write_text("outs:\n- md5: aaaa.dir\n  path: water-meters\n")
    release = tmp_path / "9.9.0"
    release.mkdir()
    card = json.loads((REPO_ROOT / "model" / "releases" / "wms" / "1.1.0" / "model-card.json").read_text())
    card["training"]["dataVersion"] = "dvc:md5:bbbb.dir"
    (release / "model-card.json").write_text(json.dumps(card))
    (release / "params.yaml").write_text(yaml.safe_dump(card["training"]["params"]))
    (release / "metrics.json").write_text("{}")
    before = (training / "params.yaml").read_text()
    with pytest.raises(ValueError, match=r"dvc:md5:bbbb.dir is not the data in .*dvc:md5:aaaa.dir"):
        repro(release, training, DEFAULT_TOLERANCE, run=False)
    assert (training / "params.yaml").read_text() == before
