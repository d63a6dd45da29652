"""demo.py's inputs: which videos ``--input`` names, and how they are shared over processes.

``--input`` takes one or more of: a video file; a folder of frames (its images); a folder of
videos and/or folders of frames (each one video; one level deep); a text file (``.txt``,
``.lst``, ``.list``) listing videos or folders of frames, one per line (relative to the list's
folder; blank lines and ``#`` comments skipped); image files (``frames/*.png``, the frames of
their folder); and quoted glob patterns. Each video is named after its file or folder; its
outputs carry that name, so two inputs of one name are refused.
"""
import glob
import hashlib
import os
import re
from typing import Dict, List, NamedTuple, Sequence, Tuple

from trackrcnn_d2.utils.cli import UserError
from trackrcnn_d2.utils.file_io import IMAGE_EXTENSIONS
from trackrcnn_d2.utils.video import (
    VIDEO_EXTENSIONS,
    FrameSource,
    open_frames,
    open_image_files,
)

__all__ = [
    "LIST_EXTENSIONS",
    "VideoInput",
    "find_videos",
    "share_videos",
    "split_overrides",
]

# Files read as lists of videos rather than as videos.
LIST_EXTENSIONS = (".txt", ".lst", ".list")
# A detectron2 config key (MODEL.WEIGHTS): where --input's paths end and the overrides begin.
_CONFIG_KEY = re.compile(r"[A-Z][A-Z0-9_]*(?:\.[A-Za-z0-9_]+)+")
# A LazyConfig override (train.init_checkpoint=m.pth), which ends them too.
_LAZY_OVERRIDE = re.compile(r"[A-Za-z_]\w*(?:\.\w+)*=.*", re.DOTALL)


class VideoInput(NamedTuple):
    """One video to track: ``name`` (of its outputs), ``paths`` (a video file, a folder of
    frames, or image files of one folder), ``num_frames`` and whether it is a video file."""

    name: str
    paths: Tuple[str, ...]
    num_frames: int
    is_video: bool

    def open(self) -> FrameSource:
        """The frames (:func:`~trackrcnn_d2.utils.video.open_frames`)."""
        if len(self.paths) == 1 and not self.paths[0].lower().endswith(IMAGE_EXTENSIONS):
            return open_frames(self.paths[0])
        return open_image_files(self.paths)

    def files(self) -> List[str]:
        """The files whose contents are the input (a folder's images)."""
        if len(self.paths) == 1 and os.path.isdir(self.paths[0]):
            folder = self.paths[0]
            return [
                os.path.join(folder, n)
                for n in sorted(os.listdir(folder))
                if n.lower().endswith(IMAGE_EXTENSIONS)
            ]
        return list(self.paths)

    def signature(self) -> str:
        """A fingerprint of the input's files (names, sizes, modification times): an input
        replaced by another of the same name has another signature."""
        digest = hashlib.sha1()
        for path in self.files():
            stat = os.stat(path)
            digest.update(f"{os.path.basename(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()


def split_overrides(inputs: Sequence[str]) -> Tuple[List[str], List[str]]:
    """``--input``'s values and the config overrides that followed them (``--input a.mp4 b.mp4
    MODEL.WEIGHTS m.pth``, or a LazyConfig's ``train.init_checkpoint=m.pth``): the overrides
    start at the first value that is a config key (or key=value) and not an existing path."""
    for i, item in enumerate(inputs):
        override = _CONFIG_KEY.fullmatch(item) or _LAZY_OVERRIDE.fullmatch(item)
        if override and not os.path.lexists(item):
            return list(inputs[:i]), list(inputs[i:])
    return list(inputs), []


def find_videos(inputs: Sequence[str]) -> List[VideoInput]:
    """The videos that ``inputs`` name, in the given order (a folder's and a list's in theirs),
    each opened once to count its frames. Raises :class:`UserError` (or FileNotFoundError,
    VideoReadError) naming the input that cannot be used."""
    found: List[Tuple[str, str]] = []  # (path, where it was named) of videos and frame folders
    images: Dict[str, List[str]] = {}  # folder -> image files named directly
    for item in inputs:
        if not item:
            raise UserError("--input: an empty path; give a video, a folder or a list of videos")
        if os.path.lexists(item):
            paths = [item]
        elif glob.has_magic(item):
            paths = sorted(glob.glob(item))
            if not paths:
                raise FileNotFoundError(f"--input {item}: the pattern matches no file or folder")
        else:
            raise FileNotFoundError(
                f"{item}: no such video, folder of frames or list of videos"
            )
        for path in paths:
            if path.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(path):
                folder = os.path.dirname(os.path.abspath(path))
                images.setdefault(folder, []).append(path)
                if len(images[folder]) == 1:
                    found.append((folder, "images"))
            else:
                found.extend(_expand(path))
    videos, seen = [], set()
    for path, kind in found:
        key = (os.path.abspath(path), kind)
        if key in seen:
            continue
        seen.add(key)
        videos.append(_open(path, images[path] if kind == "images" else None))
    _refuse_duplicate_names(videos)
    return videos


def _expand(path: str) -> List[Tuple[str, str]]:
    """A path given on the command line: (path, kind) of the videos and frame folders in it."""
    if os.path.isdir(path):
        if _has_images(path):
            return [(path, "frames")]
        entries = []
        for name in sorted(os.listdir(path)):
            entry = os.path.join(path, name)
            if os.path.isdir(entry) and _has_images(entry):
                entries.append((entry, "frames"))
            elif os.path.isfile(entry) and name.lower().endswith(VIDEO_EXTENSIONS):
                entries.append((entry, "video"))
        if not entries:
            raise FileNotFoundError(
                f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}), videos "
                f"({', '.join(VIDEO_EXTENSIONS[:4])}, ...) or folders of frames in this folder"
            )
        return entries
    if path.lower().endswith(LIST_EXTENSIONS):
        return _read_list(path)
    return [(path, "video")]


def _read_list(list_file: str) -> List[Tuple[str, str]]:
    try:
        with open(list_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise UserError(
            f"{list_file}: not a text file (UTF-8); a list of videos has one path per line"
        ) from None
    folder = os.path.dirname(list_file)
    entries = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = os.path.join(folder, os.path.expanduser(line))
        if os.path.isdir(path) and _has_images(path):
            entries.append((path, "frames"))
        elif os.path.isfile(path) and not path.lower().endswith(LIST_EXTENSIONS):
            entries.append((path, "video"))
        else:
            what = "a folder without images" if os.path.isdir(path) else "not found"
            raise FileNotFoundError(
                f"{list_file}:{number}: {line}: {what}; each line names a video or a folder of "
                "frames (relative to the list's folder)"
            )
    if not entries:
        raise UserError(f"{list_file}: lists no video (one path per line)")
    return entries


def _has_images(folder: str) -> bool:
    return any(n.lower().endswith(IMAGE_EXTENSIONS) for n in os.listdir(folder))


def _open(path: str, image_files) -> VideoInput:
    source = open_image_files(image_files) if image_files else open_frames(path)
    paths = tuple(os.path.abspath(p) for p in (sorted(image_files) if image_files else [path]))
    return VideoInput(source.name, paths, source.num_frames, source.fps is not None)


def _refuse_duplicate_names(videos: Sequence[VideoInput]) -> None:
    by_name: Dict[str, VideoInput] = {}
    for video in videos:
        other = by_name.setdefault(video.name, video)
        if other is not video:
            raise UserError(
                f"--input: two videos are named {video.name} ({_where(other)} and "
                f"{_where(video)}); their outputs would have one name: track them into separate "
                "--output folders, or rename one"
            )


def _where(video: VideoInput) -> str:
    return video.paths[0] if len(video.paths) == 1 else os.path.dirname(video.paths[0])


def share_videos(frames: Sequence[int], world_size: int) -> List[List[int]]:
    """The indices of the videos each of ``world_size`` processes tracks: whole videos, the
    largest first (by ``frames``, the frames each will track), each to the process with the
    fewest frames so far (ties: the lower rank). The same on every process."""
    shares: List[List[int]] = [[] for _ in range(world_size)]
    loads = [0] * world_size
    for index in sorted(range(len(frames)), key=lambda i: (-frames[i], i)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shares[rank].append(index)
        loads[rank] += frames[index]
    return shares
