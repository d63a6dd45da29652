"""The values each numeric config key allows, in one table, checked when a config is loaded.

yacs checks a value's type only: ``SOLVER.BASE_LR: .nan``, ``SOLVER.MAX_ITER -3`` or a tracker
threshold of 1.5 would reach the first iteration (or the tracker, hours later). Every numeric
key that :func:`~trackrcnn_d2.config.add_trackrcnn_config` adds has a rule in
:data:`VALUE_RULES` or a reason in :data:`UNBOUNDED` (``tests/test_config_values.py`` fails for
a new key with neither), and so have the detectron2 keys a user commonly sets.
:func:`check_config_values` (called by ``utils/cli.py``'s ``load_config`` and
``merge_overrides``, so by every script) refuses a value outside its rule with a
:class:`~trackrcnn_d2.utils.cli.ConfigError` naming the key, the value, what is allowed and
where it came from; ``engine/lazy_config.py`` checks the same values in a LazyConfig by
:data:`LAZY_CONFIG_KEYS`.

Numbers are taken as a detectron2 user writes them (:func:`numbers_as_written`): an integer for
a float key (``SOLVER.BASE_LR 1``), ``1e-3`` in a yaml file (a string for PyYAML), ``nan`` or
``inf`` on the command line (refused as not finite, not as a wrong type), and a whole float for
an integer key (``SOLVER.MAX_ITER 1e4``).

Torch-free (yacs only).
"""
import ast
import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Tuple

from trackrcnn_d2.utils.cli import ConfigError

__all__ = [
    "ValueRule",
    "VALUE_RULES",
    "UNBOUNDED",
    "LAZY_CONFIG_KEYS",
    "check_config_values",
    "check_value",
    "numbers_as_written",
]


@dataclass(frozen=True)
class ValueRule:
    """A finite number (or, for a list, each number of it, nested lists too) within bounds.

    Attributes:
        low, high: bounds (None: none); ``low_open`` / ``high_open`` exclude them.
        whole: a whole number (an integral float such as 4.0 counts, in a list).
        odd: an odd whole number (a kernel size that keeps the feature map's size).
        choices: the only numbers allowed (then the bounds are not used).
        special: numbers allowed beside the rule (e.g. ``inf`` for the L-inf norm).
        optional: None is allowed (the key's default is None).
    """

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False
    odd: bool = False
    choices: Tuple[float, ...] = ()
    special: Tuple[float, ...] = ()
    optional: bool = False

    def describe(self) -> str:
        """What the rule allows, e.g. "a finite number from 0 to 1"."""
        if self.choices:
            text = "one of " + ", ".join(_number(c) for c in self.choices)
        else:
            kind = "an odd whole number" if self.odd else (
                "a whole number" if self.whole else "a finite number"
            )
            text = kind + self._bounds()
        if self.special:
            text += ", or " + " or ".join(_number(s) for s in self.special)
        if self.optional:
            text += ", or None"
        return text

    def _bounds(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            if not (self.low_open or self.high_open):
                return f" from {_number(low)} to {_number(high)}"
            return (
                f" in {'(' if self.low_open else '['}{_number(low)}, "
                f"{_number(high)}{')' if self.high_open else ']'}"
            )
        if low is not None:
            return f" {'>' if self.low_open else '>='} {_number(low)}"
        if high is not None:
            return f" {'<' if self.high_open else '<='} {_number(high)}"
        return ""

    def allows(self, value: Any) -> bool:
        """Whether the single value ``value`` (not a list) is allowed."""
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if value in self.special:
            return True
        if not math.isfinite(value):
            return False
        if self.choices:
            return value in self.choices
        if (self.whole or self.odd) and not float(value).is_integer():
            return False
        if self.odd and int(value) % 2 == 0:
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rule(low=None, high=None, **options) -> ValueRule:
    return ValueRule(low=low, high=high, **options)


NUMBER = ValueRule()  # any finite number
PROBABILITY = ValueRule(low=0, high=1)  # a score, an IoU, a fraction
POSITIVE = ValueRule(low=0, low_open=True)
NOT_NEGATIVE = ValueRule(low=0)
COUNT = ValueRule(low=0, whole=True)  # iterations, frames, pixels, workers: 0 allowed
AT_LEAST_ONE = ValueRule(low=1, whole=True)  # sizes, channels, batch sizes

# The rule of each numeric key; a list value is checked number by number.
VALUE_RULES = {
    # ---- TrackR-CNN's keys (trackrcnn_d2/config.py) ----
    "INPUT.CLIP_LENGTH": AT_LEAST_ONE,
    # The released code's gamma is log(1/2 + f/sqrt 2) / log(1/2 - f/sqrt 2): needs |f| < 1/sqrt 2.
    "INPUT.GAMMA_AUGMENTATION": _rule(0, math.sqrt(0.5), high_open=True),
    "MODEL.RPN.IGNORE_REGION_OVERLAP": PROBABILITY,
    "MODEL.TEMPORAL.NUM_LAYERS": COUNT,
    "MODEL.TEMPORAL.CONVLSTM_CHANNELS": AT_LEAST_ONE,
    "MODEL.TEMPORAL.CONVLSTM_KERNEL_SIZE": _rule(1, odd=True),  # padding k // 2 keeps the size
    "MODEL.TEMPORAL.CONVLSTM_SKIP_WEIGHTS": NUMBER,
    "MODEL.TEMPORAL.CONVLSTM_FORGET_BIAS": NUMBER,
    "MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM": AT_LEAST_ONE,
    "MODEL.ASSOCIATION_HEAD.MARGIN": NOT_NEGATIVE,
    "MODEL.ASSOCIATION_HEAD.LOSS_WEIGHT": NOT_NEGATIVE,
    "MODEL.ASSOCIATION_HEAD.CONTRASTIVE_FACTOR": NOT_NEGATIVE,
    "TRACKER_HEADS.DETECTION_CONFIDENCE": PROBABILITY,
    "TRACKER_HEADS.MASKPROP_THRESHOLD": PROBABILITY,  # an IoU (a box IoU for bbox_iou)
    "TRACKER_HEADS.ASSOC_THRESHOLD": NOT_NEGATIVE,  # a distance of association vectors
    "TRACKER_HEADS.CENTER_DISTANCE_THRESHOLD": NOT_NEGATIVE,  # pixels
    "TRACKER_HEADS.KEEP_ALIVE": COUNT,
    "TRACKER_HEADS.MIN_SCORE": PROBABILITY,
    "TRACKER_HEADS.MIN_MASK_AREA": COUNT,
    "TRACKER_HEADS.MASK_THRESHOLD": PROBABILITY,
    "TEST.CLIP_CHUNK": COUNT,  # 0: near-online
    # ---- detectron2's keys (detectron2/config/defaults.py) that users commonly set ----
    "MODEL.PIXEL_MEAN": NUMBER,
    "MODEL.PIXEL_STD": POSITIVE,
    "MODEL.BACKBONE.FREEZE_AT": _rule(0, 5, whole=True),  # stem + res2..res5
    "MODEL.RESNETS.DEPTH": _rule(choices=(18, 34, 50, 101, 152)),
    "MODEL.RESNETS.NUM_GROUPS": AT_LEAST_ONE,
    "MODEL.RESNETS.WIDTH_PER_GROUP": AT_LEAST_ONE,
    "MODEL.RESNETS.RES5_DILATION": _rule(choices=(1, 2)),
    "MODEL.RESNETS.RES2_OUT_CHANNELS": AT_LEAST_ONE,
    "MODEL.RESNETS.STEM_OUT_CHANNELS": AT_LEAST_ONE,
    "MODEL.FPN.OUT_CHANNELS": AT_LEAST_ONE,
    "MODEL.PROPOSAL_GENERATOR.MIN_SIZE": NOT_NEGATIVE,
    "MODEL.ANCHOR_GENERATOR.SIZES": POSITIVE,
    "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS": POSITIVE,
    "MODEL.ANCHOR_GENERATOR.OFFSET": _rule(0, 1, high_open=True),  # detectron2 asserts it
    "MODEL.RPN.IOU_THRESHOLDS": PROBABILITY,
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE": AT_LEAST_ONE,
    "MODEL.RPN.POSITIVE_FRACTION": PROBABILITY,
    "MODEL.RPN.NMS_THRESH": PROBABILITY,
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN": AT_LEAST_ONE,
    "MODEL.RPN.PRE_NMS_TOPK_TEST": AT_LEAST_ONE,
    "MODEL.RPN.POST_NMS_TOPK_TRAIN": AT_LEAST_ONE,
    "MODEL.RPN.POST_NMS_TOPK_TEST": AT_LEAST_ONE,
    "MODEL.RPN.LOSS_WEIGHT": NOT_NEGATIVE,
    "MODEL.RPN.BBOX_REG_LOSS_WEIGHT": NOT_NEGATIVE,
    "MODEL.RPN.BBOX_REG_WEIGHTS": POSITIVE,
    "MODEL.RPN.SMOOTH_L1_BETA": NOT_NEGATIVE,
    "MODEL.ROI_HEADS.NUM_CLASSES": AT_LEAST_ONE,
    "MODEL.ROI_HEADS.IOU_THRESHOLDS": PROBABILITY,
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE": AT_LEAST_ONE,
    "MODEL.ROI_HEADS.POSITIVE_FRACTION": PROBABILITY,
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST": PROBABILITY,
    "MODEL.ROI_HEADS.NMS_THRESH_TEST": PROBABILITY,
    "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION": AT_LEAST_ONE,
    "MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO": COUNT,  # 0: adaptive
    "MODEL.ROI_BOX_HEAD.NUM_FC": COUNT,
    "MODEL.ROI_BOX_HEAD.FC_DIM": AT_LEAST_ONE,
    "MODEL.ROI_BOX_HEAD.NUM_CONV": COUNT,
    "MODEL.ROI_BOX_HEAD.CONV_DIM": AT_LEAST_ONE,
    "MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS": POSITIVE,
    "MODEL.ROI_BOX_HEAD.BBOX_REG_LOSS_WEIGHT": NOT_NEGATIVE,
    "MODEL.ROI_BOX_HEAD.SMOOTH_L1_BETA": NOT_NEGATIVE,
    "MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION": AT_LEAST_ONE,
    "MODEL.ROI_MASK_HEAD.POOLER_SAMPLING_RATIO": COUNT,
    "MODEL.ROI_MASK_HEAD.NUM_CONV": COUNT,
    "MODEL.ROI_MASK_HEAD.CONV_DIM": AT_LEAST_ONE,
    "INPUT.MIN_SIZE_TRAIN": AT_LEAST_ONE,
    "INPUT.MAX_SIZE_TRAIN": AT_LEAST_ONE,
    "INPUT.MIN_SIZE_TEST": COUNT,  # 0: no resizing (detectron2)
    "INPUT.MAX_SIZE_TEST": AT_LEAST_ONE,
    "INPUT.CROP.SIZE": POSITIVE,
    "DATALOADER.NUM_WORKERS": COUNT,
    "DATALOADER.REPEAT_THRESHOLD": NOT_NEGATIVE,
    "SOLVER.BASE_LR": POSITIVE,
    "SOLVER.BASE_LR_END": NOT_NEGATIVE,
    "SOLVER.MOMENTUM": _rule(0, 1, high_open=True),
    "SOLVER.WEIGHT_DECAY": NOT_NEGATIVE,
    "SOLVER.WEIGHT_DECAY_NORM": NOT_NEGATIVE,
    "SOLVER.WEIGHT_DECAY_BIAS": _rule(0, optional=True),  # None: WEIGHT_DECAY
    "SOLVER.BIAS_LR_FACTOR": NOT_NEGATIVE,
    "SOLVER.GAMMA": POSITIVE,
    "SOLVER.STEPS": COUNT,
    "SOLVER.NUM_DECAYS": COUNT,
    "SOLVER.MAX_ITER": COUNT,
    "SOLVER.WARMUP_FACTOR": PROBABILITY,
    "SOLVER.WARMUP_ITERS": COUNT,
    "SOLVER.CHECKPOINT_PERIOD": AT_LEAST_ONE,  # detectron2 divides the iteration by it
    "SOLVER.IMS_PER_BATCH": AT_LEAST_ONE,
    "SOLVER.REFERENCE_WORLD_SIZE": COUNT,  # 0: no scaling
    "SOLVER.CLIP_GRADIENTS.CLIP_VALUE": POSITIVE,
    "SOLVER.CLIP_GRADIENTS.NORM_TYPE": _rule(0, low_open=True, special=(math.inf,)),
    "TEST.EVAL_PERIOD": COUNT,  # 0: at the end only
    "TEST.DETECTIONS_PER_IMAGE": AT_LEAST_ONE,
    "TEST.AUG.MIN_SIZES": AT_LEAST_ONE,
    "TEST.AUG.MAX_SIZE": AT_LEAST_ONE,
    "TEST.PRECISE_BN.NUM_ITER": AT_LEAST_ONE,
    "SEED": _rule(high=2**32 - 1, whole=True),  # < 0: random; numpy takes < 2**32
    "VIS_PERIOD": COUNT,
}

# Numeric keys without a rule, and why.
UNBOUNDED = {
    "VERSION": "the config format's version, which detectron2 checks when it merges a file",
    "GLOBAL.HACK": "detectron2's placeholder, read by nothing",
}

# A LazyConfig's keys (engine/lazy_config.py's layout: detectron2's configs/common plus
# ``tracker``) that hold the values of these config keys: the same rules apply (or the rule
# itself, for a key without a yacs twin).
LAZY_CONFIG_KEYS = {
    "tracker.params.detection_confidence": "TRACKER_HEADS.DETECTION_CONFIDENCE",
    "tracker.params.maskprop_threshold": "TRACKER_HEADS.MASKPROP_THRESHOLD",
    "tracker.params.assoc_threshold": "TRACKER_HEADS.ASSOC_THRESHOLD",
    "tracker.params.center_distance_threshold": "TRACKER_HEADS.CENTER_DISTANCE_THRESHOLD",
    "tracker.params.keep_alive": "TRACKER_HEADS.KEEP_ALIVE",
    "tracker.params.min_score": "TRACKER_HEADS.MIN_SCORE",
    "tracker.params.min_mask_area": "TRACKER_HEADS.MIN_MASK_AREA",
    "tracker.mask_threshold": "TRACKER_HEADS.MASK_THRESHOLD",
    "train.max_iter": "SOLVER.MAX_ITER",
    "train.log_period": AT_LEAST_ONE,  # detectron2's writers' period (no yacs key)
    "train.eval_period": "TEST.EVAL_PERIOD",
    "train.checkpointer.period": "SOLVER.CHECKPOINT_PERIOD",
    "train.seed": "SEED",
    "optimizer.lr": "SOLVER.BASE_LR",
    "optimizer.momentum": "SOLVER.MOMENTUM",
    "optimizer.weight_decay": "SOLVER.WEIGHT_DECAY",
    "dataloader.train.total_batch_size": "SOLVER.IMS_PER_BATCH",
    "dataloader.train.num_workers": "DATALOADER.NUM_WORKERS",
    "dataloader.test.num_workers": "DATALOADER.NUM_WORKERS",
    "dataloader.train.clip_length": "INPUT.CLIP_LENGTH",
    "model.pixel_mean": "MODEL.PIXEL_MEAN",
    "model.pixel_std": "MODEL.PIXEL_STD",
    "model.backbone.temporal_layers.num_layers": "MODEL.TEMPORAL.NUM_LAYERS",
    "model.proposal_generator.anchor_matcher.thresholds": "MODEL.RPN.IOU_THRESHOLDS",
    "model.proposal_generator.batch_size_per_image": "MODEL.RPN.BATCH_SIZE_PER_IMAGE",
    "model.proposal_generator.positive_fraction": "MODEL.RPN.POSITIVE_FRACTION",
    "model.proposal_generator.pre_nms_topk": "MODEL.RPN.PRE_NMS_TOPK_TRAIN",  # [train, test]
    "model.proposal_generator.post_nms_topk": "MODEL.RPN.POST_NMS_TOPK_TRAIN",
    "model.proposal_generator.nms_thresh": "MODEL.RPN.NMS_THRESH",
    "model.roi_heads.num_classes": "MODEL.ROI_HEADS.NUM_CLASSES",
    "model.roi_heads.batch_size_per_image": "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE",
    "model.roi_heads.positive_fraction": "MODEL.ROI_HEADS.POSITIVE_FRACTION",
    "model.roi_heads.proposal_matcher.thresholds": "MODEL.ROI_HEADS.IOU_THRESHOLDS",
    "model.roi_heads.box_predictor.test_score_thresh": "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
    "model.roi_heads.box_predictor.test_nms_thresh": "MODEL.ROI_HEADS.NMS_THRESH_TEST",
    "model.roi_heads.box_predictor.test_topk_per_image": "TEST.DETECTIONS_PER_IMAGE",
    "model.roi_heads.association_head.embedding_dim": "MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM",
    "model.roi_heads.association_head.margin": "MODEL.ASSOCIATION_HEAD.MARGIN",
}


def check_value(key: str, value: Any, where: str, rule_key=None) -> None:
    """Raise :class:`ConfigError` ``"<where>: <key> must be <rule>, got <value>"`` unless
    ``value`` (a number, or a list of them) follows the rule of ``rule_key`` (default ``key``)
    in :data:`VALUE_RULES`, or ``rule_key`` itself if a :class:`ValueRule`. ``where``: the
    config file or "command line"."""
    rule = rule_key if isinstance(rule_key, ValueRule) else VALUE_RULES[rule_key or key]
    if isinstance(value, (list, tuple)):
        bad = next((v for v in _numbers_in(value) if not rule.allows(v)), _ALL_ALLOWED)
        if bad is _ALL_ALLOWED:
            return
        shown = _shown(bad)
        raise ConfigError(
            f"{where}: every value of {key} must be {rule.describe()}, got {shown} in "
            f"{_shown(value)}"
        )
    if not rule.allows(value):
        raise ConfigError(f"{where}: {key} must be {rule.describe()}, got {_shown(value)}")


_ALL_ALLOWED = object()


def _numbers_in(values) -> Iterable[Any]:
    for value in values:
        if isinstance(value, (list, tuple)):
            yield from _numbers_in(value)
        else:
            yield value


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def check_config_values(cfg, command_line=(), config_file: Optional[str] = None) -> None:
    """Check every key of :data:`VALUE_RULES` that ``cfg`` has; an error names the config file
    (``config_file``, or "the config") or the command line for the keys in ``command_line``."""
    overridden = set(command_line)
    for key in VALUE_RULES:
        node, *path = [cfg] + key.split(".")
        for part in path:
            node = node.get(part, _ALL_ALLOWED) if hasattr(node, "get") else _ALL_ALLOWED
        if node is _ALL_ALLOWED:  # a key of another detectron2 version
            continue
        where = "command line" if key in overridden else (config_file or "the config")
        check_value(key, node, where)


def _as_float(value: Any) -> Optional[float]:
    """``value`` as a float if a user meant a number: an int, or a string such as ``1e-3``
    (PyYAML reads it as a string), ``nan``, ``inf`` or yaml's ``.nan``/``.inf``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(".inf", "inf").replace(".nan", "nan")
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _list_with_non_finite(text: str) -> Any:
    """``[0.5, nan]`` (which yacs' literal_eval leaves a string) as a list with a float nan, for
    the rule to refuse as not finite; ``text`` unchanged if it is no such list."""
    def value(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            values = [value(e) for e in node.elts]
            return values if isinstance(node, ast.List) else tuple(values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            number = value(node.operand)
            if isinstance(number, (int, float)):
                return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.Name) and node.id.lower() in ("nan", "inf", "infinity"):
            return float(node.id)
        raise ValueError(text)

    try:
        parsed = value(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError):
        return text
    return parsed if isinstance(parsed, (list, tuple)) else text


def _coerced(replacement: Any, original: Any, key: str) -> Any:
    """``replacement`` of ``original``'s numeric type where a user wrote it another way, else
    ``replacement`` unchanged (for yacs to check). For an integer key with a rule, a float that
    is not whole (1000.5, nan) is kept for the rule to refuse with its range."""
    number = _as_float(replacement)
    if type(original) is float:
        return replacement if number is None else number
    if type(original) is int and number is not None:
        if number.is_integer():
            return int(number)
        return number if key in VALUE_RULES else replacement  # yacs: "must be an int"
    if isinstance(original, (list, tuple)) and isinstance(replacement, str):
        replacement = _list_with_non_finite(replacement)
    if isinstance(original, (list, tuple)) and isinstance(replacement, (list, tuple)):
        if original and all(type(v) is float for v in original):
            return type(replacement)(_as_float(v) if _as_float(v) is not None else v
                                     for v in replacement)
    return replacement


@contextlib.contextmanager
def numbers_as_written():
    """In the block, yacs (``merge_from_file``, ``merge_from_list``) takes numbers as a
    detectron2 user writes them (see the module's docstring); out-of-range and non-finite ones
    are then :func:`check_config_values`'s to refuse. yacs has no hook for this: its type check
    is wrapped for the block."""
    import yacs.config

    check_type = yacs.config._check_and_coerce_cfg_value_type

    def coerce_then_check(replacement, original, key, full_key):
        replacement = _coerced(replacement, original, full_key)
        if type(original) is int and isinstance(replacement, float) and full_key in VALUE_RULES:
            return replacement  # not whole: refused by the key's rule
        return check_type(replacement, original, key, full_key)

    yacs.config._check_and_coerce_cfg_value_type = coerce_then_check
    try:
        yield
    finally:
        yacs.config._check_and_coerce_cfg_value_type = check_type
