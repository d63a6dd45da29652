# MOTS metrics of a folder of result files against a ground-truth folder, from Python: the numbers
# of `python -m trackrcnn_d2.evaluation GT_FOLDER RESULTS_FOLDER [--seqmap FILE]` (TrackEval's).
# Imports neither torch nor detectron2. A seqmap names the sequences to evaluate (without it,
# every ground-truth sequence without results counts as missed). After `make demo`, its
# validation tracks against the synthetic set's validation split:
#   python examples/evaluate_result_folders.py datasets/synthetic_mots/instances_txt \
#       output/demo/inference/synthetic_mots_val datasets/synthetic_mots/evaluate_mots.seqmap.val
import argparse

from trackrcnn_d2.evaluation import evaluate_mots_folders
from trackrcnn_d2.utils.cli import exit_on_user_error

parser = argparse.ArgumentParser(description="MOTS metrics of result files.")
parser.add_argument("gt_folder", metavar="GT_FOLDER")
parser.add_argument("results_folder", metavar="RESULTS_FOLDER")
parser.add_argument("seqmap", metavar="SEQMAP", nargs="?", help="the sequences to evaluate")
args = parser.parse_args()

with exit_on_user_error("evaluate_result_folders.py"):  # bad input: one line naming the file
    metrics = evaluate_mots_folders(args.gt_folder, args.results_folder, seqmap=args.seqmap)
for name, m in metrics.items():
    if name != "per_sequence":  # {sequence: {class: metrics}}
        print(f"{name}: sMOTSA {m['sMOTSA']:.1f} HOTA {m['HOTA']:.1f} IDS {m['IDS']}")
