"""Speed of the evaluation report (``python -m trackrcnn_d2.evaluation GT RES --report DIR``).

1. The whole report of the real MOTSChallenge annotations (2,862 frames, no images) against a
   perturbed result (``bench_eval.perturbed_results``), each command a fresh process: ours with
   ``--report``, ours without (the tables alone), and TrackEval's command with its plots
   (``PLOT_CURVES``: the HOTA curves per class, as PDF and PNG). Target: ours at most 10 s.
2. Error views (``--images``): frames per second of the views (read the frame, draw the
   matching, write the PNG), from the time of the report with images minus the time without,
   against detectron2's ``Visualizer`` drawing the same hypotheses on the same frames (what
   ``demo.py`` draws, ``trackrcnn_d2.utils.visualizer.draw_tracks``) and writing them alike.
   On KITTI-sized synthetic frames (375 x 1242) and on the real MOTSChallenge masks over
   synthetic 1080 x 1920 frames (the images are not in the repository's data).

The machine's load (1-minute average) is printed before and after each part.

    python benchmarks/bench_report.py [--repeat N] [--frames N] [--motschallenge ROOT]
    python benchmarks/bench_report.py --write-perturbed DIR   # only write the perturbed result

``--write-perturbed DIR`` writes the perturbed result of the real MOTSChallenge annotations
(``DIR/<seq>.txt``, what the README's screenshot of a report shows) and does nothing else.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_eval import TRACKEVAL_COMMAND, _best, _time_command, _Timer  # noqa: E402
from eval_cases import (  # noqa: E402
    MOTSCHALLENGE,
    first_frames,
    perturbed_results,
    real_motschallenge,
    synthetic_kitti_val,
)

from trackrcnn_d2.data.mots_io import write_mots_txt  # noqa: E402
from trackrcnn_d2.evaluation.reference import (  # noqa: E402
    trackeval_configs,
    write_trackeval_folders,
)
from trackrcnn_d2.evaluation.report import write_folder_report  # noqa: E402


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def report_of_motschallenge(root: str, repeat: int) -> None:
    gt = real_motschallenge(root)
    results = perturbed_results(gt)
    n_frames = sum(len(frames) for frames in gt.values())
    print(f"\n== report of the real MOTSChallenge annotations ({len(gt)} sequences, {n_frames} "
          f"frames, no images) against a perturbed result; {_load()}")
    with tempfile.TemporaryDirectory() as work:
        seq_info = write_trackeval_folders(work, gt, results, "motschallenge")
        gt_folder = os.path.join(work, "gt")
        results_folder = os.path.join(work, "trackers", "ours", "data")
        command = [sys.executable, "-m", "trackrcnn_d2.evaluation", gt_folder, results_folder,
                   "--classes", "pedestrian"]
        with_report = command + ["--report", os.path.join(work, "report"), "--overwrite"]
        configs = trackeval_configs(work, seq_info, ("pedestrian",), "motschallenge")
        configs[2].update(PLOT_CURVES=True, OUTPUT_SUMMARY=True)
        trackeval = [sys.executable, "-c", TRACKEVAL_COMMAND, json.dumps(configs),
                     os.path.join(work, "trackeval.json")]
        times = {"plain": [], "report": [], "trackeval": []}
        for _ in range(repeat):  # alternated, so that other load hits all three alike
            _time_command(command, times["plain"])
            _time_command(with_report, times["report"])
            _time_command(trackeval, times["trackeval"])
        plots = sorted(n for _, _, names in os.walk(os.path.join(work, "output")) for n in names
                       if n.endswith((".pdf", ".png")))
    (plain_wall, plain_cpu), (ours_wall, ours_cpu), (te_wall, te_cpu) = (
        _best(times[k]) for k in ("plain", "report", "trackeval")
    )
    print(f"   best of {repeat}, wall s (CPU s):")
    rows = [
        ("python -m trackrcnn_d2.evaluation (tables only)", plain_wall, plain_cpu),
        ("python -m trackrcnn_d2.evaluation --report DIR", ours_wall, ours_cpu),
        (f"TrackEval with PLOT_CURVES ({', '.join(plots)})", te_wall, te_cpu),
    ]
    for label, wall, cpu in rows:
        print(f"   {label:<66}{wall:7.2f} ({cpu:.2f})")
    print(f"   report: {te_wall / ours_wall:.1f} x TrackEval's wall time "
          f"({te_cpu / ours_cpu:.1f} x CPU); target <= 10 s: "
          f"{'met' if ours_wall <= 10 else 'NOT met'} ({ours_wall:.1f} s)")
    print(f"   ({_load()})")


def _write_images(root: str, gt, size, extension: str, seed: int = 0) -> None:
    """A smooth random picture per frame, ``<root>/<seq>/<frame:06d><extension>``."""
    import cv2

    rng = np.random.default_rng(seed)
    height, width = size
    for sequence, frames in gt.items():
        os.makedirs(os.path.join(root, sequence))
        for frame in frames:
            small = rng.integers(0, 256, (height // 40 + 2, width // 40 + 2, 3), dtype=np.uint8)
            image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(os.path.join(root, sequence, f"{frame:06d}{extension}"), image)


def _draw_with_visualizer(results, image_root: str, frames_by_sequence, out: str) -> int:
    """detectron2's Visualizer (demo.py's drawing) on the same frames: read, draw the
    hypotheses, write the PNG. Returns the number of frames."""
    import cv2

    from trackrcnn_d2.utils.visualizer import draw_tracks

    count = 0
    for sequence, frames in frames_by_sequence.items():
        os.makedirs(os.path.join(out, sequence), exist_ok=True)
        for frame in frames:
            name = [n for n in os.listdir(os.path.join(image_root, sequence))
                    if n.startswith(f"{frame:06d}.")][0]
            image = cv2.imread(os.path.join(image_root, sequence, name))
            width = image.shape[1]
            drawn = draw_tracks(image, results[sequence].get(frame, []), scale=min(1, 960 / width))
            cv2.imwrite(os.path.join(out, sequence, f"{frame:06d}.png"), drawn,
                        [cv2.IMWRITE_PNG_COMPRESSION, 1])
            count += 1
    return count


def error_views(name: str, gt, size, extension: str, classes, repeat: int) -> None:
    results = perturbed_results(gt)
    print(f"\n== error views, {name}: {len(gt)} sequences, "
          f"{sum(len(f) for f in gt.values())} frames of {size[1]} x {size[0]}; {_load()}")
    with tempfile.TemporaryDirectory() as work:
        folders = {}
        for kind, data in (("gt", gt), ("results", results)):
            folders[kind] = os.path.join(work, kind)
            for sequence, frames in data.items():
                write_mots_txt(os.path.join(folders[kind], f"{sequence}.txt"),
                               [o for f in sorted(frames) for o in frames[f]])
        images = os.path.join(work, "images")
        _write_images(images, gt, size, extension)
        out = os.path.join(work, "report")
        with_views, without_views, peer = [], [], []
        frames_drawn = {s: sorted(f) for s, f in gt.items()}
        for _ in range(repeat):  # alternated, so that other load hits all three alike
            with _Timer(with_views):
                written, _ = write_folder_report(out, folders["gt"], [folders["results"]],
                                                 classes, image_root=images)
            with _Timer(without_views):
                write_folder_report(out, folders["gt"], [folders["results"]], classes)
            with _Timer(peer):
                n_peer = _draw_with_visualizer(results, images, frames_drawn,
                                               os.path.join(work, "d2"))
    views = written.n_views
    (with_wall, with_cpu), (without_wall, without_cpu) = _best(with_views), _best(without_views)
    (peer_wall, peer_cpu) = _best(peer)
    ours_wall, ours_cpu = views / (with_wall - without_wall), views / (with_cpu - without_cpu)
    theirs_wall, theirs_cpu = n_peer / peer_wall, n_peer / peer_cpu
    print(f"   best of {repeat}: {views} error views (report with --images {with_wall:.2f} s, "
          f"without {without_wall:.2f} s wall)")
    print(f"   ours {ours_wall:.1f} frames/s wall ({ours_cpu:.1f} per CPU second); detectron2's "
          f"Visualizer (hypotheses only) {theirs_wall:.1f} frames/s wall ({theirs_cpu:.1f} per CPU "
          f"second); ratio {ours_wall / theirs_wall:.1f} x wall, {ours_cpu / theirs_cpu:.1f} x CPU")
    print(f"   ({_load()})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best taken)")
    parser.add_argument("--frames", type=int, default=40,
                        help="frames per sequence of the error-view cases")
    parser.add_argument("--motschallenge", default=MOTSCHALLENGE, help="real annotations root")
    parser.add_argument("--write-perturbed", metavar="DIR",
                        help="only write the perturbed MOTSChallenge result to DIR/<seq>.txt")
    args = parser.parse_args(argv)
    if args.write_perturbed:
        results = perturbed_results(real_motschallenge(args.motschallenge))
        for sequence, frames in results.items():
            write_mots_txt(os.path.join(args.write_perturbed, f"{sequence}.txt"),
                           [o for f in sorted(frames) for o in frames[f]])
        print(f"wrote {len(results)} result files to {args.write_perturbed}")
        return
    has_motschallenge = os.path.isdir(os.path.join(args.motschallenge, "instances_txt"))
    if has_motschallenge:
        report_of_motschallenge(args.motschallenge, args.repeat)
    kitti = first_frames(dict(list(synthetic_kitti_val().items())[:2]), args.frames)
    error_views("KITTI-sized synthetic", kitti, (375, 1242), ".png", ("car", "pedestrian"),
                args.repeat)
    if has_motschallenge:
        motschallenge = first_frames(real_motschallenge(args.motschallenge), args.frames)
        motschallenge = {s: f for s, f in motschallenge.items() if s != "0005"}  # 1080p ones
        error_views("real MOTSChallenge masks, synthetic 1080p frames", motschallenge,
                    (1080, 1920), ".jpg", ("pedestrian",), args.repeat)
    else:
        print(f"\n(no MOTSChallenge annotations at {args.motschallenge}: skipped)")


if __name__ == "__main__":
    main()
