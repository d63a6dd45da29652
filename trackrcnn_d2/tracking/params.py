"""The tracker's parameters (``cfg.TRACKER_HEADS``), per class."""
import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.config_values import VALUE_RULES
from trackrcnn_d2.utils.cli import ConfigError

from .detections import FrameDetections
from .mechanisms import ASSOCIATION_MECHANISMS, MECHANISMS, AssociationMechanism

DISJOINT_STRATEGIES = ("bottom", "score")

# The per-class fields of TrackerParams, their value type, and their config keys.
PER_CLASS_FIELDS = {
    "detection_confidence": float,
    "maskprop_threshold": float,
    "assoc_threshold": float,
    "center_distance_threshold": float,
    "keep_alive": int,
}
CONFIG_KEYS = {name: f"TRACKER_HEADS.{name.upper()}" for name in PER_CLASS_FIELDS}
# The numeric fields' config keys, whose rules (trackrcnn_d2/config_values.py) the fields obey.
VALUE_KEYS = {**CONFIG_KEYS, "min_score": "TRACKER_HEADS.MIN_SCORE",
              "min_mask_area": "TRACKER_HEADS.MIN_MASK_AREA"}  # fmt: skip


def per_class_values(
    name: str, values: Sequence, class_names: Sequence[str], kind: type = float
) -> tuple:
    """``values`` as one value per class (a single value counts for every class); raises
    :class:`~trackrcnn_d2.utils.cli.ConfigError` (a ValueError) naming ``name`` for another
    count."""
    values = tuple(kind(v) for v in values)
    if len(values) == 1:
        values = values * len(class_names)
    if len(values) != len(class_names):
        raise ConfigError(
            f"{name} has {len(values)} values but there are {len(class_names)} classes "
            f"{list(class_names)}; give one value per class (in DATASETS.MOTS.CLASSES order) or "
            "a single value for all"
        )
    return values


@dataclass(frozen=True)
class TrackerParams:
    """Parameters of the tracker. Per-class tuples follow the contiguous class order
    (``class_names`` = DATASETS.MOTS.CLASSES or the model's ``thing_classes``).

    Attributes:
        class_names: names of the contiguous classes.
        association: one of :data:`ASSOCIATION_MECHANISMS` (Table 5).
        detection_confidence: gamma per class (Alg. 1).
        maskprop_threshold: delta_maskprop per class (Alg. 1); for ``bbox_iou`` the box IoU
            threshold.
        assoc_threshold: delta_assoc per class (Alg. 1).
        center_distance_threshold: maximum box-centre distance in pixels for ``bbox_center``.
        min_score: detections below it are ignored entirely.
        min_mask_area: detections with at most this many mask pixels are ignored.
        disjoint: which object keeps a pixel claimed by several masks: ``"bottom"`` (the one
            whose mask reaches lowest in the image, paper Sec. 5) or ``"score"``.
        keep_alive: per class, frames a track without detection stays matchable for
            ``release_assoc`` (the released code's keep_alive).
        detection_confidence_inclusive: a detection is confident when its score is >= gamma
            (the released code) instead of > gamma (Alg. 1).
    """

    class_names: Tuple[str, ...]
    association: str = "maskprop_assoc"
    detection_confidence: Tuple[float, ...] = (0.847, 0.937)
    maskprop_threshold: Tuple[float, ...] = (0.1, 0.1)
    assoc_threshold: Tuple[float, ...] = (1.2, 1.2)
    center_distance_threshold: Tuple[float, ...] = (50.0, 50.0)
    min_score: float = 0.0
    min_mask_area: int = 10
    disjoint: str = "bottom"
    keep_alive: Tuple[int, ...] = (4, 6)
    detection_confidence_inclusive: bool = False

    def __post_init__(self):
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.association not in ASSOCIATION_MECHANISMS:
            raise ValueError(
                f"Unknown association mechanism {self.association!r}; "
                f"choose one of {ASSOCIATION_MECHANISMS}"
            )
        if self.disjoint not in DISJOINT_STRATEGIES:
            raise ValueError(
                f"Unknown disjoint strategy {self.disjoint!r}; choose one of {DISJOINT_STRATEGIES}"
            )
        for name, kind in PER_CLASS_FIELDS.items():
            values = per_class_values(name, getattr(self, name), self.class_names, kind)
            object.__setattr__(self, name, values)
        for name, key in VALUE_KEYS.items():
            rule, values = VALUE_RULES[key], getattr(self, name)
            bad = [v for v in (values if isinstance(values, tuple) else (values,))
                   if not rule.allows(v)]  # fmt: skip
            if bad:
                raise ValueError(f"{name} must be {rule.describe()} (as {key}), got {bad[0]}")

    @property
    def mechanism(self) -> AssociationMechanism:
        """The row of Table 5 that ``association`` names."""
        return MECHANISMS[self.association]

    @property
    def uses_flow(self) -> bool:
        return self.mechanism.uses_flow

    def check_association_head(self, has_association_head: bool) -> None:
        """Raise :class:`~trackrcnn_d2.utils.cli.ConfigError` (a ValueError), before any
        tracking, when the mechanism matches association vectors that the model cannot predict
        (a plain Mask R-CNN): without them Algorithm 1 would silently degrade to mask
        propagation, and ``assoc`` would start a track per detection."""
        if self.mechanism.uses_association_vectors and not has_association_head:
            raise ConfigError(
                f"TRACKER_HEADS.ASSOCIATION {self.association!r} matches association vectors, "
                "but the model has no association head (a plain Mask R-CNN); set "
                "TRACKER_HEADS.ASSOCIATION to maskprop (mask propagation only, the paper's "
                '"Mask R-CNN + maskprop"), bbox_iou or bbox_center'
            )

    def confident(self, scores, category: Optional[int] = None):
        """(N,) bool (numpy or torch, as ``scores``): the scores above gamma of ``category``
        (Alg. 1's high_conf_dets; None: the lowest gamma of all classes), or at it with
        ``detection_confidence_inclusive``."""
        gamma = (
            min(self.detection_confidence)
            if category is None
            else self.detection_confidence[category]
        )
        return scores >= gamma if self.detection_confidence_inclusive else scores > gamma

    def replace(self, **changes) -> "TrackerParams":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_config(cls, cfg, class_names: Optional[Sequence[str]] = None) -> "TrackerParams":
        """Parameters from ``cfg.TRACKER_HEADS`` (classes: ``cfg.DATASETS.MOTS.CLASSES``).
        Raises :class:`~trackrcnn_d2.utils.cli.ConfigError` naming the key of a bad value."""
        t = cfg.TRACKER_HEADS
        class_names = tuple(class_names or cfg.DATASETS.MOTS.CLASSES)
        per_class = {
            name: per_class_values(key, t[key.split(".")[1]], class_names, PER_CLASS_FIELDS[name])
            for name, key in CONFIG_KEYS.items()
        }
        try:
            return cls(
                class_names=class_names,
                association=t.ASSOCIATION,
                min_score=t.MIN_SCORE,
                min_mask_area=t.MIN_MASK_AREA,
                disjoint=t.DISJOINT,
                detection_confidence_inclusive=t.DETECTION_CONFIDENCE_INCLUSIVE,
                **per_class,
            )
        except ValueError as e:
            raise ConfigError(f"TRACKER_HEADS: {e}") from None


def usable_detections(frame: FrameDetections, params: TrackerParams) -> np.ndarray:
    """(N,) bool: detections the tracker considers at all (score >= min_score, mask area >
    min_mask_area, a class the tracker knows)."""
    return (
        (frame.scores >= params.min_score)
        & (frame.mask_areas > params.min_mask_area)
        & (frame.classes >= 0)
        & (frame.classes < len(params.class_names))
    )
