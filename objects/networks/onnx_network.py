"""A COCO model the user brings (SURVEILLANCE_OBJECT_MODEL=/path/model.onnx), run by onnxruntime
on whatever execution providers its build offers (CUDA, OpenVINO...), the CPU last.

Its outputs say how to read it, when it is loaded: YOLOv8's one (objects/networks/yolo.py) or
the TensorFlow Object Detection API's SSD four (objects/networks/tf_ssd.py). Its one input says
what picture to give it: NCHW or NHWC (told by which side is 3), float or uint8, its height and
width (or the layout's usual size where the model leaves them open).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from objects.networks import Detection, ModelError, ModelMissing, Port
from objects.networks.tf_ssd import SSDOutputs
from objects.networks.yolo import YoloOutput

DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}
CPU = "CPUExecutionProvider"
NOT_HERE = {"AzureExecutionProvider"}  # it sends the work to a cloud endpoint: none runs here


@dataclass(frozen=True)
class Input:
    name: str
    channels_first: bool  # NCHW, not NHWC
    width: int
    height: int
    dtype: type

    @classmethod
    def of(cls, port: Port, default_size: int, path: Path) -> Input:
        shape = port.shape
        if len(shape) != 4 or port.type not in DTYPES or 3 not in (shape[1], shape[3]):
            raise ModelError(
                f"{path}: its input {port} is not a picture (NCHW or NHWC with 3 colours, "
                "float or uint8)"
            )
        channels_first = shape[1] == 3
        height, width = shape[2:] if channels_first else shape[1:3]
        return cls(port.name, channels_first, width or default_size, height or default_size,
                   DTYPES[port.type])  # fmt: skip

    def tensor(self, image_rgb: np.ndarray, pixel_scale: float) -> np.ndarray:
        """A batch of one picture, in this input's layout and type."""
        data = image_rgb if self.dtype is np.uint8 else image_rgb.astype(np.float32) * pixel_scale
        if self.channels_first:
            data = data.transpose(2, 0, 1)
        return np.ascontiguousarray(data[None], self.dtype)


class OnnxNetwork:
    """One session, on `threads` threads (one: the detector process shares the machine with
    every camera); not safe to share between threads."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = path
        self.session = open_session(path, threads)
        outputs = [Port.of(arg) for arg in self.session.get_outputs()]
        self.outputs = read_outputs(path, outputs)
        inputs = [Port.of(arg) for arg in self.session.get_inputs()]
        if len(inputs) != 1:
            raise ModelError(f"{path}: it takes {len(inputs)} inputs, not one picture")
        self.input = Input.of(inputs[0], self.outputs.default_size, path)
        self.input_size = max(self.input.width, self.input.height)

    def run(self, image_bgr: np.ndarray) -> list[Detection]:
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        fitted, where = self.outputs.fit(rgb, self.input.width, self.input.height)
        feed = {self.input.name: self.input.tensor(fitted, self.outputs.pixel_scale)}
        return self.outputs.decode(self.session.run(self.outputs.names, feed), where)


def providers(available: list[str]) -> list[str]:
    """What this onnxruntime build offers, in its order, the CPU last (it runs every model)."""
    return [name for name in available if name not in NOT_HERE and name != CPU] + [CPU]


def open_session(path: Path, threads: int) -> object:
    if not path.is_file():
        raise ModelMissing(f"{path}: no such file")
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError(f"{path}: onnxruntime is not installed (pip install -r "
                         "requirements.txt)") from exc  # fmt: skip
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3  # its errors only: they come to us as exceptions anyway
    try:
        return onnxruntime.InferenceSession(
            str(path), options, providers=providers(onnxruntime.get_available_providers())
        )
    except Exception as exc:  # InvalidProtobuf, Fail...: onnxruntime's share no other base
        raise ModelError(f"{path}: not an ONNX model onnxruntime can load ({exc})") from exc


def read_outputs(path: Path, outputs: list[Port]) -> YoloOutput | SSDOutputs:
    """How to read these outputs: SSD's by name, else YOLOv8's, else SSD's by shape."""
    found = SSDOutputs.by_name(outputs) or YoloOutput.recognise(outputs)
    found = found or SSDOutputs.by_shape(outputs)
    if found is None:
        listed = ", ".join(map(str, outputs))
        raise ModelError(
            f"{path}: its outputs ({listed}) are neither YOLOv8's one [1, 84, N] (or [1, N, 84]) "
            "nor SSD's boxes [1, N, 4], classes [1, N] and scores [1, N]"
        )
    return found
