"""TrackRCNN: clip training, near-online inference, Mask R-CNN checkpoint loading."""
import pickle

import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage
from helpers.modeling import frame_dict, shapes_clip, tiny_cfg

from trackrcnn_d2.data.synthetic import render_sequence
from trackrcnn_d2.modeling import TrackRCNN
from trackrcnn_d2.utils.cli import ConfigError


def _model(cfg, randomize_temporal=True):
    model = build_model(cfg)
    if randomize_temporal:
        # Identity-initialised layers would hide mistakes in the temporal bookkeeping.
        with torch.no_grad():
            for parameter in model.backbone.temporal_layers.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.01)
    return model.eval()


def _with_next_images(frames, lookahead=1):
    """Frames with the look-ahead images that the test loader gives."""
    frames = [dict(f) for f in frames]
    for t, frame in enumerate(frames):
        frame["next_images"] = [f["image"] for f in frames[t + 1 : t + 1 + lookahead]]
    return frames


def _assert_same_detections(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        a, b = a["instances"], b["instances"]
        assert len(a) == len(b) > 0
        torch.testing.assert_close(a.pred_boxes.tensor, b.pred_boxes.tensor, atol=1e-3, rtol=1e-4)
        torch.testing.assert_close(a.scores, b.scores, atol=1e-4, rtol=1e-4)
        assert torch.equal(a.pred_classes, b.pred_classes)
        assert (a.pred_masks != b.pred_masks).float().mean() < 1e-3
        torch.testing.assert_close(
            a.association_vectors, b.association_vectors, atol=1e-4, rtol=1e-4
        )


@pytest.mark.parametrize(
    "features,temporal,num_layers",
    [
        ("c4", "conv3d", 1),
        ("fpn", "conv3d", 1),
        ("c4", "conv3d", 2),
        ("fpn", "conv3d", 2),
        ("c4", "conv3d_separable", 2),
        ("fpn", "convlstm", 1),
        ("c4", "convlstm", 2),
        ("c4", "none", 1),
    ],
)
def test_near_online_inference_equals_clip_inference(features, temporal, num_layers):
    model = _model(tiny_cfg(features, temporal, num_layers))
    assert model.temporal_lookahead == (num_layers if temporal.startswith("conv3d") else 0)
    frames = shapes_clip(5)
    computed = []
    frame_backbone_forward = model.backbone.frame_backbone.forward

    def counting_forward(x):
        computed.append(x.shape[0])
        return frame_backbone_forward(x)

    with torch.no_grad():
        clip_outputs = model.inference_clip(frames)
        model.backbone.frame_backbone.forward = counting_forward
        online_outputs = [
            model([frame])[0] for frame in _with_next_images(frames, model.temporal_lookahead)
        ]
    _assert_same_detections(online_outputs, clip_outputs)
    # Every frame's backbone features are computed exactly once.
    assert sum(computed) == len(frames)


def test_single_next_image_is_accepted_and_differs_for_two_layers_only_after_a_warning(caplog):
    one_layer = _model(tiny_cfg("c4", "conv3d", 1))
    frames = shapes_clip(4)
    legacy = [dict(f, next_image=g["image"]) for f, g in zip(frames, frames[1:])] + [frames[-1]]
    with torch.no_grad():
        _assert_same_detections(one_layer.inference(legacy), one_layer.inference_clip(frames))
        two_layers = _model(tiny_cfg("c4", "conv3d", 2))
        with caplog.at_level("WARNING"):
            truncated = two_layers.inference(legacy)
        exact = two_layers.inference_clip(frames)
    assert "next_images" in caplog.text
    # Frame 0 with only t+1 treats t+2 as the sequence's end: not the clip's features.
    assert not torch.allclose(truncated[0]["instances"].scores, exact[0]["instances"].scores)


def test_frames_without_sequence_information_are_refused_with_advice():
    from detectron2.engine import DefaultPredictor

    model = _model(tiny_cfg("c4"))
    frame = {k: v for k, v in shapes_clip(1)[0].items() if k in ("image", "height", "width")}
    with torch.no_grad(), pytest.raises(ValueError, match="VideoTrackingPredictor"):
        model([frame])
    # detectron2's DefaultPredictor (issue 14: it gave a bare KeyError 'sequence').
    predictor = DefaultPredictor(tiny_cfg("c4"))
    with pytest.raises(ValueError, match="'sequence' and 'frame_idx'"):
        predictor(np.zeros((64, 96, 3), dtype=np.uint8))


def test_state_resets_at_sequence_change_and_frame_gaps():
    model = _model(tiny_cfg("c4", "conv3d", 1))
    first = shapes_clip(3, seed=1)
    second = shapes_clip(6, seed=2)
    for frame in second:
        # Numbered on from "first", so that only the sequence name tells the streams apart.
        frame["sequence"] = "other"
        frame["frame_idx"] += len(first)
    with torch.no_grad():
        expected_second = model.inference_clip(second[:2])
        expected_after_gap = model.inference_clip(second[3:6])
        # "other" follows "first" at once; its frame 1 comes without a look-ahead frame...
        outputs = model.inference(_with_next_images(first) + _with_next_images(second[:2]))
        # ...and frames 3-5 follow without frame 2: a new stream starting at frame 3.
        after_gap = model.inference(_with_next_images(second[3:6]))
    _assert_same_detections(outputs[3:], expected_second)
    _assert_same_detections(after_gap, expected_after_gap)


def test_inference_outputs_detectron2_fields_at_original_resolution():
    cfg = tiny_cfg("c4")
    model = _model(cfg)
    frame = _with_next_images(shapes_clip(2))[0]
    frame["height"], frame["width"] = 128, 192  # as if the input had been resized by 0.5
    with torch.no_grad():
        instances = model([frame])[0]["instances"]
    assert instances.image_size == (128, 192)
    assert instances.pred_masks.shape == (len(instances), 128, 192)
    assert instances.pred_masks.dtype == torch.bool
    assert instances.association_vectors.shape == (
        len(instances),
        cfg.MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM,
    )
    assert {"pred_boxes", "scores", "pred_classes"} <= set(instances.get_fields())


def _synthetic_clip(num_frames, height=64, width=128):
    images, id_maps = render_sequence(0, num_frames, height, width, seed=0)
    # The synthetic set renders RGB; the model reads BGR (INPUT.FORMAT); ignore regions
    # (obj_id 10000) are not objects.
    return [
        frame_dict(image, np.where(id_map == 10000, 0, id_map).astype(np.int64), "0000", t)
        for t, (image, id_map) in enumerate(zip(images, id_maps))
    ]


@pytest.mark.parametrize("features", ["c4", "fpn"])
def test_a_short_clip_trains_with_decreasing_loss(features):
    cfg = tiny_cfg(features, "conv3d", clip_length=3)
    model = build_model(cfg).train()
    clip = _synthetic_clip(3)
    assert all(len(f["instances"]) > 0 for f in clip)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    totals = []
    with EventStorage():
        for _ in range(6):
            losses = model(clip)
            assert set(losses) >= {"loss_cls", "loss_mask", "loss_rpn_cls", "loss_assoc"}
            total = sum(losses.values())
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            totals.append(float(total.detach()))
    assert all(np.isfinite(totals))
    assert np.mean(totals[-2:]) < 0.8 * np.mean(totals[:2])


def test_training_batch_must_consist_of_whole_clips():
    model = build_model(tiny_cfg("c4", clip_length=3)).train()
    with EventStorage(), pytest.raises(ValueError, match="CLIP_LENGTH"):
        model(shapes_clip(4))
    mixed = shapes_clip(3)
    mixed[2]["sequence"] = "another"
    with EventStorage(), pytest.raises(ValueError, match="one sequence"):
        model(mixed)


def _mask_rcnn_cfg(features):
    """The same network as tiny_cfg, as a plain detectron2 Mask R-CNN."""
    cfg = tiny_cfg(features)
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.BACKBONE.NAME = cfg.MODEL.TEMPORAL.BACKBONE_NAME
    cfg.MODEL.ROI_HEADS.NAME = {"c4": "Res5ROIHeads", "fpn": "StandardROIHeads"}[features]
    return cfg


@pytest.mark.parametrize("features", ["c4", "fpn"])
def test_mask_rcnn_checkpoint_loads_and_gives_its_detections(features, tmp_path):
    mask_rcnn = build_model(_mask_rcnn_cfg(features))
    with torch.no_grad():
        # Non-trivial batch-norm statistics, so that a parameter left behind would show.
        for name, buffer in mask_rcnn.named_buffers():
            if name.endswith("running_mean"):
                buffer.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
    mask_rcnn.eval()
    # The model zoo's format: a pickle of numpy arrays with "__author__".
    path = tmp_path / "mask_rcnn.pkl"
    state = {k: v.numpy() for k, v in mask_rcnn.state_dict().items()}
    with open(path, "wb") as f:
        pickle.dump({"model": state, "__author__": "test"}, f)

    model = build_model(tiny_cfg(features))
    assert isinstance(model, TrackRCNN)
    incompatible = DetectionCheckpointer(model).load(str(path))
    del incompatible
    loaded = model.state_dict()
    for key, value in mask_rcnn.state_dict().items():
        own_key = key.replace("backbone.", "backbone.frame_backbone.", 1)
        assert torch.equal(loaded[own_key], value), key
    fresh = {k for k in loaded if k.replace("backbone.frame_backbone.", "backbone.", 1)
             not in mask_rcnn.state_dict()}
    assert fresh and all(
        k.startswith(("backbone.temporal_layers.", "roi_heads.association_head.")) for k in fresh
    )

    model.eval()
    frames = shapes_clip(3)
    with torch.no_grad():
        expected = [mask_rcnn([frame])[0] for frame in frames]
        got = model.inference(_with_next_images(frames))
    for a, b in zip(got, expected):
        a, b = a["instances"], b["instances"]
        assert len(a) == len(b) > 0
        torch.testing.assert_close(a.pred_boxes.tensor, b.pred_boxes.tensor)
        torch.testing.assert_close(a.scores, b.scores)
        assert torch.equal(a.pred_masks, b.pred_masks)


@pytest.mark.timeout(600)  # 16 s on an idle machine
@pytest.mark.parametrize("num_layers", [1, 2])
def test_video_predictor_feeds_the_look_ahead_the_model_needs(num_layers):
    from trackrcnn_d2.engine import VideoTrackingPredictor

    cfg = tiny_cfg("c4", "conv3d", num_layers)
    cfg.TRACKER_HEADS.FLOW = "none"
    model = _model(cfg)
    frames = shapes_clip(6)
    # BGR video frames; frame 4 is missing, so the context restarts at frame 5.
    video = [(f["frame_idx"], f["image"].permute(1, 2, 0).numpy()) for f in frames]
    del video[4]
    seen = []
    infer_frame = model._infer_frame

    def recording_infer_frame(frame, do_postprocess):
        seen.append((frame["frame_idx"], len(frame["next_images"])))
        return infer_frame(frame, do_postprocess)

    model._infer_frame = recording_infer_frame
    with torch.no_grad():
        list(VideoTrackingPredictor(cfg, model=model)(video))
    expected = {1: [(0, 1), (1, 1), (2, 1), (3, 0), (5, 0)],
                2: [(0, 2), (1, 2), (2, 1), (3, 0), (5, 0)]}[num_layers]  # fmt: skip
    assert seen == expected


@pytest.mark.parametrize("temporal,num_layers", [("conv3d", 2), ("convlstm", 1)])
def test_maps_without_temporal_layers_are_frame_ts_own_in_near_online_inference(
    temporal, num_layers
):
    """TEMPORAL.IN_FEATURES = p4 only: in near-online inference (a window of buffered frames
    around t) the detector of frame t must see frame t's own p2, p3, p5, p6, not a neighbour's;
    the frames differ (the objects move), and p4 has passed the (randomised) temporal layer."""
    cfg = tiny_cfg("fpn", temporal, num_layers)
    cfg.MODEL.TEMPORAL.IN_FEATURES = ["p4"]
    model = _model(cfg)
    frames = shapes_clip(5)
    seen = {}
    detect = model._detect

    def recording_detect(images, features, batched_inputs, do_postprocess):
        seen[batched_inputs[0]["frame_idx"]] = {k: v.clone() for k, v in features.items()}
        return detect(images, features, batched_inputs, do_postprocess)

    model._detect = recording_detect
    with torch.no_grad():
        for frame in _with_next_images(frames, model.temporal_lookahead):
            model([frame])
        own = [model.backbone.frame_features(model.preprocess_image([f]).tensor) for f in frames]
    assert sorted(seen) == list(range(len(frames)))
    for t in range(len(frames)):
        for name in ("p2", "p3", "p5", "p6"):
            assert torch.equal(seen[t][name], own[t][name]), (t, name)
        assert not torch.equal(seen[t]["p4"], own[t]["p4"])
    assert not torch.equal(own[1]["p2"], own[2]["p2"])


def _chunks(frames, chunk):
    """The released code's inference clips: non-overlapping chunks of ``chunk`` frames, the
    last one filled up by repeating the last frame (datasets/KITTI/segtrack/
    KITTI_segtrack_feed.py l. 82-84)."""
    clips = [frames[start : start + chunk] for start in range(0, len(frames), chunk)]
    clips[-1] = clips[-1] + [clips[-1][-1]] * (chunk - len(clips[-1]))
    return clips


def _chunked_clip_inference(model, frames, chunk, do_postprocess=True):
    outputs = []
    for clip in _chunks(frames, chunk):
        outputs += model.inference_clip(clip, do_postprocess)
    return outputs[: len(frames)]


@pytest.mark.parametrize(
    "features,temporal,num_layers",
    [("c4", "conv3d", 1), ("fpn", "conv3d", 2), ("c4", "conv3d_separable", 2)],
)
def test_chunked_inference_equals_the_release_clips(features, temporal, num_layers):
    """TEST.CLIP_CHUNK 3 on 7 frames: clips [0, 1, 2], [3, 4, 5], [6, 6, 6], each zero-padded
    in time at its edges, run frame by frame with the test loader's look-ahead."""
    cfg = tiny_cfg(features, temporal, num_layers)
    cfg.TEST.CLIP_CHUNK = 3
    model = _model(cfg)
    frames = shapes_clip(7)
    with torch.no_grad():
        expected = _chunked_clip_inference(model, frames, 3)
        chunked = model.inference(_with_next_images(frames, model.temporal_lookahead))
        model.clip_chunk = 0
        model.reset_state()
        near_online = model.inference(_with_next_images(frames, model.temporal_lookahead))
    _assert_same_detections(chunked, expected)
    # The chunk edges change what the temporal layers see: frame 2 lost frame 3.
    assert not torch.allclose(chunked[2]["instances"].scores, near_online[2]["instances"].scores)


def test_chunked_inference_leaves_a_convlstm_state_running_and_refuses_negative_chunks():
    cfg = tiny_cfg("c4", "convlstm", 1)
    model = _model(cfg)
    frames = _with_next_images(shapes_clip(5), 0)
    with torch.no_grad():
        near_online = model.inference(frames)
        model.clip_chunk = 2
        model.reset_state()
        _assert_same_detections(model.inference(frames), near_online)
    cfg.TEST.CLIP_CHUNK = -1
    with pytest.raises(ConfigError, match="TEST.CLIP_CHUNK"):
        build_model(cfg)


def test_video_predictor_and_test_loader_run_the_chunks(tmp_path):
    """Both front ends of inference (the video predictor and build_mots_test_loader, which
    MOTSEvaluator reads) give the chunked detections."""
    from trackrcnn_d2.data.build import build_mots_test_loader
    from trackrcnn_d2.data.builtin import register_synthetic_mots
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots
    from trackrcnn_d2.engine import VideoTrackingPredictor

    generate_synthetic_mots(str(tmp_path / "set"), sequences=2, frames=7, height=64, width=96)
    prefix = f"chunks_{tmp_path.name}"
    register_synthetic_mots(prefix, str(tmp_path / "set"))
    cfg = tiny_cfg("c4", "conv3d", 2)
    cfg.TEST.CLIP_CHUNK = 3
    cfg.TRACKER_HEADS.FLOW = "none"
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = 64, 96
    model = _model(cfg)
    frames = list(build_mots_test_loader(cfg, f"{prefix}_val"))
    frames = [batch[0] for batch in frames]
    assert [len(f["next_images"]) for f in frames] == [2, 2, 2, 2, 2, 1, 0]
    recorded = []
    inference = model.inference

    def recording_inference(batched_inputs, do_postprocess=True):
        outputs = inference(batched_inputs, do_postprocess)
        recorded.extend(outputs)
        return outputs

    with torch.no_grad():
        expected = _chunked_clip_inference(model, frames, 3)
        _assert_same_detections([model([frame])[0] for frame in frames], expected)
        model.reset_state()
        model.inference = recording_inference
        video = [(f["frame_idx"], f["image"].permute(1, 2, 0).numpy()) for f in frames]
        list(VideoTrackingPredictor(cfg, model=model)(video))
        raw_expected = _chunked_clip_inference(model, frames, 3, do_postprocess=False)
    assert len(recorded) == len(frames)
    for got, want in zip(recorded, raw_expected):
        torch.testing.assert_close(got.scores, want.scores, atol=1e-4, rtol=1e-4)
        boxes = (got.pred_boxes.tensor, want.pred_boxes.tensor)
        torch.testing.assert_close(*boxes, atol=1e-3, rtol=1e-4)
