"""Person detector: weights from a file or torch's hub cache, auto fallback, one-line errors, filtering."""

import os
import shutil

import numpy as np
import pytest
import torch

from hg3d.demo.detection import PersonDetector, cached_weights_path, resolve_weights, weights_url
from hg3d.demo.tracking import iou_matrix
from hg3d.errors import UserError
from hg3d.synthetic import random_scene


@pytest.fixture(scope="module")
def image():
    return random_scene(np.random.default_rng(5), 160, 128)["image"]


def test_local_weights_file_and_its_kind(detector_weights):
    name, state = resolve_weights("auto", detector_weights)
    assert name == "fasterrcnn_mobile" and "backbone.body.0.0.weight" in state
    assert resolve_weights("fasterrcnn_mobile", detector_weights)[0] == "fasterrcnn_mobile"
    with pytest.raises(UserError, match="do not fit --detector fasterrcnn"):
        PersonDetector(*resolve_weights("fasterrcnn", detector_weights))


def test_cached_weights_are_used_without_download(detector_weights):
    path = cached_weights_path("fasterrcnn_mobile")
    assert path.startswith(os.environ["TORCH_HOME"]) and path.endswith("fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth")
    os.makedirs(os.path.dirname(path))
    shutil.copy(detector_weights, path)
    assert resolve_weights("fasterrcnn_mobile", "")[0] == "fasterrcnn_mobile"


def test_auto_without_weights_falls_back_with_a_notice():
    notices = []
    assert resolve_weights("auto", "", notices.append) == (None, None)
    assert len(notices) == 1 and cached_weights_path("fasterrcnn") in notices[0]
    assert weights_url("fasterrcnn") in notices[0] and "whole image" in notices[0]
    assert resolve_weights("none", "", notices.append) == (None, None) and len(notices) == 1


@pytest.mark.parametrize("name", ["fasterrcnn", "fasterrcnn_mobile"])
def test_chosen_detector_without_weights_is_a_one_line_error(name):
    with pytest.raises(UserError) as error:
        resolve_weights(name, "")
    message = str(error.value)
    assert "\n" not in message and cached_weights_path(name) in message and weights_url(name) in message


def test_bad_weights_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        resolve_weights("auto", str(tmp_path / "none.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot read --detector_weights"):
        resolve_weights("auto", str(junk))
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, str(other))
    with pytest.raises(UserError, match="neither a fasterrcnn nor"):
        resolve_weights("auto", str(other))


def test_people_are_filtered_by_score_size_and_count(detector_weights, image):
    name, state = resolve_weights("auto", detector_weights)
    everyone = PersonDetector(name, state, threshold=0.0, max_people=100, min_height=0)
    ((boxes, scores),) = everyone([image])
    assert len(boxes) >= 3 and boxes.shape[1] == 4 and np.all(boxes[:, 2:] > 0)
    assert np.all(np.diff(scores) <= 0)  # best first
    kept = PersonDetector(name, state, threshold=0.0, max_people=2, min_height=40)
    ((kept_boxes, kept_scores),) = kept([image])
    tall = boxes[boxes[:, 3] >= 40]
    assert len(kept_boxes) == min(2, len(tall)) and np.all(kept_boxes[:, 3] >= 40)
    np.testing.assert_allclose(iou_matrix(kept_boxes, tall).max(1), 1)
    strict = PersonDetector(name, state, threshold=float(scores.max()) + 1e-3)
    assert len(strict([image])[0][0]) == 0
    twice = everyone([image, image[:, ::-1]])
    assert len(twice) == 2


def test_only_people_are_kept(detector_weights, image):
    """The same detector made to see cars (COCO label 3) instead of people finds nobody."""
    name, state = resolve_weights("auto", detector_weights)
    state = dict(state)
    bias = state["roi_heads.box_predictor.cls_score.bias"].clone()
    bias[1], bias[3] = bias[3], bias[1]
    state["roi_heads.box_predictor.cls_score.bias"] = bias
    assert len(PersonDetector(name, state, threshold=0.0, min_height=0)([image])[0][0]) == 0
