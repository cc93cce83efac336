"""The run strategies, by name: "labels" (the default), "tags", "pretrain" and "forest"."""

from __future__ import annotations

from labeling.errors import InvalidInput
from training.runs.spec import RunSpec
from training.strategies.base import Strategy
from training.strategies.forest import ForestStrategy
from training.strategies.labels import LabelsStrategy
from training.strategies.pretrain import PretrainStrategy
from training.strategies.tags import TagsStrategy

STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (LabelsStrategy(), TagsStrategy(), PretrainStrategy(), ForestStrategy())
}


def strategy_named(name: object) -> Strategy:
    if not isinstance(name, str) or name not in STRATEGIES:
        raise InvalidInput('strategy must be "labels" (the default), "tags", "pretrain" or "forest".')
    return STRATEGIES[name]


def strategy_of(spec: RunSpec) -> Strategy:
    return STRATEGIES[spec.strategy]
