"""TrackRCNN meta-architecture: clip training, near-online inference (Sec. 5, Sec. 6, Fig. 3)."""
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.structures import ImageList
from detectron2.utils.events import get_event_storage

from trackrcnn_d2.utils.cli import ConfigError

from ..backbone.temporal_backbone import TemporalBackbone, TemporalState
from ..proposal_generator import IgnoreRegionRPN

__all__ = ["TrackRCNN"]

logger = logging.getLogger(__name__)


@dataclass
class _NearOnlineStream:
    """What near-online inference keeps between the frames of one sequence."""

    sequence: str
    # Last frame whose detections were returned.
    last_frame: int
    # The stream's first frame: chunked inference (TEST.CLIP_CHUNK) counts its chunks from it.
    first_frame: int
    # Frame index -> per-frame backbone features (1, C, H, W), including the look-ahead frame.
    frame_features: Dict[int, Dict[str, torch.Tensor]] = field(default_factory=dict)
    # Recurrent (ConvLSTM) state after ``last_frame``.
    recurrent_state: Optional[TemporalState] = None


@META_ARCH_REGISTRY.register()
class TrackRCNN(GeneralizedRCNN):
    """Mask R-CNN with temporal layers in the backbone and an association head (Fig. 3).

    Training: ``batched_inputs`` are frames of consecutive clips of ``clip_length`` frames each
    (one sequence per clip, in time order, one image size per clip). Returns detectron2's losses
    plus ``loss_assoc`` (from the TrackROIHeads).

    Inference is near-online, one frame at a time in sequence order: each frame dict has
    "image", "height", "width", "sequence", "frame_idx" and "next_images": the images of the
    frames that follow in the sequence (same transform), as many as the temporal layers look
    ahead (:attr:`temporal_lookahead`: one per stacked Conv3D) or all that are left at the
    sequence's end; fewer means that the sequence ends after them. "next_image" (one image) is
    accepted for one frame of look-ahead. Backbone features are computed once per frame and
    buffered, so the temporal layers of frame t see every frame they reach, with zero padding
    only at sequence boundaries; a ConvLSTM's state is carried along the sequence. The buffer
    is reset when the sequence changes or frame_idx is not the previous one plus 1.
    :meth:`inference_clip` runs a whole clip at once instead, and gives the same detections.

    With ``clip_chunk`` K > 0 (``TEST.CLIP_CHUNK``, the released code's inference) the stream
    is cut into non-overlapping chunks of K frames from its first frame, each one a clip of its
    own: the temporal layers see only the frames of the chunk, zero-padded in time at its two
    edges, and the last chunk is filled up to K frames by repeating the sequence's last frame.
    The frames are still given one at a time with the same look-ahead, so every front end
    (test loader, video predictor) runs it unchanged. A ConvLSTM's state still runs along the
    whole sequence (as in the released code), so only Conv3D layers see the chunks.

    Outputs per frame ``{"instances": Instances}`` with pred_boxes, scores, pred_classes,
    pred_masks and association_vectors (N x D).

    A plain detectron2 Mask R-CNN checkpoint loads into this model: its ``backbone.*`` keys are
    mapped into the wrapped backbone, and the temporal layers (identity-initialised) and the
    association head are left freshly initialised.
    """

    @configurable
    def __init__(
        self, *, backbone: TemporalBackbone, clip_length: int, clip_chunk: int = 0, **kwargs
    ):
        """
        Args:
            backbone: a :class:`TemporalBackbone`.
            clip_length: frames per training clip (INPUT.CLIP_LENGTH).
            clip_chunk: frames per inference chunk (TEST.CLIP_CHUNK); 0: near-online.
            kwargs: as for :class:`GeneralizedRCNN`.
        """
        if clip_chunk < 0:
            raise ConfigError(f"TEST.CLIP_CHUNK must be 0 (near-online) or more, got {clip_chunk}")
        if not isinstance(backbone, TemporalBackbone):
            raise ValueError(
                f"TrackRCNN needs a TemporalBackbone (MODEL.BACKBONE.NAME = "
                f"'build_temporal_backbone'), got {type(backbone).__name__}."
            )
        super().__init__(backbone=backbone, **kwargs)
        self.clip_length = clip_length
        self.clip_chunk = clip_chunk
        self._stream: Optional[_NearOnlineStream] = None
        self._warned_single_next_image = False

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        ret["clip_length"] = cfg.INPUT.CLIP_LENGTH
        ret["clip_chunk"] = cfg.TEST.CLIP_CHUNK
        return ret

    @property
    def temporal_lookahead(self) -> int:
        """Frames after frame t that near-online inference of frame t needs ("next_images")."""
        return self.backbone.temporal_lookahead

    def forward(self, batched_inputs: List[Dict]):
        """Training: losses of the clips. Inference: near-online, frame by frame in order."""
        if not self.training:
            return self.inference(batched_inputs)

        self._check_clips(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        features = self.backbone(images.tensor, clip_length=self.clip_length)
        if isinstance(self.proposal_generator, IgnoreRegionRPN):
            ignore_masks = [x.get("ignore_mask") for x in batched_inputs]
            proposals, proposal_losses = self.proposal_generator(
                images, features, gt_instances, ignore_masks=ignore_masks
            )
        else:
            proposals, proposal_losses = self.proposal_generator(images, features, gt_instances)
        _, detector_losses = self.roi_heads(images, features, proposals, gt_instances)
        if self.vis_period > 0 and get_event_storage().iter % self.vis_period == 0:
            self.visualize_training(batched_inputs, proposals)

        losses = dict(detector_losses)
        losses.update(proposal_losses)
        return losses

    def _check_clips(self, batched_inputs: List[Dict]):
        if len(batched_inputs) % self.clip_length != 0:
            raise ValueError(
                f"TrackRCNN got {len(batched_inputs)} training frames, not a multiple of "
                f"INPUT.CLIP_LENGTH = {self.clip_length}; the clip sampler must yield whole clips."
            )
        for start in range(0, len(batched_inputs), self.clip_length):
            clip = batched_inputs[start : start + self.clip_length]
            sizes = {tuple(x["image"].shape[-2:]) for x in clip}
            sequences = {x.get("sequence") for x in clip}
            if len(sizes) > 1 or len(sequences) > 1:
                raise ValueError(
                    f"Frames {start}..{start + self.clip_length - 1} of the batch do not form one "
                    f"clip: sequences {sorted(map(str, sequences))}, image sizes {sorted(sizes)}. "
                    "A clip needs frames of one sequence with one image size."
                )

    def inference(self, batched_inputs: List[Dict], do_postprocess: bool = True):
        """Near-online inference of each frame in turn (see the class docstring).

        Returns:
            per frame, ``{"instances": Instances}`` (or raw Instances if not do_postprocess).
        """
        assert not self.training
        return [self._infer_frame(x, do_postprocess) for x in batched_inputs]

    def reset_state(self):
        """Forgets the buffered frames of the current sequence."""
        self._stream = None

    def inference_clip(self, batched_inputs: List[Dict], do_postprocess: bool = True):
        """Inference over a whole clip at once, zero-padded in time at its two ends.

        Gives the detections that near-online inference gives for the same frames when they
        form a whole sequence (or a stream started at the clip's first frame and ending at its
        last). Leaves the near-online state alone.
        """
        assert not self.training
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor, clip_length=len(batched_inputs))
        return self._detect(images, features, batched_inputs, do_postprocess)

    def _detect(self, images: ImageList, features, batched_inputs, do_postprocess):
        proposals, _ = self.proposal_generator(images, features, None)
        results, _ = self.roi_heads(images, features, proposals, None)
        if do_postprocess:
            return GeneralizedRCNN._postprocess(results, batched_inputs, images.image_sizes)
        return results

    def _infer_frame(self, frame: Dict, do_postprocess: bool):
        if "sequence" not in frame or "frame_idx" not in frame:
            raise ValueError(
                "TrackRCNN infers the frames of a video in order and needs 'sequence' and "
                "'frame_idx' in each input (and 'next_images', the look-ahead frames); got "
                f"{sorted(frame)}. detectron2's DefaultPredictor gives single images: use "
                "trackrcnn_d2.engine.VideoTrackingPredictor for videos, build_mots_test_loader "
                "for datasets, or inference_clip() for a clip of frames."
            )
        sequence, t = frame["sequence"], int(frame["frame_idx"])
        stream = self._stream
        if stream is None or stream.sequence != sequence or stream.last_frame != t - 1:
            stream = self._stream = _NearOnlineStream(sequence, last_frame=t - 1, first_frame=t)

        images = self.preprocess_image([frame])
        if t not in stream.frame_features:
            stream.frame_features[t] = self.backbone.frame_features(images.tensor)
        lookback, lookahead = self.backbone.temporal_lookback, self.backbone.temporal_lookahead
        # The frames the temporal layers may see: the sequence, or frame t's chunk.
        first = stream.first_frame
        if self.clip_chunk:
            first += (t - stream.first_frame) // self.clip_chunk * self.clip_chunk
            lookahead = min(lookahead, first + self.clip_chunk - 1 - t)
        upcoming = self._upcoming_images(frame)[:lookahead]
        for offset, image in enumerate(upcoming, start=1):
            if t + offset in stream.frame_features:
                continue
            upcoming_images = self.preprocess_image([{"image": image}])
            if upcoming_images.tensor.shape != images.tensor.shape:
                raise ValueError(
                    f"Sequence {sequence!r}, frame {t}: look-ahead frame t+{offset} has size "
                    f"{tuple(image.shape[-2:])}, image has {tuple(frame['image'].shape[-2:])}; "
                    "all need the same transform."
                )
            stream.frame_features[t + offset] = self.backbone.frame_features(
                upcoming_images.tensor
            )

        reach = t + len(upcoming)
        if self.clip_chunk and len(upcoming) < lookahead:
            # The sequence ends inside the chunk: its last frame fills the chunk.
            for f in range(reach + 1, t + lookahead + 1):
                stream.frame_features[f] = stream.frame_features[reach]
            reach = t + lookahead
        window = [
            f for f in sorted(stream.frame_features) if max(first, t - lookback) <= f <= reach
        ]
        # Fewer frames than the layers reach: the sequence (or the chunk) ends after them.
        ends_sequence = reach - t < self.backbone.temporal_lookahead
        features, stream.recurrent_state = self._temporal_features_of_frame(
            stream, window, t, ends_sequence=ends_sequence
        )
        for f in [f for f in stream.frame_features if f <= t - lookback]:
            del stream.frame_features[f]
        stream.last_frame = t
        return self._detect(images, features, [frame], do_postprocess)[0]

    def _upcoming_images(self, frame: Dict) -> List[torch.Tensor]:
        """The frame's look-ahead images: "next_images", or "next_image" as a list of one."""
        if "next_images" in frame:
            return list(frame["next_images"])
        if "next_image" not in frame:
            return []
        if self.backbone.temporal_lookahead > 1 and not self._warned_single_next_image:
            self._warned_single_next_image = True
            logger.warning(
                "Near-online inference got one look-ahead frame ('next_image'), but the "
                "temporal layers look %d frames ahead: frames after t+1 count as the sequence's "
                "end. Give 'next_images' (build_mots_test_loader does) for exact results.",
                self.backbone.temporal_lookahead,
            )
        return [frame["next_image"]]

    def _temporal_features_of_frame(
        self, stream: _NearOnlineStream, window: List[int], t: int, ends_sequence: bool
    ) -> Tuple[Dict[str, torch.Tensor], TemporalState]:
        """Runs the temporal layers over the buffered window; returns frame t's features.

        Args:
            window: the buffered frames from t - lookback (or the stream's first frame) on.
        """
        # Fewer than `lookback` buffered frames before t means the stream started in between:
        # zero padding there. Otherwise the window holds all the past that frame t needs.
        lookback = self.backbone.temporal_lookback
        starts_sequence = window.index(t) < lookback
        stacked = {
            name: torch.cat([stream.frame_features[f][name] for f in window])
            for name in stream.frame_features[t]
        }
        outputs, state = self.backbone.temporal_context(
            stacked,
            starts_sequence=starts_sequence,
            ends_sequence=ends_sequence,
            state=stream.recurrent_state,
        )
        # The outputs start at the window's first frame, or after its look-back context.
        index = window.index(t) - (0 if starts_sequence else lookback)
        return {name: x[index : index + 1] for name, x in outputs.items()}, state
