"""Near-online tracking of a video with a trained model: detectron2's DefaultPredictor for MOTS."""
import itertools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Deque, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.modeling import build_model
from detectron2.structures import Instances

from trackrcnn_d2.checkpoint import MOTSCheckpointer
from trackrcnn_d2.data.dataset_mapper import MOTSTestDatasetMapper
from trackrcnn_d2.engine.precision import allow_tf32 as allow_tf32_on_cuda
from trackrcnn_d2.engine.precision import autocast_for
from trackrcnn_d2.modeling.roi_heads.track_roi_heads import AssociationHead
from trackrcnn_d2.structures.mask_rle import detector_postprocess_unpasted
from trackrcnn_d2.tracking import (
    SequenceTracker,
    TrackedObject,
    TrackerParams,
    build_optical_flow,
    frame_detections_from_instances,
)
from trackrcnn_d2.tracking.class_map import class_map_from_config

__all__ = ["VideoTrackingPredictor", "has_association_head"]


def has_association_head(model: torch.nn.Module) -> bool:
    """Whether ``model`` predicts association vectors (TrackR-CNN; a plain Mask R-CNN does not)."""
    return any(isinstance(m, AssociationHead) for m in model.modules())


class VideoTrackingPredictor:
    """Runs the model of ``cfg`` (weights from ``cfg.MODEL.WEIGHTS``) and the tracker
    (``cfg.TRACKER_HEADS``) over the frames of one video, frame by frame.

    The model gets each frame with the frames its temporal layers reach as look-ahead
    (``next_images``, one per stacked Conv3D), as the test loader gives them, transformed by
    the test loader's mapper (:class:`MOTSTestDatasetMapper`); the tracker is the per-frame
    :class:`~trackrcnn_d2.tracking.SequenceTracker`, with optical flow between adjacent frames.
    Memory stays bounded on long videos: the frames read ahead, the model's near-online buffer
    and the tracker's state (association vectors of selected detections).

    A plain Mask R-CNN works as well (e.g. ``configs/coco_mask_rcnn_R_50_FPN_maskprop.yaml``):
    its classes are mapped by ``DATASETS.MOTS.CLASS_MAP``, and a ``TRACKER_HEADS.ASSOCIATION``
    that needs association vectors is refused before any frame is tracked.

    Built from a config (``VideoTrackingPredictor(cfg)``, or ``VideoTrackingPredictor(cfg,
    model=model)`` with an already built model), or from explicit arguments (a LazyConfig's
    ``model``, ``tracker`` and test mapper; :func:`trackrcnn_d2.engine.lazy_demo`).

    Args:
        model: the model in eval mode, with its weights.
        tracker_params: the tracker's parameters (``TRACKER_HEADS``).
        mapper: the test loader's mapper (:class:`MOTSTestDatasetMapper`): its transform and
            ``image_format`` (the model's input format).
        flow: optical flow method, used only by mechanisms that warp masks with flow.
        mask_threshold: binarisation threshold of soft ``pred_masks``.
        class_map: the tracker's class of each model class (``DATASETS.MOTS.CLASS_MAP``), or
            None.
        precision: inference precision on CUDA, "fp32" or "bf16" (``TEST.PRECISION``).
        allow_tf32: TF32 for float32 convolutions and matrix products on CUDA
            (``MODEL.ALLOW_TF32``).

    With a config, the model is built and loaded from ``MODEL.WEIGHTS`` unless ``model`` is
    given (e.g. shared between predictors).

    Raises:
        ValueError: the tracker keys do not fit the model (mechanism, class map).
        CheckpointError: ``MODEL.WEIGHTS`` cannot be read, or leaves tensors of the model
            unloaded or has them in other shapes (weights of another model or config).

    Example::

        predictor = VideoTrackingPredictor(cfg)
        for frame_idx, image, objects in predictor(open_frames("video.mp4").frames):
            ...  # objects: disjoint TrackedObjects, obj_id = class id x 1000 + track number
    """

    @configurable
    def __init__(
        self,
        *,
        model: torch.nn.Module,
        tracker_params: TrackerParams,
        mapper: MOTSTestDatasetMapper,
        flow: str = "dis",
        mask_threshold: float = 0.5,
        class_map: Optional[np.ndarray] = None,
        precision: str = "fp32",
        allow_tf32: bool = True,
    ):
        self.tracker_params = tracker_params
        self.class_map = class_map
        self.model = model.eval()
        self.mapper = mapper
        self.input_format = mapper.image_format
        # Built once: RAFT loads its weights here, not per video.
        self.flow = build_optical_flow(flow) if tracker_params.uses_flow else None
        self.mask_threshold = mask_threshold
        self.precision = precision
        # Where the model runs (a model without parameters, e.g. replayed outputs: the CPU).
        self.device = next(model.parameters(), torch.empty(0)).device
        allow_tf32_on_cuda(allow_tf32)
        # Frame t's optical flow runs here while the model runs frame t (OpenCV releases the GIL).
        self._flow_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optical-flow")

    @classmethod
    def from_config(cls, cfg, model: Optional[torch.nn.Module] = None):
        tracker_params = TrackerParams.from_config(cfg)
        if model is None:
            model = build_model(cfg)
            # Before the weights are loaded (maybe downloaded); a given model is checked on
            # its first output.
            tracker_params.check_association_head(has_association_head(model))
            # Strictly: a tensor left at its random initialisation would give garbage tracks.
            MOTSCheckpointer(model).load(cfg.MODEL.WEIGHTS, strict=True)
        return {
            "model": model,
            "tracker_params": tracker_params,
            "mapper": MOTSTestDatasetMapper(cfg),
            "flow": cfg.TRACKER_HEADS.FLOW,
            "mask_threshold": cfg.TRACKER_HEADS.MASK_THRESHOLD,
            "class_map": class_map_from_config(cfg),
            "precision": cfg.TEST.PRECISION,
            "allow_tf32": cfg.MODEL.ALLOW_TF32,
        }

    def __call__(
        self, frames: Iterable[Tuple[int, np.ndarray]], sequence: str = "video"
    ) -> Iterator[Tuple[int, np.ndarray, List[TrackedObject]]]:
        """Track ``frames`` (``(frame_idx, BGR uint8 image)`` in time order; a gap in the
        indices restarts the model's temporal context). Yields ``(frame_idx, image, objects)``
        per frame, reading as many frames ahead as the model looks ahead."""
        tracker = SequenceTracker(self.tracker_params, self.flow, sequence)
        previous_image: Optional[np.ndarray] = None
        lookahead = getattr(self.model, "temporal_lookahead", 0)
        frames = iter(frames)
        # The current frame and the frames read ahead: (frame_idx, image, model input tensor).
        window: Deque[Tuple[int, np.ndarray, torch.Tensor]] = deque()
        for frame_idx, image in itertools.islice(frames, lookahead + 1):
            window.append((frame_idx, image, self._image_tensor(image)))
        while window:
            frame_idx, image, image_tensor = window[0]
            next_images = []
            for offset, (upcoming_idx, _, tensor) in enumerate(
                itertools.islice(window, 1, None), start=1
            ):
                if upcoming_idx != frame_idx + offset:
                    break  # a gap in the indices: the model's context restarts there
                next_images.append(tensor)
            inputs = {
                "image": image_tensor,
                "height": image.shape[0],
                "width": image.shape[1],
                "sequence": sequence,
                "frame_idx": frame_idx,
                "next_images": next_images,
            }
            flow = None
            if self.flow is not None and previous_image is not None:
                flow = self._flow_worker.submit(self.flow, image, previous_image)
            instances = self._detect(inputs)
            if not instances.has("association_vectors"):  # a given model without the head
                self.tracker_params.check_association_head(False)
            detections = frame_detections_from_instances(
                instances, sequence, frame_idx, self.mask_threshold, self.class_map
            )
            flow = None if flow is None else flow.result()
            yield frame_idx, image, tracker.step(detections, image=image, flow=flow)
            previous_image = image
            window.popleft()
            for upcoming_idx, upcoming in itertools.islice(frames, 1):
                window.append((upcoming_idx, upcoming, self._image_tensor(upcoming)))

    def _detect(self, inputs: dict) -> Instances:
        """The detections of one frame that the tracker can use (score >= MIN_SCORE, and above
        the lowest confidence threshold unless assoc_match takes low-confidence ones), at image
        resolution. Models with detectron2's ``inference(do_postprocess=False)`` (TrackRCNN,
        GeneralizedRCNN) give their masks unpasted: they go straight to RLEs, pasted into
        their boxes only."""
        unpasted = hasattr(self.model, "inference")
        with torch.no_grad(), autocast_for(self.precision, self.device):
            if unpasted:
                raw = self.model.inference([inputs], do_postprocess=False)[0]
            else:
                raw = self.model([inputs])[0]["instances"]
        params, scores = self.tracker_params, raw.scores
        usable = scores >= params.min_score
        if not (params.mechanism.assoc_match and raw.has("association_vectors")):
            usable &= params.confident(scores)
        if unpasted:
            return detector_postprocess_unpasted(raw[usable], inputs["height"], inputs["width"])
        return raw[usable]

    def _image_tensor(self, image_bgr: np.ndarray) -> torch.Tensor:
        # Video frames are BGR (OpenCV); the model takes INPUT.FORMAT, as DefaultPredictor does.
        image = image_bgr[:, :, ::-1] if self.input_format == "RGB" else image_bgr
        return self.mapper.image_tensor(image)
