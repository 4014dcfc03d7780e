"""A COCO model the user brings (SURVEILLANCE_OBJECT_MODEL=/path/model.onnx): tiny ONNX models,
made by tests/onnx_models.py in each output layout, loaded and read by objects/networks/."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from objects.checks import check_object_model
from objects.coco import name
from objects.detector import Detector
from objects.model import ModelError, ModelMissing, load_network
from objects.networks.onnx_network import OnnxNetwork, providers
from objects.networks.opencv_ssd import OpenCVSSD
from objects.networks.yolo import GREY, Letterbox
from tests import harness
from tests.onnx_models import (
    SSD_INPUT,
    constant_model,
    ssd_model,
    ssd_outputs,
    ssd_seeing_red,
    yolo_model,
    yolo_seeing_red,
)
from tests.videos import write_sprite_video

CAR = ("car", 0.9, (32, 32, 16, 32))  # centre x, y, width, height in the 64x64 input's pixels


def picture(width: int = 64, height: int = 64, bgr: tuple[int, int, int] = (90, 90, 90)):
    return np.full((height, width, 3), bgr, np.uint8)


def rounded(found: list) -> list:
    return [(label, round(score, 3), tuple(round(v, 4) for v in box)) for label, score, box
            in found]  # fmt: skip


def test_coco_labels_in_yolos_numbering_and_tensorflows() -> None:
    assert (name(0), name(2), name(79), name(80)) == ("person", "car", "toothbrush", None)
    assert (name(1, True), name(3, True), name(90, True)) == ("person", "car", "toothbrush")
    assert name(12, True) is None and name(0, True) is None  # unused, and the background


def test_a_yolo_model_gives_coco_labels_with_their_scores_and_boxes(tmp_path: Path) -> None:
    person = ("person", 0.8, (8, 16, 16, 16))
    network = OnnxNetwork(yolo_model(tmp_path / "yolov8n.onnx", CAR, person))
    assert network.input_size == 64
    assert rounded(network.run(picture())) == [
        ("car", 0.9, (0.375, 0.25, 0.25, 0.5)),
        ("person", 0.8, (0.0, 0.125, 0.25, 0.25)),
    ]


@pytest.mark.parametrize("transposed", [False, True], ids=["1x84xN", "1xNx84"])
def test_a_yolo_model_sees_a_wide_picture_letterboxed_and_its_boxes_come_back_to_it(
    tmp_path: Path, transposed: bool
) -> None:
    # 128x64 fits the 64x64 input at half size, from y 16 to 48: the car's box, 16 to 48 high
    # and 24 to 40 wide there, is the whole height and the middle quarter of the picture.
    network = OnnxNetwork(yolo_model(tmp_path / "yolo.onnx", CAR, transposed=transposed))
    assert rounded(network.run(picture(128, 64))) == [("car", 0.9, (0.375, 0.0, 0.25, 1.0))]
    wide = picture(128, 64, (10, 200, 30))
    boxed, where = Letterbox.fit(wide, 64, 64)
    assert (boxed[:16] == GREY).all() and (boxed[48:] == GREY).all()
    assert (boxed[16:48] == (10, 200, 30)).all() and (where.top, where.scale) == (16, 0.5)


def test_a_yolo_model_is_given_rgb_from_0_to_1(tmp_path: Path) -> None:
    network = OnnxNetwork(yolo_seeing_red(tmp_path / "red.onnx"))  # the car scores its red
    [(label, score, _)] = network.run(picture(bgr=(0, 0, 255)))
    assert label == "car" and score == pytest.approx(1.0)
    assert network.run(picture(bgr=(255, 0, 0))) == []  # blue: no red at all


def test_of_two_overlapping_boxes_of_a_label_the_better_is_kept_and_other_labels_keep_theirs(
    tmp_path: Path,
) -> None:
    same_car = ("car", 0.7, (33, 33, 16, 32))
    truck = ("truck", 0.6, (32, 32, 16, 32))  # the same place, another label
    far_car = ("car", 0.55, (8, 8, 8, 8))
    network = OnnxNetwork(yolo_model(tmp_path / "yolo.onnx", same_car, CAR, truck, far_car))
    assert sorted(rounded(network.run(picture()))) == [
        ("car", 0.55, (0.0625, 0.0625, 0.125, 0.125)),
        ("car", 0.9, (0.375, 0.25, 0.25, 0.5)),
        ("truck", 0.6, (0.375, 0.25, 0.25, 0.5)),
    ]


def test_an_ssd_model_gives_tensorflow_ids_as_coco_labels_and_boxes_of_the_picture(
    tmp_path: Path,
) -> None:
    car = (3, 0.9, (0.1, 0.2, 0.5, 0.6))  # TensorFlow's car; ymin, xmin, ymax, xmax
    person = (1, 0.8, (0.0, 0.5, 1.0, 1.0))
    past_the_count = (18, 0.7, (0.0, 0.0, 1.0, 1.0))  # a dog, in a row num_detections leaves out
    network = OnnxNetwork(ssd_model(tmp_path / "ssd.onnx", car, person, past_the_count, count=2))
    assert network.input_size == 64
    assert rounded(network.run(picture(128, 64))) == [  # resized: fractions are the picture's
        ("car", 0.9, (0.2, 0.1, 0.4, 0.4)),
        ("person", 0.8, (0.5, 0.0, 0.5, 1.0)),
    ]


def test_ssd_outputs_with_other_names_are_found_by_their_shapes(tmp_path: Path) -> None:
    renamed = ("StatefulPartitionedCall:0", "StatefulPartitionedCall:1",
               "StatefulPartitionedCall:2", "StatefulPartitionedCall:3")  # fmt: skip
    path = ssd_model(tmp_path / "ssd.onnx", (18, 0.8, (0.0, 0.0, 0.5, 0.5)), names=renamed)
    assert rounded(OnnxNetwork(path).run(picture())) == [("dog", 0.8, (0.0, 0.0, 0.5, 0.5))]


def test_ssd_outputs_named_as_tensorflow_names_them_are_taken_by_name_in_any_order(
    tmp_path: Path,
) -> None:
    boxes, classes, scores, count = ssd_outputs((3, 0.9, (0.0, 0.0, 0.5, 0.5)))
    outputs = {"detection_boxes": boxes, "detection_scores": scores, "num_detections": count,
               "detection_classes": classes}  # fmt: skip
    path = constant_model(tmp_path / "ssd.onnx", SSD_INPUT, outputs, np.uint8)
    assert rounded(OnnxNetwork(path).run(picture())) == [("car", 0.9, (0.0, 0.0, 0.5, 0.5))]


def test_ssd_class_ids_counted_from_0_are_told_apart_by_the_0(tmp_path: Path) -> None:
    box = (0.0, 0.0, 1.0, 1.0)
    from_zero = OnnxNetwork(ssd_model(tmp_path / "a.onnx", (0, 0.9, box), (2, 0.8, box)))
    assert [label for label, _, _ in from_zero.run(picture())] == ["person", "car"]
    tensorflows = OnnxNetwork(ssd_model(tmp_path / "b.onnx", (1, 0.9, box), (3, 0.8, box)))
    assert [label for label, _, _ in tensorflows.run(picture())] == ["person", "car"]


def test_an_ssd_model_with_a_float_input_is_given_rgb_from_0_to_255(tmp_path: Path) -> None:
    network = OnnxNetwork(ssd_seeing_red(tmp_path / "red.onnx"))  # the car scores its red / 255
    [(label, score, box)] = network.run(picture(bgr=(0, 0, 255)))
    assert label == "car" and score == pytest.approx(1.0) and box == (0.25, 0.25, 0.5, 0.5)
    assert network.run(picture(bgr=(255, 0, 0))) == []


def test_the_crop_around_motion_is_the_networks_input_size_and_boxes_come_back_to_the_frame(
    tmp_path: Path,
) -> None:
    detector = Detector(OnnxNetwork(yolo_model(tmp_path / "yolo.onnx", CAR)))
    # A 25x14 motion in 1280x720: the crop is the input's 64 pixels, from (620, 335), and the
    # car, at (24, 16) 16x32 in it, is there in the frame.
    found = detector.detect(picture(1280, 720), [(0.5, 0.5, 0.02, 0.02)])
    assert found["car"].score == 0.9
    assert found["car"].box == pytest.approx((644 / 1280, 351 / 720, 16 / 1280, 32 / 720))


def test_a_label_below_its_minimum_score_is_not_found(tmp_path: Path) -> None:
    dog = ("dog", 0.4, (16, 16, 8, 8))  # below the default 0.5
    person = ("person", 0.8, (48, 48, 8, 8))
    network = OnnxNetwork(yolo_model(tmp_path / "yolo.onnx", CAR, dog, person))
    assert {label for label, _, _ in network.run(picture())} == {"car", "dog", "person"}
    assert set(Detector(network).detect(picture())) == {"car", "person"}
    assert set(Detector(network, {"car": 0.95}).detect(picture())) == {"person"}


def test_a_missing_model_is_a_clear_error_at_load_and_at_start_up(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "yolov8n.onnx"
    with pytest.raises(ModelMissing, match=f"{missing}: no such file"):
        load_network(str(missing))
    with override_settings(OBJECT_MODEL=str(missing), OBJECT_DETECTION=True):
        [error] = check_object_model()
    assert error.id == "surveillance.E020" and f"{missing}: no such file" in error.msg


def test_a_file_that_is_not_an_onnx_model_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"certainly not a protobuf" * 50)
    with pytest.raises(ModelError, match=f"{garbage}: not an ONNX model onnxruntime can load"):
        load_network(str(garbage))
    weights = tmp_path / "yolov8n.pt"
    weights.write_bytes(b"PK")
    with pytest.raises(ModelError, match=r"yolov8n.pt: not an ONNX model \(.onnx\)"):
        load_network(str(weights))


def test_outputs_or_an_input_of_a_layout_it_does_not_know_are_a_clear_error(
    tmp_path: Path,
) -> None:
    logits = {"logits": np.zeros((1, 1000))}
    classifier = constant_model(tmp_path / "resnet.onnx", [1, 3, 64, 64], logits)
    with pytest.raises(ModelError, match=r"its outputs \(logits \[1, 1000\] float\) are neither"):
        load_network(str(classifier))
    with override_settings(OBJECT_MODEL=str(classifier), OBJECT_DETECTION=True):
        [error] = check_object_model()
    assert str(classifier) in error.msg and "YOLOv8" in error.msg
    outputs = dict(zip(("detection_boxes", "detection_classes", "detection_scores"),
                       ssd_outputs((3, 0.9, (0, 0, 1, 1)))[:3], strict=True))  # fmt: skip
    for shape, shown in (([1, 12288], r"\[1, 12288\]"), ([1, 1, 64, 64], r"\[1, 1, 64, 64\]")):
        not_a_picture = constant_model(tmp_path / "input.onnx", shape, outputs)
        with pytest.raises(ModelError, match=rf"its input images {shown} float is not a picture"):
            load_network(str(not_a_picture))


def test_the_setting_chooses_the_network(tmp_path: Path) -> None:
    model = ssd_model(tmp_path / "ssd.onnx", (3, 0.9, (0, 0, 1, 1)))
    with override_settings(OBJECT_MODEL=""):
        assert isinstance(load_network(), OpenCVSSD)
    with override_settings(OBJECT_MODEL="off"):
        assert load_network() is None
    with override_settings(OBJECT_MODEL=f" {model} ", OBJECT_DETECTION=True):
        network = load_network()
        assert isinstance(network, OnnxNetwork) and network.path == model
        assert check_object_model() == []


def test_onnxruntime_runs_on_one_thread_on_what_it_offers_the_cpu_last(tmp_path: Path) -> None:
    offered = ["AzureExecutionProvider", "CPUExecutionProvider", "OpenVINOExecutionProvider"]
    assert providers(offered) == ["OpenVINOExecutionProvider", "CPUExecutionProvider"]
    network = OnnxNetwork(yolo_model(tmp_path / "yolo.onnx", CAR))
    assert network.session.get_session_options().intra_op_num_threads == 1
    assert network.session.get_providers()[-1] == "CPUExecutionProvider"


def test_onnxruntime_is_loaded_only_for_an_onnx_model(tmp_path: Path) -> None:
    code = ("import sys, django; django.setup(); from django.core import checks; "
            "from objects.model import load_network; load_network(); checks.run_checks(); "
            "print('onnxruntime' in sys.modules)")  # fmt: skip
    env = harness.child_env(tmp_path)
    env.pop("SURVEILLANCE_OBJECT_MODEL", None)
    bundled = subprocess.run([sys.executable, "-c", code], env=env, cwd=harness.REPO,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bundled.stdout.split() == ["False"], bundled.stderr
    env["SURVEILLANCE_OBJECT_MODEL"] = str(yolo_model(tmp_path / "yolo.onnx", CAR))
    onnx = subprocess.run([sys.executable, "-c", code], env=env, cwd=harness.REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert onnx.stdout.split() == ["True"], onnx.stderr


def analyze(*args: str) -> str:
    out = io.StringIO()
    call_command("analyze", *args, stdout=out)
    return out.getvalue()


def test_analyze_lists_the_car_an_onnx_model_sees_in_the_event(tmp_path: Path) -> None:
    crossing = write_sprite_video(tmp_path / "car.mp4", picture(120, 80, (20, 20, 20)), 7, (2, 5))
    model = yolo_model(tmp_path / "yolo.onnx", CAR)  # it "sees" a car in whatever it is given
    with override_settings(OBJECT_MODEL=str(model), OBJECT_DETECTION=True):
        [event] = json.loads(analyze(str(crossing), "--objects", "--json"))
        [pooled] = json.loads(analyze(str(crossing), "--objects", "--workers", "2", "--json"))
    assert event["objects"] == {"car": 0.9} and pooled == event


def test_analyze_with_a_model_it_cannot_run_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "yolo.onnx"
    bad = override_settings(OBJECT_MODEL=str(missing), OBJECT_DETECTION=True)
    with bad, pytest.raises(CommandError, match=f"{missing}: no such file"):
        analyze(str(tmp_path / "video.mp4"), "--objects", "--workers", "2")
