"""README "Differences from the paper and the released code", checked by value: each row's
keys (config key column), the released code's values (backticked, in the keys' order) against
the config that sets them (the row's ``configs/...yaml``, else the official release config),
and the paper's values against configs/kitti_mots_r101.yaml (the paper's model) and, for
TrackR-CNN's keys, the defaults. Rows kept "(on purpose)" name keys that exist."""
import os
import re

import pytest
import yaml
from detectron2.config import get_cfg

from trackrcnn_d2.config import add_trackrcnn_config
from trackrcnn_d2.utils.cli import load_config

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
README = os.path.join(REPO, "README.md")
OFFICIAL_RELEASE = "configs/ablations/official_release_conv3d_sep2.yaml"
PAPER = "configs/kitti_mots_r101.yaml"
KEY = re.compile(r"^[A-Z][A-Z_]*(\.[A-Z0-9_]+)+$")


def _rows():
    text = open(README).read()
    section = text.split("## Differences from the paper and the released code\n")[1]
    section = section.split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [row for row in rows if not row.startswith("|---")]


def _cells(row):
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _ticked(cell):
    return re.findall(r"`([^`]+)`", cell)


def _value(cfg, key):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return list(node) if isinstance(node, tuple) else node


def _assert_equal(actual, expected, what):
    if isinstance(expected, float) or (
        isinstance(expected, list) and all(isinstance(v, float) for v in expected)
    ):
        assert actual == pytest.approx(expected, abs=1e-6), what
    else:
        assert actual == expected, what


def _trackrcnn_keys():
    plain, ours = get_cfg(), get_cfg()
    add_trackrcnn_config(ours)

    def flatten(node, prefix=""):
        for name, value in node.items():
            if isinstance(value, dict):
                yield from flatten(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    return set(flatten(ours)) - set(flatten(plain))


ROWS = _rows()


def test_the_table_has_every_difference():
    assert len(ROWS) >= 20
    whats = [_cells(row)[0] for row in ROWS]
    for topic in ("inference", "association head initialisation", "ignore-region overlap",
                  "2×ConvLSTM", "contrastive loss", "batch-all triplets", "confident detections"):
        assert any(topic in what for what in whats), topic  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=lambda row: _cells(row)[0])
def test_row_values_are_the_configs(row):
    what, paper, released, config = _cells(row)
    keys = [token for token in _ticked(config) if KEY.match(token)]
    defaults = get_cfg()
    add_trackrcnn_config(defaults)
    assert keys or "no key" in config, row
    for key in keys:
        _value(defaults, key)  # exists
    if "(on purpose)" in what:
        return
    paths = [token for token in _ticked(config) if token.endswith(".yaml")]
    release_config = load_config(os.path.join(REPO, paths[0] if paths else OFFICIAL_RELEASE))
    paper_config = load_config(os.path.join(REPO, PAPER))
    released_values = [yaml.safe_load(token) for token in _ticked(released)]
    paper_values = [yaml.safe_load(token) for token in _ticked(paper)]
    assert len(released_values) == len(paper_values) == len(keys), row
    ours = _trackrcnn_keys()
    for key, release_value, paper_value in zip(keys, released_values, paper_values):
        _assert_equal(_value(release_config, key), release_value, (key, "released code"))
        _assert_equal(_value(paper_config, key), paper_value, (key, PAPER))
        if key in ours:
            _assert_equal(_value(defaults, key), paper_value, (key, "default"))
    assert released_values != paper_values, (row, "a difference has two values")
