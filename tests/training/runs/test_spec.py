"""RunSpec: stored as JSON and read back into the same type; the shared option parsers refuse
what they must with a message that says what fits."""

from __future__ import annotations

import pytest

from labeling.errors import InvalidInput
from training.ml.config import TrainConfig
from training.ml.pretrain import PretrainConfig
from training.runs import spec as specs
from training.runs.spec import PretrainOptions, RunSpec, TagsOptions, UnknownOptions, VersionInputs

TRAIN = TrainConfig(in_channels=1, num_classes=2, patch_size=64, steps=30)
TAGS = TagsOptions(
    tag_class=7,
    tag_index=2,
    background_index=1,
    tile=64,
    cam_low=0.2,
    cam_high=0.85,
    classifier_steps=5,
    tags=((11, 1), (12, 3)),
    tile_tags=((13, 2),),
)
PRETRAIN = PretrainOptions(
    target_channels=("fluorescence",),
    images=(3, 4),
    settings=PretrainConfig(task="fluorescence", patch_size=64, steps=10),
)


@pytest.mark.parametrize(
    "spec",
    [
        RunSpec(train=TRAIN, channels=("gray",), classes=(1, 2), label_sources=("scribble", "dense")),
        RunSpec(
            train=TRAIN,
            channels=("brightfield",),
            classes=(1, 2),
            label_sources=("dense", "derived"),
            derived_sources=("fluorescence-teacher",),
            preview_count=0,
            test_time_augmentation=True,
        ),
        RunSpec(train=TRAIN, channels=("gray",), classes=(1, 2), label_sources=("dense",), tags=TAGS),
        RunSpec(train=TRAIN, channels=("brightfield",), classes=(), pretrain=PRETRAIN),
    ],
    ids=["labels", "derived", "tags", "pretrain"],
)
def test_a_spec_reads_back_into_the_same_spec(spec):
    assert RunSpec.from_json(spec.to_json()) == spec


def test_the_stored_json_keeps_the_shape_runs_have_always_had():
    stored = RunSpec(
        train=TRAIN, channels=("gray",), classes=(1, 2), label_sources=("dense",), tags=TAGS
    ).to_json()
    assert set(stored) == {
        "train",
        "channels",
        "classes",
        "label_sources",
        "label_approval",
        "preview_count",
        "test_time_augmentation",
        "strategy",
    }
    assert stored["strategy"]["name"] == "tags" and stored["strategy"]["tags"] == [[11, 1], [12, 3]]
    pretraining = RunSpec(train=TRAIN, channels=("brightfield",), classes=(), pretrain=PRETRAIN).to_json()
    assert set(pretraining) == {"train", "channels", "classes", "strategy"}
    assert pretraining["strategy"]["pretrain"]["task"] == "fluorescence"


def test_the_strategy_follows_from_the_options_a_spec_holds():
    plain = RunSpec(train=TRAIN, channels=("gray",), classes=(1, 2))
    assert (plain.strategy, RunSpec.from_json(plain.to_json()).strategy) == ("labels", "labels")
    assert RunSpec(train=TRAIN, channels=("gray",), classes=(1, 2), tags=TAGS).strategy == "tags"


def test_unknown_keys_and_strategies_are_named_not_dropped():
    stored = RunSpec(train=TRAIN, channels=("gray",), classes=(1, 2)).to_json()
    with pytest.raises(UnknownOptions) as unknown:
        RunSpec.from_json({**stored, "pretrain": 1, "zoom": 2})
    assert unknown.value.names == ["pretrain", "zoom"]
    with pytest.raises(UnknownOptions) as strategy:
        RunSpec.from_json({**stored, "strategy": {"name": "clicks"}})
    assert strategy.value.names == ["strategy 'clicks'"]


def test_a_version_config_gives_its_spec_and_the_ranges_apart():
    stored = RunSpec(train=TRAIN, channels=("gray",), classes=(1, 2)).to_json()
    spec, ranges = specs.version_spec({**stored, "ranges": [[0, 255]]})
    assert spec == RunSpec.from_json(stored) and ranges == [(0.0, 255.0)]
    inputs = VersionInputs.of({"channels": ["gray"], "classes": [1, 2], "ranges": [[3, 200]]})
    assert inputs == VersionInputs(("gray",), (1, 2), [(3.0, 200.0)], test_time_augmentation=False)


@pytest.mark.parametrize("raw", [[], ["tags"], "dense", [1], None])
def test_label_sources_must_be_a_list_of_known_sources(raw):
    with pytest.raises(
        InvalidInput, match="label_sources must be a non-empty list of scribble, dense, derived"
    ):
        specs.label_sources(raw)


def test_label_sources_are_kept_once_each_in_a_fixed_order():
    assert specs.label_sources(["derived", "dense", "dense"]) == ("dense", "derived")


@pytest.mark.parametrize("raw", [[], [""], "model", [3]])
def test_derived_sources_are_named_sources(raw):
    with pytest.raises(InvalidInput, match="derived_sources must be a non-empty list"):
        specs.derived_sources(raw)
    assert specs.derived_sources(None) is None


@pytest.mark.parametrize("raw", [True, 1.5, "3", -1, 9])
def test_whole_numbers_refuse_flags_fractions_text_and_values_out_of_range(raw):
    with pytest.raises(InvalidInput, match="preview_images must be a whole number from 0 to 8"):
        specs.whole_number(raw, "preview_images", 0, 8)


def test_fractions_and_flags_take_only_their_own_type():
    assert specs.fraction(1, "cam_low") == 1.0
    for raw in (True, 1.5, "0.2"):
        with pytest.raises(InvalidInput, match="cam_low must be a number from 0 to 1"):
            specs.fraction(raw, "cam_low")
    with pytest.raises(InvalidInput, match="must be true or false"):
        specs.flag("yes", "test_time_augmentation")


def train(**options):
    return specs.train_config(options, in_channels=1, num_classes=2, defaults={})


def test_the_train_config_layers_options_over_strategy_defaults_over_the_app_defaults():
    config = specs.train_config(
        {"steps": 40}, in_channels=2, num_classes=3, defaults={"weight_classes": True, "steps": 10}
    )
    assert (config.steps, config.weight_classes, config.patch_size) == (40, True, 256)
    assert (config.in_channels, config.num_classes) == (2, 3)


@pytest.mark.parametrize("field", ["in_channels", "num_classes", "extra"])
def test_what_the_server_sets_cannot_be_asked_for(field):
    with pytest.raises(InvalidInput, match=f"config.{field} is set by the server"):
        train(**{field: 1})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 300_000}, "Keep steps <= 200000"),
        ({"batch_size": 65}, "batch_size <= 64"),
        ({"patch_size": 2048}, "patch_size <= 1024"),
        ({"patch_size": 100}, "multiple of 32"),
        ({"steps": "5"}, "steps must be a whole number"),
        ({"zoom": 2}, "unknown TrainConfig fields"),
        ({"encoder_weights": "ssl"}, 'encoder_weights must be null or "imagenet"'),
        ({"learning_rate": -0.01}, "learning_rate must be > 0"),
        ({"learning_rate": float("inf")}, "learning_rate must be a finite number"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"learning_rate": 5.0}, "learning_rate must be at most 1.0"),
        ({"weight_decay": -1e-4}, "weight_decay must be >= 0"),
        ({"warmup_steps": -5}, "warmup_steps must be >= 0"),
        ({"dice_weight": -0.5}, "dice_weight must be >= 0"),
        ({"derived_weight": -1.0}, "derived_weight must be >= 0"),
        ({"pairwise_weight": -4.0}, "pairwise_weight must be >= 0"),
        ({"early_stopping_epochs": -1}, "early_stopping_epochs must be >= 0"),
        ({"num_workers": -1}, "num_workers must be >= 0"),
        ({"num_workers": 64}, "num_workers must be at most 8"),
        ({"seed": -1}, "seed must be a whole number from 0 to 4294967295"),
        ({"seed": 2**64}, "seed must be a whole number from 0 to 4294967295"),
        ({"scale_range": [30, 30]}, "cuts crops of up to 7680 pixels square"),
        ({"scale_range": [0.5, float("inf")]}, "scale_range must be two finite numbers"),
    ],
)
def test_a_bad_training_option_is_refused_with_what_fits(options, message):
    with pytest.raises(InvalidInput, match=message):
        train(**options)


def test_the_largest_crop_follows_the_setting(settings):
    settings.TRAIN_MAX_CROP = 512
    assert train(patch_size=256, scale_range=[0.5, 2.0]).scale_range == (0.5, 2.0)
    with pytest.raises(InvalidInput, match="TRAIN_MAX_CROP"):
        train(patch_size=256, scale_range=[0.5, 2.5])


def test_imagenet_weights_are_refused_unless_they_are_on_disk(settings, tmp_path):
    settings.LESSLABEL_WEIGHTS_DIR = str(tmp_path)
    with pytest.raises(InvalidInput, match="resnet18"):
        train(encoder_weights="imagenet")


def version_config(*, channels=("gray",), architecture="unet", encoder="resnet18"):
    old = RunSpec(
        train=TRAIN.replace(architecture=architecture, encoder=encoder), channels=channels, classes=(1, 2)
    )
    return {**old.to_json(), "ranges": [[0, 255]]}


def test_a_warm_start_that_reads_the_same_channels_with_the_same_network_is_accepted():
    new = RunSpec(train=TRAIN.replace(steps=99, num_classes=3), channels=("gray",), classes=(1, 2, 3))
    specs.check_warm_start(5, version_config(), new)  # other steps and classes are fine


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            version_config(channels=("brightfield",)),
            r"Model version 5 reads channels \['brightfield'\], this run \['gray'\]",
        ),
        (
            version_config(architecture="fpn"),
            "Model version 5 is a fpn/resnet18; warm-start a run of the same",
        ),
        (version_config(encoder="resnet34"), "Model version 5 is a unet/resnet34"),
    ],
    ids=["channels", "architecture", "encoder"],
)
def test_a_warm_start_of_other_channels_or_another_network_is_refused(config, message):
    new = RunSpec(train=TRAIN, channels=("gray",), classes=(1, 2))
    with pytest.raises(InvalidInput, match=message):
        specs.check_warm_start(5, config, new)
