"""The "forest" strategy's options: label options as a labels run takes them, the forest's own,
nothing of a network; its spec survives the run's JSON, and its options make the same spec again."""

from __future__ import annotations

import pytest

from labeling.errors import InvalidInput
from tests.live.conftest import add_labelled_images
from training.runs.create import run_create
from training.runs.spec import RunSpec
from training.strategies import STRATEGIES, strategy_named

pytestmark = pytest.mark.django_db


def prepare(project, **options):
    return strategy_named("forest").prepare(project=project, options=options, train_image_limit=None)


def test_a_forest_run_freezes_the_labels_and_the_forest_settings(project, users):
    add_labelled_images(project, users["owner"], count=2, validation=1)
    prepared = prepare(project, n_estimators=20, max_depth=None, sigma_max=8, seed=3)
    spec = prepared.spec
    assert len(prepared.snapshot) == 3 and spec.strategy == "forest"
    assert spec.forest is not None and spec.forest.settings.n_estimators == 20
    assert spec.forest.settings.max_depth is None and spec.forest.settings.sigma_max == 8.0
    assert spec.forest.settings.seed == 3 and spec.classes == (1, 2)
    assert RunSpec.from_json(spec.to_json()) == spec


def test_the_options_of_a_forest_spec_make_the_same_spec(project, users):
    add_labelled_images(project, users["owner"], count=2, validation=1)
    spec = prepare(project, label_sources=["dense"], derived_weight=0.25, max_samples_per_image=5000).spec
    options = STRATEGIES["forest"].options_of(spec, project=project)
    assert options.pop("strategy") == "forest"
    assert prepare(project, **options).spec == spec


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 30, "patch_size": 64}, 'patch_size, steps do not apply to the strategy "forest"'),
        ({"test_time_augmentation": True}, "test_time_augmentation do not apply"),
        ({"n_estimators": 0}, "n_estimators must be a whole number from 1 to 500"),
        ({"max_depth": "deep"}, "max_depth must be a whole number from 1 to 64"),
        ({"sigma_min": 4, "sigma_max": 2}, "sigma_min .4. must not be above sigma_max"),
        ({"sigma_max": 0}, "sigma_max must be a number above 0"),
        ({"max_samples_per_image": 10**7}, "max_samples_per_image must be a whole number"),
        ({"label_sources": ["derived"]}, "Nothing to train on"),
    ],
)
def test_a_forest_run_refuses_bad_options(project, users, options, message):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    with pytest.raises(InvalidInput, match=message):
        prepare(project, **options)


def test_a_forest_run_takes_no_preset_and_gets_none_by_default(project, users):
    add_labelled_images(project, users["owner"], count=2, validation=1)
    with pytest.raises(InvalidInput, match="leave preset out"):
        run_create(project=project, user=users["owner"], options={"strategy": "forest", "preset": "quick"})
    run = run_create(project=project, user=users["owner"], options={"strategy": "forest"})
    assert run.config["strategy"]["name"] == "forest"
