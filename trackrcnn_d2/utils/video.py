"""Frames in and out: a folder of images or a video file as a stream of numbered BGR frames, and
rendered frames written as PNG files or a video. One frame is in memory at a time."""
import os
import re
from typing import Iterator, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .cli import UserError
from .file_io import IMAGE_EXTENSIONS, atomic_open

__all__ = [
    "FrameSource",
    "open_frames",
    "open_image_files",
    "FrameWriter",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoReadError",
]

# File name endings taken for videos in a folder of videos, lower case (any file OpenCV decodes
# works when named directly).
VIDEO_EXTENSIONS = (
    ".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts",
)  # fmt: skip


class VideoReadError(UserError, ValueError):
    """A video or image that cannot be read (not a video, no frame, ends before its stated
    frame count, corrupt image); the message names the file and the frame."""


class FrameSource(NamedTuple):
    """An opened input: ``name`` (folder or file name without extension), ``num_frames``,
    ``fps`` (None for a folder) and ``frames``, an iterator of ``(frame_idx, BGR uint8 image)``
    in time order."""

    name: str
    num_frames: int
    fps: Optional[float]
    frames: Iterator[Tuple[int, np.ndarray]]


def open_frames(path: str) -> FrameSource:
    """Open a folder of images (sorted by name) or a video file that OpenCV can decode.
    Raises :class:`VideoReadError` for an input that cannot be read; the frames iterator
    raises it for a corrupt image, and for a video that ends before the frame count its
    header states (a truncated file), after the frames it could read.

    Frame numbers: a folder whose image names are all integers (KITTI ``000000.png``,
    MOTSChallenge ``000001.jpg``) keeps them, so that the tracks line up with its annotations;
    other folders and videos are numbered from 0.
    """
    if os.path.isdir(path):
        return _open_folder(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such folder of frames or video file")
    return _open_video(path)


def _open_folder(folder: str) -> FrameSource:
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise FileNotFoundError(
            f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder"
        )
    return _open_images(folder, names)


def open_image_files(paths) -> FrameSource:
    """The frames of image files of one folder (e.g. a shell's ``frames/*.png``), numbered as
    :func:`open_frames` numbers a folder's images, named after the folder."""
    folders = {os.path.dirname(os.path.abspath(p)) for p in paths}
    if len(folders) != 1:
        raise ValueError(f"images of one folder expected, got images of {sorted(folders)}")
    return _open_images(folders.pop(), sorted(os.path.basename(p) for p in paths))


def _open_images(folder: str, names) -> FrameSource:
    stems = [os.path.splitext(n)[0] for n in names]
    if all(re.fullmatch(r"\d+", s) for s in stems):
        numbered = sorted(zip((int(s) for s in stems), names))
    else:
        numbered = list(enumerate(names))

    def frames():
        first = None
        for frame_idx, name in numbered:
            path = os.path.join(folder, name)
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise VideoReadError(
                    f"{path}: cannot read this image (frame {frame_idx}; corrupt or not an image)"
                )
            first = first or (path, image.shape[:2])
            if image.shape[:2] != first[1]:  # optical flow and the temporal layers need one size
                raise VideoReadError(
                    f"{path}: frame {frame_idx} is {image.shape[1]} x {image.shape[0]} pixels, "
                    f"but the first frame {first[0]} is {first[1][1]} x {first[1][0]}: the "
                    "frames of one video must have one size (resize or crop them alike)"
                )
            yield frame_idx, image

    name = os.path.basename(os.path.abspath(folder))
    return FrameSource(name, len(numbered), None, frames())


def _open_video(path: str) -> FrameSource:
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise VideoReadError(
            f"{path}: cannot open this video (OpenCV/FFmpeg cannot decode it; is it a video "
            "file?). A folder of frames works as well."
        )
    ok, first = capture.read()
    if not ok:
        capture.release()
        raise VideoReadError(f"{path}: the video has no readable frame")
    num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = capture.get(cv2.CAP_PROP_FPS) or None

    def frames():
        try:
            image, frame_idx = first, 0
            while True:
                yield frame_idx, image
                ok, image = capture.read()
                if not ok:
                    break
                frame_idx += 1
        finally:
            capture.release()
        if frame_idx + 1 < num_frames:
            raise VideoReadError(
                f"{path}: the video ends after frame {frame_idx} ({frame_idx + 1} frames read), "
                f"but its header states {num_frames} frames: the file is truncated or corrupt "
                "(copy or convert it again)"
            )

    name = os.path.splitext(os.path.basename(path))[0]
    return FrameSource(name, max(num_frames, 1), fps, frames())


class FrameWriter:
    """Writes rendered BGR frames into ``folder``: ``frames/<frame:06d>.png`` (``kind="png"``)
    or ``<name>.mp4`` (``kind="video"``, MPEG-4 at ``fps``). Use as a context manager."""

    KINDS = ("png", "video")

    def __init__(self, folder: str, kind: str, name: str, fps: float = 10.0):
        if kind not in self.KINDS:
            raise ValueError(f"Unknown output kind {kind!r}; choose one of {self.KINDS}")
        self._kind = kind
        self._path = os.path.join(folder, f"{name}.mp4" if kind == "video" else "frames")
        self._fps = fps
        self._video: Optional[cv2.VideoWriter] = None

    @property
    def path(self) -> str:
        """The video file or the folder of PNG frames."""
        return self._path

    def write(self, frame_idx: int, image: np.ndarray) -> None:
        if self._kind == "png":
            path = os.path.join(self._path, f"{frame_idx:06d}.png")
            encoded, png = cv2.imencode(".png", image)
            if not encoded:
                raise ValueError(f"{path}: OpenCV cannot encode this frame as PNG")
            with atomic_open(path, "wb") as f:
                f.write(png.tobytes())
            return
        if self._video is None:
            height, width = image.shape[:2]
            self._video = cv2.VideoWriter(
                self._path, cv2.VideoWriter_fourcc(*"mp4v"), self._fps, (width, height)
            )
            if not self._video.isOpened():
                raise OSError(
                    f"{self._path}: OpenCV cannot write MPEG-4 video here; use PNG frames instead"
                )
        self._video.write(image)

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
