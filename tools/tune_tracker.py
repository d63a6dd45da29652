#!/usr/bin/env python
"""Random search of the tracker thresholds (gamma, delta_maskprop, delta_assoc) per class on
cached detections of a training split, scored by our MOTS metrics (paper Sec. 6).

    # 1. the detection cache of the split to tune on: any evaluation writes it
    python train_net.py --config-file configs/kitti_mots_r101.yaml --eval-only \\
        MODEL.WEIGHTS output/model_final.pth DATASETS.TEST "('kitti_mots_train',)"
    # 2. the search
    python tools/tune_tracker.py --config-file configs/kitti_mots_r101.yaml \\
        --detections output/inference/kitti_mots_train/detections [--iterations 250]

``--detections`` is the folder of ``<sequence>.npz`` detection caches that evaluation writes
(``TEST.MOTS.WRITE_DETECTION_CACHE``). Ground truth comes from ``--gt FOLDER`` (txt or png
annotations, KITTI MOTS or MOTSChallenge layout) or else from the dataset ``--dataset`` / the
first of ``cfg.DATASETS.TEST`` + ``cfg.DATASETS.TRAIN`` that holds every cached sequence; its
images give the optical flow (``--images`` overrides them). The flow-warped IoUs between
adjacent frames are computed once, then ``--iterations`` random settings per class are tracked
and scored in parallel (``--workers``, default: all cores).

``--metric`` (any field of the evaluation, case-insensitive; default sMOTSA) is maximised, or
minimised for counts of errors (IDS, FP, FN, Frag, ...). Each class is searched with that class
tracked alone; the evaluation tracks all classes together and makes their masks disjoint, so
at the end the best settings are also run together and the figures that evaluation will report
on these detections are printed beside the per-class ones.

Writes the best setting per class as a config, ``tracker_thresholds.yaml`` (``_BASE_`` = the
given config plus the tuned ``TRACKER_HEADS`` keys, usable as ``--config-file`` of
``train_net.py --eval-only``; config overrides given here are not repeated in it), and every
trial as JSON lines beside it (``tracker_thresholds_trials.jsonl``), in
``OUTPUT_DIR/tracker_search/<dataset>/`` (``--output`` names the yaml elsewhere): outside
``OUTPUT_DIR/inference/<dataset>/``, which the next evaluation replaces as a whole. An earlier
result is not overwritten unless ``--overwrite`` is given. Extra ``KEY VALUE`` pairs at the end
override the config.
"""
import argparse
import json
import os
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
    is_minimised,
    precompute_pair_scores,
    resolve_metric,
    run_trials,
    sample_settings,
    tuned_params,
)
from trackrcnn_d2.utils.cli import (
    ConfigError,
    OutputDirError,
    UserError,
    exit_on_user_error,
    load_config,
)
from trackrcnn_d2.utils.file_io import atomic_write_text

# What the evaluation's table shows of each class, printed for the best settings.
SUMMARY_METRICS = ("sMOTSA", "MOTSA", "MOTSP", "IDS", "HOTA")


def _metric(text):
    try:
        return resolve_metric(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _classes(text):
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give class names, comma-separated: car,pedestrian")
    return names


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
    parser.add_argument(
        "--classes",
        type=_classes,
        help="classes to tune, comma-separated as the evaluator takes them (car,pedestrian); "
        "default: all of the config's",
    )
    parser.add_argument(
        "--metric",
        type=_metric,
        default="sMOTSA",
        help="evaluation field to optimise, case-insensitive: maximised, or minimised for error "
        "counts (IDS, FP, FN, Frag, ...) (default sMOTSA)",
    )
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output",
        help="config to write (default OUTPUT_DIR/tracker_search/<dataset>/"
        "tracker_thresholds.yaml); the trials go beside it",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier result at the output path"
    )
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
    raise UserError(
        f"no dataset among {candidates} holds all cached sequences {sequences}; name one with "
        "--dataset or give the annotations with --gt"
    )


def output_paths(cfg, args, metadata):
    """The config and trials paths to write; refuses an earlier result there (unless
    --overwrite), before any work is done."""
    if args.output:
        output = args.output
    else:
        # The dataset's name, or that of the evaluation folder holding the detections
        # (OUTPUT_DIR/inference/<dataset>/detections).
        dataset = (
            metadata.name
            if metadata is not None
            else os.path.basename(os.path.dirname(os.path.abspath(args.detections)))
        )
        output = os.path.join(cfg.OUTPUT_DIR, "tracker_search", dataset, "tracker_thresholds.yaml")
    trials = os.path.splitext(output)[0] + "_trials.jsonl"
    existing = [path for path in (output, trials) if os.path.exists(path)]
    if existing and not args.overwrite:
        raise OutputDirError(
            f"{existing[0]} exists (an earlier search); pass --overwrite to replace it, or "
            "--output to write elsewhere"
        )
    return output, trials


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


def format_metrics(metrics):
    return ", ".join(
        f"{k} {metrics[k]:.{0 if k == 'IDS' else 2}f}" for k in SUMMARY_METRICS if k in metrics
    )


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error("tune_tracker.py"):
        search_thresholds(args)


def search_thresholds(args):
    cfg = load_config(args.config_file, args.opts)
    sequences = read_detection_cache_folder(args.detections)
    names = list(sequences)
    params = TrackerParams.from_config(cfg)
    classes = args.classes or list(params.class_names)
    unknown = [c for c in classes if c not in params.class_names]
    if unknown:
        raise ConfigError(f"unknown classes {unknown}; the config has {params.class_names}")
    metadata = find_dataset(cfg, args, names)
    output, trials_path = output_paths(cfg, args, metadata)
    ground_truth = load_ground_truth(args, metadata, names)

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
    goal = "minimising" if is_minimised(args.metric) else "maximising"
    print(
        f"{len(tasks)} trials ({args.iterations} per class, {', '.join(classes)}) on "
        f"{len(names)} sequences with {args.workers} workers, {goal} {args.metric}; association "
        f"{params.association}, searching {', '.join(SEARCHED_PARAMETERS[params.association])}"
    )
    metrics = run_trials(search, tasks, args.workers, progress=not args.no_progress)
    trials = [(c, s, m) for (c, s), m in zip(tasks, metrics)]
    best = best_per_class(trials, args.metric)
    # What the evaluation reports on these detections: every class tracked at once, masks
    # disjoint across classes.
    together = search.evaluate_together(tuned_params(params, best))

    header = (
        f"Tracker thresholds found by tools/tune_tracker.py ({args.iterations} random trials "
        f"per class, seed {args.seed})\non the detections in {args.detections}."
    )
    snippet = config_snippet(
        params, best, args.metric, header, base=os.path.abspath(args.config_file),
        together=together,
    )
    atomic_write_text(output, snippet)
    atomic_write_text(
        trials_path,
        "".join(
            json.dumps({"class": params.class_names[c], "setting": s, "metrics": m}) + "\n"
            for c, s, m in trials
        ),
    )
    for category, (setting, class_metrics) in sorted(best.items()):
        name = params.class_names[category]
        values = ", ".join(f"{k} {v:.4f}" for k, v in setting.items())
        print(f"best {name}: {values}")
        print(f"  {name} tracked alone (as searched):      {format_metrics(class_metrics)}")
        print(f"  all classes together (as evaluated): {format_metrics(together[name])}")
    print(
        "Note: each class is searched with that class tracked alone; the evaluation tracks all "
        "classes together and makes their masks disjoint, so it reports the 'together' figures."
    )
    print(f"\n{snippet}\nwritten to {output} (all trials: {trials_path}); "
          f"{time.perf_counter() - start:.1f} s in all")


if __name__ == "__main__":
    main()
