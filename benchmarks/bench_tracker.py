#!/usr/bin/env python
"""Tracker speed at KITTI density, on one CPU core.

    python benchmarks/bench_tracker.py [--frames 400] [--repeats 3]

Synthetic sequence: 375 x 1242 images, about 10 detections per frame (7 moving objects, cars
and pedestrians, some overlapping, plus 3 low-confidence false positives), 128-d association
vectors. Measured, best of ``--repeats``:

1. ours: ``track_sequence`` (Algorithm 1, mask propagation + association, no optical flow)
   including the disjoint-mask resolution of the output, frames per second (target >= 500);
2. ours through detectron2's API: ``TrackRCNNTracker.update`` on ``Instances`` with dense masks
   (includes encoding the masks as RLE);
3. peer: detectron2's own ``VanillaHungarianBBoxIOUTracker`` (Hungarian on box IoU) on the same
   detections, as ``Instances`` with boxes only; printed with the ratio;
4. optical flow: OpenCV DIS per frame pair (presets medium / fast / ultrafast) and the warping
   of the previous frame's masks with it (mask propagation), before (decode, remap and encode
   whole images) and after (``warp_rle``: only each mask's box grown by the flow's reach).
"""
import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from trackrcnn_d2.data import mots_io  # noqa: E402
from trackrcnn_d2.tracking import (  # noqa: E402
    FrameDetections,
    TrackerParams,
    track_sequence,
    tracks_to_mots_objects,
)
from trackrcnn_d2.tracking.detections import encode_masks  # noqa: E402
from trackrcnn_d2.tracking.flow import DISFlow, sampling_maps, warp_mask, warp_rle  # noqa: E402
from trackrcnn_d2.utils.rle import decode_mask, encode_mask  # noqa: E402

HEIGHT, WIDTH = 375, 1242
OBJECTS = 7
FALSE_POSITIVES = 3
EMBEDDING_DIM = 128


def synthetic_sequence(frames: int, seed: int = 0):
    """Detections (FrameDetections and dense masks) of moving ellipses, and textured images."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    objects = []
    for k in range(OBJECTS):
        car = k < 4
        objects.append(
            {
                "cls": 0 if car else 1,
                "x": rng.uniform(100, WIDTH - 100),
                "y": rng.uniform(180, 330),
                "vx": rng.uniform(-4, 4),
                "rx": rng.uniform(40, 90) if car else rng.uniform(10, 20),
                "ry": rng.uniform(25, 45) if car else rng.uniform(30, 60),
                "vec": rng.normal(size=EMBEDDING_DIM),
            }
        )
    sequence, dense = [], []
    for t in range(frames):
        masks, boxes, scores, classes, vectors = [], [], [], [], []
        for obj in objects:
            x = (obj["x"] + obj["vx"] * t) % WIDTH
            mask = ((xx - x) / obj["rx"]) ** 2 + ((yy - obj["y"]) / obj["ry"]) ** 2 <= 1
            masks.append(mask)
            boxes.append([x - obj["rx"], obj["y"] - obj["ry"], x + obj["rx"], obj["y"] + obj["ry"]])
            scores.append(rng.uniform(0.9, 1.0))
            classes.append(obj["cls"])
            vectors.append(obj["vec"] + rng.normal(scale=0.05, size=EMBEDDING_DIM))
        for _ in range(FALSE_POSITIVES):
            x0, y0 = rng.uniform(0, WIDTH - 40), rng.uniform(150, HEIGHT - 40)
            mask = np.zeros((HEIGHT, WIDTH), bool)
            mask[int(y0) : int(y0) + 30, int(x0) : int(x0) + 20] = True
            masks.append(mask)
            boxes.append([x0, y0, x0 + 20, y0 + 30])
            scores.append(rng.uniform(0.1, 0.5))
            classes.append(int(rng.integers(0, 2)))
            vectors.append(rng.normal(size=EMBEDDING_DIM))
        masks = np.stack(masks)
        dense.append((np.array(boxes), np.array(scores), np.array(classes), masks,
                      np.array(vectors, np.float32)))
        sequence.append(
            FrameDetections("bench", t, HEIGHT, WIDTH, np.array(boxes), scores, classes,
                            encode_masks(masks), np.array(vectors, np.float32))
        )
    return sequence, dense


def textured_images(count: int, seed: int = 1):
    """Frames of a smooth random texture that pans 3 px right and 1 px down per frame."""
    rng = np.random.default_rng(seed)
    pad = 4 * count + 8
    noise = cv2.GaussianBlur(
        rng.random((HEIGHT + pad, WIDTH + pad)).astype(np.float32), (0, 0), 3.0
    )
    texture = ((noise - noise.min()) / (noise.max() - noise.min()) * 255).astype(np.uint8)
    return [
        cv2.cvtColor(texture[pad - t : pad - t + HEIGHT, pad - 3 * t : pad - 3 * t + WIDTH],
                     cv2.COLOR_GRAY2BGR)
        for t in range(count)
    ]


def best_time(function, repeats: int, setup=None) -> float:
    """Fastest of ``repeats`` runs of ``function(setup())`` (setup not timed)."""
    times = []
    for _ in range(repeats):
        argument = setup() if setup is not None else None
        start = time.perf_counter()
        function(argument)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flow-pairs", type=int, default=10)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    arguments = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/bench_tracker.py " + " ".join(arguments)

    frames, dense = synthetic_sequence(args.frames)
    params = TrackerParams(
        class_names=("car", "pedestrian"),
        detection_confidence=(0.8,),
        maskprop_threshold=(0.3,),
        assoc_threshold=(1.0,),
    )
    tracks = track_sequence(frames, params)
    per_frame = np.mean([len(f) for f in frames])
    reported = np.mean([len(v) for v in tracks.values()])
    ids = {o.obj_id for v in tracks.values() for o in v}
    for objects in tracks_to_mots_objects(tracks).values():
        mots_io.objects_to_id_map(objects, HEIGHT, WIDTH)  # raises if masks overlap
    print(f"{args.frames} frames of {HEIGHT}x{WIDTH}, {per_frame:.1f} detections per frame "
          f"({reported:.1f} reported per frame, {len(ids)} tracks)\n")

    ours = best_time(lambda _: track_sequence(frames, params), args.repeats)
    ours_fps = args.frames / ours

    import torch
    from detectron2.config import get_cfg
    from detectron2.structures import Boxes, Instances
    from detectron2.tracking import VanillaHungarianBBoxIOUTracker, build_tracker_head

    import trackrcnn_d2.tracking.tracker_head  # noqa: F401  (registers TrackRCNNTracker)
    from trackrcnn_d2 import add_trackrcnn_config

    torch.set_num_threads(1)

    def instances(frame_dense, with_masks):
        boxes, scores, classes, masks, vectors = frame_dense
        inst = Instances((HEIGHT, WIDTH))
        inst.pred_boxes = Boxes(torch.as_tensor(boxes, dtype=torch.float32))
        inst.scores = torch.as_tensor(scores, dtype=torch.float32)
        inst.pred_classes = torch.as_tensor(classes, dtype=torch.int64)
        if with_masks:
            inst.pred_masks = torch.as_tensor(masks)
            inst.association_vectors = torch.as_tensor(vectors)
        return inst

    def run_peer(box_instances):
        tracker = VanillaHungarianBBoxIOUTracker(
            video_height=HEIGHT, video_width=WIDTH, track_iou_threshold=0.3
        )
        for inst in box_instances:
            tracker.update(inst)

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.TRACKER_HEADS.FLOW = "none"
    cfg.TRACKER_HEADS.DETECTION_CONFIDENCE = [0.8, 0.8]
    cfg.TRACKER_HEADS.MASKPROP_THRESHOLD = [0.3, 0.3]
    cfg.TRACKER_HEADS.ASSOC_THRESHOLD = [1.0, 1.0]

    def run_d2_api(mask_instances):
        tracker = build_tracker_head(cfg)
        for inst in mask_instances:
            tracker.update(inst)

    # Fresh Instances per run: the trackers add fields to them.
    peer = best_time(run_peer, args.repeats, lambda: [instances(d, False) for d in dense])
    peer_fps = args.frames / peer
    api = best_time(run_d2_api, args.repeats, lambda: [instances(d, True) for d in dense])
    print("Tracking without optical flow, 1 core, frames per second (best of "
          f"{args.repeats}):")
    print(f"  ours  track_sequence (Alg. 1 + disjoint masks)      {ours_fps:8.0f} fps"
          f"   (target >= 500)")
    print(f"  ours  TrackRCNNTracker.update (dense masks -> RLE)  {args.frames / api:8.0f} fps")
    print(f"  peer  detectron2 VanillaHungarianBBoxIOUTracker     {peer_fps:8.0f} fps")
    print(f"  ratio ours / peer                                   {ours_fps / peer_fps:8.2f}x\n")

    images = textured_images(args.flow_pairs + 1)
    print(f"Optical flow per frame pair ({HEIGHT}x{WIDTH}, 1 core, mean of {args.flow_pairs}):")
    for preset in ("medium", "fast", "ultrafast"):
        dis = DISFlow(preset)
        dis(images[1], images[0])
        start = time.perf_counter()
        for t in range(1, args.flow_pairs + 1):
            flow = dis(images[t], images[t - 1])
        milliseconds = (time.perf_counter() - start) / args.flow_pairs * 1000
        error = np.median(np.abs(flow[20:-20, 20:-20] + [3, 1]))
        print(f"  DIS {preset:9s} {milliseconds:7.1f} ms   (median end-point error "
              f"{error:.2f} px on a 3,1 px pan)")
    # Mask propagation's warping of the previous frame's masks, with the default (medium) flow.
    flow = DISFlow("medium")(images[1], images[0])
    maps, reach = sampling_maps(flow), int(np.ceil(np.abs(flow).max()))
    rles = encode_masks(dense[0][3])

    def warp_whole_images(_):
        return [encode_mask(warp_mask(decode_mask(rle), maps)) for rle in rles]

    def warp_box_regions(_):
        return [warp_rle(rle, maps, reach) for rle in rles]

    if warp_whole_images(None) != warp_box_regions(None):
        raise RuntimeError("warp_rle differs from the whole-image warp")
    repeats = 5 * args.repeats
    whole_ms = best_time(warp_whole_images, repeats) * 1000
    region_ms = best_time(warp_box_regions, repeats) * 1000
    print(f"Warping the previous frame's {len(rles)} masks with the flow (flow reach {reach} px, "
          f"best of {repeats}):")
    print(f"  before: whole images (decode, remap, encode)  {whole_ms:7.1f} ms per frame")
    print(f"  after:  box regions (warp_rle, same RLEs)     {region_ms:7.1f} ms per frame"
          f"   ({whole_ms / region_ms:.1f}x)")
    print(f"\nReproduce: {command}")


if __name__ == "__main__":
    main()
