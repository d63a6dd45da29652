"""Where a sequence's images are: ``<image_root>/<seq>/img1/<frame:06d>.jpg`` (MOTSChallenge) or
``<image_root>/<seq>/<frame:06d>.png`` (KITTI MOTS ``training/image_02``). Pure python, so that
the torch-free evaluation report finds the frames the dataset loaders read."""
import os
from typing import Dict

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.utils.file_io import IMAGE_EXTENSIONS

__all__ = ["sequence_image_folder", "list_sequence_images"]


def sequence_image_folder(image_root: str, sequence: str) -> str:
    """Image folder of a sequence: ``<image_root>/<sequence>/img1`` (MOTSChallenge) if it
    exists, else ``<image_root>/<sequence>`` (KITTI MOTS ``training/image_02``)."""
    mot_layout = os.path.join(image_root, sequence, "img1")
    return mot_layout if os.path.isdir(mot_layout) else os.path.join(image_root, sequence)


def list_sequence_images(image_root: str, sequence: str, hint: str = "") -> Dict[int, str]:
    """``{frame: image path}`` of a sequence, sorted by frame; the frame is the file's number
    (``000000.png`` is frame 0). Raises if the folder is missing or holds no image."""
    folder = sequence_image_folder(image_root, sequence)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"Image folder of sequence {sequence!r} not found: looked for {folder} "
            f"(and {os.path.join(image_root, sequence, 'img1')}). {hint}".rstrip()
        )
    images = {}
    for name in os.listdir(folder):
        stem, ext = os.path.splitext(name)
        if ext.lower() in IMAGE_EXTENSIONS and stem.isdigit():
            images[int(stem)] = os.path.join(folder, name)
    if not images:
        raise mots_io.MOTSFormatError(
            f"{folder}: empty sequence {sequence!r}, no <frame:06d>.png/.jpg images in it"
        )
    return dict(sorted(images.items()))
