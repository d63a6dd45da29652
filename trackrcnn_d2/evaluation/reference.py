"""Run the official TrackEval evaluation on in-memory MOTS data, for comparison with
:func:`trackrcnn_d2.evaluation.metrics.evaluate_mots` (tests, ``benchmarks/bench_eval.py``).

TrackEval (``pip install trackeval``) is imported only when this is called. The data are written
to a temporary folder in the layout of TrackEval's ``KittiMOTS`` dataset class (``<seq>.txt``,
frames from 0) or ``MOTSChallenge`` (``<seq>/gt/gt.txt``, frames from 1), and evaluated with the
CLEAR, HOTA and Identity metrics, single-process. The result has the layout of ``evaluate_mots``.
"""
import os
import tempfile
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.data.mots_io import format_mots_line
from trackrcnn_d2.utils.file_io import atomic_write_text

from .metrics import PERCENT_FIELDS

__all__ = [
    "run_trackeval",
    "write_trackeval_folders",
    "evaluate_trackeval_folders",
    "trackeval_configs",
    "convert_trackeval_output",
]

# evaluate_mots field -> (TrackEval metric, TrackEval field); array fields are averaged over alpha.
_FIELDS = {
    "sMOTSA": ("CLEAR", "sMOTA"),
    "MOTSA": ("CLEAR", "MOTA"),
    "MOTSP": ("CLEAR", "MOTP"),
    "Recall": ("CLEAR", "CLR_Re"),
    "Precision": ("CLEAR", "CLR_Pr"),
    "IDS": ("CLEAR", "IDSW"),
    "TP": ("CLEAR", "CLR_TP"),
    "FP": ("CLEAR", "CLR_FP"),
    "FN": ("CLEAR", "CLR_FN"),
    "MT": ("CLEAR", "MT"),
    "PT": ("CLEAR", "PT"),
    "ML": ("CLEAR", "ML"),
    "Frag": ("CLEAR", "Frag"),
    "soft_TP": ("CLEAR", "MOTP_sum"),
    "HOTA": ("HOTA", "HOTA"),
    "DetA": ("HOTA", "DetA"),
    "AssA": ("HOTA", "AssA"),
    "LocA": ("HOTA", "LocA"),
    "DetRe": ("HOTA", "DetRe"),
    "DetPr": ("HOTA", "DetPr"),
    "AssRe": ("HOTA", "AssRe"),
    "AssPr": ("HOTA", "AssPr"),
    "IDF1": ("Identity", "IDF1"),
    "IDP": ("Identity", "IDP"),
    "IDR": ("Identity", "IDR"),
    "IDTP": ("Identity", "IDTP"),
    "IDFP": ("Identity", "IDFP"),
    "IDFN": ("Identity", "IDFN"),
}


def write_trackeval_folders(
    root: str, gt: Mapping, results: Mapping, flavour: str = "kitti"
) -> Dict[str, int]:
    """Write GT and results under ``root`` as TrackEval expects them (tracker name ``ours``).
    Frames in increasing order, objects in the order given (TrackEval breaks ties in its
    matchings by file order, as ``evaluate_mots`` does by list order). Sequences without
    results get an empty file. Returns ``{sequence: number of frames}``."""
    seq_info = {}
    for sequence, frames in gt.items():
        result_frames = results.get(sequence, {})
        all_frames = list(frames) + list(result_frames)
        first = 0 if flavour == "kitti" else 1
        seq_info[sequence] = max(all_frames, default=first) + 1 - first
        if flavour == "kitti":
            gt_path = os.path.join(root, "gt", f"{sequence}.txt")
        else:
            gt_path = os.path.join(root, "gt", sequence, "gt", "gt.txt")
        _write_in_order(gt_path, frames)
        _write_in_order(os.path.join(root, "trackers", "ours", "data", f"{sequence}.txt"),
                        result_frames)
    return seq_info


def trackeval_configs(
    root: str,
    seq_info: Mapping[str, int],
    class_names: Sequence[str] = ("car", "pedestrian"),
    flavour: str = "kitti",
) -> Tuple[str, Dict, Dict]:
    """``(dataset class name, dataset config, evaluator config)`` of TrackEval for folders
    written by :func:`write_trackeval_folders`: single-process, nothing printed or written."""
    dataset_config = {
        "GT_FOLDER": os.path.join(root, "gt"),
        "TRACKERS_FOLDER": os.path.join(root, "trackers"),
        "OUTPUT_FOLDER": os.path.join(root, "output"),
        "TRACKERS_TO_EVAL": ["ours"],
        "CLASSES_TO_EVAL": list(class_names),
        "SEQ_INFO": dict(seq_info),
        "PRINT_CONFIG": False,
    }
    if flavour == "kitti":
        dataset_config["GT_LOC_FORMAT"] = "{gt_folder}/{seq}.txt"
    else:
        dataset_config["SKIP_SPLIT_FOL"] = True
    evaluator_config = {
        "USE_PARALLEL": False,
        "PRINT_RESULTS": False,
        "PRINT_CONFIG": False,
        "TIME_PROGRESS": False,
        "OUTPUT_SUMMARY": False,
        "OUTPUT_DETAILED": False,
        "PLOT_CURVES": False,
        "LOG_ON_ERROR": None,
        "BREAK_ON_ERROR": True,
    }
    dataset_name = "KittiMOTS" if flavour == "kitti" else "MOTSChallenge"
    return dataset_name, dataset_config, evaluator_config


def evaluate_trackeval_folders(
    root: str,
    seq_info: Mapping[str, int],
    class_names: Sequence[str] = ("car", "pedestrian"),
    flavour: str = "kitti",
) -> Dict:
    """Run TrackEval on folders written by :func:`write_trackeval_folders` (reads the files)."""
    import trackeval

    dataset_name, dataset_config, evaluator_config = trackeval_configs(
        root, seq_info, class_names, flavour
    )
    dataset = getattr(trackeval.datasets, dataset_name)(dataset_config)
    evaluator = trackeval.Evaluator(evaluator_config)
    metrics = [
        trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
        trackeval.metrics.HOTA(),
        trackeval.metrics.Identity({"PRINT_CONFIG": False}),
    ]
    output, _ = evaluator.evaluate([dataset], metrics)
    return convert_trackeval_output(output[dataset.get_name()]["ours"], class_names)


def convert_trackeval_output(res: Mapping, class_names: Sequence[str]) -> Dict:
    """TrackEval's results of one tracker (``{seq or "COMBINED_SEQ": {class: {metric: {field:
    value}}}}``, arrays or lists) in the layout of ``evaluate_mots``."""
    report = {c: _convert(res["COMBINED_SEQ"][c]) for c in class_names}
    report["per_sequence"] = {
        seq: {c: _convert(res[seq][c]) for c in class_names}
        for seq in res
        if seq != "COMBINED_SEQ"
    }
    return report


def run_trackeval(
    gt: Mapping,
    results: Mapping,
    class_names: Sequence[str] = ("car", "pedestrian"),
    flavour: str = "kitti",
    workdir: Optional[str] = None,
) -> Dict:
    """TrackEval's numbers for in-memory GT / results (``{seq: {frame: [MOTSObject]}}``), in the
    layout of ``evaluate_mots``. ``flavour``: ``"kitti"`` (KittiMOTS, frames from 0) or
    ``"motschallenge"`` (MOTSChallenge, frames from 1, pedestrians only)."""
    if flavour not in ("kitti", "motschallenge"):
        raise ValueError(f"flavour must be 'kitti' or 'motschallenge', got {flavour!r}")
    with tempfile.TemporaryDirectory(dir=workdir) as root:
        seq_info = write_trackeval_folders(root, gt, results, flavour)
        return evaluate_trackeval_folders(root, seq_info, class_names, flavour)


def _write_in_order(path: str, frames: Mapping) -> None:
    lines = [format_mots_line(o) + "\n" for f in sorted(frames) for o in frames[f]]
    atomic_write_text(path, "".join(lines))


def _convert(metric_results: Dict) -> Dict:
    report = {}
    for name, (metric, field) in _FIELDS.items():
        value = np.mean(metric_results[metric][field])
        if name in PERCENT_FIELDS:
            report[name] = 100.0 * float(value)
        elif name == "soft_TP":
            report[name] = float(value)
        else:
            report[name] = int(value)
    report["GT"] = report["TP"] + report["FN"]
    return report
