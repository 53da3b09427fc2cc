"""Person detector: weights from a file or torch's hub cache, auto fallback, one-line errors, filtering."""

import hashlib
import os
import shutil

import numpy as np
import pytest
import torch

from hg3d.demo import detection
from hg3d.demo.build import build
from hg3d.demo.cli import parse_demo_opts
from hg3d.demo.detection import (
    PersonDetector,
    cached_weights_path,
    random_detector_state,
    resolve_weights,
    weights_url,
)
from hg3d.demo.tracking import iou_matrix
from hg3d.errors import UserError
from hg3d.tools.synthetic import random_scene

REAL_DOWNLOAD = torch.hub.download_url_to_file  # before conftest's no_downloads cuts the network


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


@pytest.fixture
def served_ssdlite(local_server, monkeypatch):
    """ssdlite weights (random) on a server on 127.0.0.1, named as torchvision names them (with
    their SHA-256 prefix); the detector's URL points there and torch.hub downloads for real."""
    path = local_server.root / "weights.pth"
    torch.save(random_detector_state("ssdlite"), path)
    named = path.rename(local_server.root / f"ssdlite_test-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}.pth")
    monkeypatch.setattr(detection, "weights_url", lambda name: f"{local_server.url}/{named.name}")
    monkeypatch.setattr(torch.hub, "download_url_to_file", REAL_DOWNLOAD)
    return named


def test_weights_download_into_a_fresh_hub_cache(served_ssdlite):
    assert not os.path.exists(torch.hub.get_dir())  # a fresh machine: no hub/checkpoints/ yet
    name, state = resolve_weights("ssdlite", "")
    expected = random_detector_state("ssdlite")
    assert name == "ssdlite" and state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in expected)
    assert os.listdir(os.path.join(torch.hub.get_dir(), "checkpoints")) == [served_ssdlite.name]


def test_downloaded_weights_that_fail_the_hash_in_their_name_are_refused(served_ssdlite, monkeypatch):
    wrong = served_ssdlite.rename(served_ssdlite.parent / "ssdlite_test-00000000.pth")
    monkeypatch.setattr(detection, "weights_url", lambda name: served_ssdlite.parent.as_uri() + "/" + wrong.name)
    with pytest.raises(UserError, match="invalid hash value"):
        resolve_weights("ssdlite", "")
    assert os.listdir(os.path.join(torch.hub.get_dir(), "checkpoints")) == []


@pytest.mark.parametrize("device, name", [("cpu", "ssdlite"), ("cuda", "fasterrcnn")])
def test_auto_without_weights_falls_back_with_a_notice(device, name):
    notices = []
    assert resolve_weights("auto", "", notices.append, device=device) == (None, None)
    assert len(notices) == 1 and cached_weights_path(name) in notices[0]
    assert weights_url(name) in notices[0] and "whole image" in notices[0]
    assert f"auto picked {name} for the {device.upper()}" in notices[0]
    assert resolve_weights("none", "", notices.append) == (None, None) and len(notices) == 1


@pytest.mark.parametrize("name", ["fasterrcnn", "fasterrcnn_mobile", "fasterrcnn_mobile_320", "ssdlite"])
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
    with pytest.raises(UserError, match="state dict of none of fasterrcnn, fasterrcnn_mobile, fasterrcnn_mobile_320"):
        resolve_weights("auto", str(other))


@pytest.mark.slow
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


@pytest.mark.slow
def test_only_people_are_kept(detector_weights, image):
    """The same detector made to see cars (COCO label 3) instead of people finds nobody."""
    name, state = resolve_weights("auto", detector_weights)
    state = dict(state)
    bias = state["roi_heads.box_predictor.cls_score.bias"].clone()
    bias[1], bias[3] = bias[3], bias[1]
    state["roi_heads.box_predictor.cls_score.bias"] = bias
    assert len(PersonDetector(name, state, threshold=0.0, min_height=0)([image])[0][0]) == 0


def random_detector_file(folder, name):
    """Detector ``name`` with random weights whose proposals are people, saved under torchvision's
    own file name, as its cache would hold it."""
    path = os.path.join(folder, os.path.basename(weights_url(name)))
    torch.save(random_detector_state(name, person_logit=8.0), path)
    return path


@pytest.mark.parametrize("name", ["fasterrcnn_mobile_320", "ssdlite"])
def test_fast_detectors_from_their_files_and_from_the_cache(name, image, tmp_path):
    path = random_detector_file(str(tmp_path), name)
    assert resolve_weights("auto", path)[0] == name  # recognised by its keys (and 320 by its file name)
    detector = PersonDetector(*resolve_weights("auto", path), max_people=100, min_height=0)
    ((boxes, scores),) = detector([image])
    assert len(boxes) >= 3 and np.all(boxes[:, 2:] > 0) and np.all(np.diff(scores) <= 0)
    os.makedirs(os.path.dirname(cached_weights_path(name)))
    shutil.copy(path, cached_weights_path(name))
    assert resolve_weights(name, "")[0] == name


@pytest.mark.parametrize("device, name", [("cpu", "ssdlite"), ("cuda", "fasterrcnn")])
def test_auto_picks_by_device_and_says_which(device, name, tmp_path):
    """With the CPU's pick in the cache it is used (one notice naming it); torch.device('cuda')
    is only a name here, and the CUDA pick (not cached) falls back with its own one notice."""
    os.makedirs(os.path.dirname(cached_weights_path("ssdlite")))
    shutil.copy(random_detector_file(str(tmp_path), "ssdlite"), cached_weights_path("ssdlite"))
    notices = []
    picked, state = resolve_weights("auto", "", notices.append, device=torch.device(device))
    assert len(notices) == 1 and f"--detector auto picked {name} for the {device.upper()}" in notices[0]
    assert picked == (name if device == "cpu" else None) and (state is None) == (device == "cuda")


def backbone_input_shape(detector, image):
    shapes = []
    hook = detector.model.backbone.register_forward_hook(lambda _m, args, _o: shapes.append(tuple(args[0].shape)))
    detector([image])
    hook.remove()
    return shapes[0][2:]


@pytest.mark.slow
def test_det_size_sets_the_detectors_input(detector_weights, image, tmp_path):
    """The 160x128 image: the 800 px detector sees 1000x800; at --det_size 160, 200x160 padded to
    a multiple of 32; SSDlite sees a square of the given side."""
    name, state = resolve_weights("auto", detector_weights)
    assert backbone_input_shape(PersonDetector(name, state), image) == (800, 1024)
    small = PersonDetector(name, state, det_size=160)
    assert small.input_size == (160, 267) and backbone_input_shape(small, image) == (160, 224)
    ssd = PersonDetector(*resolve_weights("auto", random_detector_file(str(tmp_path), "ssdlite")), det_size=256)
    assert backbone_input_shape(ssd, image) == (256, 256)
    with pytest.raises(UserError, match="--det_size must be 0 .* or >= 64 px, got 40"):
        PersonDetector(name, state, det_size=40)


def test_det_size_passes_from_the_demo_flags(detector_weights, resnet18_3d_checkpoint, tmp_path):
    argv = ["--demo", str(tmp_path), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path)]
    argv += ["--arch", "msra_18", "--gpus", "-1", "--detector_weights", detector_weights, "--det_size", "200"]
    assert build(parse_demo_opts(argv), need_detector=True)[1].input_size == (200, 333)
