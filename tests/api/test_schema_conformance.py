"""Schemathesis against a live daphne: every operation of the OpenAPI schema, a few generated
requests each (examples, coverage and fuzzing phases, a fixed seed), none answered with a 5xx and
every answer as documented (status code, content type, body). `make test-api` runs it, in about
three minutes on two cores with SCHEMATHESIS_MAX_EXAMPLES=3.

The schema is the one the server serves, made in this process by drf-spectacular at collection,
so each operation is a test of its own. The requests run against the demo project (seed_demo's
images and labels) with a comment, a second member and a model version: a generated path id that
is a whole number becomes one of those objects' ids, so requests reach past the 404; other values
(a string for an id) stay, to exercise the refusals. DELETE requests keep their generated ids, so
the project the others read stays. Nothing trains: no worker runs, and every run a request starts
is cancelled at once through the API.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from labeling import services
from labeling.management.commands.seed_demo import seed_project
from labeling.models import Role
from tests.versions import random_version
from training.runs import create, lifecycle

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "seed": 40,
        "request-timeout": 60,
        "cache": {"enabled": False},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
# A test database for the server; each test's own transaction is empty (the demo fixture, set up
# first as it is module-scoped, commits; the runs are cancelled through the API).
pytestmark = pytest.mark.django_db
schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=CONFIG
)


@dataclass(frozen=True)
class Demo:
    headers: dict[str, str]  # the owner's token
    ids: dict[str, int]  # path parameter name -> an object of the demo project


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    """The demo project, committed for the server; the database and media emptied afterwards."""
    with django_db_blocker.unblock():
        owner = get_user_model().objects.create_user(username="owner", password="owner-password")
        annotator = get_user_model().objects.create_user(username="annotator", password="x-password")
        project = seed_project(owner)
        services.membership_set(project=project, user=annotator, role=Role.ANNOTATOR)
        image = project.images.order_by("pk").first()
        annotation = image.annotations.order_by("pk").first() if image else None
        assert image is not None and annotation is not None
        comment = services.comment_add(image=image, author=owner, body="look here")
        run = create.run_create(project=project, user=owner, options={})  # a run's real options
        lifecycle.run_cancel(run=run)
        version = random_version(project, owner, channels=("brightfield", "fluorescence"), run=run)
        version.config = {**run.config, **version.config}  # as a trained version's: its run's spec
        version.save(update_fields=["config"])
        ids = {
            "project_id": project.pk,
            "image_id": image.pk,
            "class_id": project.classes.get(name="nucleus").pk,
            "annotation_id": annotation.pk,
            "comment_id": comment.pk,
            "user_id": annotator.pk,
            "version_id": version.pk,
            "run_id": version.run_id,
        }
        token = Token.objects.create(user=owner).key
    yield Demo(headers={"Authorization": f"Token {token}"}, ids=ids)
    with django_db_blocker.unblock():
        call_command("flush", interactive=False)
    shutil.rmtree(django_settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture
def clean_media() -> None:
    """The demo's files stay for the module's tests (the demo fixture removes them)."""


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
def test_every_operation_answers_as_its_schema_says(case: Any, api_server: str, demo: Demo) -> None:
    if case.method != "DELETE":
        for name, value in (case.path_parameters or {}).items():
            if isinstance(value, int) and name in demo.ids:
                case.path_parameters[name] = demo.ids[name]
    response = case.call_and_validate(base_url=api_server, headers=dict(demo.headers), checks=CHECKS)
    if case.method in ("POST", "PATCH") and response.status_code < 300:
        _cancel_runs(api_server, demo)


def _cancel_runs(api_server: str, demo: Demo) -> None:
    """Every queued run of the demo project cancelled, as a person would in the app."""
    runs = f"{api_server}/api/projects/{demo.ids['project_id']}/runs/"
    listed = requests.get(runs, headers=demo.headers, params={"limit": 1000}, timeout=60)
    assert listed.status_code == 200, f"{runs}: {listed.status_code} {listed.text[:300]}"
    for run in listed.json()["results"]:
        if run["state"] == "queued":
            requests.post(f"{api_server}/api/runs/{run['id']}/cancel/", headers=demo.headers, timeout=60)
