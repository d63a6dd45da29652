"""Near-online tracking of a video with a trained model: detectron2's DefaultPredictor for MOTS."""
from typing import Iterable, Iterator, List, Optional, Tuple

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import detection_utils
from detectron2.data import transforms as T
from detectron2.modeling import build_model

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking import (
    Algorithm1Tracker,
    TrackedObject,
    TrackerParams,
    build_optical_flow,
    frame_detections_from_instances,
    make_disjoint,
)
from trackrcnn_d2.tracking.algorithm import mots_object_id

__all__ = ["VideoTrackingPredictor"]


class VideoTrackingPredictor:
    """Runs the model of ``cfg`` (weights from ``cfg.MODEL.WEIGHTS``) and the tracker
    (``cfg.TRACKER_HEADS``) over the frames of one video, frame by frame.

    The model gets each frame with the next one as look-ahead (``next_image``), as the test
    loader gives them; the tracker (Algorithm 1) runs online with optical flow between adjacent
    frames. Memory stays bounded on long videos: two or three frames, the model's near-online
    buffer and the tracker's state (association vectors of selected detections).

    Example::

        predictor = VideoTrackingPredictor(cfg)
        for frame_idx, image, objects in predictor(open_frames("video.mp4").frames):
            ...  # objects: disjoint TrackedObjects, obj_id = class id x 1000 + track number
    """

    def __init__(self, cfg):
        self.cfg = cfg.clone()
        self.model = build_model(self.cfg)
        self.model.eval()
        DetectionCheckpointer(self.model).load(cfg.MODEL.WEIGHTS)
        self.augmentations = T.AugmentationList(
            detection_utils.build_augmentation(cfg, is_train=False)
        )
        self.input_format = cfg.INPUT.FORMAT
        self.tracker_params = TrackerParams.from_config(cfg)
        self.flow = (
            build_optical_flow(cfg.TRACKER_HEADS.FLOW) if self.tracker_params.uses_flow else None
        )
        self.mask_threshold = cfg.TRACKER_HEADS.MASK_THRESHOLD
        class_to_contiguous = mots_io.mots_class_to_contiguous(self.tracker_params.class_names)
        self._contiguous_to_class = {v: k for k, v in class_to_contiguous.items()}

    def __call__(
        self, frames: Iterable[Tuple[int, np.ndarray]], sequence: str = "video"
    ) -> Iterator[Tuple[int, np.ndarray, List[TrackedObject]]]:
        """Track ``frames`` (``(frame_idx, BGR uint8 image)`` in time order; a gap in the
        indices restarts the model's temporal context). Yields ``(frame_idx, image, objects)``
        per frame, reading one frame ahead (the model's look-ahead)."""
        tracker = Algorithm1Tracker(self.tracker_params)
        previous_image: Optional[np.ndarray] = None
        frames = iter(frames)
        current = next(frames, None)
        current_tensor = self._preprocess(current[1]) if current is not None else None
        while current is not None:
            frame_idx, image = current
            upcoming = next(frames, None)
            inputs = {
                "image": current_tensor,
                "height": image.shape[0],
                "width": image.shape[1],
                "sequence": sequence,
                "frame_idx": frame_idx,
            }
            if upcoming is not None:
                upcoming_tensor = self._preprocess(upcoming[1])
                inputs["next_image"] = upcoming_tensor
            with torch.no_grad():
                instances = self.model([inputs])[0]["instances"].to("cpu")
            detections = frame_detections_from_instances(
                instances, sequence, frame_idx, self.mask_threshold
            )
            flow = None
            if self.flow is not None and previous_image is not None:
                flow = self.flow(image, previous_image)
            objects = []
            for selection in tracker.step(detections, flow=flow):
                class_id = self._contiguous_to_class[selection.category]
                where = f"{sequence} frame {frame_idx}"
                objects.append(
                    TrackedObject(
                        frame=frame_idx,
                        obj_id=mots_object_id(class_id, selection.track_number, where),
                        category=selection.category,
                        rle=detections.masks[selection.det_index],
                        score=float(detections.scores[selection.det_index]),
                    )
                )
            yield frame_idx, image, make_disjoint(objects, self.tracker_params.disjoint)
            previous_image = image
            current = upcoming
            if upcoming is not None:
                current_tensor = upcoming_tensor

    def _preprocess(self, image_bgr: np.ndarray) -> torch.Tensor:
        """C x H x W uint8 tensor in ``INPUT.FORMAT``, resized as at test time (as
        ``MOTSTestDatasetMapper`` does for dataset frames)."""
        image = image_bgr[:, :, ::-1] if self.input_format == "RGB" else image_bgr
        aug_input = T.AugInput(np.ascontiguousarray(image))
        self.augmentations(aug_input)
        return torch.as_tensor(np.ascontiguousarray(aug_input.image.transpose(2, 0, 1)))
