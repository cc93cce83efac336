"""Deployment hardening: the documented HTTPS settings make `check --deploy` clean, every answer
carries the Content-Security-Policy, the API docs load nothing from another site, and
docker-compose refuses to start without a SECRET_KEY."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

pytestmark = pytest.mark.django_db

HTTPS = {
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def check_deploy(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SECURE_")}
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        LESSLABEL_VAR_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="lesslabel.example.org",
        **extra,
    )
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_documented_https_settings_and_not_without(tmp_path):
    with_https = check_deploy(tmp_path, **HTTPS)
    assert with_https.returncode == 0, with_https.stderr
    without = check_deploy(tmp_path)
    assert without.returncode != 0 and "SECURE_HSTS_SECONDS" in without.stderr


def test_every_answer_carries_the_content_security_policy(client, client_for):
    for response in (client.get("/accounts/login/"), client_for("viewer").get("/api/projects/")):
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_api_docs_load_their_scripts_from_this_server_only(client_for):
    viewer = client_for("viewer")
    page = viewer.get("/api/docs/").content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/") for source in sources), sources
    assert "<script>" not in page  # no inline script: the policy allows none
    for source in sources:
        answer = viewer.get(source)
        assert answer.status_code == 200, source


def test_docker_compose_refuses_to_start_without_a_secret_key():
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
    value = compose["x-common"]["environment"]["SECRET_KEY"]
    assert value.startswith("${SECRET_KEY:?"), value  # Compose's "required" form: no fallback key
