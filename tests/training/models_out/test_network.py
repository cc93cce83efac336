"""The exported network's pieces that are pure maths."""

from __future__ import annotations

import pytest
import torch

from training.models_out.architecture import LesslabelProbabilities, turned


@pytest.mark.parametrize("turns", [-3, -2, -1, 0, 1, 2, 3, 4])
def test_turning_by_flips_and_a_transpose_is_rot90(turns):
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    assert torch.equal(turned(x, turns), torch.rot90(x, turns, dims=(2, 3)))


class Shift(torch.nn.Module):
    """Logits that depend on the position: class 1 grows to the right, so every turn differs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ramp = torch.arange(x.shape[3], dtype=x.dtype).expand_as(x[:, :1])
        return torch.cat([x[:, :1], x[:, :1] + ramp / 10], dim=1)


def test_probabilities_sum_to_one_and_augmentation_averages_the_eight_views():
    x = torch.rand(1, 1, 4, 4)
    plain = LesslabelProbabilities(Shift())(x)
    assert torch.allclose(plain.sum(dim=1), torch.ones(1, 4, 4))
    averaged = LesslabelProbabilities(Shift(), augment=True)(x)
    views = []
    for turns in range(4):
        for mirror in (False, True):
            view = torch.rot90(x, turns, dims=(2, 3))
            view = view.flip(3) if mirror else view
            p = Shift()(view).softmax(dim=1)
            views.append(torch.rot90(p.flip(3) if mirror else p, -turns, dims=(2, 3)))
    assert torch.allclose(averaged, torch.stack(views).mean(dim=0))
    assert not torch.allclose(averaged, plain)
