"""From the mask head's M x M probabilities straight to full-image COCO RLEs, pixel by pixel
only inside each box.

detectron2 pastes every detection's mask into a whole image (``paste_masks_in_image``), and the
tracker then copies the images to the host, lays them out column-major and encodes them. Here
each mask is pasted into its box region only, with the same sampling grid and
``F.grid_sample`` call as detectron2's paste, so every pixel and thus the binary mask is bit for
bit the same; the column-major runs of 1s inside the region become runs of the full image by
offsets, and only the runs leave the device. The RLE bytes are those of pycocotools' ``encode``
of the pasted full-image mask.

The region of a box is detectron2's (``_do_paste_mask`` with ``skip_empty``): from
``floor(x0) - 1`` to ``ceil(x1) + 1``, clipped to the image. Outside it detectron2's CPU paste
is 0; its GPU paste samples the whole image, where the bilinear kernel's tail (under half a mask
cell beyond the box) stays below any ``threshold >= 0.5`` (a probability times a weight < 0.5):
for such thresholds the two agree on either device.

Two paths with the same result: :func:`paste_and_encode_cpu` (one ``grid_sample`` per box, runs
with numpy; the fastest on a CPU) and :func:`paste_and_encode_batched` (all boxes in one
``grid_sample`` over the largest region, runs on the device, one copy of the run boundaries to
the host; for GPUs). :func:`masks_to_rles` picks by device.
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Instances
from torch.nn import functional as F

from .region_rle import column_run_boundaries, rles_from_run_boundaries

__all__ = [
    "UnpastedMasksModel",
    "detector_postprocess_unpasted",
    "masks_to_rles",
    "paste_and_encode_batched",
    "paste_and_encode_cpu",
    "paste_regions",
]


def paste_regions(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 4) int64 ``x0, y0, x1, y1`` (end exclusive) of the pixels that detectron2's paste
    samples for each XYXY box (float32): floor - 1 to ceil + 1, clipped to the image; empty
    (x1 <= x0 or y1 <= y0) for boxes outside it."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    x0 = np.maximum(np.floor(boxes[:, 0]) - 1, 0)
    y0 = np.maximum(np.floor(boxes[:, 1]) - 1, 0)
    x1 = np.minimum(np.ceil(boxes[:, 2]) + 1, width)
    y1 = np.minimum(np.ceil(boxes[:, 3]) + 1, height)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.int64)


def _sampling_coordinates(starts: np.ndarray, stops: np.ndarray, lows, highs):
    """detectron2's grid coordinates of the pixel centres starts[i]..stops[i]-1 for box sides
    lows[i]..highs[i] (float32), all boxes concatenated, and each box's offset in them: its
    float32 operations in its order (IEEE, so each value is the same to the bit)."""
    lengths = np.maximum(stops - starts, 0)
    offsets = np.r_[0, np.cumsum(lengths)]
    box = np.repeat(np.arange(len(lengths)), lengths)
    pixels = (np.arange(offsets[-1]) - offsets[box] + starts[box]).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty box, as in detectron2
        return (pixels + 0.5 - lows[box]) / (highs[box] - lows[box]) * 2 - 1, offsets


# A grid coordinate far outside the mask: grid_sample's zero padding gives exactly 0 there.
_OUTSIDE = -4.0


def paste_and_encode_cpu(
    masks: torch.Tensor, boxes: torch.Tensor, image_size: Tuple[int, int], threshold: float = 0.5
) -> List[dict]:
    """RLEs of the masks pasted into their boxes, one ``grid_sample`` per box (CPU tensors).

    Args:
        masks: (N, M, M) mask probabilities (the mask head's output, after the sigmoid).
        boxes: (N, 4) XYXY boxes at image resolution (what the masks are pasted into).
        image_size: (height, width) of the image.
        threshold: pixels with a pasted probability >= threshold (> 0) are in the mask.
    """
    _check_threshold(threshold)
    height, width = image_size
    masks = masks.detach().to("cpu", torch.float32)
    boxes_np = boxes.detach().to("cpu", torch.float32).numpy()
    regions = paste_regions(boxes_np, height, width)
    x0s, y0s, x1s, y1s = regions.T
    valid = (x1s > x0s) & (y1s > y0s)
    # Each region is sampled column by column (column-major, as RLEs run), each column with
    # one row of 0s above and below it (sampled far outside the mask): changes of value are
    # the boundaries of the runs.
    gx, x_offsets = _sampling_coordinates(x0s, x1s, boxes_np[:, 0], boxes_np[:, 2])
    y1s_padded = np.where(valid, y1s + 1, y0s - 1)
    gy, y_offsets = _sampling_coordinates(y0s - 1, y1s_padded, boxes_np[:, 1], boxes_np[:, 3])
    gy[y_offsets[:-1][valid]] = gy[y_offsets[1:][valid] - 1] = _OUTSIDE
    runs = []
    for i, (x0, y0, x1, y1) in enumerate(regions.tolist()):
        if not valid[i]:
            runs.append((np.zeros(0, dtype=np.int64),) * 2)
            continue
        grid = np.empty((1, x1 - x0, y1 - y0 + 2, 2), dtype=np.float32)
        grid[0, :, :, 0] = gx[x_offsets[i] : x_offsets[i + 1], None]
        grid[0, :, :, 1] = gy[y_offsets[i] : y_offsets[i + 1]]
        # F.grid_sample(mode="bilinear", padding_mode="zeros", align_corners=False).
        pasted = torch.grid_sampler(masks[i][None, None], torch.from_numpy(grid), 0, 0, False)
        binary = (pasted.ravel() >= threshold).numpy()
        runs.append(column_run_boundaries(binary, y1 - y0, x0, y0, height))
    return rles_from_run_boundaries(runs, height, width)


def _check_threshold(threshold: float) -> None:
    if not threshold > 0:
        raise ValueError(f"mask threshold must be > 0 (pixels >= it are in the mask): {threshold}")


def paste_and_encode_batched(
    masks: torch.Tensor, boxes: torch.Tensor, image_size: Tuple[int, int], threshold: float = 0.5
) -> List[dict]:
    """As :func:`paste_and_encode_cpu`, on the tensors' device: one ``grid_sample`` over the
    largest region for all boxes; the runs are found there and only their boundaries are
    copied to the host (one synchronisation)."""
    _check_threshold(threshold)
    height, width = image_size
    n = len(masks)
    if n == 0:
        return []
    device = masks.device
    boxes = boxes.detach().to(torch.float32)
    regions_np = paste_regions(boxes.cpu().numpy(), height, width)
    sizes = np.maximum(regions_np[:, 2:] - regions_np[:, :2], 0)
    region_w, region_h = (int(s) for s in sizes.max(axis=0))
    if region_w == 0 or region_h == 0:
        return rles_from_run_boundaries([((), ())] * n, height, width)
    regions = torch.as_tensor(regions_np, device=device)
    # Each region padded to the largest, column by column (column-major) with a row of 0s
    # above and below each column; detectron2's float32 operations in its order.
    x = torch.arange(region_w, device=device) + regions[:, :1]
    y = torch.arange(-1, region_h + 1, device=device) + regions[:, 1:2]
    gx = (x.to(torch.float32) + 0.5 - boxes[:, 0:1]) / (boxes[:, 2:3] - boxes[:, 0:1]) * 2 - 1
    gy = (y.to(torch.float32) + 0.5 - boxes[:, 1:2]) / (boxes[:, 3:4] - boxes[:, 1:2]) * 2 - 1
    inside = (x < regions[:, 2:3])[:, :, None] & (
        (y >= regions[:, 1:2]) & (y < regions[:, 3:4])
    )[:, None, :]
    shape = (n, region_w, region_h + 2)
    grid = torch.stack([gx[:, :, None].expand(shape), gy[:, None, :].expand(shape)], dim=3)
    pasted = F.grid_sample(masks[:, None].to(torch.float32), grid, align_corners=False)
    binary = ((pasted[:, 0] >= threshold) & inside).reshape(n, -1)
    det, flat = torch.nonzero(binary[:, 1:] != binary[:, :-1], as_tuple=True)
    column, row = flat // (region_h + 2), flat % (region_h + 2)
    positions = (column + regions[det, 0]) * height + regions[det, 1] + row
    det, positions = det.cpu().numpy(), positions.cpu().numpy()
    bounds = np.searchsorted(det, np.arange(n + 1))
    runs = [
        (positions[bounds[i] : bounds[i + 1] : 2], positions[bounds[i] + 1 : bounds[i + 1] : 2])
        for i in range(n)
    ]
    return rles_from_run_boundaries(runs, height, width)


def masks_to_rles(
    masks: torch.Tensor,
    boxes: torch.Tensor,
    image_size: Sequence[int],
    threshold: float = 0.5,
) -> List[dict]:
    """RLEs of the masks detectron2's ``paste_masks_in_image(masks, boxes, image_size,
    threshold)`` gives, without pasting whole images: one box at a time on the CPU, all boxes
    at once on another device. ``masks``: (N, M, M) or (N, 1, M, M) probabilities."""
    if masks.dim() == 4:
        masks = masks[:, 0]
    height, width = (int(s) for s in image_size)
    if masks.device.type == "cpu":
        return paste_and_encode_cpu(masks, boxes, (height, width), threshold)
    return paste_and_encode_batched(masks, boxes, (height, width), threshold)


def detector_postprocess_unpasted(results: Instances, height: int, width: int) -> Instances:
    """detectron2's ``detector_postprocess`` (boxes scaled to the output size and clipped,
    empty boxes dropped) without pasting the masks: the mask head's (N, 1, M, M)
    probabilities stay as they are, as ``pred_mask_probs`` (:func:`masks_to_rles` pastes and
    encodes them; ``frame_detections_from_instances`` does). ``results`` is left unchanged."""
    fields = dict(results.get_fields())
    probabilities = fields.pop("pred_masks", None)
    raw = Instances(results.image_size, **fields)
    raw.pred_boxes = raw.pred_boxes.clone()  # detector_postprocess scales them in place
    if probabilities is not None:
        raw.pred_mask_probs = probabilities
    return detector_postprocess(raw, height, width)


class UnpastedMasksModel(torch.nn.Module):
    """A detectron2 R-CNN (TrackRCNN, GeneralizedRCNN) whose inference outputs are those of
    its postprocessing except for the masks: the mask head's probabilities stay unpasted, as
    ``pred_mask_probs``, which ``frame_detections_from_instances`` pastes into the boxes only
    and encodes. For evaluators that need the masks as RLEs only (``MOTSEvaluator``): no
    full-size mask is pasted or copied to the host."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batched_inputs):
        model = getattr(self.model, "module", self.model)  # unwrap DistributedDataParallel
        results = model.inference(batched_inputs, do_postprocess=False)
        return [
            {
                "instances": detector_postprocess_unpasted(
                    raw, x.get("height", raw.image_size[0]), x.get("width", raw.image_size[1])
                )
            }
            for raw, x in zip(results, batched_inputs)
        ]
