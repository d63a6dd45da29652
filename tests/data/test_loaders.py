"""Clip sampling and loading for training (paper Sec. 6) and sequence-ordered test loading."""
import itertools
import logging

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog
from detectron2.data import detection_utils as utils

from trackrcnn_d2.config import add_trackrcnn_config
from trackrcnn_d2.data import samplers
from trackrcnn_d2.data.build import build_mots_test_loader, build_mots_train_loader
from trackrcnn_d2.data.samplers import (
    ClipTrainingSampler,
    SequenceInferenceSampler,
    SequenceRun,
    clip_starts_of_pass,
    sequence_runs,
)

RUNS = [SequenceRun("a", 0, 10), SequenceRun("b", 10, 3), SequenceRun("c", 13, 17)]


def _cfg(prefix, **overrides):
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.DATASETS.TRAIN = (f"{prefix}_train",)
    cfg.INPUT.CLIP_LENGTH = 3
    cfg.SOLVER.IMS_PER_BATCH = 6
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.INPUT.MIN_SIZE_TRAIN = (64,)  # the synthetic frames' height: no resampling
    cfg.INPUT.MAX_SIZE_TRAIN = 1000
    cfg.INPUT.MIN_SIZE_TEST = 96
    cfg.INPUT.MAX_SIZE_TEST = 1000
    cfg.SEED = 5
    cfg.merge_from_list([item for kv in overrides.items() for item in kv])
    return cfg


def test_sequence_runs():
    dicts = [{"sequence": s, "frame_idx": f} for s, f in [("x", 0), ("x", 1), ("y", 0), ("y", 2)]]
    # A second dataset with a sequence of the same name starts a new run.
    dicts += [{"sequence": "y", "frame_idx": 0}]
    assert sequence_runs(dicts) == [
        SequenceRun("x", 0, 2),
        SequenceRun("y", 2, 2),
        SequenceRun("y", 4, 1),
    ]


def test_a_repeated_frame_index_starts_a_new_run():
    """Frame 1 twice (a dataset listed twice, concatenated mid-sequence): the frames of a run
    must strictly increase, else a clip would show the same frame twice as motion."""
    frames = [0, 1, 1, 2, 2]
    dicts = [{"sequence": "x", "frame_idx": f} for f in frames]
    assert sequence_runs(dicts) == [
        SequenceRun("x", 0, 2), SequenceRun("x", 2, 2), SequenceRun("x", 4, 1),
    ]  # fmt: skip


def test_one_pass_tiles_every_sequence():
    generator = torch.Generator().manual_seed(0)
    for length, clip_length in itertools.product(range(1, 30), range(1, 9)):
        if length < clip_length:
            continue
        starts = clip_starts_of_pass(length, clip_length, generator)
        assert len(starts) == -(-length // clip_length)
        assert all(0 <= s <= length - clip_length for s in starts)
        covered = {s + i for s in starts for i in range(clip_length)}
        assert covered == set(range(length))


def test_the_tiling_moves_from_pass_to_pass():
    """10 frames in clips of 4: 3 clips, 2 frames of slack. The tiling is shifted back by an
    offset of 0, 1 or 2 frames, the end clips clamped into the sequence: over passes, each of
    the three tilings occurs, and no other."""
    generator = torch.Generator().manual_seed(0)
    tilings = {tuple(clip_starts_of_pass(10, 4, generator)) for _ in range(60)}
    assert tilings == {(0, 4, 6), (0, 3, 6), (0, 2, 6)}
    # Without slack there is one tiling.
    assert {tuple(clip_starts_of_pass(12, 4, generator)) for _ in range(10)} == {(0, 4, 8)}


def test_the_clip_sampler_moves_the_tiling_from_pass_to_pass():
    sampler = ClipTrainingSampler([SequenceRun("a", 0, 10)], clip_length=4, seed=0)
    clips = [start for start, _ in itertools.islice(iter(sampler), 3 * 40)]
    passes = {tuple(sorted(clips[i : i + 3])) for i in range(0, len(clips), 3)}
    assert passes == {(0, 4, 6), (0, 3, 6), (0, 2, 6)}
    # shuffle=False (debugging): dataset order, offset 0, the same tiling every pass.
    unshuffled = ClipTrainingSampler([SequenceRun("a", 0, 10)], 4, shuffle=False, seed=0)
    assert [start for start, _ in itertools.islice(iter(unshuffled), 6)] == [0, 4, 6] * 2


def test_clip_sampler_clips_are_adjacent_frames_of_one_sequence(caplog):
    with caplog.at_level(logging.WARNING):
        sampler = ClipTrainingSampler(RUNS, clip_length=4, seed=1)
    assert "b (3)" in caplog.text  # shorter than a clip: left out, with a warning
    clips = list(itertools.islice(iter(sampler), 200))
    for start, _ in clips:
        run = next(r for r in RUNS if r.start <= start < r.start + r.length)
        assert run.sequence != "b"
        assert start + 4 <= run.start + run.length
    # One pass (an epoch) covers every frame of the usable sequences.
    first_pass = clips[: sampler.clips_per_pass]
    covered = {start + i for start, _ in first_pass for i in range(4)}
    assert covered == set(range(0, 10)) | set(range(13, 30))
    assert len({seed for _, seed in clips}) == len(clips)


def test_clip_sampler_is_deterministic_and_distributed(monkeypatch):
    def stream(seed, n=40):
        return list(itertools.islice(iter(ClipTrainingSampler(RUNS, 4, seed=seed)), n))

    assert stream(3) == stream(3)
    assert stream(3) != stream(4)
    single = stream(3, 40)
    per_rank = []
    for rank in range(2):
        monkeypatch.setattr(samplers.comm, "get_rank", lambda rank=rank: rank)
        monkeypatch.setattr(samplers.comm, "get_world_size", lambda: 2)
        per_rank.append(stream(3, 20))
    # Each rank gets every other clip of the shared stream: disjoint, together complete.
    assert per_rank[0] == single[0::2] and per_rank[1] == single[1::2]


def test_clip_sampler_needs_one_long_enough_sequence():
    with pytest.raises(ValueError, match="Lower INPUT.CLIP_LENGTH"):
        ClipTrainingSampler(RUNS, clip_length=18, seed=0)


def test_clip_length_boundaries(caplog):
    """One frame per clip is allowed (no temporal context); zero is refused. A sequence of
    exactly INPUT.CLIP_LENGTH frames is one clip, used without a warning; one frame less is
    left out with a warning."""
    with pytest.raises(ValueError, match="clip_length must be >= 1, got 0"):
        ClipTrainingSampler(RUNS, clip_length=0, seed=0)
    single = ClipTrainingSampler(RUNS, clip_length=1, seed=0)
    assert single.clips_per_pass == 30
    with caplog.at_level(logging.WARNING):
        exact = ClipTrainingSampler([SequenceRun("a", 0, 4), SequenceRun("b", 4, 3)], 4, seed=0)
    assert "b (3)" in caplog.text and "a (4)" not in caplog.text
    assert exact.clips_per_pass == 1
    assert {start for start, _ in itertools.islice(iter(exact), 5)} == {0}


def test_sequence_inference_sampler_keeps_sequences_whole():
    runs = [SequenceRun(f"s{i}", start, length) for i, (start, length) in enumerate(
        [(0, 5), (5, 20), (25, 7), (32, 9), (41, 2)]
    )]
    shards = [list(SequenceInferenceSampler(runs, rank, 3)) for rank in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(43))
    for shard in shards:
        assert shard == sorted(shard)
        for run in runs:
            inside = [i for i in shard if run.start <= i < run.start + run.length]
            assert inside in ([], list(range(run.start, run.start + run.length)))
    assert sorted(len(shard) for shard in shards) == [11, 12, 20]
    assert list(SequenceInferenceSampler(runs, 0, 1)) == list(range(43))


def test_ims_per_batch_must_be_a_multiple_of_the_clip_length(synthetic_prefix):
    with pytest.raises(ValueError, match=r"IMS_PER_BATCH \(4\) .* INPUT.CLIP_LENGTH \(3\)"):
        build_mots_train_loader(_cfg(synthetic_prefix, **{"SOLVER.IMS_PER_BATCH": 4}))


def _batches(cfg, n):
    return list(itertools.islice(iter(build_mots_train_loader(cfg)), n))


def test_train_loader_yields_clips_with_one_augmentation(synthetic_prefix):
    cfg = _cfg(synthetic_prefix, **{"INPUT.RANDOM_FLIP": "horizontal"})
    records = {
        (d["sequence"], d["frame_idx"]): d for d in DatasetCatalog.get(f"{synthetic_prefix}_train")
    }
    flips = []
    for batch in _batches(cfg, 6):
        assert len(batch) == 6
        for clip in (batch[:3], batch[3:]):
            assert len({frame["sequence"] for frame in clip}) == 1
            first = clip[0]["frame_idx"]
            assert [frame["frame_idx"] for frame in clip] == [first, first + 1, first + 2]
            clip_flips = set()
            for frame in clip:
                record = records[(frame["sequence"], frame["frame_idx"])]
                original = utils.read_image(record["file_name"], format=cfg.INPUT.FORMAT)
                image = frame["image"].permute(1, 2, 0).numpy()
                if np.array_equal(image, original):
                    clip_flips.add(False)
                else:
                    np.testing.assert_array_equal(image, original[:, ::-1])
                    clip_flips.add(True)
                _check_instances(frame["instances"], record, flipped=True in clip_flips)
            assert len(clip_flips) == 1  # the same augmentation for every frame of the clip
            flips.extend(clip_flips)
    assert True in flips and False in flips


def _check_instances(instances, record, flipped):
    import pycocotools.mask as mask_utils

    annotations = [
        a for a in record["annotations"] if mask_utils.area(a["segmentation"]) > 0
    ]
    assert instances.gt_track_ids.dtype == torch.int64
    assert instances.gt_track_ids.tolist() == [a["track_id"] for a in annotations]
    assert instances.gt_classes.tolist() == [a["category_id"] for a in annotations]
    for mask, box, annotation in zip(
        instances.gt_masks.tensor.numpy(), instances.gt_boxes.tensor.numpy(), annotations
    ):
        expected = mask_utils.decode(annotation["segmentation"]).astype(bool)
        np.testing.assert_array_equal(mask, expected[:, ::-1] if flipped else expected)
        ys, xs = np.nonzero(mask)
        np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_train_loader_crops_and_resizes_a_clip_alike(synthetic_prefix):
    cfg = _cfg(
        synthetic_prefix,
        **{
            "INPUT.MIN_SIZE_TRAIN": (48, 64, 80),
            "INPUT.MIN_SIZE_TRAIN_SAMPLING": "choice",
            "INPUT.CROP.ENABLED": True,
            "INPUT.CROP.TYPE": "relative_range",
            "INPUT.CROP.SIZE": [0.5, 0.5],
        },
    )
    shapes = set()
    for batch in _batches(cfg, 5):
        for clip in (batch[:3], batch[3:]):
            clip_shapes = {tuple(frame["image"].shape) for frame in clip}
            assert len(clip_shapes) == 1
            shapes |= clip_shapes
            for frame in clip:
                instances = frame["instances"]
                assert instances.image_size == tuple(frame["image"].shape[1:])
                assert (instances.gt_masks.tensor.flatten(1).sum(1) > 0).all()
    assert len(shapes) > 1


def test_train_loader_is_deterministic_under_a_seed(synthetic_prefix):
    cfg = _cfg(synthetic_prefix, **{"INPUT.RANDOM_FLIP": "horizontal"})

    def summary(batches):
        return [
            (f["sequence"], f["frame_idx"], f["image"].sum().item(), len(f["instances"]))
            for batch in batches
            for f in batch
        ]

    first = summary(_batches(cfg, 2))
    assert summary(_batches(cfg, 2)) == first
    np.random.seed(123)  # the global RNG state does not matter, only cfg.SEED
    assert summary(_batches(cfg, 2)) == first
    cfg.SEED = 6
    assert summary(_batches(cfg, 2)) != first


@pytest.mark.parametrize("num_layers", [1, 2])
def test_test_loader_order_and_look_ahead(synthetic_prefix, synthetic_spec, num_layers):
    cfg = _cfg(synthetic_prefix, **{"MODEL.TEMPORAL.NUM_LAYERS": num_layers})
    cfg.MODEL.BACKBONE.NAME = "build_temporal_backbone"
    frames = [batch[0] for batch in build_mots_test_loader(cfg, f"{synthetic_prefix}_train")]
    expected = [(s, f) for s in ("0000", "0001", "0002") for f in range(synthetic_spec["frames"])]
    assert [(frame["sequence"], frame["frame_idx"]) for frame in frames] == expected
    for index, frame in enumerate(frames):
        assert tuple(frame["image"].shape) == (3, 96, 192)
        assert (frame["height"], frame["width"]) == (64, 128)
        assert frame["image_id"] == f"{frame['sequence']}_{frame['frame_idx']:06d}"
        assert frame["file_name"].endswith(f"{frame['frame_idx']:06d}.png")
        # As many look-ahead frames as the Conv3D layers reach, fewer at the sequence's end.
        following = [
            f for f in frames[index + 1 : index + 1 + num_layers]
            if f["sequence"] == frame["sequence"]
        ]
        assert len(frame["next_images"]) == len(following)
        assert len(following) == min(num_layers, synthetic_spec["frames"] - 1 - frame["frame_idx"])
        for image, later in zip(frame["next_images"], following):
            assert torch.equal(image, later["image"])
    # A plain detectron2 backbone looks at no other frame.
    cfg.MODEL.BACKBONE.NAME = "build_resnet_backbone"
    frame = next(iter(build_mots_test_loader(cfg, f"{synthetic_prefix}_train")))[0]
    assert frame["next_images"] == []


def test_gamma_augmentation_draws_one_gamma_per_clip(synthetic_prefix):
    cfg = _cfg(synthetic_prefix, **{"INPUT.GAMMA_AUGMENTATION": 0.1, "INPUT.RANDOM_FLIP": "none"})
    records = {
        (d["sequence"], d["frame_idx"]): d for d in DatasetCatalog.get(f"{synthetic_prefix}_train")
    }
    lookups = []
    for batch in _batches(cfg, 3):
        for clip in (batch[:3], batch[3:]):
            # One gamma per clip: one lookup table from original to augmented grey values.
            lookup = {}
            for frame in clip:
                record = records[(frame["sequence"], frame["frame_idx"])]
                original = utils.read_image(record["file_name"], format=cfg.INPUT.FORMAT)
                augmented = frame["image"].permute(1, 2, 0).numpy()
                for value, result in set(zip(original.ravel(), augmented.ravel())):
                    assert lookup.setdefault(int(value), int(result)) == int(result)
                _check_instances(frame["instances"], record, flipped=False)
            lookups.append(lookup)
    assert all(lookup != {v: v for v in lookup} for lookup in lookups)
    assert len({tuple(sorted(lookup.items())) for lookup in lookups}) > 1


def test_gamma_transform_is_the_released_formula():
    from trackrcnn_d2.data.dataset_mapper import GammaAugmentation, GammaTransform

    image = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    np.testing.assert_array_equal(GammaTransform(1.0).apply_image(image), image)
    np.random.seed(0)
    factor = np.random.uniform(-0.1, 0.1)
    np.random.seed(0)
    gamma = GammaAugmentation(0.1).get_transform(image).gamma
    shift = factor / np.sqrt(2)
    assert gamma == pytest.approx(np.log(0.5 + shift) / np.log(0.5 - shift))
    expected = np.rint(255 * (np.arange(256) / 255) ** gamma).astype(np.uint8).reshape(16, 16, 1)
    np.testing.assert_array_equal(GammaTransform(gamma).apply_image(image), expected)


def _first_frames_of_clips(skip_empty):
    # Sequence "a": frame 4 has no object; sequence "b" (3 frames) is fine.
    dicts = [
        {"sequence": s, "frame_idx": f, "annotations": [] if (s, f) == ("a", 4) else [{}]}
        for s, n in (("a", 10), ("b", 3))
        for f in range(n)
    ]
    loader = build_mots_train_loader(
        dicts,
        mapper=lambda clip: [(r["sequence"], r["frame_idx"]) for r in clip],
        clip_length=3,
        clips_per_batch=1,
        seed=0,
        skip_clips_with_empty_frames=skip_empty,
    )
    return [batch for batch in itertools.islice(iter(loader), 60)]


def test_clips_with_a_frame_without_objects_can_be_skipped():
    assert samplers.runs_of_annotated_frames(
        [{"sequence": "a", "frame_idx": f, "annotations": [{}] * (f % 3 != 1)} for f in range(6)]
    ) == [SequenceRun("a", 0, 1), SequenceRun("a", 2, 2), SequenceRun("a", 5, 1)]
    skipped = _first_frames_of_clips(True)
    assert ("a", 4) not in {frame for clip in skipped for frame in clip}
    assert {clip[0] for clip in skipped} >= {("a", 0), ("a", 5), ("b", 0)}
    assert ("a", 4) in {frame for clip in _first_frames_of_clips(False) for frame in clip}


def test_ignore_masks_are_given_for_the_ignore_region_rpn(synthetic_prefix):
    import pycocotools.mask as mask_utils

    records = {
        (d["sequence"], d["frame_idx"]): d for d in DatasetCatalog.get(f"{synthetic_prefix}_train")
    }
    cfg = _cfg(synthetic_prefix, **{"INPUT.RANDOM_FLIP": "none"})
    assert not any("ignore_mask" in f for batch in _batches(cfg, 3) for f in batch)
    cfg.MODEL.PROPOSAL_GENERATOR.NAME = "IgnoreRegionRPN"
    with_regions = 0
    for frame in (f for batch in _batches(cfg, 6) for f in batch):
        regions = records[(frame["sequence"], frame["frame_idx"])]["ignore_regions"]
        if not regions:
            assert "ignore_mask" not in frame
            continue
        with_regions += 1
        expected = mask_utils.decode(regions).any(axis=2)
        np.testing.assert_array_equal(frame["ignore_mask"].numpy(), expected)
    assert with_regions > 0
