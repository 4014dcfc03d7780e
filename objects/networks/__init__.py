"""The networks the detector can run, one module per kind: each takes a whole BGR picture and
gives every detection in it, knowing nothing of crops, minimum scores or Django.

- opencv_ssd: the bundled person detector, a TensorFlow graph run by OpenCV's DNN module;
- onnx_network: a COCO model the user brings, run by onnxruntime, whose outputs are read by
  yolo (YOLOv8's one output) or tf_ssd (the TensorFlow Object Detection API's four).
"""

from __future__ import annotations

from dataclasses import dataclass
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


class ModelError(RuntimeError):
    """A model that cannot run; the message names the file and what is wrong with it."""


class ModelMissing(ModelError):
    pass


@dataclass(frozen=True)
class Port:
    """An input or output of the model, as onnxruntime describes it."""

    name: str
    shape: tuple[int | None, ...]  # None: a dimension the model leaves open
    type: str  # e.g. "tensor(float)"

    @classmethod
    def of(cls, arg: object) -> Port:
        shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)
        return cls(arg.name, shape, arg.type)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name} [{dims}] {self.type.removeprefix('tensor(').rstrip(')')}"
