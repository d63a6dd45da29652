"""ROI heads with TrackR-CNN's association head (Sec. 5 "Association Head", Supplement B).

A fully connected layer maps each proposal's box-head feature to an association vector. In
training, the association loss is computed over the foreground proposals of each clip, with the
track id of the matched ground truth (``gt_track_ids``). At inference, every detection carries
the association vector of the proposal it came from (as in the original implementation) in the
field ``association_vectors`` (N x D).
"""
import math
from typing import Dict, List, Optional

import torch
from detectron2.config import CfgNode, configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.roi_heads import (
    ROI_HEADS_REGISTRY,
    Res5ROIHeads,
    StandardROIHeads,
    select_foreground_proposals,
)
from detectron2.structures import Boxes, ImageList, Instances
from torch import nn

from trackrcnn_d2.utils.cli import ConfigError

from ..losses import ASSOCIATION_LOSSES, batch_hard_triplet_loss, batch_hard_triplet_per_anchor

__all__ = [
    "AssociationHead",
    "ASSOCIATION_HEAD_INITS",
    "TrackStandardROIHeads",
    "TrackRes5ROIHeads",
]

# Initial weights of the association head (MODEL.ASSOCIATION_HEAD.INIT).
ASSOCIATION_HEAD_INITS = ("normal", "he_normal")


class AssociationHead(nn.Module):
    """One fully connected layer: box-head feature -> association vector, plus its loss."""

    @configurable
    def __init__(
        self,
        *,
        in_channels: int,
        embedding_dim: int = 128,
        loss: str = "batch_hard",
        margin: float = 0.2,
        loss_weight: float = 1.0,
        same_class_only: bool = False,
        normalization: str = "foreground",
        clip_length: Optional[int] = None,
        init: str = "normal",
        contrastive_factor: float = 1.0,
        batch_all_anchor_as_positive: bool = False,
    ):
        """
        Args:
            in_channels: size of the (flattened) box-head feature.
            embedding_dim: D, the association vector's size (Sec. 6: 128).
            loss: "batch_hard", "batch_all" or "contrastive" (Table 7).
            margin: alpha of the loss (Sec. 6: 0.2).
            loss_weight: factor of ``loss_assoc``.
            same_class_only: compare only detections of the same ground-truth class.
            normalization: "foreground": the loss's own mean (batch hard: over the foreground
                proposals, Eq. 4); "sampled_rois" (batch hard only, the released code): each
                clip's sum of hinge terms divided by all its sampled proposals (foreground and
                background), then by its number of frames; the mean over the clips.
            clip_length: images i and j of a mini-batch are compared only if they belong to the
                same clip, i // clip_length == j // clip_length (None: the batch is one clip).
            init: the layer's initial weights, one of :data:`ASSOCIATION_HEAD_INITS`:
                "normal" (N(0, 0.01^2), as detectron2's predictor layers) or "he_normal" (the
                released code's default initialiser: TensorFlow's
                ``variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False)``, a
                normal of std sqrt(2.6 / fan_in) truncated at two of them, whose std is
                sqrt(2 / fan_in)); zero bias in both.
            contrastive_factor: factor of the contrastive loss (released code: 0.5).
            batch_all_anchor_as_positive: batch-all triplets also with the anchor as its own
                positive (released code).
        """
        super().__init__()
        if loss not in ASSOCIATION_LOSSES:
            raise ValueError(
                f"MODEL.ASSOCIATION_HEAD.LOSS = {loss!r} is not one of "
                f"{sorted(ASSOCIATION_LOSSES)}."
            )
        if normalization not in ("foreground", "sampled_rois"):
            raise ValueError(
                f"MODEL.ASSOCIATION_HEAD.NORMALIZATION = {normalization!r} is not 'foreground' "
                "or 'sampled_rois'."
            )
        if normalization == "sampled_rois" and loss != "batch_hard":
            raise ValueError(
                "MODEL.ASSOCIATION_HEAD.NORMALIZATION = 'sampled_rois' is the released code's "
                f"normalization of LOSS 'batch_hard'; LOSS is {loss!r}."
            )
        if init not in ASSOCIATION_HEAD_INITS:
            raise ConfigError(
                f"MODEL.ASSOCIATION_HEAD.INIT = {init!r} is not one of {ASSOCIATION_HEAD_INITS}."
            )
        self.normalization = normalization
        self.fc = nn.Linear(in_channels, embedding_dim)
        if init == "normal":
            nn.init.normal_(self.fc.weight, std=0.01)
        else:
            std = math.sqrt(1.3 * 2.0 / in_channels)
            nn.init.trunc_normal_(self.fc.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(self.fc.bias)
        self.loss_fn = ASSOCIATION_LOSSES[loss]
        self.loss_options = {}
        if loss == "contrastive":
            self.loss_options["factor"] = contrastive_factor
        if loss == "batch_all":
            self.loss_options["anchor_as_positive"] = batch_all_anchor_as_positive
        self.margin = margin
        self.loss_weight = loss_weight
        self.same_class_only = same_class_only
        self.clip_length = clip_length

    @classmethod
    def from_config(cls, cfg: CfgNode, in_channels: int):
        head = cfg.MODEL.ASSOCIATION_HEAD
        return {
            "in_channels": in_channels,
            "embedding_dim": head.EMBEDDING_DIM,
            "loss": head.LOSS,
            "margin": head.MARGIN,
            "loss_weight": head.LOSS_WEIGHT,
            "same_class_only": head.SAME_CLASS_ONLY,
            "normalization": head.NORMALIZATION,
            "clip_length": cfg.INPUT.CLIP_LENGTH,
            "init": head.INIT,
            "contrastive_factor": head.CONTRASTIVE_FACTOR,
            "batch_all_anchor_as_positive": head.BATCH_ALL_ANCHOR_AS_POSITIVE,
        }

    def forward(self, box_features: torch.Tensor) -> torch.Tensor:
        """(R, ...) box-head features -> (R, D) association vectors."""
        return self.fc(box_features.flatten(1))

    def losses(
        self, association_vectors: torch.Tensor, proposals: List[Instances], num_classes: int
    ) -> Dict[str, torch.Tensor]:
        """``loss_assoc`` over the foreground proposals of each clip.

        Args:
            association_vectors: (R, D), one per proposal, in the order of ``proposals``.
            proposals: per image, sampled proposals with ``gt_classes`` and, where any is
                foreground, ``gt_track_ids``.
        """
        # Built on the device for all R proposals at once: boolean indexing and .any() would
        # wait for the GPU (host syncs) in every training step.
        sizes = [len(p) for p in proposals]
        device = association_vectors.device
        classes = torch.cat([p.gt_classes for p in proposals])
        foreground = (classes >= 0) & (classes < num_classes)
        ids = torch.cat([self._track_ids(p, num_classes) for p in proposals])
        clip_length = self.clip_length or len(proposals)
        # Filled on the device: a tensor copied from the host would wait for the GPU's queue.
        image_of = torch.cat(
            [torch.full((size,), i, device=device) for i, size in enumerate(sizes)]
        )
        # One group per (clip, class) or per clip; only detections of a group are compared.
        # A background proposal is a group of its own, so it is compared with nothing.
        group = (image_of // clip_length) * num_classes + (
            classes if self.same_class_only else torch.zeros_like(classes)
        )
        background_group = -1 - torch.arange(len(classes), device=device)
        group = torch.where(foreground, group, background_group)
        if self.normalization == "sampled_rois" or self.loss_fn is batch_hard_triplet_loss:
            # Background anchors have no negative: their hinge term is 0.
            per_anchor = batch_hard_triplet_per_anchor(association_vectors, ids, self.margin, group)
            loss = (per_anchor * self._anchor_weights(foreground, sizes, clip_length)).sum()
        else:
            loss = self.loss_fn(
                association_vectors[foreground],
                ids[foreground],
                self.margin,
                group[foreground],
                **self.loss_options,
            )
        return {"loss_assoc": loss * self.loss_weight}


    def _anchor_weights(
        self, foreground: torch.Tensor, sizes: List[int], clip_length: int
    ) -> torch.Tensor:
        """(R,) factor of each proposal's batch-hard hinge term in loss_assoc; 0 for the
        background. "foreground": 1 / (foreground proposals); "sampled_rois": 1 / (its clip's
        sampled proposals x the clip's frames x the clips)."""
        if self.normalization == "foreground":
            return foreground / foreground.sum().clamp(min=1)
        clip_starts = range(0, len(sizes), clip_length)
        num_clips = len(clip_starts)
        weights = []
        for start in clip_starts:
            clip_sizes = sizes[start : start + clip_length]
            weight = 1.0 / (max(sum(clip_sizes), 1) * len(clip_sizes) * num_clips)
            weights += [torch.full((n,), weight, device=foreground.device) for n in clip_sizes]
        return torch.cat(weights) * foreground

    @staticmethod
    def _track_ids(proposals: Instances, num_classes: int) -> torch.Tensor:
        """The proposals' gt_track_ids; zeros for a frame without objects, where detectron2
        sets no gt_* fields but gt_boxes (and gt_classes, all background)."""
        if proposals.has("gt_track_ids"):
            return proposals.gt_track_ids
        if (proposals.gt_classes < num_classes).any():
            raise ValueError(
                "The association loss needs instances.gt_track_ids in every training frame "
                "with objects; the dataset mapper did not provide them. Train with "
                "trackrcnn_d2.data.build_mots_train_loader (MOTSClipDatasetMapper), or give "
                "each frame's Instances a gt_track_ids tensor."
            )
        return torch.zeros_like(proposals.gt_classes)


def _attach_association_vectors(
    instances: List[Instances],
    association_vectors: List[torch.Tensor],
    kept_indices: List[torch.Tensor],
):
    """Gives each detection the vector of the proposal it was decoded from.

    Args:
        association_vectors: per image, (R_i, D) vectors of its proposals.
        kept_indices: per image, the proposal index of each detection (from NMS).
    """
    for image_instances, image_vectors, kept in zip(instances, association_vectors, kept_indices):
        image_instances.association_vectors = image_vectors[kept]


@ROI_HEADS_REGISTRY.register()
class TrackStandardROIHeads(StandardROIHeads):
    """:class:`StandardROIHeads` (FPN or C5 box head) plus the association head on the box
    head's output feature."""

    @configurable
    def __init__(self, *, association_head: AssociationHead, **kwargs):
        super().__init__(**kwargs)
        self.association_head = association_head

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: Dict[str, ShapeSpec]):
        ret = super().from_config(cfg, input_shape)
        box_head_shape = ret["box_head"].output_shape
        in_channels = box_head_shape.channels * (box_head_shape.height or 1) * (
            box_head_shape.width or 1
        )
        ret["association_head"] = AssociationHead(cfg, in_channels)
        return ret

    def _forward_box(self, features: Dict[str, torch.Tensor], proposals: List[Instances]):
        """As :meth:`StandardROIHeads._forward_box`, plus association vectors and their loss."""
        features = [features[f] for f in self.box_in_features]
        box_features = self.box_pooler(features, [x.proposal_boxes for x in proposals])
        box_features = self.box_head(box_features)
        predictions = self.box_predictor(box_features)
        association_vectors = self.association_head(box_features)
        del box_features

        if self.training:
            losses = self.box_predictor.losses(predictions, proposals)
            losses.update(
                self.association_head.losses(association_vectors, proposals, self.num_classes)
            )
            if self.train_on_pred_boxes:
                with torch.no_grad():
                    pred_boxes = self.box_predictor.predict_boxes_for_gt_classes(
                        predictions, proposals
                    )
                    for proposals_per_image, pred_boxes_per_image in zip(proposals, pred_boxes):
                        proposals_per_image.proposal_boxes = Boxes(pred_boxes_per_image)
            return losses
        pred_instances, kept_indices = self.box_predictor.inference(predictions, proposals)
        _attach_association_vectors(
            pred_instances, association_vectors.split([len(p) for p in proposals]), kept_indices
        )
        return pred_instances


@ROI_HEADS_REGISTRY.register()
class TrackRes5ROIHeads(Res5ROIHeads):
    """:class:`Res5ROIHeads` (C4, the paper's model) plus the association head on the pooled
    res5 feature that the box predictor also reads."""

    @configurable
    def __init__(self, *, association_head: AssociationHead, **kwargs):
        super().__init__(**kwargs)
        self.association_head = association_head

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: Dict[str, ShapeSpec]):
        ret = super().from_config(cfg, input_shape)
        in_channels = ret["box_predictor"].cls_score.in_features
        ret["association_head"] = AssociationHead(cfg, in_channels)
        return ret

    def forward(
        self,
        images: ImageList,
        features: Dict[str, torch.Tensor],
        proposals: List[Instances],
        targets: Optional[List[Instances]] = None,
    ):
        """As :meth:`Res5ROIHeads.forward`, plus association vectors and their loss."""
        del images
        if self.training:
            assert targets, "'targets' argument is required during training"
            proposals = self.label_and_sample_proposals(proposals, targets)
        del targets

        box_features = self._shared_roi_transform(
            [features[f] for f in self.in_features], [x.proposal_boxes for x in proposals]
        )
        pooled_features = box_features.mean(dim=[2, 3])
        predictions = self.box_predictor(pooled_features)
        association_vectors = self.association_head(pooled_features)

        if self.training:
            del features
            losses = self.box_predictor.losses(predictions, proposals)
            losses.update(
                self.association_head.losses(association_vectors, proposals, self.num_classes)
            )
            if self.mask_on:
                proposals, fg_selection_masks = select_foreground_proposals(
                    proposals, self.num_classes
                )
                # The mask head reuses the foreground proposals' res5 features.
                mask_features = box_features[torch.cat(fg_selection_masks, dim=0)]
                del box_features
                losses.update(self.mask_head(mask_features, proposals))
            return [], losses
        pred_instances, kept_indices = self.box_predictor.inference(predictions, proposals)
        _attach_association_vectors(
            pred_instances, association_vectors.split([len(p) for p in proposals]), kept_indices
        )
        pred_instances = self.forward_with_given_boxes(features, pred_instances)
        return pred_instances, {}
