"""Mappers from MOTS dataset dicts to model inputs: a clip mapper for training (one random
augmentation for all frames of a clip, paper Sec. 6) and a per-frame test mapper."""
from typing import List

import numpy as np
import pycocotools.mask as mask_utils
import torch
from detectron2.config import configurable
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, Instances

__all__ = [
    "GammaAugmentation",
    "GammaTransform",
    "MOTSClipDatasetMapper",
    "MOTSTestDatasetMapper",
    "transform_rle_masks",
]


class GammaTransform(T.Transform):
    """Gamma correction of the image, ``(image / 255) ** gamma``; masks and boxes unchanged."""

    def __init__(self, gamma: float):
        super().__init__()
        self.gamma = gamma

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        corrected = np.power(img.astype(np.float32) / 255.0, self.gamma) * 255.0
        return np.clip(np.rint(corrected), 0, 255).astype(img.dtype)

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return segmentation


class GammaAugmentation(T.Augmentation):
    """The released code's gamma augmentation (datasets/Augmentors.py, GammaAugmentor): a
    factor f ~ U(-max_factor, max_factor), gamma = log(1/2 + f/sqrt(2)) / log(1/2 - f/sqrt(2))."""

    def __init__(self, max_factor: float):
        super().__init__()
        self.max_factor = max_factor

    def get_transform(self, image) -> GammaTransform:
        factor = np.random.uniform(-self.max_factor, self.max_factor)
        gamma = np.log(0.5 + factor / np.sqrt(2)) / np.log(0.5 - factor / np.sqrt(2))
        return GammaTransform(float(gamma))


def transform_rle_masks(rles: List[dict], transforms: T.TransformList, image_shape) -> np.ndarray:
    """Apply ``transforms`` to RLE masks: an (N, H, W) bool array, ``image_shape`` = (H, W).

    Disjoint masks (MOTS ground truth) go through the transform once, as one map of mask
    indices (nearest-neighbour resampling, the same that each mask alone would get);
    overlapping ones, or more than 254, one by one.
    """
    height, width = image_shape
    if not rles:
        return np.zeros((0, height, width), dtype=bool)
    masks = mask_utils.decode(list(rles))  # (h, w, N) uint8
    count = masks.shape[2]
    if count < 255 and masks.sum(axis=2, dtype=np.int32).max() <= 1:
        index_map = (masks * np.arange(1, count + 1, dtype=np.uint8)).sum(axis=2, dtype=np.uint8)
        index_map = transforms.apply_segmentation(index_map)
        return index_map[None] == np.arange(1, count + 1, dtype=np.uint8)[:, None, None]
    # == 1, not != 0: a padding transform (detectron2's FixedSizeCrop) fills the added pixels
    # with its segmentation pad value (255), which is no object.
    return np.stack([transforms.apply_segmentation(masks[:, :, i]) == 1 for i in range(count)])


def _image_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))


class MOTSClipDatasetMapper:
    """Map the T frame dicts of a training clip to model inputs, with one random augmentation
    (detectron2's resize / flip / crop from the config, and the released code's gamma
    correction if ``INPUT.GAMMA_AUGMENTATION`` > 0) drawn once and applied to every frame.

    Output per frame: ``image`` (C x H x W uint8 tensor in ``image_format``), ``instances``
    (``gt_boxes`` tight boxes of the transformed masks, ``gt_classes``, ``gt_masks``
    (BitMasks), ``gt_track_ids`` (int64, on-disk obj_id); objects whose mask the augmentation
    removed entirely are dropped), ``sequence``, ``frame_idx``, ``height``, ``width``,
    ``file_name``. Ignore regions are passed on only with ``ignore_masks`` (for
    :class:`~trackrcnn_d2.modeling.IgnoreRegionRPN`, the released code's rule), as
    ``ignore_mask`` (H x W bool tensor, the union of the frame's ignore regions; absent without
    any); otherwise training treats them as background, as the paper does not say otherwise.

    The augmentation draws from numpy's global RNG; the training loader seeds it per clip.
    """

    @configurable
    def __init__(self, *, augmentations: List, image_format: str, ignore_masks: bool = False):
        """
        Args:
            augmentations: detectron2 augmentations, drawn once per clip.
            image_format: ``cfg.INPUT.FORMAT``, e.g. "BGR".
            ignore_masks: output each frame's ``ignore_mask``.
        """
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format
        self.ignore_masks = ignore_masks

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        augmentations = utils.build_augmentation(cfg, is_train)
        if cfg.INPUT.CROP.ENABLED and is_train:
            augmentations.insert(0, T.RandomCrop(cfg.INPUT.CROP.TYPE, cfg.INPUT.CROP.SIZE))
        if cfg.INPUT.GAMMA_AUGMENTATION > 0 and is_train:
            # After the resize, as the released code.
            augmentations.append(GammaAugmentation(cfg.INPUT.GAMMA_AUGMENTATION))
        return {
            "augmentations": augmentations,
            "image_format": cfg.INPUT.FORMAT,
            "ignore_masks": cfg.MODEL.PROPOSAL_GENERATOR.NAME == "IgnoreRegionRPN",
        }

    def __call__(self, clip: List[dict]) -> List[dict]:
        images = []
        for record in clip:
            image = utils.read_image(record["file_name"], format=self.image_format)
            utils.check_image_size(record, image)
            images.append(image)
        sizes = {image.shape[:2] for image in images}
        if len(sizes) != 1:
            raise ValueError(
                f"The frames of a clip must have one size, got {sorted(sizes)} in "
                f"{[r['file_name'] for r in clip]}"
            )
        aug_input = T.AugInput(images[0])
        transforms = self.augmentations(aug_input)
        return [
            self._map_frame(record, transforms.apply_image(image), transforms)
            for record, image in zip(clip, images)
        ]

    def _map_frame(self, record: dict, image: np.ndarray, transforms) -> dict:
        image_shape = image.shape[:2]
        annotations = record["annotations"]
        rles = [a["segmentation"] for a in annotations]
        masks = transform_rle_masks(rles, transforms, image_shape)
        instances = Instances(image_shape)
        instances.gt_masks = BitMasks(torch.from_numpy(masks))
        instances.gt_boxes = instances.gt_masks.get_bounding_boxes()
        instances.gt_classes = torch.tensor(
            [a["category_id"] for a in annotations], dtype=torch.int64
        )
        instances.gt_track_ids = torch.tensor(
            [a["track_id"] for a in annotations], dtype=torch.int64
        )
        instances = instances[instances.gt_masks.nonempty()]
        mapped = {
            "image": _image_tensor(image),
            "instances": instances,
            "sequence": record["sequence"],
            "frame_idx": record["frame_idx"],
            "height": record["height"],
            "width": record["width"],
            "file_name": record["file_name"],
        }
        if self.ignore_masks and record.get("ignore_regions"):
            ignore = transform_rle_masks(record["ignore_regions"], transforms, image_shape)
            mapped["ignore_mask"] = torch.from_numpy(ignore.any(axis=0))
        return mapped


class MOTSTestDatasetMapper:
    """Map one frame dict to a test input: ``image`` (C x H x W uint8 tensor), ``height``,
    ``width`` (of the original image, where outputs are resized to), ``file_name``,
    ``image_id``, ``sequence``, ``frame_idx``. The transform is deterministic (resize to
    ``INPUT.MIN_SIZE_TEST``), so every frame of a sequence gets the same one; the test loader
    adds ``next_images`` by mapping the following frames too."""

    @configurable
    def __init__(self, *, augmentations: List, image_format: str):
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format

    @classmethod
    def from_config(cls, cfg):
        return {
            "augmentations": utils.build_augmentation(cfg, is_train=False),
            "image_format": cfg.INPUT.FORMAT,
        }

    def __call__(self, record: dict) -> dict:
        image = utils.read_image(record["file_name"], format=self.image_format)
        utils.check_image_size(record, image)
        return {
            "image": self.image_tensor(image),
            "height": record["height"],
            "width": record["width"],
            "file_name": record["file_name"],
            "image_id": record["image_id"],
            "sequence": record["sequence"],
            "frame_idx": record["frame_idx"],
        }

    def image_tensor(self, image: np.ndarray) -> torch.Tensor:
        """The model input (C x H x W uint8 tensor) of an H x W x C image in ``INPUT.FORMAT``,
        transformed as at test time (also the video predictor's transform)."""
        aug_input = T.AugInput(np.ascontiguousarray(image))
        self.augmentations(aug_input)
        return _image_tensor(aug_input.image)

