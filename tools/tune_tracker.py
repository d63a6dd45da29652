#!/usr/bin/env python
"""Random search of the tracker thresholds (gamma, delta_maskprop, delta_assoc) per class on
cached detections of a training split, scored by our MOTS metrics (paper Sec. 6).

    # 1. the detection cache of the split to tune on: an evaluation of it writes it
    python train_net.py --config-file configs/kitti_mots_r101.yaml --eval-only \\
        MODEL.WEIGHTS output/model_final.pth DATASETS.TEST "('kitti_mots_train',)"
    # 2. the search, on what step 1 wrote for this config
    python tools/tune_tracker.py --config-file configs/kitti_mots_r101.yaml
    # 3. the evaluation with the tuned thresholds (written beside them, not over step 1's)
    python train_net.py --config-file \\
        output/tracker_search/kitti_mots_train/tracker_thresholds.yaml --eval-only \\
        MODEL.WEIGHTS output/model_final.pth

The search tunes on ``--dataset`` (default: the config's first DATASETS.TRAIN) and reads the
detections that an evaluation of it wrote for this config, ``OUTPUT_DIR/inference/<dataset>/
detections`` (``--detections`` names another folder of ``<sequence>.npz`` caches). Ground truth
comes from that dataset (or ``--gt FOLDER``: txt or png annotations, KITTI MOTS or
MOTSChallenge layout), its images give the optical flow (``--images`` overrides them). The
flow-warped IoUs between adjacent frames are computed once, then ``--iterations`` random
settings per class are tracked and scored in ``--workers`` parallel processes.

``--metric`` (any field of the evaluation, case-insensitive; default sMOTSA) is maximised, or
minimised for counts of errors (IDS, FP, FN, Frag, ...). Each class is searched with that class
tracked alone; the evaluation tracks all classes together and makes their masks disjoint, so
at the end the chosen settings are also run together and the figures that evaluation will
report on these detections are printed beside the per-class ones. ``--cross-validate K``
measures whether the choice holds on sequences it was not made on (see the README's "What to
expect").

Writes the chosen setting per class as a config, ``tracker_thresholds.yaml``: ``_BASE_`` the
given config (relative to the yaml's folder), ``OUTPUT_DIR`` the yaml's folder (so that an
evaluation with it writes there, not over the untuned evaluation's results) and the tuned
``TRACKER_HEADS`` keys; config overrides given here are not repeated in it. Every trial goes
beside it as JSON lines (``tracker_thresholds_trials.jsonl``), in
``OUTPUT_DIR/tracker_search/<dataset>/`` (``--output`` names the yaml elsewhere). An earlier
result is not overwritten unless ``--overwrite`` is given. ``KEY VALUE`` pairs override the
config (flags may follow them).
"""
import argparse
import json
import os
import shlex
import sys
import time

from trackrcnn_d2.engine.arguments import MOTSArgumentParser, config_file_argument
from trackrcnn_d2.tuning.options import (
    DEFAULT_RANGES,
    SELECTION_RULES,
    check_search_range,
    default_workers,
    resolve_metric,
)
from trackrcnn_d2.utils.cli import UserError, exit_on_user_error, whole_number
from trackrcnn_d2.utils.file_io import OutputError, OutputFile
from trackrcnn_d2.utils.upstream_warnings import silence_known_upstream_warnings

PROGRAM = "tune_tracker.py"
# What the evaluation's table shows of each class, printed for the chosen settings.
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


def build_parser() -> argparse.ArgumentParser:
    parser = MOTSArgumentParser.from_docstring(PROGRAM, __doc__)
    parser.add_argument(
        "--config-file", required=True, type=config_file_argument, metavar="FILE",
        help="the model's config (yaml), as given to train_net.py",
    )  # fmt: skip
    parser.add_argument(
        "--dataset",
        help="registered dataset to tune on, giving GT and images (default: the config's first "
        "DATASETS.TRAIN)",
    )
    parser.add_argument(
        "--detections", metavar="FOLDER",
        help="folder of <sequence>.npz detection caches (default: what an evaluation of the "
        "dataset wrote for this config, OUTPUT_DIR/inference/<dataset>/detections)",
    )  # fmt: skip
    parser.add_argument("--gt", metavar="FOLDER", help="annotation folder (default: the dataset's)")
    parser.add_argument(
        "--images", metavar="ROOT", help="image root, <root>/<sequence>/<frame:06d>.png "
        "(default: the dataset's)",
    )  # fmt: skip
    parser.add_argument(
        "--iterations", type=whole_number(1), default=250, metavar="N",
        help="random trials per class (default: %(default)s, the paper's)",
    )  # fmt: skip
    parser.add_argument(
        "--classes", type=_classes,
        help="classes to tune, comma-separated as the evaluator takes them (car,pedestrian; "
        "default: all of the config's)",
    )  # fmt: skip
    parser.add_argument(
        "--metric", type=_metric, default="sMOTSA",
        help="evaluation field to optimise, case-insensitive: maximised, or minimised for error "
        "counts (IDS, FP, FN, Frag, ...) (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--select", choices=SELECTION_RULES, default="smoothed",
        help="how the thresholds are chosen from the trials: 'best', the trial with the best "
        "metric; 'smoothed', the trial whose nearest trials score best on average, which "
        "prefers a flat region of the metric over a lucky peak (default: %(default)s; see the "
        "README's 'What to expect')",
    )  # fmt: skip
    parser.add_argument(
        "--cross-validate", type=whole_number(2), metavar="K",
        help="also measure whether the choice holds on unseen sequences: thresholds chosen on "
        "K-1 of K folds of the sequences and scored on the remaining fold, against the config's "
        "own thresholds (each trial then scores 2K+1 sets of sequences)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=whole_number(1), default=default_workers(), metavar="N",
        help="trials scored in parallel, one process each (default: %(default)s, the cores this "
        "process may use); each process holds the detections and ground truth in memory",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random trials (default: %(default)s)"
    )
    parser.add_argument(
        "--output", metavar="FILE",
        help="config to write (default: OUTPUT_DIR/tracker_search/<dataset>/"
        "tracker_thresholds.yaml); the trials go beside it",
    )  # fmt: skip
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
            help=f"search range of {name} (default: {low} {high})",
        )
    parser.add_argument(
        "opts", nargs="*", default=[], metavar="KEY VALUE", help="config overrides"
    )
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in DEFAULT_RANGES:
        try:
            check_search_range(name, *getattr(args, f"{name}_range"))
        except ValueError as e:
            parser.error(f"argument --{name.replace('_', '-')}-range: {e}")
    return args


def _mots_datasets():
    from detectron2.data import DatasetCatalog, MetadataCatalog

    return [
        name
        for name in DatasetCatalog.list()
        if MetadataCatalog.get(name).get("evaluator_type") == "mots"
    ]


def tuned_dataset(cfg, args):
    """The dataset the search tunes on: ``--dataset``, else the config's first DATASETS.TRAIN;
    None with an explicit ``--detections`` (then found from the cached sequences). Only its
    registration is checked here: the search reads the cached sequences' files alone."""
    import trackrcnn_d2

    trackrcnn_d2.register_all()  # the built-in datasets
    mots = _mots_datasets()
    if args.dataset:
        if args.dataset not in mots:
            raise UserError(
                f"--dataset: {args.dataset!r} is not a registered MOTS dataset; they are "
                f"{', '.join(sorted(mots))}"
            )
        return args.dataset
    if args.detections:
        return None
    train = list(cfg.DATASETS.TRAIN)
    if not train or train[0] not in mots:
        raise UserError(
            f"{args.config_file}: DATASETS.TRAIN {tuple(train)} holds no MOTS dataset to tune "
            "on; name one with --dataset, e.g. --dataset kitti_mots_train"
        )
    return train[0]


def detections_folder(cfg, args, dataset) -> str:
    """``--detections``, or what an evaluation of ``dataset`` with this config wrote; a missing
    one names the folder looked in and the command that writes it."""
    if args.detections:
        return args.detections
    folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset, "detections")
    if os.path.isdir(folder):
        return folder
    # A model trained on the dataset by this config is OUTPUT_DIR's; another (e.g. COCO's Mask
    # R-CNN) is the config's MODEL.WEIGHTS.
    trained_here = dataset in cfg.DATASETS.TRAIN
    weights = os.path.join(cfg.OUTPUT_DIR, "model_final.pth") if trained_here else None
    command = [
        "python", "train_net.py", "--config-file", args.config_file, "--eval-only",
        "MODEL.WEIGHTS", weights or cfg.MODEL.WEIGHTS or "MODEL.pth",
        "DATASETS.TEST", f"('{dataset}',)", *args.opts,
    ]  # fmt: skip
    if not cfg.TEST.MOTS.WRITE_DETECTION_CACHE:
        command += ["TEST.MOTS.WRITE_DETECTION_CACHE", "True"]
    raise UserError(
        f"no detection cache of {dataset} in {folder}; an evaluation of it with this config "
        f"writes it: {shlex.join(command)} (or give another folder with --detections)"
    )


def find_dataset(cfg, args, dataset, sequences):
    """Metadata of ``dataset``, which must hold every cached sequence; without one, of the
    first of the config's MOTS datasets that does (None with --gt)."""
    from detectron2.data import MetadataCatalog

    if dataset is not None:
        candidates = [dataset]
    elif args.gt:
        return None
    else:
        candidates = list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST)
    for name in candidates:
        metadata = MetadataCatalog.get(name)
        if set(sequences) <= set(metadata.get("sequences", [])):
            return metadata
    raise UserError(
        f"no dataset among {candidates} holds all cached sequences {sequences}; name one with "
        "--dataset or give the annotations with --gt"
    )


def output_paths(cfg, args, dataset, detections):
    """The config and trials files to write (``OutputFile``s of the output policy); refuses an
    earlier result there (unless --overwrite), before any work is done."""
    if args.output is not None:  # also "" (an unset variable): refused
        output = args.output
    else:
        # The dataset's name, or that of the evaluation folder holding the detections
        # (OUTPUT_DIR/inference/<dataset>/detections).
        dataset = dataset or os.path.basename(os.path.dirname(os.path.abspath(detections)))
        output = os.path.join(cfg.OUTPUT_DIR, "tracker_search", dataset, "tracker_thresholds.yaml")
    trials = os.path.splitext(output)[0] + "_trials.jsonl"
    existing = [path for path in (output, trials) if os.path.exists(path)]
    if existing and not args.overwrite:
        raise OutputError(
            f"{existing[0]} exists (an earlier search); pass --overwrite to replace it, or "
            "--output to write elsewhere"
        )
    inputs = [args.config_file, detections]
    return (
        OutputFile(output, what="--output", inputs=inputs),
        OutputFile(trials, what="the trials file", inputs=inputs),
    )


def written_paths(config_file, output):
    """``_BASE_`` (the given config relative to the yaml's folder, as detectron2 resolves it)
    and ``OUTPUT_DIR`` (the yaml's folder, as given: relative to the working directory) of the
    tuned config."""
    folder = os.path.dirname(os.path.abspath(output))
    try:
        base = os.path.relpath(os.path.abspath(config_file), folder)
    except ValueError:  # another drive (Windows)
        base = os.path.abspath(config_file)
    return base, os.path.normpath(os.path.dirname(output) or ".")


def load_ground_truth(args, metadata, sequences):
    from trackrcnn_d2.data import mots_io

    if args.gt:
        return mots_io.load_mots_ground_truth(args.gt, sequences)
    return mots_io.load_mots_ground_truth(
        metadata.annotation_root, sequences, metadata.annotation_format
    )


def flow_provider_factory(cfg, args, metadata, params):
    """``sequence -> flow provider`` or None when no flow is used or no images are known."""
    from trackrcnn_d2.tracking import SequenceFlowProvider, build_optical_flow

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


def _signed(values):
    return ", ".join(f"{v:+.2f}" for v in values)


def cross_validation_lines(report, params, metric, folds, sequences):
    """The cross-validation's report: per class and rule, the mean gain over the config's
    thresholds on held-out sequences and on the sequences the choice was made on."""
    per_fold = len(sequences) // folds
    lines = [
        f"Cross-validation over {len(sequences)} sequences in {folds} folds (thresholds chosen on "
        f"~{len(sequences) - per_fold}, scored on the other ~{per_fold}), {metric} gained over "
        "the config's own thresholds:"
    ]
    for category, rules in sorted(report.items()):
        for rule, gains in rules.items():
            held_out, fit = gains["held_out"], gains["fit"]
            lines.append(
                f"  {params.class_names[category]}, {rule}: {sum(held_out) / folds:+.2f} on "
                f"held-out sequences (folds {_signed(held_out)}), {sum(fit) / folds:+.2f} on the "
                "sequences chosen on"
            )
    return lines


def main(argv=None):
    args = parse_args(argv)
    silence_known_upstream_warnings()
    with exit_on_user_error(PROGRAM):
        search_thresholds(args)


def search_thresholds(args):
    import numpy as np

    from trackrcnn_d2.tracking import TrackerParams, read_detection_cache_folder
    from trackrcnn_d2.tuning import (
        SEARCHED_PARAMETERS,
        ThresholdSearch,
        config_snippet,
        cross_validate,
        cross_validation_subsets,
        is_minimised,
        precompute_pair_scores,
        run_trials,
        sample_settings,
        select_per_class,
        sequence_folds,
        tuned_params,
    )
    from trackrcnn_d2.utils.cli import ConfigError, load_config

    cfg = load_config(args.config_file, args.opts)
    params = TrackerParams.from_config(cfg)
    classes = args.classes or list(params.class_names)
    unknown = [c for c in classes if c not in params.class_names]
    if unknown:
        raise ConfigError(f"unknown classes {unknown}; the config has {params.class_names}")
    dataset = tuned_dataset(cfg, args)
    detections = detections_folder(cfg, args, dataset)
    sequences = read_detection_cache_folder(detections)
    names = list(sequences)
    metadata = find_dataset(cfg, args, dataset, names)
    if metadata is not None:
        dataset = metadata.name
        uncached = [s for s in metadata.get("sequences", []) if s not in sequences]
        if uncached:  # e.g. a cache file deleted, or an evaluation stopped early
            print(
                f"{PROGRAM}: warning: {detections} has no detection cache of sequence(s) "
                f"{uncached} of {dataset}: the search uses the {len(names)} cached ones",
                file=sys.stderr,
            )
    output, trials_path = output_paths(cfg, args, dataset, detections)
    if args.cross_validate and args.cross_validate > len(names):
        raise UserError(f"--cross-validate {args.cross_validate}: only {len(names)} sequences")
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

    subsets = None
    if args.cross_validate:
        subsets = cross_validation_subsets(sequence_folds(names, args.cross_validate))
    search = ThresholdSearch(
        sequences, ground_truth, params, pair_scores, args.metric, subsets=subsets
    )
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
        f"{len(names)} sequences of {detections} with {args.workers} workers, {goal} "
        f"{args.metric}; association {params.association}, searching "
        f"{', '.join(SEARCHED_PARAMETERS[params.association])}"
    )
    metrics = run_trials(search, tasks, args.workers, progress=not args.no_progress)
    trials = [(c, s, m) for (c, s), m in zip(tasks, metrics)]
    chosen = select_per_class(trials, args.metric, args.select, ranges)
    # What the evaluation reports on these detections: every class tracked at once, masks
    # disjoint across classes.
    together = search.evaluate_together(tuned_params(params, chosen))

    header = (
        f"Tracker thresholds found by tools/tune_tracker.py ({args.iterations} random trials "
        f"per class, seed {args.seed}, --select {args.select})\non the detections in "
        f"{detections}."
    )
    if args.cross_validate:
        categories = sorted({c for c, _ in tasks})
        own = {  # the config's thresholds, scored on the same folds
            c: search.evaluate(
                c, {n: getattr(params, n)[c] for n in SEARCHED_PARAMETERS[params.association]}
            )
            for c in categories
        }
        report = cross_validate(trials, own, args.metric, args.cross_validate, ranges=ranges)
        lines = cross_validation_lines(report, params, args.metric, args.cross_validate, names)
        print("\n".join(lines))
        header += "\n" + "\n".join(lines)
    base, output_dir = written_paths(args.config_file, output.path)
    snippet = config_snippet(
        params, chosen, args.metric, header, base=base, together=together, output_dir=output_dir
    )
    output.write(snippet)
    trials_path.write(
        "".join(
            json.dumps({"class": params.class_names[c], "setting": s, "metrics": m}) + "\n"
            for c, s, m in trials
        ),
    )
    for category, (setting, class_metrics) in sorted(chosen.items()):
        name = params.class_names[category]
        values = ", ".join(f"{k} {v:.4f}" for k, v in setting.items())
        print(f"chosen {name} ({args.select}): {values}")
        print(f"  {name} tracked alone (as searched):      {format_metrics(class_metrics)}")
        print(f"  all classes together (as evaluated): {format_metrics(together[name])}")
    print(
        "Note: each class is searched with that class tracked alone; the evaluation tracks all "
        "classes together and makes their masks disjoint, so it reports the 'together' figures."
    )
    print(f"\n{snippet}\nwritten to {output.path} (all trials: {trials_path.path}); "
          f"{time.perf_counter() - start:.1f} s in all")
    print(
        "Evaluate with it (results go to its OUTPUT_DIR, beside it): python train_net.py "
        f"--config-file {output.path} --eval-only MODEL.WEIGHTS ..."
    )


if __name__ == "__main__":
    main()
