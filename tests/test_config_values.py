"""The value rules of the numeric config keys (trackrcnn_d2/config_values.py): every key that
add_trackrcnn_config adds has one, each rule holds at, just inside and just outside its bounds,
numbers are taken as a detectron2 user writes them, and every shipped config passes."""
import glob
import math
import os

import pytest
from detectron2.config import get_cfg

from trackrcnn_d2.config import add_trackrcnn_config
from trackrcnn_d2.config_values import (
    LAZY_CONFIG_KEYS,
    UNBOUNDED,
    VALUE_RULES,
    ValueRule,
    check_config_values,
)
from trackrcnn_d2.utils.cli import ConfigError, load_config, merge_overrides

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")


def _leaves(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _is_numeric(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(map(_is_numeric, value))


def _full_default():
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    return cfg


def test_every_numeric_key_of_trackrcnn_has_a_rule_or_a_reason():
    detectron2_keys = dict(_leaves(get_cfg()))
    ours = [k for k, v in _leaves(_full_default()) if k not in detectron2_keys and _is_numeric(v)]
    assert len(ours) >= 21  # the keys of this writing: the enumeration finds them
    uncovered = [k for k in ours if k not in VALUE_RULES and k not in UNBOUNDED]
    assert not uncovered, (
        f"{uncovered}: give each a rule in trackrcnn_d2/config_values.py's VALUE_RULES (or a "
        "reason in UNBOUNDED)"
    )


def test_every_rule_names_a_key_whose_default_it_allows():
    keys = dict(_leaves(_full_default()))
    assert not [k for k in list(VALUE_RULES) + list(UNBOUNDED) if k not in keys]
    assert all(reason.strip() for reason in UNBOUNDED.values())
    check_config_values(_full_default())


def _text(value, default) -> str:
    """``value`` as a command-line override of a key whose default is ``default``."""
    text = "nan" if isinstance(value, float) and math.isnan(value) else repr(value)
    while isinstance(default, (list, tuple)):
        text, default = f"[{text}]", (default[0] if default else None)
    return text


def _boundary_cases():
    """(key, value, allowed) at, just inside and just outside each bound of each rule; nan."""
    for key, rule in VALUE_RULES.items():
        step = 1 if (rule.whole or rule.odd) else 1e-6
        yield key, math.nan, False
        if rule.choices:
            yield key, rule.choices[0], True
            yield key, max(rule.choices) + 1, False
            continue
        bounds = ((rule.low, rule.low_open, 1), (rule.high, rule.high_open, -1))
        for bound, is_open, inward in bounds:
            if bound is None or math.isinf(bound):
                continue
            at = bound + (1 if rule.odd and bound % 2 == 0 else 0)
            yield key, at, not is_open
            inside = at + inward * (2 if rule.odd else step)
            yield key, inside, True
            yield key, at - inward * (2 if rule.odd else step), False


@pytest.mark.parametrize("key, value, allowed", list(_boundary_cases()))
def test_each_rule_at_just_inside_and_just_outside_its_bounds(key, value, allowed):
    cfg = _full_default()
    default = dict(_leaves(cfg))[key]
    opts = [key, _text(value, default)]
    if allowed:
        merge_overrides(cfg, opts)
        return
    with pytest.raises(ConfigError) as error:
        merge_overrides(cfg, opts)
    message = str(error.value)
    assert message.startswith("command line: ") and key in message
    assert VALUE_RULES[key].describe() in message


@pytest.mark.parametrize(
    "opts, message",
    [
        # The issue's cases: expected messages written from the keys' meaning, not the table.
        (["SOLVER.BASE_LR", "nan"], "SOLVER.BASE_LR must be a finite number > 0, got nan"),
        (["SOLVER.BASE_LR", "-inf"], "SOLVER.BASE_LR must be a finite number > 0, got -inf"),
        (["SOLVER.BASE_LR", "-0.1"], "SOLVER.BASE_LR must be a finite number > 0, got -0.1"),
        (["SOLVER.MAX_ITER", "-3"], "SOLVER.MAX_ITER must be a whole number >= 0, got -3"),
        (["SOLVER.MAX_ITER", "100.5"], "SOLVER.MAX_ITER must be a whole number >= 0, got 100.5"),
        (["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "1.5"], "from 0 to 1, got 1.5"),
        (["TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.5, 1.5]"], "got 1.5 in [0.5, 1.5]"),
        (["TRACKER_HEADS.KEEP_ALIVE", "[4, -1]"], "whole number >= 0, got -1 in [4, -1]"),
        (["INPUT.MIN_SIZE_TEST", "-800"], "INPUT.MIN_SIZE_TEST must be a whole number >= 0"),
        (["INPUT.MIN_SIZE_TRAIN", "(640, -1)"], "got -1 in [640, -1]"),
        (["SOLVER.BASE_LR", "None"], "SOLVER.BASE_LR must be a finite number > 0, got None"),
        (["TEST.CLIP_CHUNK", "-5"], "TEST.CLIP_CHUNK must be a whole number >= 0, got -5"),
    ],
)
def test_bad_values_on_the_command_line_name_key_value_and_range(opts, message):
    with pytest.raises(ConfigError) as error:
        load_config(CONFIG, opts)
    assert str(error.value).startswith("command line: ")
    assert message in str(error.value)


def test_numbers_are_taken_as_a_detectron2_user_writes_them(tmp_path):
    config_file = tmp_path / "ints.yaml"
    config_file.write_text(
        f"_BASE_: {CONFIG}\nSOLVER:\n  BASE_LR: 1e-3\n  MOMENTUM: 0\n  MAX_ITER: 2.0e+3\n"
        "TRACKER_HEADS:\n  DETECTION_CONFIDENCE: [1, 0]\n"
    )
    cfg = load_config(str(config_file), ["SOLVER.WEIGHT_DECAY", "0", "SOLVER.GAMMA", "1"])
    assert (cfg.SOLVER.BASE_LR, cfg.SOLVER.MOMENTUM) == (0.001, 0.0)
    assert type(cfg.SOLVER.MOMENTUM) is float and type(cfg.SOLVER.MAX_ITER) is int
    assert cfg.SOLVER.MAX_ITER == 2000
    assert (cfg.SOLVER.WEIGHT_DECAY, cfg.SOLVER.GAMMA) == (0.0, 1.0)
    assert list(cfg.TRACKER_HEADS.DETECTION_CONFIDENCE) == [1.0, 0.0]
    # A float for an integer key without a rule is still yacs's type error.
    with pytest.raises(ConfigError, match="MODEL.RETINANET.NUM_CONVS must be of type int"):
        load_config(CONFIG, ["MODEL.RETINANET.NUM_CONVS", "2.5"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("SOLVER:\n  BASE_LR: .nan\n", "SOLVER.BASE_LR must be a finite number > 0, got nan"),
        ("SOLVER:\n  BASE_LR: -0.1\n", "SOLVER.BASE_LR must be a finite number > 0, got -0.1"),
        ("TRACKER_HEADS:\n  MIN_SCORE: 1.5\n", "TRACKER_HEADS.MIN_SCORE must be a finite"),
        ("TRACKER_HEADS:\n  KEEP_ALIVE: [-1]\n", "TRACKER_HEADS.KEEP_ALIVE must be a whole"),
        ("INPUT:\n  MAX_SIZE_TRAIN: -5\n", "INPUT.MAX_SIZE_TRAIN must be a whole number >= 1"),
    ],
)
def test_bad_values_in_a_file_name_the_file(tmp_path, text, message):
    config_file = tmp_path / "bad.yaml"
    config_file.write_text(f"_BASE_: {CONFIG}\n{text}")
    with pytest.raises(ConfigError) as error:
        load_config(str(config_file))
    assert str(error.value).startswith(f"{config_file}: ")
    assert message in str(error.value)
    # The command line's value replaces the file's: a bad value fixed there is fine.
    key = message.split()[0]
    fixed = {"TRACKER_HEADS.KEEP_ALIVE": "[0]", "INPUT.MAX_SIZE_TRAIN": "1333"}.get(key, "0.5")
    load_config(str(config_file), [key, fixed])


def test_rule_descriptions():
    assert ValueRule(low=0, high=1).describe() == "a finite number from 0 to 1"
    assert ValueRule(low=0, high=1, high_open=True).describe() == "a finite number in [0, 1)"
    assert ValueRule(low=1, odd=True).describe() == "an odd whole number >= 1"
    assert ValueRule(choices=(1, 2)).describe() == "one of 1, 2"
    assert ValueRule(low=0, optional=True).describe() == "a finite number >= 0, or None"
    rule = ValueRule(low=0, low_open=True, special=(math.inf,))
    assert rule.allows(math.inf) and not rule.allows(-math.inf) and not rule.allows(0)
    assert not ValueRule().allows(True) and not ValueRule().allows("1")


@pytest.mark.parametrize(
    "config_file",
    sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True)),
    ids=lambda path: os.path.relpath(path, REPO),
)
def test_every_shipped_config_has_allowed_values(config_file):
    load_config(config_file)  # raises ConfigError naming the key otherwise


LAZY_CONFIG = os.path.join(REPO, "configs", "kitti_mots_R_50_FPN_LSJ.py")


def test_every_lazy_key_has_the_rule_of_a_config_key():
    assert all(
        isinstance(rule, ValueRule) or rule in VALUE_RULES for rule in LAZY_CONFIG_KEYS.values()
    )
    from trackrcnn_d2.engine.lazy_config import flat_config, load_lazy_config

    # The shipped LazyConfig sets many of them (a renamed key would be skipped silently).
    present = set(flat_config(load_lazy_config(LAZY_CONFIG)))
    assert len(present & set(LAZY_CONFIG_KEYS)) >= 20


@pytest.mark.parametrize(
    "override, message",
    [
        ("optimizer.lr=nan", "optimizer.lr must be a finite number > 0, got nan"),
        ("optimizer.lr=-1", "optimizer.lr must be a finite number > 0, got -1"),
        ("train.max_iter=-3", "train.max_iter must be a whole number >= 0, got -3"),
        ("tracker.params.detection_confidence=[0.5,1.5]", "got 1.5 in [0.5, 1.5]"),
        ("tracker.params.min_score=nan", "tracker.params.min_score must be a finite number"),
        ("tracker.mask_threshold=-0.1", "tracker.mask_threshold must be a finite number from 0"),
        ("model.roi_heads.box_predictor.test_score_thresh=1.5", "from 0 to 1, got 1.5"),
        ("dataloader.train.total_batch_size=0", "must be a whole number >= 1, got 0"),
        ("train.checkpointer.period=0", "train.checkpointer.period must be a whole number >= 1"),
        ("train.log_period=0", "train.log_period must be a whole number >= 1, got 0"),
        ("train.max_iter=100.5", "train.max_iter must be a whole number >= 0, got 100.5"),
    ],
)
def test_lazy_config_values_follow_the_same_rules(override, message):
    from trackrcnn_d2.engine.lazy_config import load_lazy_config

    with pytest.raises(ConfigError) as error:
        load_lazy_config(LAZY_CONFIG, [override])
    assert str(error.value).startswith("command line: ") and message in str(error.value)
    load_lazy_config(LAZY_CONFIG, ["optimizer.lr=1", "train.max_iter=0"])  # ints, at the bounds
    cfg = load_lazy_config(LAZY_CONFIG, ["train.max_iter=1e4"])  # a count, as in the yaml configs
    assert cfg.train.max_iter == 10000 and type(cfg.train.max_iter) is int


def test_lazy_values_in_the_file_name_the_file(tmp_path):
    from trackrcnn_d2.engine.lazy_config import load_lazy_config

    config_file = tmp_path / "bad_lazy.py"
    config_file.write_text(
        f"from detectron2.config import LazyConfig\n"
        f"_cfg = LazyConfig.load({LAZY_CONFIG!r})\n"
        "globals().update(_cfg)\n"
        "tracker.params.keep_alive = [4, -6]\n"
    )
    with pytest.raises(ConfigError) as error:
        load_lazy_config(str(config_file))
    assert str(error.value) == (
        f"{config_file}: every value of tracker.params.keep_alive must be a whole number >= 0, "
        "got -6 in [4, -6]"
    )


def test_tracker_params_built_in_python_obey_the_rules():
    from trackrcnn_d2.tracking import TrackerParams

    message = r"detection_confidence must be a finite number from 0 to 1 \(as TRACKER_HEADS.DE"
    with pytest.raises(ValueError, match=message + r"TECTION_CONFIDENCE\), got 1.5"):
        TrackerParams(class_names=("car", "pedestrian"), detection_confidence=(0.5, 1.5))
    with pytest.raises(ValueError, match="min_mask_area must be a whole number >= 0"):
        TrackerParams(class_names=("car", "pedestrian"), min_mask_area=-1)
