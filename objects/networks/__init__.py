"""The networks the detector can run, one module per kind: each takes a whole BGR picture and
gives every detection in it, knowing nothing of crops, minimum scores or Django.

- opencv_ssd: the bundled person detector, a TensorFlow graph run by OpenCV's DNN module;
- onnx_network: a COCO model the user brings, run by onnxruntime, whose outputs are read by
  yolo (YOLOv8's one output) or tf_ssd (the TensorFlow Object Detection API's four).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # objects.model, and so the system check, import this: nothing heavy at run
    import numpy as np

Box = tuple[float, float, float, float]  # x, y, w, h in fractions of the picture (0..1)
Detection = tuple[str, float, Box]  # label, score, box


class Network(Protocol):
    input_size: int  # the larger side, in pixels, of the picture the network sees

    def run(self, image_bgr: np.ndarray) -> list[Detection]:
        """Every detection in the whole of `image_bgr`, boxes in its fractions."""
        ...
