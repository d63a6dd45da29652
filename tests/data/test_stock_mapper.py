"""What the README says of detectron2's own DatasetMapper on our datasets: RLE masks need
INPUT.MASK_FORMAT bitmask; the default polygon fails."""
import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, DatasetMapper
from detectron2.structures import BitMasks


@pytest.fixture
def mapper_config():
    cfg = get_cfg()
    cfg.MODEL.MASK_ON = True  # a Mask R-CNN: the mapper keeps the masks
    cfg.INPUT.MIN_SIZE_TRAIN = (64,)
    cfg.INPUT.MAX_SIZE_TRAIN = 128
    return cfg


def first_frame_with_objects(synthetic_prefix):
    return next(d for d in DatasetCatalog.get(f"{synthetic_prefix}_train") if d["annotations"])


def test_detectron2s_mapper_reads_our_masks_as_bitmasks(synthetic_prefix, mapper_config):
    mapper_config.INPUT.MASK_FORMAT = "bitmask"
    frame = first_frame_with_objects(synthetic_prefix)
    instances = DatasetMapper(mapper_config, is_train=True)(frame)["instances"]
    assert isinstance(instances.gt_masks, BitMasks) and len(instances) > 0


def test_detectron2s_default_polygon_format_fails_on_our_masks(synthetic_prefix, mapper_config):
    frame = first_frame_with_objects(synthetic_prefix)
    with pytest.raises(ValueError, match="mask_format=='polygon'"):
        DatasetMapper(mapper_config, is_train=True)(frame)
