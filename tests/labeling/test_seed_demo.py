"""The demo step: a user and a project of synthetic fields, made once, never by migrations."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from labeling.management.commands.seed_demo import DEMO_PROJECT, FIELDS, VALIDATION
from labeling.models import Annotation, Image, Project

pytestmark = pytest.mark.django_db


def test_migrations_create_no_users():
    assert get_user_model().objects.count() == 0


def test_it_creates_the_demo_once(monkeypatch):
    monkeypatch.setenv("DEMO_USER", "carol")
    monkeypatch.setenv("DEMO_PASSWORD", "carol-pass")
    call_command("seed_demo")
    call_command("seed_demo")
    user = get_user_model().objects.get()
    assert user.username == "carol" and user.check_password("carol-pass")
    project = Project.objects.get(name=DEMO_PROJECT)
    images = Image.objects.filter(project=project)
    assert images.count() == FIELDS
    assert {c.name for c in images.first().channels.all()} == {"brightfield", "fluorescence"}
    assert images.filter(split="validation").count() == len(VALIDATION)
    dense = Annotation.objects.filter(image__project=project, kind="dense")
    assert set(dense.values_list("image__split", flat=True)) == {"validation"}
    assert Annotation.objects.filter(image__project=project, kind="scribble").exists()
