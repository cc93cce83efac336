"""gpu-check (training/bench/gpucheck.py): it skips cleanly without CUDA, and its comparison of
two devices' predictions, checked on the CPU with tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.bench.cli import main
from training.bench.gpucheck import compare, cpu_copy, timed_predictions
from training.ml.config import TrainConfig
from training.ml.inference import Prediction, entropy
from training.ml.models import create_model


def prediction(object_probabilities: list[list[float]]) -> Prediction:
    objects = np.array(object_probabilities, dtype=np.float32)
    probabilities = np.stack([1 - objects, objects])
    return Prediction(probabilities, probabilities.argmax(axis=0), entropy(probabilities))


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA the check runs instead of skipping")
def test_without_cuda_it_says_so_exits_0_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "gpu-check.json"
    with pytest.raises(SystemExit) as stopped:
        main(["gpu-check", "--out", str(out)])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("no CUDA device: skipped")
    assert not out.exists()  # an earlier GPU's result there would have been kept


def test_the_comparison_gives_the_largest_probability_difference_and_the_share_of_same_classes():
    # Object probabilities differ by 0.1, 0.3, 0 and 0.05: the second pixel crosses 0.5, the
    # others keep their class, so 3 of 4 pixels agree.
    cuda = [prediction([[0.9, 0.6], [0.2, 0.45]])]
    cpu = [prediction([[0.8, 0.3], [0.2, 0.4]])]
    assert compare(cuda, cpu) == pytest.approx(
        {"max_abs_probability_difference": 0.3, "pixel_agreement": 0.75}, abs=1e-6
    )
    with pytest.raises(ValueError, match="same images"):
        compare(cuda, cuda + cpu)


def test_the_cpu_copy_of_a_model_predicts_exactly_what_the_model_does_on_the_cpu():
    config = TrainConfig(patch_size=64, batch_size=2, steps=1, seed=3)
    model = create_model(config)
    images = [np.random.default_rng(n).random((1, 64, 96), dtype=np.float32) for n in range(2)]
    original, seconds = timed_predictions(model, images, torch.device("cpu"), tile=128)
    copied, _ = timed_predictions(cpu_copy(model, config), images, torch.device("cpu"), tile=128)
    assert seconds > 0 and [p.classes.shape for p in copied] == [(64, 96), (64, 96)]
    assert compare(original, copied) == {"max_abs_probability_difference": 0.0, "pixel_agreement": 1.0}
    # A fresh network (other random weights) is told apart.
    other, _ = timed_predictions(create_model(config), images, torch.device("cpu"), tile=128)
    assert compare(original, other)["max_abs_probability_difference"] > 0
