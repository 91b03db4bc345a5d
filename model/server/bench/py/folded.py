"""The U-Net as the ONNX file holds it: batch norm folded into the convolutions (the exporter
does that in eval mode), so each conv carries a bias and each BatchNorm is an identity. Built
from any model card (the untrained example's flat params or a release's nested ones) and loaded
from the ONNX initializers, so TorchServe and eager PyTorch serve exactly the bench's weights.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from wms_training.model import build_model


def folded_unet(card: dict) -> nn.Module:
    p = card["training"]["params"]
    m = p.get("model", p)
    model = build_model({"base_filters": m["base_filters"], "depth": m["depth"]})

    def fold(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, name, nn.Identity())
            elif isinstance(child, nn.Conv2d) and child.bias is None:
                setattr(module, name, nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size,
                                                padding=child.padding, bias=True))
            else:
                fold(child)

    fold(model)
    return model.eval()


def load_from_onnx(model: nn.Module, onnx_path: str) -> nn.Module:
    """Copy each ONNX Conv's weight and bias into the convs, in execution order (the U-Net's
    modules are declared in the order forward() runs them)."""
    g = onnx.load(onnx_path).graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    convs_onnx = [n for n in g.node if n.op_type == "Conv"]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if len(convs_onnx) != len(convs):
        raise ValueError(f"{onnx_path}: {len(convs_onnx)} Conv nodes, the model has {len(convs)} convs")
    with torch.no_grad():
        for node, conv in zip(convs_onnx, convs):
            w, b = (init[name] for name in node.input[1:3])
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ValueError(f"{node.name}: weight {w.shape} does not fit {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(np.array(w)))
            conv.bias.copy_(torch.from_numpy(np.array(b)))
    return model
