"""RPN variants (registered in detectron2's PROPOSAL_GENERATOR_REGISTRY)."""
from .ignore_region_rpn import IgnoreRegionRPN, anchor_fraction_on_mask

__all__ = ["IgnoreRegionRPN", "anchor_fraction_on_mask"]
