"""MOTS metrics (paper Sec. 4), numerically identical to TrackEval's KITTI MOTS / MOTSChallenge
evaluation, and much faster.

Computed per class (car, pedestrian), per sequence and combined over sequences:

* CLEAR for masks: sMOTSA, MOTSA, MOTSP, IDS, TP, soft TP (sum of the IoUs of the TPs), FP, FN,
  GT (number of GT masks), recall, precision, MT / PT / ML, Frag;
* HOTA with DetA, AssA, LocA (and DetRe, DetPr, AssRe, AssPr), averaged over alpha = 0.05 ... 0.95;
* IDF1, IDP, IDR (and IDTP, IDFP, IDFN).

Where the paper's formal definition (Sec. 4) and TrackEval differ, this module follows TrackEval,
the official code of both benchmarks, so that the numbers equal published ones:

* **Matching.** The paper maps a hypothesis to the GT mask it overlaps with IoU > 0.5. TrackEval
  matches by the Hungarian algorithm over pairs with IoU >= 0.5 - float eps, so IoU exactly 0.5 is
  a match; among equally good matchings it keeps the GT-to-track pairing of the previous frame.
  The Identity metrics count pairs with IoU >= 0.5 (no eps).
* **IDS.** The paper counts a GT mask as an id switch when its *immediate predecessor* was
  matched to a different track id. TrackEval compares with the last frame in which that GT track
  was matched, across any gap of unmatched frames.
* **Ignore regions.** The paper discards hypotheses "mapped to ignore regions". TrackEval removes
  a hypothesis that is not matched to any GT mask of its class and whose intersection with the
  union of the frame's ignore regions (class 10) covers more than half of its area (+ eps).
* **Combination over sequences.** Counts (and the soft TP) are summed, then the rates computed;
  HOTA's AssA / AssRe / AssPr and LocA are TP-weighted averages over sequences, per alpha.
* **Frag** counts the re-starts of a GT track's matched runs, where a run is broken only by a frame
  in which the GT track is unmatched although both that class's GT and hypotheses are present.
* **A class without GT and without hypotheses** gets TrackEval's values: all counts 0, every rate
  0 except LocA = 100 (it is 1 by TrackEval's convention when nothing is matched).

Inputs are ``{sequence: {frame: [mots_io.MOTSObject, ...]}}``; GT includes the ignore-region
objects (class 10, obj_id 10000). Hypotheses must not overlap (TrackEval refuses them too): a
:class:`MOTSEvaluationError` names the sequence, frame and ids of any bad input.

Other conventions kept from TrackEval: per sequence, a class without GT masks but with
hypotheses gets MOTSA = sMOTSA = 0 (combined over sequences its false positives count); a
track's fraction of matched frames decides MT (> 0.8), PT (>= 0.2), ML; among equally good
matchings the order of the objects in a frame decides (file order for TrackEval).

Speed: every mask's RLE string is parsed once by pycocotools' C library and kept there
(:class:`~trackrcnn_d2.utils.rle_batch.RLEBatch`) for the size check, the overlap check (unions
merged in a few levels, never encoded), the IoUs and the ignore regions; every mask IoU is computed
once (one call per 4 frames: the masks of each frame get their own width, so that pycocotools skips
pairs of different frames) and shared by the preprocessing, CLEAR, HOTA and Identity; everything
after that is vectorised over all frames, sequences and classes at once. Only frames where the
Hungarian algorithm's choice is not determined by the overlaps alone (a detection with two
candidate partners that do not form a star with a strict best edge) are solved as TrackEval does,
with the same matrices and scipy's own solver (loaded without the 0.3 s import of
``scipy.optimize``, :mod:`.lsap`); Identity needs only the optimum's value, found per connected
component of the track pairs. For repeated evaluation against the same GT (a threshold search),
build a :class:`MOTSGroundTruth` once and pass it instead of the dict; pass ``validate=False``
for results known to be valid. :func:`evaluate_mots_with_matching` also returns the matching
behind the numbers (CLEAR's matches with the IDS and Frag it counts, HOTA's values per alpha),
which the evaluation report (:mod:`trackrcnn_d2.evaluation.report`) draws.

Modules, as TrackEval's ``trackeval/metrics/``: ``validation`` (input checks), ``ground_truth``
(GT prepared once), ``pairing`` (IoUs, ignore regions, per-frame matching, the
:class:`~.pairing.EvaluationData` every metric reads), ``cells`` (the matrices of the frames the
Hungarian algorithm solves), ``clear``, ``hota``, ``identity``, ``lsap`` (scipy's Hungarian
algorithm); this module combines them. None imports torch or detectron2.
"""
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS, MOTSObject

from .clear import ClearMatches, clear
from .ground_truth import MOTSGroundTruth, without_gc
from .hota import HOTA_ALPHAS, hota
from .identity import identity
from .pairing import EvaluationData, prepare
from .validation import (
    GroundTruthWarning,
    MissingResultsWarning,
    MOTSEvaluationError,
    ResultsWarning,
)

__all__ = [
    "MOTSEvaluationError",
    "MissingResultsWarning",
    "GroundTruthWarning",
    "ResultsWarning",
    "MOTSGroundTruth",
    "evaluate_mots",
    "evaluate_mots_with_matching",
    "MOTSMatching",
    "ClearMatches",
    "mots_counts",
    "concatenate_counts",
    "select_classes",
    "mots_report",
    "HOTA_ALPHAS",
    "ALPHA_FIELDS",
    "PERCENT_FIELDS",
    "COUNT_FIELDS",
]

# Reported fields: rates in percent, counts as int; "soft_TP" (sum of IoUs) as a float.
PERCENT_FIELDS = (
    "sMOTSA", "MOTSA", "MOTSP", "Recall", "Precision",
    "HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr",
    "IDF1", "IDP", "IDR",
)  # fmt: skip
COUNT_FIELDS = (
    "IDS", "TP", "FP", "FN", "GT", "MT", "PT", "ML", "Frag", "IDTP", "IDFP", "IDFN",
)  # fmt: skip

Frames = Mapping[int, Sequence[MOTSObject]]


ALPHA_FIELDS = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr")


def _alpha_fields(counts: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """HOTA's fields per alpha (fractions); the report gives their means over alpha."""
    hota_tp, hota_fn, hota_fp = counts["HOTA_TP"], counts["HOTA_FN"], counts["HOTA_FP"]
    det_a = hota_tp / np.maximum(1, hota_tp + hota_fn + hota_fp)
    return {
        "HOTA": np.sqrt(det_a * counts["AssA"]),
        "DetA": det_a,
        "AssA": counts["AssA"],
        "LocA": counts["LocA"],
        "DetRe": hota_tp / np.maximum(1, hota_tp + hota_fn),
        "DetPr": hota_tp / np.maximum(1, hota_tp + hota_fp),
        "AssRe": counts["AssRe"],
        "AssPr": counts["AssPr"],
    }


def _final_fields(counts: Dict[str, np.ndarray], single_sequence: bool) -> Dict[str, object]:
    """Rates from summed counts, as TrackEval's ``_compute_final_fields`` (fractions).

    TrackEval's per-sequence CLEAR returns early for a sequence without GT masks of the class,
    leaving MOTA and sMOTA at 0 instead of -FP; that convention is kept for single sequences.
    """
    tp, fn, fp, idsw = counts["TP"], counts["FN"], counts["FP"], counts["IDS"]
    n_gt = tp + fn
    no_gt_in_sequence = single_sequence and n_gt == 0
    idtp, idfn, idfp = counts["IDTP"], counts["IDFN"], counts["IDFP"]
    return {
        "sMOTSA": 0.0 if no_gt_in_sequence else (counts["soft_TP"] - fp - idsw) / max(1.0, n_gt),
        "MOTSA": 0.0 if no_gt_in_sequence else (tp - fp - idsw) / max(1.0, n_gt),
        "MOTSP": counts["soft_TP"] / np.maximum(1.0, tp),
        "Recall": tp / np.maximum(1.0, n_gt),
        "Precision": tp / np.maximum(1.0, tp + fp),
        **{name: np.mean(values) for name, values in _alpha_fields(counts).items()},
        "IDF1": idtp / np.maximum(1.0, idtp + 0.5 * idfp + 0.5 * idfn),
        "IDP": idtp / np.maximum(1.0, idtp + idfp),
        "IDR": idtp / np.maximum(1.0, idtp + idfn),
        "IDS": idsw, "TP": tp, "FP": fp, "FN": fn, "GT": n_gt,
        "MT": counts["MT"], "PT": counts["PT"], "ML": counts["ML"], "Frag": counts["Frag"],
        "IDTP": idtp, "IDFP": idfp, "IDFN": idfn,
        "soft_TP": counts["soft_TP"],
    }  # fmt: skip


def _report(fields: Dict[str, object]) -> Dict[str, object]:
    """Rates in percent as papers print them, counts as int, soft TP as float."""
    report = {name: 100.0 * float(fields[name]) for name in PERCENT_FIELDS}
    report.update({name: int(fields[name]) for name in COUNT_FIELDS})
    report["soft_TP"] = float(fields["soft_TP"])
    return report


_SUMMED = ("TP", "FN", "FP", "IDS", "soft_TP", "MT", "PT", "ML", "Frag", "IDTP", "IDFN", "IDFP")
_HOTA_COUNTS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")


def _combine_sequences(per_group: Dict[str, np.ndarray], groups: np.ndarray) -> Dict[str, object]:
    """TrackEval's ``combine_sequences``: counts summed; AssA / AssRe / AssPr and LocA averaged
    with the per-alpha HOTA TP counts as weights."""
    if len(groups) == 1:
        return {name: values[..., groups[0]] for name, values in per_group.items()}
    combined = {name: per_group[name][groups].sum() for name in _SUMMED}
    for name in _HOTA_COUNTS:
        combined[name] = per_group[name][:, groups].sum(axis=1)
    tp = per_group["HOTA_TP"][:, groups]
    for name in ("AssA", "AssRe", "AssPr"):
        combined[name] = (per_group[name][:, groups] * tp).sum(axis=1) / np.maximum(
            1.0, combined["HOTA_TP"]
        )
    loca_weighted = (per_group["LocA"][:, groups] * tp).sum(axis=1)
    combined["LocA"] = np.maximum(1e-10, loca_weighted) / np.maximum(1e-10, combined["HOTA_TP"])
    return combined


@without_gc
def evaluate_mots(
    gt,
    results: Mapping[str, Frames],
    class_names: Sequence[str] = ("car", "pedestrian"),
    validate: bool = True,
) -> Dict[str, object]:
    """Evaluate MOTS results against ground truth, as TrackEval's KittiMOTS / MOTSChallenge.

    Args:
        gt: ``{sequence: {frame: [MOTSObject, ...]}}`` including ignore regions (class 10), or a
            :class:`MOTSGroundTruth` prepared once from it (faster for repeated calls). Its
            sequences are the ones evaluated.
        results: ``{sequence: {frame: [MOTSObject, ...]}}``. A GT sequence without results
            counts as all missed (with a :class:`MissingResultsWarning`); a result sequence that
            is not in the GT is an error.
        class_names: classes to evaluate, among ``"car"`` and ``"pedestrian"``.
        validate: check the results as the official tools do (image size, unique ids per frame,
            no overlapping masks). Only skip it for results known to be valid.

    Returns:
        ``{class: {field: value}, ..., "per_sequence": {sequence: {class: {field: value}}}}``
        with the fields :data:`PERCENT_FIELDS` in percent (71.8 means 71.8 %),
        :data:`COUNT_FIELDS` as int, and ``soft_TP`` (the sum of IoUs of the true positives).
        Combined values follow TrackEval's combination over sequences (see module docstring).

    Raises:
        TypeError: ``gt`` or ``results`` is not a dict (for folders:
            :func:`~trackrcnn_d2.evaluation.evaluate_mots_folders`).
        MOTSEvaluationError: bad input, naming the sequence, frame and ids.
    """
    unknown_classes = [c for c in class_names if c not in MOTS_CLASS_IDS]
    if unknown_classes or not class_names:
        raise ValueError(
            f"cannot evaluate class(es) {list(unknown_classes)}; MOTS classes are "
            f"{sorted(MOTS_CLASS_IDS)}"
        )
    for name, value in (("gt", gt), ("results", results)):
        if not isinstance(value, (Mapping, MOTSGroundTruth)):
            raise TypeError(
                f"evaluate_mots takes {name} as a dict {{sequence: {{frame: [MOTSObject, ...]}}}}"
                f"{' or a MOTSGroundTruth' if name == 'gt' else ''}, got "
                f"{type(value).__name__}; for folders of MOTS files call "
                "trackrcnn_d2.evaluation.evaluate_mots_folders(gt_folder, res_folder)"
            )
    return _evaluate(gt, results, class_names, validate, keep_matching=False).report


@without_gc
def evaluate_mots_with_matching(
    gt,
    results: Mapping[str, Frames],
    class_names: Sequence[str] = ("car", "pedestrian"),
    validate: bool = True,
) -> "MOTSMatching":
    """:func:`evaluate_mots` (same arguments, same report) with the matching the report is
    computed from: the evaluation report's timelines and error views draw it, so that their marks
    add up to the report's numbers."""
    return _evaluate(gt, results, class_names, validate, keep_matching=True)


@dataclass(frozen=True)
class MOTSMatching:
    """What :func:`evaluate_mots_with_matching` returns.

    ``report``: :func:`evaluate_mots`'s dict; ``ground_truth``: the evaluated GT (its
    ``sequences`` in report order); ``data``: the detections, tracks and IoUs all metrics read
    (:class:`~.pairing.EvaluationData`, hypotheses in ignore regions already removed);
    ``matches``: CLEAR's matches with the IDS and Frag it counts (:class:`~.clear.ClearMatches`).
    """

    report: Dict[str, object]
    class_names: Tuple[str, ...]
    ground_truth: MOTSGroundTruth
    data: EvaluationData
    matches: ClearMatches
    per_group: Dict[str, np.ndarray]

    def alpha_curves(self, class_name: str, sequence: Optional[str] = None) -> Dict[str, list]:
        """HOTA, DetA, AssA, LocA, DetRe, DetPr, AssRe and AssPr in percent at each alpha of
        :data:`HOTA_ALPHAS` (TrackEval's curves), combined over sequences or of one
        ``sequence``; the report's values are their means."""
        c = self.class_names.index(class_name)
        n_cls = len(self.class_names)
        if sequence is None:
            groups = np.arange(c, self.data.n_groups, n_cls)
        else:
            groups = np.array([self.ground_truth.sequences.index(sequence) * n_cls + c])
        counts = _combine_sequences(self.per_group, groups)
        return {
            name: [100.0 * float(v) for v in values]
            for name, values in _alpha_fields(counts).items()
        }


def _evaluate(gt, results, class_names, validate, keep_matching: bool) -> MOTSMatching:
    ground_truth = gt if isinstance(gt, MOTSGroundTruth) else MOTSGroundTruth(gt)
    unknown = [s for s in results if s not in ground_truth]
    if unknown:
        raise MOTSEvaluationError(
            f"results contain sequence(s) {sorted(unknown)} that are not in the ground truth "
            f"(its sequences: {ground_truth.sequences}); check the result file names"
        )
    kept: List[ClearMatches] = []
    data = prepare(ground_truth, results, [MOTS_CLASS_IDS[c] for c in class_names], validate)
    per_group = _metrics(data, kept.append if keep_matching else None)
    output = mots_report(per_group, ground_truth.sequences, class_names)
    return MOTSMatching(
        output, tuple(class_names), ground_truth, data, kept[0] if kept else None, per_group
    )


def mots_counts(
    ground_truth: MOTSGroundTruth,
    results: Mapping[str, Frames],
    class_names: Sequence[str],
    validate: bool = True,
) -> Dict[str, np.ndarray]:
    """What :func:`evaluate_mots` computes before combining: per (sequence, class) group the
    counts and per-alpha HOTA values of TrackEval's ``eval_sequence``, arrays whose last axis is
    the group ``s * len(class_names) + c`` (``s`` in ``ground_truth.sequences`` order). A few
    hundred numbers per group, whatever the size of the data: the folder evaluation computes them
    one sequence at a time (:func:`concatenate_counts`) and reports with :func:`mots_report`."""
    data = prepare(ground_truth, results, [MOTS_CLASS_IDS[c] for c in class_names], validate)
    return _metrics(data)


def _metrics(data: EvaluationData, on_matches=None) -> Dict[str, np.ndarray]:
    return {**clear(data, on_matches), **hota(data), **identity(data)}


def concatenate_counts(parts: Sequence[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """The :func:`mots_counts` of consecutive sequences (same classes) as one."""
    return {name: np.concatenate([p[name] for p in parts], axis=-1) for name in parts[0]}


def select_classes(counts: Dict[str, np.ndarray], n_classes: int, keep: Sequence[int]):
    """:func:`mots_counts` of ``n_classes`` classes reduced to the classes ``keep`` (indices, in
    the order given)."""
    return {
        name: values.reshape(*values.shape[:-1], -1, n_classes)[..., list(keep)].reshape(
            *values.shape[:-1], -1
        )
        for name, values in counts.items()
    }


def mots_report(
    counts: Dict[str, np.ndarray], sequences: Sequence[str], class_names: Sequence[str]
) -> Dict[str, object]:
    """:func:`evaluate_mots`'s dict from :func:`mots_counts` of ``sequences``: per class combined
    over the sequences as TrackEval does, and per sequence."""
    n_cls = len(class_names)
    n_groups = len(sequences) * n_cls
    output: Dict[str, object] = {}
    for c, name in enumerate(class_names):
        groups = np.arange(c, n_groups, n_cls)
        output[name] = _report(_final_fields(_combine_sequences(counts, groups), False))
    output["per_sequence"] = {
        sequence: {
            name: _report(
                _final_fields(_combine_sequences(counts, np.array([s * n_cls + c])), True)
            )
            for c, name in enumerate(class_names)
        }
        for s, sequence in enumerate(sequences)
    }
    return output
