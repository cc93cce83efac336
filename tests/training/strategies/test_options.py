"""Each strategy parses its own options and the shared ones, freezes its labels, and gives back the
options that make the same spec again (correct-and-retrain); bad values are 400s that say why."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import services
from labeling.errors import InvalidInput
from labeling.models import Split
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from tests.live.conftest import add_labelled_images
from training.runs.spec import RunSpec
from training.strategies import STRATEGIES, strategy_named

pytestmark = pytest.mark.django_db

QUICK = {"patch_size": 64, "batch_size": 4, "steps": 30, "steps_per_epoch": 10, "warmup_steps": 5}


def prepare(name, project, limit=None, **options):
    return strategy_named(name).prepare(
        project=project, options={**QUICK, **options}, train_image_limit=limit
    )


def test_the_registry_names_the_four_strategies_and_refuses_others():
    assert set(STRATEGIES) == {"labels", "tags", "pretrain", "forest"}
    for name in ("clicks", None, 3):
        with pytest.raises(
            InvalidInput, match=r'strategy must be "labels" \(the default\), "tags", "pretrain" or "forest"'
        ):
            strategy_named(name)


# labels --------------------------------------------------------------------------------------


def test_a_labels_run_freezes_the_training_labels_and_the_validation_masks(project, users):
    images = add_labelled_images(project, users["owner"], count=2, validation=1)
    prepared = prepare("labels", project)
    assert len(prepared.snapshot) == 3
    assert prepared.spec.channels == ("gray",) and prepared.spec.classes == (1, 2)
    assert prepared.spec.train.weight_classes is False and prepared.spec.strategy == "labels"
    first_only = prepare("labels", project, limit=1)
    frozen = {pk for pk, _ in first_only.snapshot}
    on = {image.pk: {a.pk for a in image.annotations.all()} for image in images}
    assert frozen == on[images[0].pk] | on[images[2].pk], "the first training image and the validation one"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tile": 64}, 'tile only apply to the strategy "tags"'),
        ({"preview_images": 9}, "preview_images must be a whole number from 0 to 8"),
        ({"test_time_augmentation": "yes"}, "test_time_augmentation must be true or false"),
        ({"channels": ["fluorescence"]}, "has no channel fluorescence; it has gray"),
        ({"channels": "gray"}, "channels must be a non-empty list"),
        ({"label_sources": ["derived"]}, "Nothing to train on: no image of this project has derived labels"),
    ],
)
def test_a_labels_run_refuses_bad_options(project, users, options, message):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    with pytest.raises(InvalidInput, match=message):
        prepare("labels", project, **options)


def test_a_labels_run_needs_two_classes(users):
    lonely = services.project_create(name="One class", owner=users["owner"])
    with pytest.raises(InvalidInput, match="needs at least two classes"):
        prepare("labels", lonely)


def test_the_options_of_a_labels_spec_make_the_same_spec(project, users):
    add_labelled_images(project, users["owner"], count=2, validation=1)
    spec = prepare(
        "labels",
        project,
        label_sources=["dense"],
        derived_sources=["model"],
        preview_images=1,
        test_time_augmentation=True,
        learning_rate=0.002,
    ).spec
    again = prepare("labels", project, **STRATEGIES["labels"].options_of(spec, project=project)).spec
    assert again == spec and again.derived_sources == ("model",) and again.train.learning_rate == 0.002


# tags ----------------------------------------------------------------------------------------


def tag(image, user, nucleus, present):
    services.annotation_save(
        image=image, author=user, kind="tag", label_class=nucleus, base_version=0, data={"present": present}
    )


@pytest.fixture
def tagged(project, users, nucleus):
    images = []
    for seed, present in enumerate((True, False, True)):
        field = synthetic_field(seed=seed, height=64, width=64, nuclei=3)
        (image,) = services.image_ingest(
            project=project,
            uploader=users["owner"],
            uploads=[services.Upload(f"t{seed}.png", png_bytes(field.brightfield))],
        )
        tag(image, users["annotator"], nucleus, present)
        images.append(image)
    return images


def test_a_tags_run_freezes_the_tags_of_its_class_and_weights_the_classes(project, users, nucleus, tagged):
    spec = prepare("tags", project, tag_class=nucleus.pk, tile=32).spec
    assert spec.strategy == "tags" and spec.tags is not None
    assert spec.tags.tag_index == nucleus.index and spec.tags.background_index == 1
    assert len(spec.tags.tags) == 3 and spec.train.weight_classes is True  # the pseudo-masks' default
    assert spec.channels == ("gray",)


def test_tags_on_validation_images_are_not_frozen(project, users, nucleus, tagged):
    services.image_update(image=tagged[1], split=Split.VALIDATION)  # the only absent one
    with pytest.raises(InvalidInput, match="there are 2 present and 0 absent"):
        prepare("tags", project, tag_class=nucleus.pk)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tag_class": "nucleus"}, "tag_class must be the id of a class of this project"),
        ({"tile": 36}, "tile must be a multiple of 8"),
        ({"tile": 16}, "tile must be a whole number from 32 to 1024"),
        ({"cam_low": 0.9, "cam_high": 0.5}, "cam_low must be below cam_high"),
        ({"cam_high": 2}, "cam_high must be a number from 0 to 1"),
        ({"classifier_steps": 0}, "classifier_steps must be a whole number from 1 to 20000"),
    ],
)
def test_a_tags_run_refuses_bad_options(project, nucleus, tagged, options, message):
    with pytest.raises(InvalidInput, match=message):
        prepare("tags", project, **{"tag_class": nucleus.pk, **options})


def test_the_background_class_must_differ_from_the_tagged_one(project, nucleus, tagged):
    with pytest.raises(InvalidInput, match="background_class must differ from tag_class"):
        prepare("tags", project, tag_class=nucleus.pk, background_class=nucleus.pk)


def test_the_options_of_a_tags_spec_make_the_same_spec(project, nucleus, tagged):
    spec = prepare("tags", project, tag_class=nucleus.pk, tile=64, cam_low=0.1, classifier_steps=7).spec
    options = STRATEGIES["tags"].options_of(spec, project=project)
    assert options.pop("strategy") == "tags"  # run_create takes it out to find the strategy
    assert prepare("tags", project, **options).spec == spec


# pretrain ------------------------------------------------------------------------------------


@pytest.fixture
def paired(project, users):
    field = synthetic_field(seed=1, height=64, width=64, nuclei=3)
    return services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[
            services.Upload("bf.png", png_bytes(field.brightfield)),
            services.Upload("fl.png", png_bytes(field.fluorescence)),
        ],
        channel_names=["brightfield", "fluorescence"],
    )


def test_a_pretraining_run_freezes_the_images_with_its_channels_and_no_labels(project, paired):
    prepared = prepare("pretrain", project, task="fluorescence", mask_ratio=0.25)
    spec = prepared.spec
    assert prepared.snapshot == [] and spec.strategy == "pretrain" and spec.pretrain is not None
    assert spec.channels == ("brightfield",) and spec.pretrain.target_channels == ("fluorescence",)
    assert spec.pretrain.images == (paired[0].pk,) and spec.pretrain.settings.mask_ratio == 0.25
    assert RunSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"task": "jigsaw"}, "task must be one of masked, fluorescence"),
        ({"task": "masked", "target_channels": ["fluorescence"]}, "only apply to the task"),
        ({"task": "fluorescence", "channels": ["fluorescence"]}, "cannot be both an input and a target"),
        ({"task": "fluorescence", "target_channels": ["dapi"]}, "No image of this project has the channels"),
        ({"freeze_encoder": True}, "freeze_encoder is for runs that start from a pretrained encoder"),
        ({"mask_ratio": 1.5}, "Invalid pretraining settings: mask_ratio must be between 0 and 1"),
    ],
)
def test_a_pretraining_run_refuses_bad_options(project, paired, options, message):
    with pytest.raises(InvalidInput, match=message):
        prepare("pretrain", project, **options)


def test_a_pretraining_run_takes_no_image_limit(project, paired):
    with pytest.raises(InvalidInput, match="train_image_limit is for runs on labelled images"):
        prepare("pretrain", project, limit=2)


def test_the_options_of_a_pretraining_spec_make_the_same_spec(project, paired):
    for task in ("masked", "fluorescence"):
        spec = prepare("pretrain", project, task=task, mask_square=8, channels=["brightfield"]).spec
        options = STRATEGIES["pretrain"].options_of(spec, project=project)
        assert options.pop("strategy") == "pretrain"
        assert prepare("pretrain", project, **options).spec == spec


def test_an_image_without_the_pretext_channels_is_left_out(project, users, paired):
    field = synthetic_field(seed=2, height=64, width=64, nuclei=3)
    services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[services.Upload("bf-only.png", png_bytes(np.asarray(field.brightfield)))],
        channel_names=["brightfield"],
    )
    spec = prepare("pretrain", project, task="fluorescence").spec
    assert spec.pretrain is not None and spec.pretrain.images == (paired[0].pk,)
