#!/usr/bin/env python
"""TrackR-CNN inference speed against the same Mask R-CNN, and training memory, on the CPU.

    python benchmarks/bench_model.py [--config configs/kitti_mots_r101.yaml]
        [--height 188 --width 621] [--proposals 300] [--frames 3] [--repeats 2] [--threads 2]
        [--train-height 155 --train-width 512] [--skip-inference] [--skip-train-memory]

1. Per-frame inference time. Ours: TrackRCNN, near-online (one call per frame with the next
   frame as look-ahead; every frame's backbone features computed once). Peer: detectron2's
   GeneralizedRCNN with the same backbone and heads, without temporal layers and association
   head, loaded with the same (random) weights, so both run on identical detections - the only
   extra work of ours is the 3D convolution and one FC layer. Target: ratio <= 1.15. The
   inputs are frames of the synthetic MOTS set at ``--height`` x ``--width`` (default: half
   KITTI's resolution); the time is the mean over a sequence of ``--frames`` frames, best of
   ``--repeats``, the two models alternating frame by frame, in CPU seconds of the process
   (all threads; robust to other processes on a shared machine). The C4 box head runs res5 on
   every proposal and dominates the time; the default of 300 proposals (the config: 1000)
   keeps a run within minutes on two cores and makes the fixed cost of the 3D convolution
   weigh more, so the ratio at the config's 1000 proposals is lower still.
2. Training peak memory for one clip of INPUT.CLIP_LENGTH frames (8 in the paper's config) at
   ``--train-height`` x ``--train-width``: the peak resident memory during one forward +
   backward pass above the resident memory before it (Linux VmHWM, reset before the pass), each
   model in its own fresh process; the peer gets the same frames as independent images.

No weights are downloaded (random initialisation: speed and memory do not depend on values).
"""
import argparse
import multiprocessing
import os
import sys
import time

import numpy as np
import torch
from detectron2.config import get_cfg
from detectron2.layers import FrozenBatchNorm2d
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Instances
from detectron2.utils.events import EventStorage

import trackrcnn_d2.modeling  # noqa: F401  (registers TrackRCNN and its heads)
from trackrcnn_d2.config import add_trackrcnn_config
from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic import render_sequence

REPO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def load_cfg(path: str, peer: bool, proposals: int = 0):
    """The config of ours (TrackRCNN) or of the peer (plain Mask R-CNN of the same network)."""
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.merge_from_file(path)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    if proposals:
        cfg.MODEL.RPN.POST_NMS_TOPK_TEST = proposals
    if peer:
        cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
        cfg.MODEL.BACKBONE.NAME = cfg.MODEL.TEMPORAL.BACKBONE_NAME
        cfg.MODEL.ROI_HEADS.NAME = cfg.MODEL.ROI_HEADS.NAME.replace("Track", "")
    return cfg


def synthetic_frames(num_frames: int, height: int, width: int):
    """Frame dicts (BGR uint8 CHW image, ground-truth Instances) of a synthetic sequence."""
    images, id_maps = render_sequence(0, num_frames, height, width, seed=0)
    frames = []
    for t, (image, id_map) in enumerate(zip(images, id_maps)):
        obj_ids = [int(i) for i in np.unique(id_map) if 0 < i != mots_io.IGNORE_OBJ_ID]
        masks = BitMasks(torch.from_numpy(np.stack([id_map == i for i in obj_ids])))
        instances = Instances((height, width))
        instances.gt_boxes = masks.get_bounding_boxes()
        instances.gt_classes = torch.tensor([i // 1000 - 1 for i in obj_ids])
        instances.gt_masks = masks
        instances.gt_track_ids = torch.tensor(obj_ids)
        bgr_chw = np.ascontiguousarray(image[:, :, ::-1].transpose(2, 0, 1))
        frames.append(
            {
                "image": torch.from_numpy(bgr_chw),
                "instances": instances,
                "sequence": "0000",
                "frame_idx": t,
                "height": height,
                "width": width,
            }
        )
    return frames


def calibrate_normalization(model, frames):
    """Sets every frozen/batch norm layer's statistics to those of its input on ``frames``.

    With random weights and unit statistics the activations of a deep ResNet grow without
    bound and the RPN returns no valid box; calibrated, the network yields a realistic number
    of proposals and detections, so that the timed work is that of a trained model.
    """
    norm_types = (FrozenBatchNorm2d, torch.nn.BatchNorm2d)

    def set_statistics(module, inputs):
        x = inputs[0]
        if x.shape[0] > 0 and not getattr(module, "_calibrated", False):
            module.running_mean.copy_(x.mean(dim=(0, 2, 3)))
            module.running_var.copy_(x.var(dim=(0, 2, 3)))
            module._calibrated = True

    handles = [
        m.register_forward_pre_hook(set_statistics)
        for m in model.modules()
        if isinstance(m, norm_types)
    ]
    with torch.no_grad():
        model(frames)
    for handle in handles:
        handle.remove()


def with_next_images(frames, lookahead):
    """Near-online inputs: every frame carries the images of the ``lookahead`` frames after it
    (fewer at the end), as the test loader gives them."""
    frames = [dict(f) for f in frames]
    for t, frame in enumerate(frames):
        frame["next_images"] = [f["image"] for f in frames[t + 1 : t + 1 + lookahead]]
    return frames


def benchmark_inference(args):
    ours_cfg = load_cfg(args.config, peer=False, proposals=args.proposals)
    peer = build_model(load_cfg(args.config, peer=True, proposals=args.proposals)).eval()
    ours = build_model(ours_cfg).eval()
    frames = synthetic_frames(args.frames, args.height, args.width)
    calibrate_normalization(peer, frames[:1])
    # Same weights: the temporal layers start as the identity, so detections are identical.
    ours.load_state_dict(peer.state_dict(), strict=False)
    online_frames = with_next_images(frames, ours.temporal_lookahead)
    with torch.no_grad():
        detections = len(ours([online_frames[0]])[0]["instances"])
        peer([frames[0]])  # warm-up
        # Frame by frame, the two models alternate, so that load changes hit both alike; the
        # process's CPU time (all threads) is far less disturbed by other processes than the
        # wall-clock time is.
        peer_times = np.zeros((args.repeats, len(frames)))
        our_times = np.zeros((args.repeats, len(frames)))
        for repeat in range(args.repeats):
            ours.reset_state()
            for t, (frame, online_frame) in enumerate(zip(frames, online_frames)):
                start = time.process_time()
                peer([frame])
                peer_times[repeat, t] = time.process_time() - start
                start = time.process_time()
                ours([online_frame])
                our_times[repeat, t] = time.process_time() - start
    # Best of the repeats per frame, mean over the sequence (frame 0 of ours includes the
    # look-ahead features of frame 1, the last frame computes none).
    ours_s, peer_s = our_times.min(axis=0).mean(), peer_times.min(axis=0).mean()
    temporal = ours_cfg.MODEL.TEMPORAL
    print(
        f"inference per frame, {args.height}x{args.width}, ResNet-{ours_cfg.MODEL.RESNETS.DEPTH} "
        f"{ours_cfg.MODEL.ROI_HEADS.NAME}, {ours_cfg.MODEL.RPN.POST_NMS_TOPK_TEST} proposals, "
        f"{detections} detections, {torch.get_num_threads()} threads, {len(frames)} frames, "
        f"best of {args.repeats}:"
    )
    print(
        f"  ours  TrackRCNN ({temporal.NUM_LAYERS}x{temporal.TYPE}, near-online): "
        f"{ours_s:.3f} CPU s"
    )
    print(f"  peer  GeneralizedRCNN (Mask R-CNN):                 {peer_s:.3f} CPU s")
    print(f"  ratio ours / peer: {ours_s / peer_s:.3f}  (target <= 1.15)")


def _memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _train_step_peak_memory(config, peer, height, width, threads, queue):
    """In a fresh process: peak resident memory over one training step above the resident
    memory before it (MiB), via Linux's resettable high-water mark (VmHWM)."""
    torch.set_num_threads(threads)
    cfg = load_cfg(config, peer)
    model = build_model(cfg).train()
    frames = synthetic_frames(cfg.INPUT.CLIP_LENGTH, height, width)
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets VmHWM to the current resident size
    before = _memory_kib("VmRSS")
    with EventStorage():
        losses = model(frames)
        sum(losses.values()).backward()
    queue.put(((_memory_kib("VmHWM") - before) / 1024, cfg.INPUT.CLIP_LENGTH))


def train_peak_memory(config, peer, height, width, threads):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=_train_step_peak_memory, args=(config, peer, height, width, threads, queue)
    )
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=os.path.join(REPO_ROOT, "configs/kitti_mots_r101.yaml"))
    parser.add_argument("--height", type=int, default=188)
    parser.add_argument("--width", type=int, default=621)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument(
        "--proposals", type=int, default=300, help="RPN proposals per frame (0: the config's)"
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-height", type=int, default=155)
    parser.add_argument("--train-width", type=int, default=512)
    parser.add_argument("--skip-inference", action="store_true")
    parser.add_argument("--skip-train-memory", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if not args.skip_inference:
        benchmark_inference(args)
    if args.skip_train_memory:
        return
    ours_mib, clip_length = train_peak_memory(
        args.config, False, args.train_height, args.train_width, args.threads
    )
    peer_mib, _ = train_peak_memory(
        args.config, True, args.train_height, args.train_width, args.threads
    )
    print(
        f"training peak memory, one clip of {clip_length} frames at "
        f"{args.train_height}x{args.train_width} (forward + backward, CPU, peak RSS above start):"
    )
    print(f"  ours  TrackRCNN:       {ours_mib:.0f} MiB")
    print(f"  peer  GeneralizedRCNN: {peer_mib:.0f} MiB ({clip_length} independent frames)")
    print(f"  ratio ours / peer: {ours_mib / peer_mib:.3f}")


if __name__ == "__main__":
    sys.exit(main())
