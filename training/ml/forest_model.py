"""A random forest as a model version: the peer's forest (training/ml/peer.py), its features'
settings and its class count, in one file.

A "forest" run (training/strategies/forest.py) fits it on all of a run's labelled pixels (a
bounded, stratified sample per image) and stores it like a network's checkpoint; prediction jobs,
guidance and exports then use it as they use a network: per pixel class probabilities, their
argmax and their normalised entropy (training/ml/inference.py's Prediction).

The file is a joblib pickle of the scikit-learn forest inside a small dict with a format marker.
Like a checkpoint (torch.load with weights_only=False), it is trusted: only workers write it.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier

from training.ml.inference import Prediction, entropy
from training.ml.peer import BLOCK_ROWS, PeerConfig, feature_rows, row_blocks

FORMAT = "lesslabel-forest-1"


@dataclass(frozen=True)
class ForestModel:
    """A fitted forest over model classes 0..num_classes-1 (some may never have been labelled)."""

    forest: RandomForestClassifier
    config: PeerConfig
    num_classes: int

    def probabilities(self, image: np.ndarray, *, block_rows: int = BLOCK_ROWS) -> np.ndarray:
        """Each class's probability at every pixel, block by block (memory: one block's features).

        A class the forest never saw gets probability 0 everywhere.

        Shape: image (C, H, W) floating, normalised like the training images -> (K, H, W) float32.
        """
        height, width = image.shape[1:]
        out = np.zeros((self.num_classes, height, width), dtype=np.float32)
        seen = np.asarray(self.forest.classes_, dtype=np.int64)
        for top, bottom in row_blocks(height, block_rows):
            block = feature_rows(image, self.config, top, bottom)
            if block.shape[-1] != self.forest.n_features_in_:
                raise ValueError(
                    f"the image gives {block.shape[-1]} features but the forest was fit on "
                    f"{self.forest.n_features_in_}; give it the channels it was trained on"
                )
            rows = self.forest.predict_proba(block.reshape(-1, block.shape[-1]))
            out[seen, top:bottom] = rows.T.reshape(seen.size, bottom - top, width)
        return out

    def predict(self, image: np.ndarray) -> Prediction:
        """Class map, probabilities and normalised entropy, as a network's tiled `predict` gives."""
        probabilities = self.probabilities(image)
        return Prediction(probabilities, probabilities.argmax(axis=0), entropy(probabilities))


def forest_bytes(model: ForestModel) -> bytes:
    """The model as one blob, for object storage (a model version's weights file)."""
    buffer = io.BytesIO()
    payload = {
        "format": FORMAT,
        "config": dataclasses.asdict(model.config),
        "num_classes": model.num_classes,
        "forest": model.forest,
    }
    joblib.dump(payload, buffer, compress=3)
    return buffer.getvalue()


def forest_from_bytes(data: bytes, *, where: str = "forest") -> ForestModel:
    payload: Any = joblib.load(io.BytesIO(data))
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{where} is not a Lesslabel forest ({FORMAT})")
    return ForestModel(
        forest=payload["forest"], config=PeerConfig(**payload["config"]), num_classes=payload["num_classes"]
    )
