"""Derived layers: one rule says whether a generator may still write one, and a generator's save
never overwrites a revision it has not seen."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import selectors, services
from tests.factories import blank_image

pytestmark = pytest.mark.django_db

SOURCE = "fluorescence-teacher"


@pytest.fixture
def image(project, users):
    return blank_image(project, users["owner"])


def generate(image, user, head=None, value=2):
    return services.derived_layer_save(
        image=image,
        author=user,
        head=head,
        provenance={"source": SOURCE},
        mask=np.full((8, 8), value, np.uint16),
    )


def test_a_generated_layer_stays_the_generators_until_a_person_touches_it(image, users):
    head = generate(image, users["owner"])
    assert selectors.derived_layer(image, SOURCE) == head
    assert selectors.derived_layer_state(head) == "generated"
    head = generate(image, users["owner"], head=head, value=1)
    assert selectors.derived_layer_state(head) == "generated", "regenerating keeps it the generator's"
    stroke = {"class_index": 2, "radius": 1, "points": [[2, 2]]}
    painted = services.annotation_save(
        image=image,
        author=users["annotator"],
        kind="derived",
        base_version=2,
        data={"strokes": [stroke], "provenance": {"source": SOURCE}},
    )
    assert selectors.derived_layer_state(painted) == "touched"


def test_a_restored_or_deleted_layer_is_a_persons_decision(image, users):
    head = generate(image, users["owner"])
    head = generate(image, users["owner"], head=head, value=1)
    restored = services.annotation_restore(
        annotation=head, author=users["annotator"], version=1, base_version=2
    )
    assert selectors.derived_layer_state(restored) == "touched"
    deleted = services.annotation_delete(annotation=restored, author=users["annotator"], base_version=3)
    assert selectors.derived_layer_state(deleted) == "deleted"


def test_a_generator_never_overwrites_a_revision_it_has_not_seen(image, users):
    first = generate(image, users["owner"])
    stale = selectors.derived_layer(image, SOURCE)
    generate(image, users["owner"], head=first, value=1)
    assert generate(image, users["owner"], head=stale, value=2) is None
    assert selectors.derived_layer(image, SOURCE).version == 2
