"""How fast MOTS annotations are read: ours vs TrackEval's reader, measured in the same run.

Ours: ``mots_io.load_mots_ground_truth`` with every check (RLE sizes against headers, class
ids, duplicate ids, overlapping masks) plus the per-frame detectron2 annotations (boxes from
the masks) that the dataset dicts hold. Peer: TrackEval's ``MOTSChallenge._load_raw_file`` on
the same files (it parses, merges ignore regions and checks overlaps; it does not check RLE
sizes). Also shown: our reader without checks, and the RLE size check one mask at a time
(``utils.rle.rle_counts_total``, the reference decoder that the bulk check is tested against).

Data: the real MOTSChallenge annotations (2,862 frames, 29,721 masks of up to 1080x1920) when
present, else a synthetic set at KITTI's image size written to a temporary folder.

    python benchmarks/bench_data.py [--annotations DIR] [--repeat 5]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from trackrcnn_d2.data import mots_io  # noqa: E402
from trackrcnn_d2.utils.rle import rle_counts_total  # noqa: E402

DEFAULT_ANNOTATIONS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "..",
    "shared",
    "data",
    "motschallenge",
    "instances_txt",
)


def ours(annotation_root, sequences):
    from trackrcnn_d2.data.datasets import _annotations_of_frame

    ground_truth = mots_io.load_mots_ground_truth(annotation_root, sequences)
    class_to_contiguous = mots_io.mots_class_to_contiguous(["car", "pedestrian"])
    masks = 0
    for frames in ground_truth.values():
        for objects in frames.values():
            annotations, ignore_regions = _annotations_of_frame(objects, class_to_contiguous)
            masks += len(annotations) + len(ignore_regions)
    return masks


def ours_unchecked(annotation_root, sequences):
    ground_truth = mots_io.load_mots_ground_truth(annotation_root, sequences, check=False)
    return sum(len(o) for frames in ground_truth.values() for o in frames.values())


def per_mask_size_check(annotation_root, sequences):
    masks = 0
    for sequence in sequences:
        path, _ = mots_io.find_sequence_annotations(annotation_root, sequence, "txt")
        for objects in mots_io.read_mots_txt(path, validate=False).values():
            for obj in objects:
                rle_counts_total(obj.rle["counts"])
                masks += 1
    return masks


def trackeval_reader(annotation_root, sequences):
    """TrackEval's MOTSChallenge ground-truth reader (parsing, ignore regions, overlap check)."""
    from trackeval.datasets import MOTSChallenge

    lengths = {}
    for sequence in sequences:
        path, _ = mots_io.find_sequence_annotations(annotation_root, sequence, "txt")
        with open(path) as f:
            lengths[sequence] = max(int(line.split(" ", 1)[0]) for line in f if line.strip())
    # TrackEval numbers MOTSChallenge frames from 1; a KITTI-style file (from 0) is shifted.
    shifted_root = None
    if any(min_frame(annotation_root, s) == 0 for s in sequences):
        shifted_root = tempfile.mkdtemp()
        for sequence in sequences:
            frames = mots_io.read_mots_txt(os.path.join(annotation_root, f"{sequence}.txt"))
            mots_io.write_mots_txt(
                os.path.join(shifted_root, f"{sequence}.txt"),
                [o._replace(frame=o.frame + 1) for objects in frames.values() for o in objects],
            )
            lengths[sequence] += 1
    dataset = MOTSChallenge(
        {
            "GT_FOLDER": shifted_root or annotation_root,
            "TRACKERS_FOLDER": tempfile.gettempdir(),
            "TRACKERS_TO_EVAL": [],
            "SEQ_INFO": lengths,
            "GT_LOC_FORMAT": "{gt_folder}/{seq}.txt",
            "SKIP_SPLIT_FOL": True,
            "PRINT_CONFIG": False,
        }
    )

    def run():
        masks = 0
        for sequence in sequences:
            raw = dataset._load_raw_file(None, sequence, is_gt=True)
            masks += sum(len(d) for d in raw["gt_dets"])
            masks += sum(1 for d in raw["gt_ignore_region"] if d["counts"] not in (b"", ""))
        return masks

    return run


def min_frame(annotation_root, sequence):
    with open(os.path.join(annotation_root, f"{sequence}.txt")) as f:
        return min(int(line.split(" ", 1)[0]) for line in f if line.strip())


def interleaved_times(functions, repeat):
    """Run every function ``repeat`` times, one round of all at a time, so that a change of
    machine load hits all alike; returns per function (best s, median s, last result)."""
    times = [[] for _ in functions]
    results = [None] * len(functions)
    for _ in range(repeat):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            results[i] = function()
            times[i].append(time.perf_counter() - start)
    return [(min(t), statistics.median(t), r) for t, r in zip(times, results)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", default=DEFAULT_ANNOTATIONS, help="<seq>.txt folder")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    annotation_root = os.path.abspath(args.annotations)
    if os.path.isdir(annotation_root):
        what = f"real annotations in {annotation_root}"
    else:
        from trackrcnn_d2.data.synthetic import generate_synthetic_mots

        root = tempfile.mkdtemp()
        print(f"{annotation_root} not found: writing a synthetic set (375x1242) to {root} ...")
        generate_synthetic_mots(root, sequences=8, frames=60, height=375, width=1242)
        annotation_root = os.path.join(root, "instances_txt")
        what = "synthetic annotations, 8 sequences x 60 frames, 375x1242"
    sequences = mots_io.sequence_names(annotation_root)
    frames = sum(
        len(f) for f in mots_io.load_mots_ground_truth(annotation_root, sequences).values()
    )
    print(f"Data: {what}: {len(sequences)} sequences, {frames} annotated frames")

    peer = trackeval_reader(annotation_root, sequences)
    rows = [
        ("ours: load_mots_ground_truth, all checks + dataset annotations",
         lambda: ours(annotation_root, sequences)),
        ("ours: load_mots_ground_truth(check=False)",
         lambda: ours_unchecked(annotation_root, sequences)),
        ("peer: TrackEval MOTSChallenge._load_raw_file", peer),
        ("RLE size check alone, one rle_counts_total per mask",
         lambda: per_mask_size_check(annotation_root, sequences)),
    ]
    results = {}
    print(f"{'reader':<66} {'best s':>8} {'median s':>9} {'masks':>7}")
    measured = interleaved_times([function for _, function in rows], args.repeat)
    for (name, _), (best, median, masks) in zip(rows, measured):
        results[name] = best
        print(f"{name:<66} {best:8.3f} {median:9.3f} {masks:7d}")
    ours_time = results[rows[0][0]]
    peer_time = results[rows[2][0]]
    print(
        f"\nours (all checks) {ours_time:.3f} s vs TrackEval {peer_time:.3f} s: "
        f"ratio ours/peer = {ours_time / peer_time:.2f} (< 1: ours is faster)"
    )


if __name__ == "__main__":
    main()
