"""The RLEs of trackrcnn_d2.structures.mask_rle are byte for byte pycocotools' encoding of the
full-image masks detectron2's paste_masks_in_image gives."""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from detectron2.layers.mask_ops import paste_masks_in_image

from trackrcnn_d2.structures.mask_rle import (
    masks_to_rles,
    paste_and_encode_batched,
    paste_and_encode_cpu,
    paste_regions,
)

HEIGHT, WIDTH = 75, 124
PATHS = [paste_and_encode_cpu, paste_and_encode_batched]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def reference_rles(masks, boxes, image_size, threshold):
    pasted = paste_masks_in_image(masks, boxes, image_size, threshold).cpu().numpy()
    return mask_utils.encode(np.asfortranarray(pasted.transpose(1, 2, 0).astype(np.uint8)))


def random_case(n, seed, unclipped=False):
    """Smooth random probabilities in boxes of 1 to 60 pixels with fractional corners."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, generator=g) * (WIDTH + 20) - 10
    y0 = torch.rand(n, generator=g) * (HEIGHT + 10) - 5
    size = torch.rand(n, 2, generator=g) * 59 + 1
    boxes = torch.stack([x0, y0, x0 + size[:, 0], y0 + size[:, 1]], dim=1)
    if not unclipped:
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, WIDTH)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, HEIGHT)
        boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    else:  # partly outside the image (detectron2's paste fails on boxes wholly outside)
        overlaps = (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (boxes[:, 0] < WIDTH)
        boxes = boxes[overlaps & (boxes[:, 1] < HEIGHT)]
    noise = torch.rand(len(boxes), 1, 28, 28, generator=g)
    masks = (torch.nn.functional.avg_pool2d(noise, 5, 1, 2)[:, 0] * 1.6 - 0.3).clamp(0, 1)
    return masks, boxes


def ellipse_case():
    """Car- and pedestrian-shaped masks (soft ellipses, as a trained mask head gives them)."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij")
    car = torch.sigmoid(8 * (1 - (xx / 0.9) ** 2 - (yy / 0.7) ** 2))
    pedestrian = torch.sigmoid(8 * (1 - (xx / 0.5) ** 2 - (yy / 0.95) ** 2))
    masks = torch.stack([car, pedestrian, car, pedestrian])
    boxes = torch.tensor(
        [[10.3, 30.7, 70.2, 62.9], [80.5, 5.25, 95.75, 60.0], [0.0, 40.1, 33.3, 75.0],
         [110.6, 0.0, 124.0, 75.0]]
    )
    return masks, boxes


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_random_masks_match_detectron2_paste(path, device, threshold):
    for seed in range(4):
        masks, boxes = random_case(25, seed)
        expected = reference_rles(masks, boxes, (HEIGHT, WIDTH), threshold)
        rles = path(masks.to(device), boxes.to(device), (HEIGHT, WIDTH), threshold)
        assert rles == expected


@pytest.mark.parametrize("path", PATHS)
def test_unclipped_boxes_match_detectron2_paste(path):
    """Boxes reaching beyond the image: only the pixels inside it are pasted."""
    masks, boxes = random_case(25, seed=7, unclipped=True)
    assert path(masks, boxes, (HEIGHT, WIDTH)) == reference_rles(masks, boxes, (HEIGHT, WIDTH), 0.5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path", PATHS)
def test_empty_full_and_border_masks(path, device):
    boxes = torch.tensor(
        [
            [0.0, 0.0, WIDTH, HEIGHT],  # the whole image
            [0.0, 0.0, WIDTH, HEIGHT],  # the whole image, no pixel set
            [20.2, 0.0, 40.6, HEIGHT],  # full height: runs join from column to column
            [WIDTH - 7.5, 3.0, WIDTH, 9.5],  # the right border
            [0.0, HEIGHT - 2.2, 5.0, HEIGHT],  # the bottom-left corner
        ]
    )
    masks = torch.ones(len(boxes), 28, 28)
    masks[1] = 0.0
    rles = path(masks.to(device), boxes.to(device), (HEIGHT, WIDTH))
    assert rles == reference_rles(masks, boxes, (HEIGHT, WIDTH), 0.5)
    # Bilinear sampling with zero padding leaves the image's 4 corner pixels out.
    assert mask_utils.area(rles)[:2].tolist() == [HEIGHT * WIDTH - 4, 0]
    full_height_columns = mask_utils.decode(rles[2]).all(axis=0)
    assert full_height_columns[21:40].all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path", PATHS)
def test_real_shaped_masks(path, device):
    masks, boxes = ellipse_case()
    rles = path(masks.to(device), boxes.to(device), (HEIGHT, WIDTH))
    assert rles == reference_rles(masks, boxes, (HEIGHT, WIDTH), 0.5)
    assert (mask_utils.area(rles) > 100).all()


def test_no_detections():
    for path in PATHS:
        assert path(torch.zeros(0, 28, 28), torch.zeros(0, 4), (HEIGHT, WIDTH)) == []


def test_masks_to_rles_accepts_the_mask_heads_shape():
    masks, boxes = ellipse_case()
    assert masks_to_rles(masks[:, None], boxes, (HEIGHT, WIDTH)) == masks_to_rles(
        masks, boxes, torch.Size([HEIGHT, WIDTH])
    )


def test_threshold_must_be_positive():
    masks, boxes = ellipse_case()
    with pytest.raises(ValueError, match="threshold"):
        masks_to_rles(masks, boxes, (HEIGHT, WIDTH), threshold=0.0)


def test_paste_regions_are_detectron2s():
    regions = paste_regions(np.array([[10.5, 3.0, 20.2, 7.0], [-5.0, -2.0, 200.0, 80.0]]), 75, 124)
    assert regions.tolist() == [[9, 2, 22, 8], [0, 0, 124, 75]]
