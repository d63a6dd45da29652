"""Perfect cached detections of synthetic sequences, for the threshold-search tests
(test_tuning, test_tuning_selection, test_readme_commands)."""
import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic import render_sequence
from trackrcnn_d2.tracking import FrameDetections, TrackerParams

CLASSES = ("car", "pedestrian")


def synthetic_sequence(name, index, frames=16, height=96, width=192):
    """GT ``{frame: [MOTSObject]}``, images and perfect detections (the GT masks, score 1, a
    distinct one-hot association vector per object) of one synthetic sequence."""
    images, id_maps = render_sequence(index, frames, height, width, seed=3)
    to_contiguous = mots_io.mots_class_to_contiguous(CLASSES)
    gt, detections = {}, []
    for frame, id_map in enumerate(id_maps):
        objects = mots_io.id_map_to_objects(id_map, frame)
        gt[frame] = objects
        tracked = [o for o in objects if o.class_id in to_contiguous]
        boxes = mask_utils.toBbox([o.rle for o in tracked]).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        vectors = np.zeros((len(tracked), 64), np.float32)
        for row, o in enumerate(tracked):
            vectors[row, (o.obj_id // 1000 * 31 + o.obj_id % 1000) % 64] = 1.0
        detections.append(
            FrameDetections(
                sequence=name,
                frame_idx=frame,
                height=height,
                width=width,
                boxes=boxes,
                scores=np.ones(len(tracked)),
                classes=[to_contiguous[o.class_id] for o in tracked],
                masks=[o.rle for o in tracked],
                association_vectors=vectors,
            )
        )
    return gt, images, detections


# Thresholds that track perfect detections perfectly.
PERFECT = TrackerParams(
    class_names=CLASSES,
    detection_confidence=(0.5,),
    maskprop_threshold=(0.1,),
    assoc_threshold=(0.5,),
    center_distance_threshold=(30.0,),
)
