"""The loaders' checks of what the user gave: the batch arithmetic for 1, 2 and 8 GPUs, dataset
names, and images that cannot be read."""
import os

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import DefaultTrainer

from trackrcnn_d2.data import register_kitti_mots
from trackrcnn_d2.data.build import (
    ImageReadError,
    build_mots_test_loader,
    build_mots_train_loader,
    check_mots_datasets,
    clips_per_gpu,
    get_mots_dataset_dicts,
)
from trackrcnn_d2.data.dataset_mapper import MOTSClipDatasetMapper, MOTSTestDatasetMapper
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.model_zoo import get_config_file
from trackrcnn_d2.utils.cli import ConfigError, exit_on_user_error, load_config


@pytest.mark.parametrize("gpus", [1, 2, 8])
def test_shipped_kitti_config_scales_to_any_number_of_gpus(gpus):
    """The README's multi-GPU command: SOLVER.REFERENCE_WORLD_SIZE 1 makes detectron2 scale the
    one-GPU config linearly (IMS_PER_BATCH is the total over all GPUs): one clip per GPU."""
    cfg = load_config(get_config_file("kitti_mots_r101.yaml"), ["SOLVER.REFERENCE_WORLD_SIZE", "1"])
    scaled = DefaultTrainer.auto_scale_workers(cfg, gpus)
    assert scaled.SOLVER.IMS_PER_BATCH == 8 * gpus
    assert clips_per_gpu(scaled.SOLVER.IMS_PER_BATCH, scaled.INPUT.CLIP_LENGTH, gpus) == 1
    assert scaled.SOLVER.BASE_LR == pytest.approx(cfg.SOLVER.BASE_LR * gpus)
    assert scaled.SOLVER.MAX_ITER == round(cfg.SOLVER.MAX_ITER / gpus)
    assert scaled.SOLVER.CHECKPOINT_PERIOD == round(cfg.SOLVER.CHECKPOINT_PERIOD / gpus)


def test_unscaled_config_on_8_gpus_says_how_to_scale():
    cfg = load_config(get_config_file("kitti_mots_r101.yaml"))
    assert clips_per_gpu(cfg.SOLVER.IMS_PER_BATCH, cfg.INPUT.CLIP_LENGTH, 1) == 1
    with pytest.raises(ConfigError, match=r"= 64\. Pass SOLVER.REFERENCE_WORLD_SIZE 1"):
        clips_per_gpu(cfg.SOLVER.IMS_PER_BATCH, cfg.INPUT.CLIP_LENGTH, 8)
    assert clips_per_gpu(64, 8, 8) == 1 and clips_per_gpu(32, 4, 2) == 4
    for frames in (0, 4, 12):
        with pytest.raises(ConfigError, match="must be a multiple of INPUT.CLIP_LENGTH"):
            clips_per_gpu(frames, 8, 1)


def test_unknown_and_non_mots_dataset_names(synthetic_prefix, unique_name):
    check_mots_datasets([f"{synthetic_prefix}_train"])
    # A reuser's own registration, without our lazily computed sequences and image sizes.
    DatasetCatalog.register(unique_name, list)
    MetadataCatalog.get(unique_name).set(evaluator_type="mots", thing_classes=["car"])
    check_mots_datasets([unique_name])
    with pytest.raises(ConfigError, match="DATASETS.TEST: dataset 'no_such' is not registered"):
        check_mots_datasets(["no_such"], "DATASETS.TEST")
    with pytest.raises(ConfigError, match="'coco_2017_val' is not a MOTS dataset"):
        get_mots_dataset_dicts(["coco_2017_val"], ["car"])


@pytest.fixture
def truncated_set(tmp_path, unique_name):
    """One registered 3-frame sequence whose middle png is cut in half."""
    root = tmp_path / "set"
    generate_synthetic_mots(str(root), sequences=2, frames=3, height=32, width=64)
    middle = root / "training" / "image_02" / "0000" / "000001.png"
    data = middle.read_bytes()
    middle.write_bytes(data[: len(data) // 2])
    register_kitti_mots(
        unique_name, str(root / "training" / "image_02"), str(root / "instances_txt"), ["0000"]
    )
    return unique_name, str(middle)


def test_a_truncated_image_is_named_by_the_loaders(truncated_set):
    """The issue's scenario: `OSError: image file is truncated` named no file."""
    name, truncated = truncated_set
    cfg = load_config(get_config_file("demo_synthetic.yaml"))
    dataset = get_mots_dataset_dicts([name], ["car", "pedestrian"])
    train = build_mots_train_loader(
        dataset, mapper=MOTSClipDatasetMapper(cfg, True), clip_length=3, clips_per_batch=1
    )
    with pytest.raises(ImageReadError, match=f"{truncated}: cannot read this image"):
        next(iter(train))
    test = build_mots_test_loader(dataset, mapper=MOTSTestDatasetMapper(cfg))
    with pytest.raises(ImageReadError, match="prepare_mots.py check"):
        list(test)
    assert os.path.isfile(truncated)


def test_a_loader_workers_error_ends_in_one_line(truncated_set, capsys):
    """From a DataLoader worker process the error arrives with the worker's traceback in its
    message; the scripts' handler prints the message alone."""
    name, truncated = truncated_set
    cfg = load_config(get_config_file("demo_synthetic.yaml"))
    train = build_mots_train_loader(
        get_mots_dataset_dicts([name], ["car", "pedestrian"]),
        mapper=MOTSClipDatasetMapper(cfg, True), clip_length=3, clips_per_batch=1, num_workers=1,
    )  # fmt: skip
    with pytest.raises(SystemExit), exit_on_user_error("train_net.py"):
        next(iter(train))
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert errors[0].startswith(f"train_net.py: error: {truncated}: cannot read this image (")
