"""The bundled person detector: SSDLite-MobileNetV2's frozen TensorFlow graph, run by OpenCV's
DNN module with the text graph objects/make_graph.py wrote (objects/model.py finds both)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from objects.networks import Detection

INPUT_SIZE = 300  # the model's input, in pixels (it was trained on 300x300)
LABELS = {1: "person"}  # the bundled model's classes (0 is the background)


class OpenCVSSD:
    """One network, run on one thread; not safe to share between threads."""

    input_size = INPUT_SIZE

    def __init__(self, model: Path, graph: Path, labels: dict[int, str] | None = None) -> None:
        self.net = cv2.dnn.readNetFromTensorflow(str(model), str(graph))
        self.labels = labels or LABELS

    def run(self, image_bgr: np.ndarray) -> list[Detection]:
        """Every detection of the network on the whole of `image_bgr`, boxes in its fractions.
        The graph scales 0..255 to -1..1 itself (Preprocessor/mul and /sub): it takes RGB as is."""
        blob = cv2.dnn.blobFromImage(image_bgr, 1.0, (INPUT_SIZE, INPUT_SIZE), swapRB=True)
        self.net.setInput(blob)
        results = []
        for _, class_id, score, left, top, right, bottom in self.net.forward()[0, 0]:
            label = self.labels.get(int(class_id))
            if label is None or score <= 0:
                continue
            left, top = max(0.0, float(left)), max(0.0, float(top))
            right, bottom = min(1.0, float(right)), min(1.0, float(bottom))
            results.append((label, float(score), (left, top, right - left, bottom - top)))
        return results
