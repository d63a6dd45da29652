"""Data loaders of MOTS datasets: clips of adjacent frames for training, whole sequences in
frame order (with the look-ahead frames the temporal layers need) for inference (Sec. 6)."""
import contextlib
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch.utils.data as torchdata
from detectron2.config import configurable
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.build import trivial_batch_collator, worker_init_reset_seed
from detectron2.data.common import DatasetFromList
from detectron2.utils import comm

from trackrcnn_d2.data.dataset_mapper import MOTSClipDatasetMapper, MOTSTestDatasetMapper
from trackrcnn_d2.data.datasets import select_mots_classes
from trackrcnn_d2.data.samplers import (
    ClipTrainingSampler,
    SequenceInferenceSampler,
    runs_of_annotated_frames,
    sequence_runs,
)
from trackrcnn_d2.modeling.backbone.temporal_backbone import temporal_lookahead
from trackrcnn_d2.utils.cli import ConfigError, UserError

__all__ = [
    "ClipDataset",
    "NextFrameDataset",
    "build_mots_train_loader",
    "build_mots_test_loader",
    "get_mots_dataset_dicts",
    "check_mots_datasets",
    "clips_per_gpu",
    "ImageReadError",
]


class ImageReadError(UserError):
    """An image of a dataset that cannot be read (truncated, corrupt); names the file."""


def check_mots_datasets(names: Sequence[str], key: str = "DATASETS.TRAIN") -> None:
    """Raise :class:`ConfigError` for a name in ``names`` (the config ``key``) that is not a
    registered MOTS dataset, and FileNotFoundError (naming the place and $DETECTRON2_DATASETS)
    when its files are missing. Cheap: lists the sequences and reads one image header per
    sequence, so scripts call it before they write or log anything."""
    if isinstance(names, str):
        names = [names]
    registered = DatasetCatalog.list()
    for name in names:
        if name not in registered:
            mots = sorted(n for n in registered if _is_mots(n))
            raise ConfigError(
                f"{key}: dataset {name!r} is not registered. MOTS datasets: {', '.join(mots)} "
                "(register your own with trackrcnn_d2.data.register_mots_dataset)"
            )
        if not _is_mots(name):
            raise ConfigError(
                f"{key}: {name!r} is not a MOTS dataset (no sequences); register MOTS sequences "
                "with trackrcnn_d2.data.register_mots_dataset"
            )
        metadata = MetadataCatalog.get(name)
        for key in ("sequences", "image_sizes"):
            # Computed on first access for our registrations: raises if files are missing.
            hasattr(metadata, key)


def _is_mots(name: str) -> bool:
    return getattr(MetadataCatalog.get(name), "evaluator_type", None) == "mots"


def get_mots_dataset_dicts(names: Sequence[str], classes: Sequence[str]) -> List[dict]:
    """Frame dicts of the registered datasets ``names``, concatenated, with annotations
    narrowed to ``classes`` (``cfg.DATASETS.MOTS.CLASSES``; category ids are positions in it).
    Raises :class:`ConfigError` for a name that is not a registered MOTS dataset."""
    if isinstance(names, str):
        names = [names]
    check_mots_datasets(names, "datasets")
    dataset_dicts = []
    for name in names:
        dataset_classes = MetadataCatalog.get(name).thing_classes
        records = DatasetCatalog.get(name)
        dataset_dicts.extend(select_mots_classes(records, dataset_classes, classes))
    if not dataset_dicts:
        raise ValueError(f"Datasets {list(names)} have no frames")
    return dataset_dicts


def _map_naming_the_image(mapper: Callable, frames):
    """``mapper(frames)``; an image that cannot be read raises :class:`ImageReadError` naming
    its file (PIL's ``OSError: image file is truncated`` names none)."""
    try:
        return mapper(frames)
    except OSError as e:
        from PIL import Image

        for frame in frames if isinstance(frames, list) else [frames]:
            try:
                with Image.open(frame["file_name"]) as image:
                    image.load()
            except OSError as image_error:
                raise ImageReadError(
                    f"{frame['file_name']}: cannot read this image ({image_error}). Replace the "
                    "file; `python datasets/prepare_mots.py check DATASET_ROOT` checks every image."
                ) from e
        raise


@contextlib.contextmanager
def _numpy_seed(seed: int):
    """Seed numpy's global RNG (which detectron2's augmentations draw from) for the block and
    restore its state afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class ClipDataset(torchdata.Dataset):
    """Map-style dataset indexed by ``(first_index, clip_seed)`` (the items of
    :class:`ClipTrainingSampler`): the mapped frames of
    ``dataset_dicts[first_index : first_index + clip_length]``.

    The mapper runs with numpy's global RNG seeded by ``clip_seed``, so the clip's augmentation
    depends only on the sampler's seed, not on which DataLoader worker maps it.
    """

    def __init__(self, dataset_dicts: List[dict], clip_length: int, mapper: Callable):
        self._dicts = DatasetFromList(dataset_dicts, copy=False, serialize=True)
        self._clip_length = clip_length
        self._mapper = mapper

    def __len__(self) -> int:
        return len(self._dicts)

    def __getitem__(self, item) -> List[dict]:
        first_index, clip_seed = item
        clip = [self._dicts[i] for i in range(first_index, first_index + self._clip_length)]
        with _numpy_seed(clip_seed):
            return _map_naming_the_image(self._mapper, clip)


def _flatten_clips(clips: List[List[dict]]) -> List[dict]:
    return [frame for clip in clips for frame in clip]


def clips_per_gpu(
    ims_per_batch: int,
    clip_length: int,
    world_size: int,
    keys=("SOLVER.IMS_PER_BATCH", "INPUT.CLIP_LENGTH"),
) -> int:
    """Clips per process and iteration: ``SOLVER.IMS_PER_BATCH`` is the number of frames per
    iteration over all GPUs (detectron2's rule), a multiple of ``INPUT.CLIP_LENGTH`` x GPUs;
    raises :class:`ConfigError` otherwise, with the ways out. ``keys`` name the two settings
    (a LazyConfig's ``dataloader.train.total_batch_size`` and ``clip_length``)."""
    batch_key, clip_key = keys
    if clip_length < 1:
        raise ConfigError(f"{clip_key} must be at least 1, got {clip_length}")
    frames_per_round = clip_length * world_size
    if ims_per_batch < frames_per_round or ims_per_batch % frames_per_round:
        scaling = ""
        if world_size > 1 and batch_key == "SOLVER.IMS_PER_BATCH":
            scaling = (
                " Pass SOLVER.REFERENCE_WORLD_SIZE 1 to scale a one-GPU config's IMS_PER_BATCH, "
                "BASE_LR and schedule linearly to the GPUs, or set SOLVER.IMS_PER_BATCH (and "
                "BASE_LR to match)."
            )
        elif world_size > 1:
            scaling = f" Set {batch_key} (and the learning rate to match)."
        raise ConfigError(
            f"{batch_key} ({ims_per_batch}) is the number of frames per iteration over "
            f"all GPUs and must be a multiple of {clip_key} ({clip_length}) x number of "
            f"GPUs ({world_size}) = {frames_per_round}.{scaling}"
        )
    return ims_per_batch // frames_per_round


def _train_loader_from_config(cfg, mapper=None):
    clip_length = cfg.INPUT.CLIP_LENGTH
    world_size = comm.get_world_size()
    clips = clips_per_gpu(cfg.SOLVER.IMS_PER_BATCH, clip_length, world_size)
    return {
        "dataset": get_mots_dataset_dicts(cfg.DATASETS.TRAIN, cfg.DATASETS.MOTS.CLASSES),
        "mapper": MOTSClipDatasetMapper(cfg, True) if mapper is None else mapper,
        "clip_length": clip_length,
        "clips_per_batch": clips,
        "seed": cfg.SEED if cfg.SEED >= 0 else None,
        "num_workers": cfg.DATALOADER.NUM_WORKERS,
        "skip_clips_with_empty_frames": cfg.DATALOADER.SKIP_CLIPS_WITH_EMPTY_FRAMES,
    }


@configurable(from_config=_train_loader_from_config)
def build_mots_train_loader(
    dataset: List[dict],
    *,
    mapper: Callable,
    clip_length: int,
    clips_per_batch: Optional[int] = None,
    total_batch_size: Optional[int] = None,
    seed: Optional[int] = None,
    num_workers: int = 0,
    skip_clips_with_empty_frames: bool = False,
):
    """Infinite training loader of clips: each iteration yields, on every process, a list of
    ``clips_per_batch * clip_length`` mapped frame dicts in which each consecutive group of
    ``clip_length`` is one clip (adjacent frames of one sequence, one augmentation).

    With a config: ``build_mots_train_loader(cfg, mapper=None)``; ``SOLVER.IMS_PER_BATCH`` is
    the total number of frames per iteration over all GPUs and must be a multiple of
    ``INPUT.CLIP_LENGTH`` x the number of GPUs. ``mapper`` maps a list of frame dicts (one
    clip) to a list of model inputs (default :class:`MOTSClipDatasetMapper`). ``seed``
    (default ``cfg.SEED`` if >= 0, else a random seed shared by all processes) fixes the clips
    and their augmentations (see :class:`ClipTrainingSampler`, :class:`ClipDataset`).

    Without a config (a LazyConfig's ``dataloader.train``) give either ``clips_per_batch``
    (per process) or ``total_batch_size``: frames per iteration over all processes, as
    detectron2's ``build_detection_train_loader`` counts images.
    """
    if (clips_per_batch is None) == (total_batch_size is None):
        raise ValueError(
            "build_mots_train_loader: give one of clips_per_batch (clips per process) and "
            "total_batch_size (frames per iteration over all processes)"
        )
    if total_batch_size is not None:
        clips_per_batch = clips_per_gpu(
            total_batch_size,
            clip_length,
            comm.get_world_size(),
            keys=("dataloader.train.total_batch_size", "dataloader.train.clip_length"),
        )
    # The released code skips clips with a frame without annotated objects.
    runs = sequence_runs(dataset)
    if skip_clips_with_empty_frames:
        runs = runs_of_annotated_frames(dataset)
    sampler = ClipTrainingSampler(runs, clip_length, seed=seed)
    return torchdata.DataLoader(
        ClipDataset(dataset, clip_length, mapper),
        batch_size=clips_per_batch,
        sampler=sampler,
        drop_last=True,
        num_workers=num_workers,
        collate_fn=_flatten_clips,
        worker_init_fn=worker_init_reset_seed,
    )


class NextFrameDataset(torchdata.Dataset):
    """Map-style dataset of mapped frames, each with ``next_images``: the images of the next
    ``lookahead`` frames of the same sequence as the mapper maps them (fewer at the sequence's
    end), for the model's look-ahead (one frame per stacked Conv3D). The last ``lookahead + 1``
    mapped frames are kept, so a worker that maps frames in order reads each image once."""

    def __init__(self, dataset_dicts: List[dict], mapper: Callable, lookahead: int = 1):
        self._dicts = DatasetFromList(dataset_dicts, copy=False, serialize=True)
        self._sequence_end = np.zeros(len(dataset_dicts), dtype=np.int64)
        for run in sequence_runs(dataset_dicts):
            self._sequence_end[run.start : run.start + run.length] = run.start + run.length
        self._lookahead = lookahead
        self._mapper = mapper
        self._cache: Dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self._dicts)

    def _mapped(self, index: int) -> dict:
        if index not in self._cache:
            self._cache[index] = _map_naming_the_image(self._mapper, self._dicts[index])
            # The frames a forward pass needs next; never the one just mapped (a frame read
            # after later ones).
            for old in sorted(set(self._cache) - {index})[: -self._lookahead or None]:
                del self._cache[old]
        return self._cache[index]

    def __getitem__(self, index: int) -> dict:
        output = dict(self._mapped(index))
        end = min(int(self._sequence_end[index]), index + 1 + self._lookahead)
        output["next_images"] = [self._mapped(i)["image"] for i in range(index + 1, end)]
        return output


def _test_loader_from_config(cfg, dataset_name, mapper=None):
    return {
        "dataset": get_mots_dataset_dicts([dataset_name], cfg.DATASETS.MOTS.CLASSES),
        "mapper": MOTSTestDatasetMapper(cfg) if mapper is None else mapper,
        "num_workers": cfg.DATALOADER.NUM_WORKERS,
        "lookahead": temporal_lookahead(cfg),
    }


@configurable(from_config=_test_loader_from_config)
def build_mots_test_loader(
    dataset: List[dict], *, mapper: Callable, num_workers: int = 0, lookahead: int = 1
):
    """Inference loader: batches of one frame, every sequence in frame order and whole on one
    process (:class:`SequenceInferenceSampler`); each frame has ``next_images``, the next
    ``lookahead`` frames' images (with a config: as many as the model's temporal layers reach),
    fewer at the end of its sequence (:class:`NextFrameDataset`).

    With a config: ``build_mots_test_loader(cfg, dataset_name, mapper=None)``; ``mapper`` maps
    one frame dict (default :class:`MOTSTestDatasetMapper`) and must be deterministic, so that
    ``next_images`` equal the next frames' ``image``.
    """
    return torchdata.DataLoader(
        NextFrameDataset(dataset, mapper, lookahead),
        batch_size=1,
        sampler=SequenceInferenceSampler(sequence_runs(dataset)),
        num_workers=num_workers,
        collate_fn=trivial_batch_collator,
    )
