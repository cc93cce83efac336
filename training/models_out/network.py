"""A model version's network as files other tools run: TorchScript and ONNX (pure torch, no Django).

Both are traced from `LesslabelProbabilities` (architecture.py): normalised (B, C, H, W) in,
class probabilities (B, K, H, W) out, H and W multiples of 32. Each file carries the version's
description (classes, channels, ranges, provenance) as JSON: TorchScript as the extra file
`lesslabel.json`, ONNX as the model property `lesslabel`.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch

from training.ml.checkpoint import Checkpoint
from training.ml.config import ARCHITECTURES
from training.models_out.architecture import LesslabelProbabilities, lesslabel_network

OPSET = 17
METADATA_KEY = "lesslabel"  # ONNX model property; TorchScript extra file "lesslabel.json"
INPUT, OUTPUT = "input", "probabilities"


def architecture_kwargs(checkpoint: Checkpoint, *, augment: bool) -> dict[str, Any]:
    """What `lesslabel_network` is called with to build this checkpoint's network."""
    config = checkpoint.config
    return {
        "architecture": ARCHITECTURES[config.architecture],
        "encoder": config.encoder,
        "in_channels": config.in_channels,
        "classes": config.num_classes,
        "augment": augment,
    }


def probabilities_network(checkpoint: Checkpoint, *, augment: bool) -> LesslabelProbabilities:
    """The checkpoint's network, wrapped to give probabilities, in eval mode on the CPU."""
    model = lesslabel_network(**architecture_kwargs(checkpoint, augment=augment))
    model.network.load_state_dict(checkpoint.model_state)
    return model.eval()


def torchscript_bytes(
    model: LesslabelProbabilities, example: torch.Tensor, description: dict[str, Any]
) -> bytes:
    """The traced network; `torch.jit.load(file, _extra_files={"lesslabel.json": ""})` reads the
    description back. Shape: example (1, C, H, W) float32."""
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated in torch 2.14 for torch.export, but it is the format other tools
        # load (BioImage.IO's "torchscript" weights, Fiji's deepImageJ, C++ libtorch).
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, buffer, _extra_files={f"{METADATA_KEY}.json": json.dumps(description)})
    return buffer.getvalue()


def onnx_bytes(model: LesslabelProbabilities, example: torch.Tensor, description: dict[str, Any]) -> bytes:
    """The network as ONNX (opset 17; batch, height and width free), the description in the model
    property "lesslabel". Shape: example (1, C, H, W) float32."""
    free = {0: "batch", 2: "height", 3: "width"}
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        # The TorchScript-based exporter (dynamo=False) is deprecated in favour of torch.export,
        # which needs onnxscript and took 36 s against 4 s for a U-Net here, with the same outputs.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            Path(folder) / "model.onnx",
            dynamo=False,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: free, OUTPUT: free},
            opset_version=OPSET,
        )
        proto = onnx.load(Path(folder) / "model.onnx")
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(description)})
    return bytes(proto.SerializeToString())
