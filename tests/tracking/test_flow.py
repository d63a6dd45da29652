"""Optical flow and the warping of masks and boxes."""
import numpy as np
import pytest

from trackrcnn_d2.tracking import FramePairScores, SequenceFlowProvider, build_optical_flow
from trackrcnn_d2.tracking.detections import boxes_to_masks
from trackrcnn_d2.tracking.flow import (
    DISFlow,
    sampling_maps,
    warp_box_by_median_flow,
    warp_mask,
)

HEIGHT, WIDTH = 96, 128
SHIFT_X, SHIFT_Y = 7, 3


def smooth_texture(height, width, seed=0):
    """Blurred noise, stretched to 0..255: a texture that optical flow can follow."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 3.0)
    return ((noise - noise.min()) / (noise.max() - noise.min()) * 255).astype(np.uint8)


def shifted_pair():
    """(previous, current) grey images; the scene moves by (SHIFT_X, SHIFT_Y) between them."""
    texture = smooth_texture(HEIGHT + 20, WIDTH + 20)
    previous = texture[10 : 10 + HEIGHT, 10 : 10 + WIDTH]
    current = texture[10 - SHIFT_Y : 10 - SHIFT_Y + HEIGHT, 10 - SHIFT_X : 10 - SHIFT_X + WIDTH]
    return previous, current


def test_dis_flow_recovers_a_known_translation():
    previous, current = shifted_pair()
    flow = DISFlow()(np.dstack([current] * 3), previous)
    assert flow.shape == (HEIGHT, WIDTH, 2)
    inner = flow[10:-10, 10:-10]  # away from the borders, where content enters the image
    assert np.median(inner[..., 0]) == pytest.approx(-SHIFT_X, abs=0.2)
    assert np.median(inner[..., 1]) == pytest.approx(-SHIFT_Y, abs=0.2)


def test_warping_with_dis_flow_moves_a_mask_by_the_translation():
    previous, current = shifted_pair()
    flow = DISFlow()(current, previous)
    box = np.array([[30, 20, 70, 60]])
    mask = boxes_to_masks(box, HEIGHT, WIDTH)[0]
    warped = warp_mask(mask, sampling_maps(flow)).astype(bool)
    expected = boxes_to_masks(box + [SHIFT_X, SHIFT_Y, SHIFT_X, SHIFT_Y], HEIGHT, WIDTH)[0]
    iou = (warped & expected).sum() / (warped | expected).sum()
    assert iou > 0.95
    assert (mask & expected).sum() / (mask | expected).sum() < 0.7  # without warping


def test_exact_flow_warps_masks_and_boxes_exactly():
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0], flow[..., 1] = -SHIFT_X, -SHIFT_Y
    maps = sampling_maps(flow)
    box = np.array([30.0, 20.0, 70.0, 60.0])
    mask = boxes_to_masks(box[None], HEIGHT, WIDTH)[0]
    expected = boxes_to_masks((box + [SHIFT_X, SHIFT_Y, SHIFT_X, SHIFT_Y])[None], HEIGHT, WIDTH)
    np.testing.assert_array_equal(warp_mask(mask, maps).astype(bool), expected[0])
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps), box + [7, 3, 7, 3])


def test_frame_pair_scores_use_the_flow(frame_factory):
    from trackrcnn_d2.tracking import FrameDetections
    from trackrcnn_d2.tracking.detections import encode_masks

    def frame(idx, box):
        boxes = np.array([box], np.float32)
        return FrameDetections("s", idx, HEIGHT, WIDTH, boxes, [1.0], [0],
                               encode_masks(boxes_to_masks(boxes, HEIGHT, WIDTH)))

    previous, current = frame(0, [30, 20, 50, 40]), frame(1, [40, 25, 60, 45])
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0], flow[..., 1] = -10, -5
    idx = np.array([0])
    warped = FramePairScores(previous, current, flow)
    assert warped.mask_propagation(idx, idx)[0, 0] == pytest.approx(1.0)
    assert warped.warped_box_iou(idx, idx)[0, 0] == pytest.approx(1.0)
    plain = FramePairScores(previous, current, None)
    assert plain.mask_propagation(idx, idx)[0, 0] == pytest.approx(150 / 650)


def test_sequence_flow_provider_reads_each_image_once():
    previous, current = shifted_pair()
    images = {0: previous, 1: current, 2: previous}
    reads = []

    def load(frame_idx):
        reads.append(frame_idx)
        return images[frame_idx]

    provider = SequenceFlowProvider(DISFlow("ultrafast"), load)
    assert provider(0, 1).shape == (HEIGHT, WIDTH, 2)
    provider(1, 2)
    assert reads == [0, 1, 2]
    provider(1, 2)  # the last two images stay in memory
    assert reads == [0, 1, 2]


def test_flow_methods_by_name():
    assert build_optical_flow("none") is None
    assert isinstance(build_optical_flow("dis"), DISFlow)
    with pytest.raises(ValueError, match="raft_small"):
        build_optical_flow("pwc")
    with pytest.raises(ValueError, match="Unknown DIS preset 'slow'"):
        DISFlow("slow")


def test_flow_methods_are_checked_without_building_them(tmp_path, monkeypatch):
    import torch

    from trackrcnn_d2.tracking.flow import check_optical_flow

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    for method in ("dis", "none"):
        check_optical_flow(method)
    with pytest.raises(ValueError, match="Unknown optical flow method 'pwc'"):
        check_optical_flow("pwc")
    with pytest.raises(FileNotFoundError, match="RAFT large weights not found at"):
        check_optical_flow("raft_large")


def test_raft_without_cached_weights_names_the_missing_file(tmp_path, monkeypatch):
    import torch
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"RAFT small weights not found at {tmp_path}"):
        build_optical_flow("raft_small")


def test_box_warping_limited_to_the_flow_reach_gives_the_same_box():
    rng = np.random.default_rng(0)
    flow = rng.normal(scale=4.0, size=(HEIGHT, WIDTH, 2)).astype(np.float32)
    flow[..., 0] -= 6.0
    maps = sampling_maps(flow)
    reach = int(np.ceil(np.abs(flow).max()))
    for box in ([30.0, 20.0, 70.0, 60.0], [0.0, 0.0, 15.0, 12.0], [100.0, 70.0, 128.0, 96.0]):
        full = warp_box_by_median_flow(np.array(box), maps)
        np.testing.assert_allclose(warp_box_by_median_flow(np.array(box), maps, reach), full)
        assert full[0] == pytest.approx(box[0] + 6.0, abs=1.0)


def test_raft_runs_with_weights_from_the_hub_cache(tmp_path, monkeypatch):
    """RAFT's code path with random weights saved where the pretrained ones would be: the flow
    is torchvision's model on its own preprocessing (Raft_Small_Weights.transforms(): RGB scaled
    to [-1, 1]) of the images padded (replicated) to sides that are multiples of 8 and at least
    128, its last refinement, cropped back; grey images count as three equal channels."""
    import os

    import torch
    from torchvision.models import optical_flow

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    weights = optical_flow.Raft_Small_Weights.DEFAULT
    os.makedirs(tmp_path / "checkpoints")
    torch.manual_seed(0)
    model = optical_flow.raft_small().eval()
    torch.save(model.state_dict(), tmp_path / "checkpoints" / weights.url.split("/")[-1])
    raft = build_optical_flow("raft_small")
    texture = smooth_texture(150, 170)
    previous, current = texture[:36, :140], texture[2:38, 5:145]
    # Grey images of the other shape: each side is padded by each rule once (to a multiple of
    # 8, and to at least 128).
    previous_grey, current_grey = texture[:140, :36], texture[2:142, 5:41]
    colour = np.dstack([current, current // 2, 255 - current])  # BGR
    colour_previous = np.dstack([previous, previous // 2, 255 - previous])

    def expected(image, previous_image):
        def tensor(bgr):
            return torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).permute(2, 0, 1)[None]

        height, width = image.shape[:2]
        first, second = weights.transforms()(tensor(image), tensor(previous_image))
        padded = {36: 128, 140: 144}
        pad = (0, padded[width] - width, 0, padded[height] - height)
        first = torch.nn.functional.pad(first, pad, mode="replicate")
        second = torch.nn.functional.pad(second, pad, mode="replicate")
        with torch.no_grad():
            flow = model(first, second)[-1]
        return flow[0, :, :height, :width].permute(1, 2, 0).numpy()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        flow = raft(colour, colour_previous)
        reference = expected(colour, colour_previous)
        grey_flow = raft(current_grey, previous_grey)
        grey_reference = expected(np.dstack([current_grey] * 3), np.dstack([previous_grey] * 3))
        grey_as_colour = raft(np.dstack([current_grey] * 3), np.dstack([previous_grey] * 3))
    finally:
        torch.set_num_threads(threads)
    assert flow.shape == (36, 140, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(flow, reference, atol=1e-4)
    assert grey_flow.shape == (140, 36, 2)
    np.testing.assert_allclose(grey_flow, grey_reference, atol=1e-4)
    np.testing.assert_allclose(grey_as_colour, grey_flow, atol=1e-5)


def test_sequence_flow_provider_reads_image_files(tmp_path):
    import cv2

    previous, current = shifted_pair()
    paths = []
    for index, image in enumerate((previous, current)):
        paths.append(str(tmp_path / f"{index}.png"))
        cv2.imwrite(paths[-1], np.dstack([image] * 3))
    flow = DISFlow("ultrafast")
    from_files = SequenceFlowProvider(flow, paths)(0, 1)
    np.testing.assert_allclose(from_files, flow(current, previous))
    with pytest.raises(FileNotFoundError, match=r"missing.png: cannot read the image of frame 2"):
        SequenceFlowProvider(flow, [*paths, str(tmp_path / "missing.png")])(1, 2)


def test_flow_methods_take_bgra_frames_as_their_bgr():
    from trackrcnn_d2.tracking.flow import _to_bgr

    previous, current = shifted_pair()
    bgr = [np.dstack([image, image // 2, 255 - image]) for image in (current, previous)]
    bgra = [np.dstack([image, np.full_like(image[:, :, 0], 255)]) for image in bgr]
    flow = DISFlow("ultrafast")
    np.testing.assert_array_equal(flow(*bgra), flow(*bgr))
    assert np.array_equal(_to_bgr(bgra[0]), bgr[0]) and _to_bgr(current).shape[2] == 3


def test_raft_loads_tensors_only_from_the_weights_file(tmp_path, monkeypatch):
    """torch.load(weights_only=True): a weights file holding other Python objects is refused
    before anything in it runs."""
    import pickle

    import torch
    from torchvision.models import optical_flow

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    weights = optical_flow.Raft_Small_Weights.DEFAULT
    (tmp_path / "checkpoints").mkdir()
    torch.save({"state": _NotATensor()}, tmp_path / "checkpoints" / weights.url.split("/")[-1])
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        build_optical_flow("raft_small")


class _NotATensor:
    """A Python object in a weights file (anything torch.load would have to import)."""
