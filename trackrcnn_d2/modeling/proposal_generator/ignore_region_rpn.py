"""An RPN that does not train negative anchors on ignore regions (the released code's rule)."""
from typing import Dict, Iterator, List, Optional

import torch
from detectron2.config import configurable
from detectron2.modeling import PROPOSAL_GENERATOR_REGISTRY
from detectron2.modeling.proposal_generator import RPN
from detectron2.structures import Boxes, ImageList, Instances

from trackrcnn_d2.utils.cli import ConfigError

__all__ = ["IgnoreRegionRPN", "IGNORE_REGION_RATIOS", "anchor_fraction_on_mask"]

# What the ignored pixels inside an anchor are divided by (MODEL.RPN.IGNORE_REGION_RATIO).
IGNORE_REGION_RATIOS = ("anchor", "frame_ignore_area")


def anchor_fraction_on_mask(
    boxes: torch.Tensor, mask: torch.Tensor, ratio: str = "anchor"
) -> torch.Tensor:
    """(A, 4) XYXY boxes, (H, W) bool mask -> (A,) the mask's pixels inside each box (within
    the mask's extent, the image) divided by the box's area there (``ratio`` "anchor"; 0 for
    a box outside the image) or by all the mask's pixels ("frame_ignore_area", the released
    code's ``calculate_ioas_using_ignore_mask``; 0 for an empty mask). Box corners are rounded
    to pixels."""
    if ratio not in IGNORE_REGION_RATIOS:
        raise ValueError(f"ratio {ratio!r} is not one of {IGNORE_REGION_RATIOS}")
    height, width = mask.shape
    integral = torch.zeros((height + 1, width + 1), dtype=torch.float64, device=mask.device)
    integral[1:, 1:] = mask.to(torch.float64).cumsum(0).cumsum(1)
    corners = boxes.round().long()
    x1, x2 = corners[:, 0].clamp(0, width), corners[:, 2].clamp(0, width)
    y1, y2 = corners[:, 1].clamp(0, height), corners[:, 3].clamp(0, height)
    on_mask = integral[y2, x2] - integral[y1, x2] - integral[y2, x1] + integral[y1, x1]
    if ratio == "anchor":
        denominator = ((x2 - x1) * (y2 - y1)).clamp(min=1)
    else:
        denominator = integral[-1, -1].clamp(min=1)
    return (on_mask / denominator).to(boxes.dtype)


@PROPOSAL_GENERATOR_REGISTRY.register()
class IgnoreRegionRPN(RPN):
    """detectron2's RPN, except that an anchor labelled negative whose ignored pixels exceed
    ``ignore_region_overlap`` of its area (``ignore_region_ratio`` "anchor": the fraction of
    the anchor that is ignore region) or of the frame's ignored pixels ("frame_ignore_area",
    the released code's ratio, datasets/util/Detection.py l. 154-166 and 215-236,
    ``prefer_gt_to_ignore``) is not trained (label -1), before the positive/negative sampling.
    The released code uses 0.7. The paper states nothing.

    :class:`~trackrcnn_d2.modeling.TrackRCNN` passes each frame's ``ignore_mask`` (from
    :class:`~trackrcnn_d2.data.dataset_mapper.MOTSClipDatasetMapper`) as ``ignore_masks``.
    """

    @configurable
    def __init__(
        self, *, ignore_region_overlap: float = 0.7, ignore_region_ratio: str = "anchor", **kwargs
    ):
        super().__init__(**kwargs)
        if ignore_region_ratio not in IGNORE_REGION_RATIOS:
            raise ConfigError(
                f"MODEL.RPN.IGNORE_REGION_RATIO = {ignore_region_ratio!r} is not one of "
                f"{IGNORE_REGION_RATIOS}."
            )
        self.ignore_region_overlap = ignore_region_overlap
        self.ignore_region_ratio = ignore_region_ratio
        self._ignore_masks: Optional[List[Optional[torch.Tensor]]] = None
        self._ignored_negatives: Optional[Iterator[Optional[torch.Tensor]]] = None

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        ret["ignore_region_overlap"] = cfg.MODEL.RPN.IGNORE_REGION_OVERLAP
        ret["ignore_region_ratio"] = cfg.MODEL.RPN.IGNORE_REGION_RATIO
        return ret

    def forward(
        self,
        images: ImageList,
        features: Dict[str, torch.Tensor],
        gt_instances: Optional[List[Instances]] = None,
        ignore_masks: Optional[List[Optional[torch.Tensor]]] = None,
    ):
        """As :meth:`RPN.forward`; ``ignore_masks``: per image an (H, W) bool mask of its
        ignore regions, or None."""
        self._ignore_masks = ignore_masks
        try:
            return super().forward(images, features, gt_instances)
        finally:
            self._ignore_masks = None

    @torch.no_grad()
    def label_and_sample_anchors(self, anchors: List[Boxes], gt_instances: List[Instances]):
        masks = self._ignore_masks or [None] * len(gt_instances)
        boxes = Boxes.cat(anchors).tensor
        self._ignored_negatives = iter(
            None
            if mask is None
            else anchor_fraction_on_mask(boxes, mask.to(boxes.device), self.ignore_region_ratio)
            > self.ignore_region_overlap
            for mask in masks
        )
        try:
            return super().label_and_sample_anchors(anchors, gt_instances)
        finally:
            self._ignored_negatives = None

    def _subsample_labels(self, label: torch.Tensor) -> torch.Tensor:
        # RPN.label_and_sample_anchors calls this once per image, in order, after matching:
        # the place to drop the negatives on ignore regions before the sampling.
        if self._ignored_negatives is not None:
            on_ignore = next(self._ignored_negatives)
            if on_ignore is not None:
                label = label.masked_fill((label == 0) & on_ignore, -1)
        return super()._subsample_labels(label)
