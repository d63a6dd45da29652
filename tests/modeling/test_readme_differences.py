"""README "Differences from the paper and the released code": every row names config keys that
exist (the one row without a key says so)."""
import os
import re

from detectron2.config import get_cfg

from trackrcnn_d2.config import add_trackrcnn_config

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def _rows():
    text = open(README).read()
    section = text.split("## Differences from the paper and the released code\n")[1]
    section = section.split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [row for row in rows if not row.startswith("|---")]


def _key_exists(cfg, key):
    node = cfg
    for part in key.split("."):
        if part not in node:
            return False
        node = node[part]
    return True


def test_every_row_names_existing_config_keys():
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    rows = _rows()
    assert len(rows) >= 15
    for row in rows:
        keys = re.findall(r"`([A-Z][A-Z_]*(?:\.[A-Z0-9_]+)+)", row)
        assert keys or "no key" in row, row
        for key in keys:
            assert _key_exists(cfg, key), (key, row)
