"""The tracker's parameters (``cfg.TRACKER_HEADS``), per class."""
import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.utils.cli import ConfigError

from .detections import FrameDetections
from .mechanisms import ASSOCIATION_MECHANISMS, MECHANISMS, AssociationMechanism

DISJOINT_STRATEGIES = ("bottom", "score")


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

    def __post_init__(self):
        num_classes = len(self.class_names)
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
        for name in (
            "detection_confidence",
            "maskprop_threshold",
            "assoc_threshold",
            "center_distance_threshold",
        ):
            values = tuple(float(v) for v in getattr(self, name))
            if len(values) == 1:
                values = values * num_classes
            if len(values) != num_classes:
                raise ValueError(
                    f"Tracker parameter {name} has {len(values)} values but there are "
                    f"{num_classes} classes {list(self.class_names)}; give one value per class "
                    "(in DATASETS.MOTS.CLASSES order) or a single value for all"
                )
            object.__setattr__(self, name, values)
        keep_alive = tuple(int(v) for v in self.keep_alive)
        keep_alive = keep_alive * num_classes if len(keep_alive) == 1 else keep_alive
        if len(keep_alive) != num_classes:
            raise ValueError(
                f"Tracker parameter keep_alive has {len(keep_alive)} values but there are "
                f"{num_classes} classes {list(self.class_names)}"
            )
        object.__setattr__(self, "keep_alive", keep_alive)

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

    def replace(self, **changes) -> "TrackerParams":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_config(cls, cfg, class_names: Optional[Sequence[str]] = None) -> "TrackerParams":
        """Parameters from ``cfg.TRACKER_HEADS`` (classes: ``cfg.DATASETS.MOTS.CLASSES``)."""
        t = cfg.TRACKER_HEADS
        return cls(
            class_names=tuple(class_names or cfg.DATASETS.MOTS.CLASSES),
            association=t.ASSOCIATION,
            detection_confidence=tuple(t.DETECTION_CONFIDENCE),
            maskprop_threshold=tuple(t.MASKPROP_THRESHOLD),
            assoc_threshold=tuple(t.ASSOC_THRESHOLD),
            center_distance_threshold=tuple(t.CENTER_DISTANCE_THRESHOLD),
            min_score=t.MIN_SCORE,
            min_mask_area=t.MIN_MASK_AREA,
            disjoint=t.DISJOINT,
            keep_alive=tuple(t.KEEP_ALIVE),
        )


def usable_detections(frame: FrameDetections, params: TrackerParams) -> np.ndarray:
    """(N,) bool: detections the tracker considers at all (score >= min_score, mask area >
    min_mask_area, a class the tracker knows)."""
    return (
        (frame.scores >= params.min_score)
        & (frame.mask_areas > params.min_mask_area)
        & (frame.classes >= 0)
        & (frame.classes < len(params.class_names))
    )
