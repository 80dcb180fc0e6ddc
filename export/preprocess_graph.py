"""preprocess.onnx: the recipe's pixel arithmetic as a graph the page runs with onnxruntime-web.

Input: the decoded image as RGBA bytes (1, height, width, 4), as a canvas gives them. It is
resized like PIL resizes 8-bit images: a horizontal then a vertical antialiased pass, each rounded
to whole levels; then centre-cropped, alpha dropped, rescaled and normalised to pixel_values
(1, 3, H, W). Sizes, crop, mean and std are inputs, computed from the manifest by the page.
"""
from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from .shared import names

MODES = {"bilinear": ("linear", -0.75), "bicubic": ("cubic", -0.5)}  # PIL's bicubic uses a = -0.5
OPSET = 19  # Resize with antialias and axes


def build(resample: str) -> onnx.ModelProto:
    if resample not in MODES:
        raise ValueError(f"resample {resample!r} is not supported in the browser; use {', '.join(MODES)}")
    mode, cubic_a = MODES[resample]
    nodes = [helper.make_node("Cast", ["image"], ["levels"], to=TensorProto.FLOAT)]

    def resize_axis(source: str, axis: int, size: str) -> str:
        out = f"resized_{size}"
        nodes.extend([
            helper.make_node("Resize", [source, "", "", size], [out + "_exact"], mode=mode, antialias=1,
                             axes=[axis], coordinate_transformation_mode="half_pixel",
                             cubic_coeff_a=cubic_a, exclude_outside=1),
            helper.make_node("Add", [out + "_exact", "half"], [out + "_shifted"]),
            helper.make_node("Floor", [out + "_shifted"], [out + "_rounded"]),  # PIL rounds halves up
            helper.make_node("Clip", [out + "_rounded", "zero", "full"], [out]),
        ])
        return out

    wide = resize_axis("levels", 2, "width")  # (1, height, new width, 4)
    tall = resize_axis(wide, 1, "height")  # (1, new height, new width, 4)
    nodes += [
        helper.make_node("Slice", [tall, "crop_start", "crop_end", "crop_axes"], ["cropped"]),  # (1, H, W, 3)
        helper.make_node("Mul", ["cropped", "rescale"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["normalised"]),
        helper.make_node("Transpose", ["normalised"], [names.PIXELS], perm=[0, 3, 1, 2]),  # (1, 3, H, W)
    ]
    constants = [
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("full", TensorProto.FLOAT, [], [255.0]),
        helper.make_tensor("crop_axes", TensorProto.INT64, [3], [1, 2, 3]),
    ]
    inputs = [
        helper.make_tensor_value_info("image", TensorProto.UINT8, [1, "image_height", "image_width", 4]),
        helper.make_tensor_value_info("width", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("height", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("crop_start", TensorProto.INT64, [3]),
        helper.make_tensor_value_info("crop_end", TensorProto.INT64, [3]),
        helper.make_tensor_value_info("rescale", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("mean", TensorProto.FLOAT, [3]),
        helper.make_tensor_value_info("std", TensorProto.FLOAT, [3]),
    ]
    outputs = [helper.make_tensor_value_info(names.PIXELS, TensorProto.FLOAT, [1, 3, "height", "width"])]
    graph = helper.make_graph(nodes, "preprocess", inputs, outputs, constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vit-lens")
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model
