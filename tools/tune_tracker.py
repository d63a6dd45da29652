#!/usr/bin/env python
"""Random search of the tracker thresholds (gamma, delta_maskprop, delta_assoc) per class on
cached detections of a training split, scored by our MOTS metrics (paper Sec. 6).

    python tools/tune_tracker.py --config-file configs/kitti_mots_r101.yaml \\
        --detections output/inference/kitti_mots_train/detections [--iterations 250]

``--detections`` is the folder of ``<sequence>.npz`` detection caches that evaluation writes
(``TEST.MOTS.WRITE_DETECTION_CACHE``; evaluate on the split to tune on, e.g.
``DATASETS.TEST "('kitti_mots_train',)"``). Ground truth comes from ``--gt FOLDER`` (txt or png
annotations, KITTI MOTS or MOTSChallenge layout) or else from the dataset ``--dataset`` / the
first of ``cfg.DATASETS.TEST`` + ``cfg.DATASETS.TRAIN`` that holds every cached sequence; its
images give the optical flow (``--images`` overrides them). The flow-warped IoUs between
adjacent frames are computed once, then ``--iterations`` random settings per class are tracked
and scored in parallel (``--workers``, default: all cores).

Prints the best setting per class and writes it as a config (``--output``, default
``<detections>/../tracker_thresholds.yaml``): ``_BASE_`` = the given config plus the tuned
``TRACKER_HEADS`` keys, usable as ``--config-file`` of ``train_net.py --eval-only`` (config
overrides given here are not repeated in it). Every trial is written as JSON lines beside it.
Extra ``KEY VALUE`` pairs at the end override the config.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking import (
    SequenceFlowProvider,
    TrackerParams,
    build_optical_flow,
    read_detection_cache_folder,
)
from trackrcnn_d2.tuning import (
    DEFAULT_RANGES,
    SEARCHED_PARAMETERS,
    ThresholdSearch,
    best_per_class,
    config_snippet,
    default_workers,
    precompute_pair_scores,
    run_trials,
    sample_settings,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--config-file", required=True, help="the model's config (yaml)")
    parser.add_argument("--detections", required=True, help="folder of <sequence>.npz caches")
    parser.add_argument("--gt", help="annotation folder (default: the config's dataset)")
    parser.add_argument("--dataset", help="registered dataset giving GT and images")
    parser.add_argument("--images", help="image root (<root>/<sequence>/<frame:06d>.png)")
    parser.add_argument("--iterations", type=int, default=250, help="random trials per class")
    parser.add_argument("--classes", nargs="+", help="classes to tune (default: all)")
    parser.add_argument("--metric", default="sMOTSA", help="metric to maximise")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="config snippet to write (yaml)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    for name, (low, high) in DEFAULT_RANGES.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}-range",
            type=float,
            nargs=2,
            default=(low, high),
            metavar=("LOW", "HIGH"),
            help=f"search range of {name} (default {low} {high})",
        )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    return parser.parse_args(argv)


def load_config(args):
    from detectron2.config import get_cfg

    from trackrcnn_d2 import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    return cfg


def find_dataset(cfg, args, sequences):
    """Metadata of the dataset that holds every cached sequence (None with --gt and no
    --dataset)."""
    from detectron2.data import MetadataCatalog

    import trackrcnn_d2

    trackrcnn_d2.register_all()  # the built-in datasets' metadata

    if args.dataset:
        candidates = [args.dataset]
    elif args.gt:
        return None
    else:
        candidates = list(cfg.DATASETS.TEST) + list(cfg.DATASETS.TRAIN)
    for name in candidates:
        metadata = MetadataCatalog.get(name)
        if set(sequences) <= set(metadata.get("sequences", [])):
            return metadata
    sys.exit(
        f"tune_tracker: no dataset among {candidates} holds all cached sequences {sequences}; "
        "name one with --dataset or give the annotations with --gt"
    )


def load_ground_truth(args, metadata, sequences):
    if args.gt:
        return mots_io.load_mots_ground_truth(args.gt, sequences)
    return mots_io.load_mots_ground_truth(
        metadata.annotation_root, sequences, metadata.annotation_format
    )


def flow_provider_factory(cfg, args, metadata, params):
    """``sequence -> flow provider`` or None when no flow is used or no images are known."""
    if not params.uses_flow or cfg.TRACKER_HEADS.FLOW == "none":
        return None
    image_root = args.images or (metadata.image_root if metadata is not None else None)
    if image_root is None:
        print(
            "tune_tracker: no images (give --images or --dataset): mask propagation without "
            "optical flow (plain IoU)"
        )
        return None
    from trackrcnn_d2.data.datasets import list_sequence_images

    flow = build_optical_flow(cfg.TRACKER_HEADS.FLOW)
    return lambda sequence: SequenceFlowProvider(flow, list_sequence_images(image_root, sequence))


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args)
    sequences = read_detection_cache_folder(args.detections)
    names = list(sequences)
    params = TrackerParams.from_config(cfg)
    metadata = find_dataset(cfg, args, names)
    ground_truth = load_ground_truth(args, metadata, names)
    classes = args.classes or list(params.class_names)
    unknown = [c for c in classes if c not in params.class_names]
    if unknown:
        sys.exit(f"tune_tracker: unknown classes {unknown}; the config has {params.class_names}")

    start = time.perf_counter()
    make_flow_provider = flow_provider_factory(cfg, args, metadata, params)
    pair_scores = {}
    if params.uses_flow:
        print(f"Precomputing {params.association} scores of adjacent frames ...")
        for name in names:
            provider = make_flow_provider(name) if make_flow_provider else None
            pair_scores[name] = precompute_pair_scores(sequences[name], params, provider)
        print(f"  done in {time.perf_counter() - start:.1f} s")

    search = ThresholdSearch(sequences, ground_truth, params, pair_scores, args.metric)
    rng = np.random.default_rng(args.seed)
    ranges = {name: tuple(getattr(args, f"{name}_range")) for name in DEFAULT_RANGES}
    tasks = []
    for class_name in classes:
        category = params.class_names.index(class_name)
        settings = sample_settings(params.association, args.iterations, rng, ranges)
        tasks += [(category, setting) for setting in settings]
    print(
        f"{len(tasks)} trials ({args.iterations} per class, {', '.join(classes)}) on "
        f"{len(names)} sequences with {args.workers} workers; association "
        f"{params.association}, searching {', '.join(SEARCHED_PARAMETERS[params.association])}"
    )
    metrics = run_trials(search, tasks, args.workers, progress=not args.no_progress)
    trials = [(c, s, m) for (c, s), m in zip(tasks, metrics)]
    best = best_per_class(trials, args.metric)

    output = args.output or os.path.join(
        os.path.dirname(os.path.abspath(args.detections)), "tracker_thresholds.yaml"
    )
    header = (
        f"Tracker thresholds found by tools/tune_tracker.py ({args.iterations} random trials "
        f"per class, seed {args.seed})\non the detections in {args.detections}."
    )
    snippet = config_snippet(
        params, best, args.metric, header, base=os.path.abspath(args.config_file)
    )
    mots_io.atomic_write_text(output, snippet)
    trials_path = os.path.splitext(output)[0] + "_trials.jsonl"
    mots_io.atomic_write_text(
        trials_path,
        "".join(
            json.dumps({"class": params.class_names[c], "setting": s, "metrics": m}) + "\n"
            for c, s, m in trials
        ),
    )
    for category, (setting, class_metrics) in sorted(best.items()):
        values = ", ".join(f"{k} {v:.4f}" for k, v in setting.items())
        scores = ", ".join(
            f"{k} {class_metrics[k]:.{0 if k == 'IDS' else 2}f}"
            for k in ("sMOTSA", "MOTSA", "MOTSP", "IDS")
            if k in class_metrics
        )
        print(f"best {params.class_names[category]}: {values}  ->  {scores}")
    print(f"\n{snippet}\nwritten to {output} (all trials: {trials_path}); "
          f"{time.perf_counter() - start:.1f} s in all")


if __name__ == "__main__":
    main()
