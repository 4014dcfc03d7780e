"""Tiny ONNX models made on the spot, in the layouts objects/networks/ reads, with the input of a
real model: their outputs are constants the test chooses (plus 0 times the mean of the picture,
so that the picture is used), or, for the input's colours and scale, the mean of one colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from objects.coco import NAMES

YOLO_INPUT = [1, 3, 64, 64]  # as YOLOv8's [1, 3, 640, 640], smaller
SSD_INPUT = [1, 64, 64, 3]  # as the TensorFlow Object Detection API's exports, NHWC
TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8}


class TinyModel:
    def __init__(self, input_shape: list[int], dtype: type = np.float32) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.input = helper.make_tensor_value_info("images", TYPES[np.dtype(dtype)], input_shape)
        self.pixels = self.add("Cast", ["images"], to=TensorProto.FLOAT)

    def add(self, op: str, inputs: list[str], out: str = "", **attributes: object) -> str:
        out = out or f"n{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [out], **attributes))
        return out

    def constant(self, value: np.ndarray) -> str:
        return self.add("Constant", [], value=numpy_helper.from_array(np.asarray(value)))

    def nothing(self) -> str:
        """0, made from the picture."""
        mean = self.add("ReduceMean", [self.pixels], keepdims=0)
        return self.add("Mul", [mean, self.constant(np.float32(0))])

    def mean_of_colour(self, channel: int, axis: int, shape: list[int]) -> str:
        """The mean of one colour plane of the picture, in `shape`."""
        ends = self.constant(np.array([channel + 1], np.int64))
        plane = self.add("Slice", [self.pixels, self.constant(np.array([channel], np.int64)),
                                   ends, self.constant(np.array([axis], np.int64))])  # fmt: skip
        mean = self.add("ReduceMean", [plane], keepdims=0)
        return self.add("Reshape", [mean, self.constant(np.array(shape, np.int64))])

    def output(self, name: str, value: str, shape: list[int]) -> None:
        self.add("Identity", [value], out=name)
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))

    def save(self, path: Path) -> Path:
        graph = helper.make_graph(self.nodes, "tiny", [self.input], self.outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(path))
        return path


def constant_model(path: Path, input_shape: list[int], outputs: dict[str, np.ndarray],
                   dtype: type = np.float32) -> Path:  # fmt: skip
    """A model that gives these outputs whatever the picture."""
    model = TinyModel(input_shape, dtype)
    nothing = model.nothing()
    for name, value in outputs.items():
        value = np.asarray(value, np.float32)
        model.output(name, model.add("Add", [model.constant(value), nothing]), list(value.shape))
    return model.save(path)


def yolo_rows(*candidates: tuple[str, float, tuple[float, float, float, float]]) -> np.ndarray:
    """[N, 84]: for each (label, score, (cx, cy, w, h) in input pixels), its row."""
    rows = np.zeros((len(candidates), 4 + len(NAMES)), np.float32)
    for row, (label, score, box) in zip(rows, candidates, strict=True):
        row[:4], row[4 + NAMES.index(label)] = box, score
    return rows


def yolo_model(path: Path, *candidates: tuple, transposed: bool = False) -> Path:
    """A YOLOv8 export that always sees these candidates: output0 [1, 84, N] ([1, N, 84])."""
    rows = yolo_rows(*candidates)
    return constant_model(path, YOLO_INPUT, {"output0": rows[None] if transposed else rows.T[None]})


def ssd_outputs(*found: tuple[int, float, tuple[float, float, float, float]],
                count: int | None = None) -> list[np.ndarray]:  # fmt: skip
    """Boxes [1, N, 4], classes [1, N], scores [1, N], num_detections [1], for each (class id,
    score, (ymin, xmin, ymax, xmax)); `count` rows real (all by default)."""
    return [np.array([[box for _, _, box in found]], np.float32),
            np.array([[class_id for class_id, _, _ in found]], np.float32),
            np.array([[score for _, score, _ in found]], np.float32),
            np.array([len(found) if count is None else count], np.float32)]  # fmt: skip


def ssd_model(path: Path, *found: tuple, count: int | None = None,
              names: tuple[str, ...] = ("detection_boxes", "detection_classes",
                                        "detection_scores", "num_detections")) -> Path:  # fmt: skip
    """A TensorFlow Object Detection API export (uint8 NHWC) that always sees these."""
    outputs = dict(zip(names, ssd_outputs(*found, count=count), strict=True))
    return constant_model(path, SSD_INPUT, outputs, np.uint8)


def yolo_seeing_red(path: Path) -> Path:
    """A YOLOv8 export that sees one car, scored the mean of the input's first plane (red)."""
    model = TinyModel(YOLO_INPUT)
    before = model.constant(yolo_rows(("car", 0.0, (32, 32, 16, 16))).T[None, :6])
    after = model.constant(np.zeros((1, 77, 1), np.float32))
    red = model.mean_of_colour(0, axis=1, shape=[1, 1, 1])
    model.output("output0", model.add("Concat", [before, red, after], axis=1), [1, 84, 1])
    return model.save(path)


def ssd_seeing_red(path: Path) -> Path:
    """An SSD export with a float NHWC input that sees one car (TensorFlow's 3), scored the mean
    of the input's first plane (red) over 255."""
    model = TinyModel(SSD_INPUT, np.float32)
    red = model.mean_of_colour(0, axis=3, shape=[1, 1])
    score = model.add("Mul", [red, model.constant(np.float32(1 / 255))])
    boxes, classes = ssd_outputs((3, 0.0, (0.25, 0.25, 0.75, 0.75)))[:2]
    model.output("detection_boxes", model.add("Identity", [model.constant(boxes)]), [1, 1, 4])
    model.output("detection_classes", model.add("Identity", [model.constant(classes)]), [1, 1])
    model.output("detection_scores", score, [1, 1])
    return model.save(path)
