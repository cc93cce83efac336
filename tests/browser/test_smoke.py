"""Smoke test of the whole stack in a real browser: the login form, the session, the home page's
front end (frontend/dist, served by whitenoise) reading the API."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import sign_in


def test_a_member_signs_in_and_sees_the_project(signed_in, users, project, screenshot, console_problems):
    page = signed_in(users["annotator"])

    assert page.url.endswith("/")
    expect(page.get_by_text(project.name, exact=True).first).to_be_visible()
    screenshot(page, "home")
    page.wait_for_load_state("networkidle")
    assert console_problems == []  # a missing icon or script shows here as a failed load


def test_a_wrong_password_stays_on_the_login_page_with_an_error(new_page, app_server, users, screenshot):
    page = new_page()

    sign_in(page, app_server, "annotator", "not-the-password")

    assert "/accounts/login/" in page.url
    expect(page.locator(".error")).to_have_text("Wrong user name or password.")
    expect(page.locator("input[name=password]")).to_be_visible()
    screenshot(page, "login-error")
