"""Class maps written in configs as ``[[class, MOTS class], ...]`` pairs of names."""
from typing import Sequence, Tuple

from trackrcnn_d2.utils.cli import ConfigError

__all__ = ["checked_class_pair"]


def checked_class_pair(
    pair: Sequence[str], map_key: str, role: str, classes: Sequence[str], owner: str
) -> Tuple[str, str]:
    """``(class, MOTS class)`` of one ``[class, MOTS class]`` entry of ``map_key``, the class
    (its ``role``, e.g. "model class") one of ``classes``, those of ``owner`` ("the model's",
    a dataset's); anything else raises :class:`~trackrcnn_d2.utils.cli.ConfigError`. The one
    check of both class maps: ``DATASETS.MOTS.CLASS_MAP`` (:mod:`trackrcnn_d2.tracking.class_map`)
    and ``MODEL.WEIGHTS_CLASSES.MAP`` (:mod:`trackrcnn_d2.checkpoint.class_rows`)."""
    if len(pair) != 2 or not all(isinstance(name, str) for name in pair):
        raise ConfigError(
            f"{map_key}: entry {pair!r} is not a [{role}, MOTS class] pair of names, e.g. "
            "['person', 'pedestrian']"
        )
    name, mots_class = pair
    if name not in classes:
        more = ", ..." if len(classes) > 12 else ""
        raise ConfigError(
            f"{map_key}: {name!r} is not one of {owner} {len(classes)} classes "
            f"({', '.join(classes[:12])}{more})"
        )
    return name, mots_class
