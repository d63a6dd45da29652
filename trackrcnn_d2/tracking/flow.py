"""Optical flow for mask propagation (paper Sec. 5, Eq. 5) and the warping of masks and boxes.

Convention: the tracker uses *backward* flow. For frames t-1 and t, ``flow`` is an (H, W, 2)
float32 array over frame t such that pixel (x, y) of frame t came from (x, y) + flow[y, x] of
frame t-1 (flow[..., 0] is the x displacement). Warping "forward by the optical flow between
t-1 and t" (W in Eq. 5) is then done by backward warping, which leaves no holes: the warped mask
at pixel p of frame t is the previous mask at p + flow(p), sampled with nearest neighbour.

Flow methods (``TRACKER_HEADS.FLOW``): ``dis`` (OpenCV's DIS, CPU, no weights), ``raft_small`` /
``raft_large`` (torchvision RAFT; needs its weights in the torch hub cache), ``none`` (no flow:
mask propagation becomes the plain IoU of the masks). The paper uses PWC-Net.
"""
import os
from typing import Callable, Dict, Optional, Sequence, Union

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.structures.region_rle import (
    decode_columns,
    region_run_boundaries,
    rles_from_run_boundaries,
)
from trackrcnn_d2.utils.rle import rle_runs

FLOW_METHODS = ("dis", "raft_small", "raft_large", "none")

# DIS presets of OpenCV; "medium" is the most accurate of the three.
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class DISFlow:
    """OpenCV's Dense Inverse Search optical flow (Kroeger et al., ECCV 2016) on grey images."""

    def __init__(self, preset: str = "medium"):
        if preset not in DIS_PRESETS:
            raise ValueError(f"Unknown DIS preset {preset!r}; choose one of {sorted(DIS_PRESETS)}")
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])

    def __call__(self, image: np.ndarray, previous_image: np.ndarray) -> np.ndarray:
        """Backward flow (H, W, 2) from ``image`` (frame t) to ``previous_image`` (frame t-1)."""
        return self._dis.calc(_to_gray(image), _to_gray(previous_image), None)


class RAFTFlow:
    """torchvision's RAFT (Teed and Deng, ECCV 2020) with its pretrained weights.

    The weights are taken from the torch hub cache only (no download); a missing file raises an
    error that names it. Images are BGR uint8 (H, W, 3), as detectron2 reads them.
    """

    def __init__(self, variant: str = "small", device: Optional[str] = None):
        import torch
        from torchvision.models import optical_flow

        builder = {"small": optical_flow.raft_small, "large": optical_flow.raft_large}[variant]
        weights_path = raft_weights_path(variant)
        self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        model = builder(weights=None)
        model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        self._model = model.eval().to(self._device)
        self._torch = torch

    def __call__(self, image: np.ndarray, previous_image: np.ndarray) -> np.ndarray:
        """Backward flow (H, W, 2) from ``image`` (frame t) to ``previous_image`` (frame t-1)."""
        torch = self._torch
        height, width = image.shape[:2]
        # RAFT needs sides divisible by 8 and at least 128 (its correlation pyramid).
        pad_h = max(128, height + (-height) % 8) - height
        pad_w = max(128, width + (-width) % 8) - width

        def prepare(img):
            rgb = np.ascontiguousarray(_to_bgr(img)[:, :, ::-1])
            tensor = torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 127.5 - 1.0
            tensor = torch.nn.functional.pad(tensor, (0, pad_w, 0, pad_h), mode="replicate")
            return tensor.to(self._device)

        with torch.no_grad():
            flow = self._model(prepare(image), prepare(previous_image))[-1]
        return flow[0, :, :height, :width].permute(1, 2, 0).cpu().numpy().astype(np.float32)


def raft_weights_path(variant: str) -> str:
    """The file of RAFT ``variant``'s ("small", "large") weights in the torch hub cache;
    FileNotFoundError naming it and the way out when it is missing."""
    import torch
    from torchvision.models import optical_flow

    if variant not in ("small", "large"):
        raise ValueError(f"Unknown RAFT variant {variant!r}; choose 'small' or 'large'")
    weights = getattr(optical_flow, f"Raft_{variant.title()}_Weights").DEFAULT
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"RAFT {variant} weights not found at {path}. Download {weights.url} to "
            "that path (or set TORCH_HOME), or use TRACKER_HEADS.FLOW 'dis' (no weights)."
        )
    return path


def check_optical_flow(method: str) -> None:
    """Raise what :func:`build_optical_flow` would, without building it: ValueError for an
    unknown name, FileNotFoundError for RAFT weights that are not in the torch hub cache."""
    if method not in FLOW_METHODS:
        raise ValueError(f"Unknown optical flow method {method!r}; choose one of {FLOW_METHODS}")
    if method.startswith("raft_"):
        raft_weights_path(method.split("_")[1])


def build_optical_flow(method: str) -> Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """The flow function of a ``TRACKER_HEADS.FLOW`` name; None for ``"none"``."""
    if method == "dis":
        return DISFlow()
    if method in ("raft_small", "raft_large"):
        return RAFTFlow(method.split("_")[1])
    if method == "none":
        return None
    raise ValueError(f"Unknown optical flow method {method!r}; choose one of {FLOW_METHODS}")


ImageSource = Union[Callable[[int], np.ndarray], Sequence[str]]


class SequenceFlowProvider:
    """Backward flow between the frames of one sequence, computed once per frame pair.

    Args:
        flow: a flow function ``flow(image_t, image_t_minus_1) -> (H, W, 2)``.
        images: a callable that returns the image (H, W, 3 or H, W) of an on-disk frame index,
            or a sequence of image paths indexed by frame index.

    Calling ``provider(previous_frame_idx, frame_idx)`` returns the backward flow from
    ``frame_idx`` to ``previous_frame_idx``. The last two images are kept in memory.
    """

    def __init__(self, flow: Callable[[np.ndarray, np.ndarray], np.ndarray], images: ImageSource):
        self._flow = flow
        self._images = images
        self._cache: Dict[int, np.ndarray] = {}

    def _image(self, frame_idx: int) -> np.ndarray:
        if frame_idx not in self._cache:
            if callable(self._images):
                image = self._images(frame_idx)
            else:
                path = self._images[frame_idx]
                image = cv2.imread(path, cv2.IMREAD_COLOR)
                if image is None:
                    raise FileNotFoundError(f"{path}: cannot read the image of frame {frame_idx}")
            self._cache[frame_idx] = image
            while len(self._cache) > 2:
                del self._cache[next(iter(self._cache))]
        return self._cache[frame_idx]

    def __call__(self, previous_frame_idx: int, frame_idx: int) -> np.ndarray:
        # The previous image first: in a sequential run it is the one already cached.
        previous_image = self._image(previous_frame_idx)
        return self._flow(self._image(frame_idx), previous_image)


def _to_gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(image, dtype=np.uint8)


def _to_bgr(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, :3]


def sampling_maps(flow: np.ndarray):
    """The (map_x, map_y) float32 arrays of cv2.remap for a backward flow: pixel p samples the
    previous frame at p + flow(p)."""
    height, width = flow.shape[:2]
    map_x = flow[..., 0] + np.arange(width, dtype=np.float32)[None, :]
    map_y = flow[..., 1] + np.arange(height, dtype=np.float32)[:, None]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def warp_mask(mask: np.ndarray, maps) -> np.ndarray:
    """Warp a binary (H, W) mask of frame t-1 to frame t with the sampling maps of a backward
    flow (see :func:`sampling_maps`), nearest neighbour; pixels sampled outside are background."""
    return cv2.remap(
        np.ascontiguousarray(mask, dtype=np.uint8),
        maps[0],
        maps[1],
        interpolation=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def warp_rle(rle: dict, maps, reach: int) -> dict:
    """:func:`warp_mask` of an RLE mask, the same RLE bytes, touching only the pixels near it.

    ``reach`` bounds the flow (the largest absolute component, rounded up): a pixel of frame t
    more than ``reach`` + 1 pixels outside the mask's bounding box samples outside it, so only
    the box grown by that much is warped, from the mask's columns alone.
    """
    height, width = rle["size"]
    x, y, w, h = mask_utils.toBbox(rle)
    if w == 0:
        return rle
    x0, y0, x1, y1 = int(x), int(y), int(x + w), int(y + h)
    left, top = max(x0 - reach - 1, 0), max(y0 - reach - 1, 0)
    right, bottom = min(x1 + reach + 1, width), min(y1 + reach + 1, height)
    # The source starts at an even column: the shifted sampling positions are exact and
    # OpenCV's nearest-neighbour rounding (half to even) rounds them as the unshifted ones.
    first = x0 - x0 % 2
    source = decode_columns(rle_runs(rle), height, first, x1)
    warped = warp_mask(
        source, (maps[0][top:bottom, left:right] - first, maps[1][top:bottom, left:right])
    )
    boundaries = region_run_boundaries(warped.view(bool), left, top, height)
    return rles_from_run_boundaries([boundaries], height, width)[0]


def warp_box_by_median_flow(box: np.ndarray, maps, reach: Optional[int] = None) -> np.ndarray:
    """Shift an XYXY box of frame t-1 to frame t by the median optical flow inside it (Table 5,
    "Bbox IoU").

    With backward flow, the pixels of frame t whose source p + flow(p) lies inside the box are
    those that moved out of it; the box moves by the median of their displacements -flow(p).
    A box that no pixel comes from keeps its position. ``reach`` (the largest flow component,
    if known) limits the search to the box grown by it.
    """
    map_x, map_y = maps
    x0, y0, x1, y1 = (float(v) for v in box)
    top, left = 0, 0
    if reach is not None:
        height, width = map_x.shape
        top, left = max(int(y0) - reach - 1, 0), max(int(x0) - reach - 1, 0)
        bottom = min(int(np.ceil(y1)) + reach + 1, height)
        right = min(int(np.ceil(x1)) + reach + 1, width)
        map_x, map_y = map_x[top:bottom, left:right], map_y[top:bottom, left:right]
    inside = (map_x >= x0) & (map_x < x1) & (map_y >= y0) & (map_y < y1)
    if not inside.any():
        return np.asarray(box, dtype=np.float64)
    ys, xs = np.nonzero(inside)
    dx = float(np.median(xs + left - map_x[ys, xs]))
    dy = float(np.median(ys + top - map_y[ys, xs]))
    return np.array([x0 + dx, y0 + dy, x1 + dx, y1 + dy])
