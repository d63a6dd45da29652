"""The evaluation report: a static page (``index.html``, no server, no script, nothing fetched)
with per class the metrics table, per-sequence bars and HOTA's curves against alpha; per
sequence a timeline of every GT track's matches, misses, identity switches and fragmentations;
error views of the frames when images are at hand; and two runs side by side.

``python -m trackrcnn_d2.evaluation GT RESULTS --report DIR [--images IMAGE_ROOT]
[--compare RESULTS_B]`` writes it; ``TEST.MOTS.REPORT`` makes MOTSEvaluator write it after each
evaluation. From Python: :func:`write_folder_report` (folders) or :func:`write_report`
(:class:`ReportRun` of :func:`~trackrcnn_d2.evaluation.metrics.evaluate_mots_with_matching`).

Everything drawn comes from the metrics' own matching (:mod:`.matching_log`), so the marks add
up to the numbers. Modules: ``legend`` (colours and marks), ``matching_log``, ``timeline``
(SVG), ``frames`` (error views: numpy, OpenCV, Pillow), ``plots`` (matplotlib, imported only
when a report is written), ``compare``, ``html``, ``writer``. None imports torch.
"""

from .writer import VIEW_FRAMES, ReportRun, WrittenReport, write_folder_report, write_report

__all__ = ["ReportRun", "WrittenReport", "write_report", "write_folder_report", "VIEW_FRAMES"]
