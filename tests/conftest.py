"""Shared fixtures: the embedded Redis when no system Redis is used, named users, a project."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from labeling import services
from labeling.models import LabelClass, Project, Role
from webapp import embedded_redis

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis the settings point at: the machine's, or an embedded one started here."""
    if not settings.REDIS_EMBEDDED:
        yield settings.REDIS_URL
        return
    process = embedded_redis.start(
        port=settings.EMBEDDED_REDIS_PORT, directory=tmp_path_factory.mktemp("redis")
    )
    yield settings.REDIS_URL
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(autouse=True)
def clean_media() -> Iterator[None]:
    yield
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    """One user per role in `project`, and a stranger who is in no project."""
    model = get_user_model()
    return {
        name: model.objects.create_user(username=name, password=f"{name}-password")
        for name in ("owner", "manager", "annotator", "viewer", "stranger")
    }


@pytest.fixture
def project(users: dict[str, Any]) -> Project:
    project = services.project_create(name="Nuclei", owner=users["owner"], description="test")
    for role in (Role.MANAGER, Role.ANNOTATOR, Role.VIEWER):
        services.membership_set(project=project, user=users[role.value], role=role)
    services.label_class_create(project=project, name="nucleus", color="#ff0000", countable=True)
    return project


@pytest.fixture
def nucleus(project: Project) -> LabelClass:
    return project.classes.get(name="nucleus")


@pytest.fixture
def client_for(users: dict[str, Any]) -> Any:
    """client_for("annotator") -> an APIClient signed in as that user (session auth)."""

    def make(name: str) -> APIClient:
        client = APIClient()
        client.force_login(users[name])
        return client

    return make


def require_shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data set {path} is absent (it lives in ../shared/data beside the project)")
    return path
