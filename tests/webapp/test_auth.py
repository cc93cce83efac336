"""Signing in: wrong passwords are counted per user name and address, and after
LOGIN_MAX_FAILURES that pair is refused even with the right password; weak passwords are refused."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def username():
    name = f"biologist-{uuid.uuid4().hex[:8]}"  # the count lives in Redis, across test runs
    get_user_model().objects.create_user(username=name, password=PASSWORD)
    return name


def sign_in(username: str, password: str, address: str = "10.0.0.1", path: str = "/accounts/login/"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(path, {"username": username, "password": password})
    return response, "_auth_user_id" in client.session


@pytest.mark.parametrize("path", ["/accounts/login/", "/api-auth/login/", "/admin/login/"])
def test_after_too_many_wrong_passwords_the_right_one_is_refused_from_that_address(username, settings, path):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert sign_in(username, "wrong", path=path)[1] is False
    response, signed_in = sign_in(username, PASSWORD, path=path)
    assert not signed_in
    assert b"Too many failed sign-ins" in response.content
    assert sign_in(username, PASSWORD, address="10.0.0.2", path=path)[1] is not (path == "/admin/login/")


def test_a_success_clears_the_count(username, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(2):
        sign_in(username, "wrong")
    assert sign_in(username, PASSWORD)[1]
    for _ in range(2):
        sign_in(username, "wrong")
    assert sign_in(username, PASSWORD)[1]


@pytest.mark.parametrize("password", ["password123", "87654321098"])
def test_common_and_numeric_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)
