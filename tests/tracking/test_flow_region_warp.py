"""warp_rle: the mask warped only near its box equals the whole-image warp, byte for byte."""
import numpy as np
import pytest

from trackrcnn_d2.tracking.flow import sampling_maps, warp_mask, warp_rle
from trackrcnn_d2.utils.rle import decode_mask, encode_mask

HEIGHT, WIDTH = 60, 90


def whole_image_warp(rle, maps):
    return encode_mask(warp_mask(decode_mask(rle), maps))


def random_mask(rng):
    """A speckled rectangle (possibly touching the borders) or nothing."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    x0, y0 = rng.integers(-5, WIDTH), rng.integers(-5, HEIGHT)
    x1, y1 = x0 + rng.integers(1, 50), y0 + rng.integers(1, 40)
    mask[max(y0, 0) : y1, max(x0, 0) : x1] = rng.random() < 0.95
    return mask & (rng.random((HEIGHT, WIDTH)) < 0.8)


def random_flow(rng, kind):
    if kind == "smooth":
        return rng.normal(0, 4, (HEIGHT, WIDTH, 2)).astype(np.float32)
    if kind == "half_pixels":  # every sampling position is a rounding tie
        return (rng.integers(-12, 12, (HEIGHT, WIDTH, 2)) + 0.5).astype(np.float32)
    # A translation, up to far beyond the image.
    return np.broadcast_to(rng.uniform(-80, 80, 2), (HEIGHT, WIDTH, 2)).astype(np.float32)


@pytest.mark.parametrize("kind", ["smooth", "half_pixels", "translation"])
def test_region_warp_equals_whole_image_warp(kind):
    rng = np.random.default_rng(["smooth", "half_pixels", "translation"].index(kind))
    for _ in range(60):
        flow = random_flow(rng, kind)
        maps = sampling_maps(flow)
        reach = int(np.ceil(np.abs(flow).max()))
        rle = encode_mask(random_mask(rng))
        assert warp_rle(rle, maps, reach) == whole_image_warp(rle, maps)


def test_zero_flow_keeps_the_mask():
    rng = np.random.default_rng(3)
    rle = encode_mask(random_mask(rng))
    maps = sampling_maps(np.zeros((HEIGHT, WIDTH, 2), dtype=np.float32))
    assert warp_rle(rle, maps, 0) == rle
