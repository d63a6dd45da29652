"""Helpers shared by the test folders, imported as ``helpers.<module>`` (setup.cfg puts tests/
on the path): never ``from conftest import ...``, which finds whichever conftest module was
imported first and breaks runs of several folders.

- ``environment``: skip on a developer's machine, fail under ``CI=true`` (real data, TrackEval);
- ``modeling``: tiny TrackR-CNN configs and clips;
- ``tracking``: hand-made detections and tracker configs;
- ``mots_eval_cases``: small GT / result sets for the evaluation;
- ``readme_cases``: result files for the README tests;
- ``demo_cases``: demo.py's test model (config, overrides, random weights).
"""
