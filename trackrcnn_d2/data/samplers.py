"""Samplers over MOTS dataset dicts: clips of adjacent frames for training (paper Sec. 6) and
whole sequences per worker for inference.

Both work on the dataset dicts' list order, in which every sequence is one contiguous run of
frames in frame order (what :func:`trackrcnn_d2.data.datasets.load_mots_dataset_dicts`
produces); :func:`sequence_runs` finds the runs.
"""
import itertools
import logging
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import torch
from detectron2.utils import comm
from torch.utils.data.sampler import Sampler

logger = logging.getLogger(__name__)


class SequenceRun(NamedTuple):
    """Frames ``start .. start + length - 1`` of the dataset list are one sequence."""

    sequence: str
    start: int
    length: int


def sequence_runs(dataset_dicts: Sequence[dict]) -> List[SequenceRun]:
    """The sequences of a list of frame dicts as runs of consecutive entries.

    A run ends where ``"sequence"`` changes or ``"frame_idx"`` does not increase, so two
    datasets with a sequence of the same name, concatenated, stay apart.
    """
    runs: List[SequenceRun] = []
    for index, record in enumerate(dataset_dicts):
        if (
            runs
            and record["sequence"] == runs[-1].sequence
            and record["frame_idx"] > dataset_dicts[index - 1]["frame_idx"]
        ):
            runs[-1] = runs[-1]._replace(length=runs[-1].length + 1)
        else:
            runs.append(SequenceRun(record["sequence"], index, 1))
    return runs


def runs_of_annotated_frames(dataset_dicts: Sequence[dict]) -> List[SequenceRun]:
    """The sequences' runs split at every frame without an annotated object (and without it).

    Clips tiled within these runs never contain such a frame: the released code skips those
    clips (a frame without objects gives the RPN no foreground anchor). Runs share a sequence
    name where a sequence is split.
    """
    runs: List[SequenceRun] = []
    for run in sequence_runs(dataset_dicts):
        start = None
        for index in range(run.start, run.start + run.length + 1):
            annotated = index < run.start + run.length and bool(dataset_dicts[index]["annotations"])
            if annotated and start is None:
                start = index
            elif not annotated and start is not None:
                runs.append(SequenceRun(run.sequence, start, index - start))
                start = None
    return runs


def clip_starts_of_pass(length: int, clip_length: int, generator: torch.Generator) -> List[int]:
    """Start frames (relative to the sequence) of the clips of one pass over a sequence.

    ``ceil(length / clip_length)`` clips tile the sequence, shifted by a random offset so
    that clip boundaries move from pass to pass; the clips at the two ends are clamped into the
    sequence, so every frame is in at least one clip and no clip leaves the sequence.
    """
    num_clips = -(-length // clip_length)
    slack = num_clips * clip_length - length
    offset = int(torch.randint(slack + 1, (1,), generator=generator))
    return [min(max(k * clip_length - offset, 0), length - clip_length) for k in range(num_clips)]


class ClipTrainingSampler(Sampler):
    """Infinite, shuffled stream of training clips: T adjacent frames of one sequence.

    Each item is ``(first_index, clip_seed)``: the clip is
    ``dataset_dicts[first_index : first_index + clip_length]``, all of one sequence, and
    ``clip_seed`` seeds the clip's random augmentation (one augmentation per clip; see
    :class:`trackrcnn_d2.data.build.ClipDataset`).

    One pass tiles every sequence with clips (:func:`clip_starts_of_pass`), so that a pass sees
    every frame about once (an epoch), and shuffles the clips of all sequences together.
    Sequences shorter than ``clip_length`` cannot form a clip of adjacent frames and are left out
    with a warning (a clip padded with repeated frames would show the temporal layers a
    motion that never happens).

    Like detectron2's ``TrainingSampler``, every process generates the same stream from the
    shared seed and keeps the items ``rank, rank + world_size, ...``: distributed training
    needs no communication, and the stream depends only on the seed and the world size.
    """

    def __init__(
        self,
        runs: Sequence[SequenceRun],
        clip_length: int,
        shuffle: bool = True,
        seed: Optional[int] = None,
    ):
        """
        Args:
            runs: the sequences (:func:`sequence_runs` of the dataset dicts).
            clip_length: T, frames per clip (``cfg.INPUT.CLIP_LENGTH``).
            shuffle: shuffle the clips of a pass and their offsets; without, clips come in
                dataset order with offset 0 (for debugging).
            seed: shared by all processes; None = ``comm.shared_random_seed()``.
        """
        if clip_length < 1:
            raise ValueError(f"clip_length must be >= 1, got {clip_length}")
        self._clip_length = clip_length
        self._runs = [r for r in runs if r.length >= clip_length]
        too_short = [f"{r.sequence} ({r.length})" for r in runs if r.length < clip_length]
        if too_short:
            logger.warning(
                f"Sequences shorter than INPUT.CLIP_LENGTH={clip_length} frames are not used "
                f"for training: {', '.join(too_short)}"
            )
        if not self._runs:
            raise ValueError(
                f"No sequence has INPUT.CLIP_LENGTH={clip_length} frames; lengths: "
                f"{[r.length for r in runs]}. Lower INPUT.CLIP_LENGTH (a LazyConfig's "
                "dataloader.train.clip_length)."
            )
        self._shuffle = shuffle
        self._seed = int(comm.shared_random_seed() if seed is None else seed)
        self._rank = comm.get_rank()
        self._world_size = comm.get_world_size()

    @property
    def clips_per_pass(self) -> int:
        """Number of clips in one pass over all sequences (an epoch)."""
        return sum(-(-r.length // self._clip_length) for r in self._runs)

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        yield from itertools.islice(self._infinite_clips(), self._rank, None, self._world_size)

    def _infinite_clips(self) -> Iterator[Tuple[int, int]]:
        generator = torch.Generator()
        generator.manual_seed(self._seed)
        while True:
            starts = []
            for run in self._runs:
                if self._shuffle:
                    relative = clip_starts_of_pass(run.length, self._clip_length, generator)
                else:
                    relative = [
                        min(k * self._clip_length, run.length - self._clip_length)
                        for k in range(-(-run.length // self._clip_length))
                    ]
                starts.extend(run.start + s for s in relative)
            order = (
                torch.randperm(len(starts), generator=generator).tolist()
                if self._shuffle
                else range(len(starts))
            )
            seeds = torch.randint(2**31 - 1, (len(starts),), generator=generator).tolist()
            for i, clip_seed in zip(order, seeds):
                yield starts[i], clip_seed


def assign_sequences_to_workers(lengths: Sequence[int], num_workers: int) -> List[List[int]]:
    """Indices of the sequences each worker gets: whole sequences, longest first to the worker
    with the fewest frames so far (ties: lowest worker), each worker's in the input order."""
    assignment: List[List[int]] = [[] for _ in range(num_workers)]
    load = [0] * num_workers
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        worker = min(range(num_workers), key=lambda w: (load[w], w))
        assignment[worker].append(index)
        load[worker] += lengths[index]
    return [sorted(indices) for indices in assignment]


class SequenceInferenceSampler(Sampler):
    """Inference sampler that keeps every sequence whole on one process, frames in order.

    Sequences are spread over the processes to balance their frame counts
    (:func:`assign_sequences_to_workers`); the near-online tracker of each process then sees
    every frame of its sequences, in order. A process may get no sequence when there are more
    processes than sequences.
    """

    def __init__(
        self,
        runs: Sequence[SequenceRun],
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
    ):
        self._rank = comm.get_rank() if rank is None else rank
        self._world_size = comm.get_world_size() if world_size is None else world_size
        assignment = assign_sequences_to_workers([r.length for r in runs], self._world_size)
        mine = [runs[i] for i in assignment[self._rank]]
        self._indices = [i for run in mine for i in range(run.start, run.start + run.length)]

    def __iter__(self) -> Iterator[int]:
        yield from self._indices

    def __len__(self) -> int:
        return len(self._indices)
