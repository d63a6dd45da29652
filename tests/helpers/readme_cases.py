"""Shared by the README tests: result files that equal the ground truth."""
from trackrcnn_d2.data import mots_io


def write_ground_truth_as_results(gt_folder, results_folder):
    """Write the car and pedestrian objects of each ``<seq>.txt`` of ``gt_folder`` (ignore
    regions left out) as ``results_folder/<seq>.txt``: a perfect tracking result."""
    for path in sorted(gt_folder.glob("*.txt")):
        frames = mots_io.read_mots_txt(str(path)).values()
        objects = [o for frame in frames for o in frame if o.class_id in (1, 2)]
        mots_io.write_mots_txt(str(results_folder / path.name), objects)
