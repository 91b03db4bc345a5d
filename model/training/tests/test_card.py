import re

import pytest
from conftest import make_dataset

from wms_training.card import data_version, git_commit, load_schema, validate_card


def test_data_version_tracks_names_and_contents(tmp_path):
    d = make_dataset(tmp_path / "d", n=3, size=(32, 32))
    v1 = data_version(d)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", v1)
    assert data_version(d) == v1
    img = d / "images" / "id_0_value_0_0.jpg"
    img.write_bytes(img.read_bytes() + b"\0")
    assert data_version(d) != v1


def test_data_version_prefers_the_dvc_hash(tmp_path):
    d = make_dataset(tmp_path / "water-meters", n=2, size=(32, 32))
    (tmp_path / "water-meters.dvc").write_text("outs:\n- md5: 0123abcd.dir\n  path: water-meters\n")
    assert data_version(d) == "dvc:md5:0123abcd.dir"


def test_git_commit_matches_the_schema_pattern():
    pattern = load_schema()["properties"]["training"]["properties"]["gitCommit"]["pattern"]
    assert re.fullmatch(pattern, git_commit())


def test_validation_lists_every_problem():
    with pytest.raises(ValueError) as e:
        validate_card({"name": "WMS", "version": "1.0"})
    msg = str(e.value)
    assert "[name] 'WMS' does not match" in msg
    assert "[version] '1.0' does not match" in msg
    assert "'artifact' is a required property" in msg
