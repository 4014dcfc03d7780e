"""COCO's 80 object labels, in the two numberings that models trained on COCO give them."""

from __future__ import annotations

# In the order of the 0..79 class ids of YOLO and most PyTorch exports.
NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# The TensorFlow Object Detection API numbers them 1..90, as the COCO paper listed 90 labels
# (0 is the background); these 10 were never annotated, so no model gives them.
TF_UNUSED_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
TF_NAMES = dict(zip((i for i in range(1, 91) if i not in TF_UNUSED_IDS), NAMES, strict=True))


def name(class_id: int, tf_numbering: bool = False) -> str | None:
    """The label of a class id (0..79, or TensorFlow's 1..90); None if it names none."""
    if tf_numbering:
        return TF_NAMES.get(class_id)
    return NAMES[class_id] if 0 <= class_id < len(NAMES) else None
