"""Every RLE the package makes is canonical: byte for byte what pycocotools.mask.encode gives
for its decoded mask. Another string of the same pixels (a zero-length run in the middle, two
runs that should be one where a column ends) would decode alike but differ from the official
tools' files and from every RLE made elsewhere (comparisons by string, the detection cache)."""
import numpy as np
import pycocotools.mask as mask_utils
import torch

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.structures.mask_rle import masks_to_rles
from trackrcnn_d2.tracking import FrameDetections, TrackedObject, make_disjoint, track_sequence
from trackrcnn_d2.tracking.flow import sampling_maps, warp_mask, warp_rle
from trackrcnn_d2.tracking.sequence_tracker import write_tracking_result
from trackrcnn_d2.utils.rle import (
    decode_mask,
    encode_mask,
    rle_complement,
    rle_difference,
    rle_from_runs,
    rle_runs,
)

HEIGHT, WIDTH = 24, 32


def assert_canonical(rle):
    counts = rle["counts"] if isinstance(rle["counts"], bytes) else rle["counts"].encode()
    mask = np.asfortranarray(mask_utils.decode(rle))
    official = mask_utils.encode(mask)
    assert list(rle["size"]) == list(official["size"])
    assert counts == official["counts"], (counts, official["counts"])


def random_masks(rng, count):
    """Masks that start and end at the image's corners, fill whole columns (runs that continue
    into the next column), are empty or full, and random blobs."""
    masks = [np.zeros((HEIGHT, WIDTH), bool), np.ones((HEIGHT, WIDTH), bool)]
    corner = np.zeros((HEIGHT, WIDTH), bool)
    corner[:5, :3] = corner[-4:, -2:] = True
    columns = np.zeros((HEIGHT, WIDTH), bool)
    columns[:, 4:9] = True
    columns[: HEIGHT // 2, 9] = True
    masks += [corner, columns]
    while len(masks) < count:
        mask = rng.random((HEIGHT, WIDTH)) < rng.uniform(0.05, 0.6)
        if rng.random() < 0.5:
            y0, x0 = rng.integers(0, HEIGHT), rng.integers(0, WIDTH)
            mask[:] = False
            mask[y0 : y0 + rng.integers(1, HEIGHT), x0 : x0 + rng.integers(1, WIDTH)] = True
        masks.append(mask)
    return masks


def test_the_codec_gives_canonical_rles():
    rng = np.random.default_rng(0)
    masks = random_masks(rng, 40)
    for a, b in zip(masks, masks[::-1]):
        rle_a, rle_b = encode_mask(a), encode_mask(b)
        complement = rle_complement(rle_a)
        assert_canonical(complement)
        np.testing.assert_array_equal(decode_mask(complement), ~a)
        difference = rle_difference(rle_a, rle_b)
        assert_canonical(difference)
        np.testing.assert_array_equal(decode_mask(difference), a & ~b)
        assert_canonical(rle_from_runs(rle_runs(rle_a), HEIGHT, WIDTH))


def test_warped_masks_are_canonical_and_equal_the_warped_pixels():
    rng = np.random.default_rng(1)
    for mask in random_masks(rng, 30):
        flow = rng.normal(0, 3, (HEIGHT, WIDTH, 2)).astype(np.float32)
        flow[..., int(rng.integers(0, 2))] += rng.integers(-12, 13)  # out of the image, partly
        maps = sampling_maps(flow)
        warped = warp_rle(encode_mask(mask), maps, int(np.ceil(np.abs(flow).max())))
        assert_canonical(warped)
        np.testing.assert_array_equal(decode_mask(warped), warp_mask(mask, maps))


def test_disjoint_masks_are_canonical():
    rng = np.random.default_rng(2)
    masks = random_masks(rng, 24)
    for start in range(0, len(masks), 4):
        objects = [
            TrackedObject(0, 1001 + i, 0, encode_mask(m), float(rng.random()))
            for i, m in enumerate(masks[start : start + 4])
        ]
        for strategy in ("bottom", "score"):
            kept = make_disjoint(objects, strategy)
            for obj in kept:
                assert_canonical(obj.rle)
            if len(kept) > 1:
                assert mots_io.objects_to_id_map(
                    [mots_io.MOTSObject(0, o.obj_id, 1, o.rle) for o in kept], HEIGHT, WIDTH
                ).any()


def test_tracks_and_the_files_written_from_them_are_canonical(tmp_path):
    rng = np.random.default_rng(3)
    frames = []
    for t in range(4):
        masks = np.stack(random_masks(rng, 8)[2:8])
        boxes = np.array([[0, 0, WIDTH, HEIGHT]] * len(masks), np.float32)
        frames.append(FrameDetections("0000", t, HEIGHT, WIDTH, boxes, rng.uniform(0.6, 1, 6),
                                      [0, 0, 0, 1, 1, 1], [encode_mask(m) for m in masks],
                                      rng.normal(0, 1, (6, 2))))  # fmt: skip
    flow = rng.normal(0, 2, (HEIGHT, WIDTH, 2)).astype(np.float32)
    tracks = track_sequence(frames, _params(), lambda previous, frame: flow)
    objects = [o for frame in tracks.values() for o in frame]
    assert len(objects) > 8
    for obj in objects:
        assert_canonical(obj.rle)
    write_tracking_result(str(tmp_path / "0000.txt"), tracks, str(tmp_path / "png"))
    for frame in mots_io.read_mots_txt(str(tmp_path / "0000.txt")).values():
        for obj in frame:
            assert_canonical(obj.rle)
    for frame in mots_io.read_mots_png_sequence(str(tmp_path / "png")).values():
        for obj in frame:
            assert_canonical(obj.rle)


def _params():
    from trackrcnn_d2.tracking import TrackerParams

    return TrackerParams(class_names=("car", "pedestrian"), detection_confidence=(0.5,))


def test_pasted_detector_masks_are_canonical():
    rng = np.random.default_rng(4)
    probabilities = torch.from_numpy(rng.random((12, 1, 14, 14)).astype(np.float32))
    corners = rng.uniform(-8, WIDTH + 8, (12, 2)).astype(np.float32)
    sizes = rng.uniform(2, 30, (12, 2)).astype(np.float32)
    boxes = torch.from_numpy(np.concatenate([corners, corners + sizes], axis=1))
    for rle in masks_to_rles(probabilities, boxes, (HEIGHT, WIDTH), 0.5):
        assert_canonical(rle)


def test_the_synthetic_ground_truth_is_canonical(tmp_path):
    generate_synthetic_mots(str(tmp_path / "set"), sequences=2, frames=3, height=32, width=48,
                            seed=0)  # fmt: skip
    root = tmp_path / "set" / "instances_txt"
    objects = [o for path in root.glob("*.txt") for f in mots_io.read_mots_txt(str(path)).values()
               for o in f]  # fmt: skip
    assert objects
    for obj in objects:
        assert_canonical(obj.rle)
