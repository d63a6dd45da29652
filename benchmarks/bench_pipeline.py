#!/usr/bin/env python
"""TrackR-CNN end to end on video (model, masks, flow, tracker): frames per second and where
the time goes, with the paper's config.

    python benchmarks/bench_pipeline.py [--config configs/kitti_mots_r101.yaml]
        [--height 375 --width 1242] [--detections 30] [--frames 5] [--device auto]
        [--model-size S] [--proposals P] [--anchor-scale 0.5] [--threads 1]
        [--precision config|fp32|tf32|bf16]

Frames: a synthetic sequence (``trackrcnn_d2.data.synthetic``) at ``--height`` x ``--width``
(KITTI's 375 x 1242 by default); masks, flow and tracker work at that size. The model has
random weights with calibrated normalisation (as ``bench_model.py``), the score threshold at 0
and ``TEST.DETECTIONS_PER_IMAGE = --detections``, so every frame has that many detections; its
anchors are ``--anchor-scale`` times detectron2's (KITTI's objects are smaller than COCO's), so
that the boxes are KITTI-sized (the mean box is printed). The tracker's confidence threshold is
the median detection score of the first frame: about half the detections start or extend
tracks, the rest are low-confidence candidates of assoc_match.

``--device auto`` runs on CUDA when there is one. On a CPU the model sees the frames resized to
a short side of ``--model-size`` (default 128; anchors shrunk alike) with ``--proposals``
(default 50) RPN proposals, so that a run takes about a minute; its outputs are still at the
frame size, where masks, flow and tracker run as they would after a full-size model.

Printed, per frame:

1. the whole pipeline, ``VideoTrackingPredictor`` (flow on a worker thread during the model,
   masks from the mask head's probabilities straight to RLEs), in frames per second
   (wall-clock, so on a shared machine it depends on the load);
2. the stages, each timed alone in the same run, median over the frames after the first:
   model (near-online TrackR-CNN), mask post-processing (``structures.mask_rle``: 28 x 28
   probabilities to RLEs and FrameDetections), optical flow (DIS), tracker (Algorithm 1 with
   mask propagation) and disjoint masks; and for comparison detectron2's Mask R-CNN of the same
   network and weights (model time ratio) and detectron2's mask path (paste whole images, copy,
   encode; checked to give the same RLEs). On CUDA: wall-clock with synchronisation; on the
   CPU: the process's CPU time with ``--threads`` threads (robust to other processes).
No weights are downloaded.
"""
import argparse
import os
import sys
import time

import cv2
import numpy as np
import torch
from detectron2.modeling import build_model
from detectron2.modeling.postprocessing import detector_postprocess

from trackrcnn_d2.data.synthetic import render_sequence
from trackrcnn_d2.engine import VideoTrackingPredictor
from trackrcnn_d2.engine.precision import inference_precision, set_matmul_precision
from trackrcnn_d2.structures.mask_rle import detector_postprocess_unpasted
from trackrcnn_d2.tracking import (
    Algorithm1Tracker,
    build_optical_flow,
    frame_detections_from_instances,
    make_disjoint,
)
from trackrcnn_d2.tracking.sequence_tracker import TrackedObject

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_model import calibrate_normalization, load_cfg  # noqa: E402

REPO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def bench_cfg(args, peer: bool):
    cfg = load_cfg(args.config, peer=peer, proposals=args.proposals)
    cfg.defrost()
    cfg.MODEL.DEVICE = args.device
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0
    cfg.TEST.DETECTIONS_PER_IMAGE = args.detections
    # A model input smaller than the frame shrinks the anchors alike, so that the boxes and
    # masks at the frame size are those of a full-size run.
    scale = args.anchor_scale
    if args.model_size:
        scale *= args.model_size / args.height
        cfg.INPUT.MIN_SIZE_TEST = args.model_size
        cfg.INPUT.MAX_SIZE_TEST = int(np.ceil(args.model_size * args.width / args.height))
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [
        [size * scale for size in sizes] for sizes in cfg.MODEL.ANCHOR_GENERATOR.SIZES
    ]
    if args.precision != "config":
        cfg.MODEL.ALLOW_TF32 = args.precision == "tf32"
        cfg.TEST.PRECISION = "bf16" if args.precision == "bf16" else "fp32"
    cfg.TRACKER_HEADS.FLOW = "dis"
    return cfg


class StageClock:
    """Per-stage times: CUDA wall-clock with synchronisation, or the process's CPU time."""

    def __init__(self, device: str):
        self.cuda = device == "cuda"
        self.times = {}

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            return time.perf_counter()
        return time.process_time()

    def add(self, stage: str, start: float) -> float:
        end = self.now()
        self.times.setdefault(stage, []).append(end - start)
        return end

    def median_ms(self, stage: str) -> float:
        return 1000 * float(np.median(self.times[stage][1:] or self.times[stage]))


def model_inputs(predictor, images):
    """Near-online inputs of each frame (the predictor's transform)."""
    tensors = [predictor._image_tensor(image) for image in images]
    height, width = images[0].shape[:2]
    inputs = []
    for t, tensor in enumerate(tensors):
        frame = {"image": tensor, "height": height, "width": width, "sequence": "bench",
                 "frame_idx": t}
        if t + 1 < len(tensors):
            frame["next_images"] = tensors[t + 1 : t + 1 + predictor.model.temporal_lookahead]
        inputs.append(frame)
    return inputs


def time_stages(args, cfg, ours, peer, predictor, images):
    """Each stage alone, frame by frame, in the same order as the pipeline runs them."""
    clock = StageClock(args.device)
    inputs = model_inputs(predictor, images)
    params = predictor.tracker_params
    threshold = cfg.TRACKER_HEADS.MASK_THRESHOLD
    flow = build_optical_flow("dis")
    ours.reset_state()
    previous_image = None
    boxes_area = []
    for t, (frame, image) in enumerate(zip(inputs, images)):
        with torch.no_grad(), inference_precision(cfg):
            start = clock.now()
            raw = ours.inference([frame], do_postprocess=False)[0]
            start = clock.add("model", start)
            peer.inference([{"image": frame["image"]}], do_postprocess=False)
            clock.add("model, Mask R-CNN", start)
        if t == 0:  # half of the detections are confident: they start or extend tracks
            median = float(raw.scores.median())
            params = params.replace(detection_confidence=(median,) * len(params.class_names))
            tracker = Algorithm1Tracker(params)
        start = clock.now()
        instances = detector_postprocess_unpasted(raw, frame["height"], frame["width"])
        detections = frame_detections_from_instances(instances, "bench", t, threshold)
        clock.add("masks, ours", start)
        # detectron2's path: paste into whole images, copy them to the host, encode.
        start = clock.now()
        raw.pred_boxes = raw.pred_boxes.clone()  # detector_postprocess scales them in place
        pasted = detector_postprocess(raw, frame["height"], frame["width"]).to("cpu")
        reference = frame_detections_from_instances(pasted, "bench", t, threshold)
        clock.add("masks, detectron2", start)
        if reference.masks != detections.masks:
            raise RuntimeError(f"frame {t}: the RLEs differ from detectron2's paste + encode")
        boxes_area.append(np.mean(np.prod(detections.boxes[:, 2:] - detections.boxes[:, :2], 1)))
        backward_flow = None
        if previous_image is not None:
            start = clock.now()
            backward_flow = flow(image, previous_image)
            clock.add("optical flow (DIS)", start)
        start = clock.now()
        selections = tracker.step(detections, flow=backward_flow)
        start = clock.add("tracker (Alg. 1)", start)
        objects = [
            TrackedObject(t, 1000 + s.track_number, s.category, detections.masks[s.det_index],
                          float(detections.scores[s.det_index]), s.det_index)
            for s in selections
        ]
        make_disjoint(objects, params.disjoint)
        clock.add("disjoint masks", start)
        previous_image = image
    return clock, float(np.mean(boxes_area)), len(detections), params.detection_confidence


def time_pipeline(args, predictor, images) -> float:
    """Frames per second of the predictor over the frames (after one warm-up frame)."""
    frames = list(enumerate(images))
    if args.device == "cuda":  # cuDNN's algorithm search, CUDA's lazy initialisation
        for _ in predictor(frames[:2]):
            pass
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in predictor(frames):
        pass
    if args.device == "cuda":
        torch.cuda.synchronize()
    return len(frames) / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=os.path.join(REPO_ROOT, "configs/kitti_mots_r101.yaml"))
    parser.add_argument("--height", type=int, default=375)
    parser.add_argument("--width", type=int, default=1242)
    parser.add_argument("--detections", type=int, default=30)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--model-size", type=int, default=-1,
                        help="short side of the model's input (0: the config's; CPU default 128)")
    parser.add_argument("--proposals", type=int, default=-1,
                        help="RPN proposals (0: the config's; CPU default 50)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    parser.add_argument("--anchor-scale", type=float, default=0.5,
                        help="anchor sizes times this: box sizes of the random detections")
    parser.add_argument("--precision", default="config", choices=["config", "fp32", "tf32", "bf16"])
    args = parser.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    on_cpu = args.device == "cpu"
    if args.model_size < 0:
        args.model_size = 128 if on_cpu else 0
    if args.proposals < 0:
        args.proposals = 50 if on_cpu else 0
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    command = "python benchmarks/bench_pipeline.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )

    cfg, peer_cfg = bench_cfg(args, peer=False), bench_cfg(args, peer=True)
    set_matmul_precision(cfg)
    rgb_images, _ = render_sequence(0, args.frames, args.height, args.width, seed=0)
    images = [np.ascontiguousarray(image[:, :, ::-1]) for image in rgb_images]
    peer = build_model(peer_cfg).eval()
    ours = build_model(cfg).eval()
    predictor = VideoTrackingPredictor(cfg, model=ours)
    calibrate_normalization(peer, model_inputs(predictor, images[:1]))
    # Same weights: the temporal layers start as the identity, so detections are identical.
    ours.load_state_dict(peer.state_dict(), strict=False)

    clock, mean_area, detections, confidence = time_stages(
        args, cfg, ours, peer, predictor, images
    )
    cfg.TRACKER_HEADS.DETECTION_CONFIDENCE = list(confidence)
    fps = time_pipeline(args, predictor=VideoTrackingPredictor(cfg, model=ours), images=images)

    model_size = f"{args.model_size} px short side" if args.model_size else "the config's size"
    unit = "ms" if args.device == "cuda" else "CPU ms"
    print(
        f"{args.frames} frames of {args.height}x{args.width}, {args.device} "
        f"({torch.cuda.get_device_name() if args.device == 'cuda' else f'{args.threads} thread(s)'}"
        f"), model input {model_size}, {cfg.MODEL.RPN.POST_NMS_TOPK_TEST} proposals, "
        f"{detections} detections per frame (mean box {mean_area:.0f} px), precision "
        f"{'bf16 autocast' if cfg.TEST.PRECISION == 'bf16' else 'fp32'}"
        f"{' + TF32' if cfg.MODEL.ALLOW_TF32 and args.device == 'cuda' else ''}\n"
    )
    print(f"whole pipeline (VideoTrackingPredictor): {fps:.2f} frames/s ({1000 / fps:.1f} ms "
          "per frame, wall-clock)\n")
    print(f"stages, per frame ({unit}, each timed alone, median):")
    stages = ["model", "masks, ours", "optical flow (DIS)", "tracker (Alg. 1)", "disjoint masks"]
    for stage in stages:
        print(f"  {stage:30s} {clock.median_ms(stage):8.1f}")
    print(f"  {'sum':30s} {sum(clock.median_ms(s) for s in stages):8.1f}")
    print("for comparison:")
    ratio = clock.median_ms("model") / clock.median_ms("model, Mask R-CNN")
    print(f"  {'model, Mask R-CNN':30s} {clock.median_ms('model, Mask R-CNN'):8.1f}"
          f"   (TrackR-CNN / Mask R-CNN: {ratio:.2f})")
    print(f"  {'masks, detectron2 paste+encode':30s} {clock.median_ms('masks, detectron2'):8.1f}"
          f"   (same RLEs, checked)")
    print(f"\nReproduce: {command}")


if __name__ == "__main__":
    main()
