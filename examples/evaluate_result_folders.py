# MOTS metrics of a folder of result files against a ground-truth folder, from Python: the numbers
# of `python -m trackrcnn_d2.evaluation GT_FOLDER RESULTS_FOLDER` (TrackEval's). Imports neither
# torch nor detectron2.
#   python examples/evaluate_result_folders.py GT_FOLDER RESULTS_FOLDER
import sys

from trackrcnn_d2.evaluation import evaluate_mots_folders

metrics = evaluate_mots_folders(sys.argv[1], sys.argv[2])  # the classes present in either
for name, m in metrics.items():
    if name != "per_sequence":  # {sequence: {class: metrics}}
        print(f"{name}: sMOTSA {m['sMOTSA']:.1f} HOTA {m['HOTA']:.1f} IDS {m['IDS']}")
