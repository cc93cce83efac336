"""Sign-in with a limit on failures: after LOGIN_MAX_FAILURES wrong passwords for one user name
from one address within LOGIN_LOCKOUT_SECONDS, that pair is refused until the period ends, so a
password cannot be guessed at the speed of the server. Counted in the cache (Redis), so every
web process shares the count. A success clears it."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\n{address}".encode()).hexdigest()
    return f"lesslabel:login-failures:{digest}"


class ThrottledMixin:
    request: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        address = self.request.META.get("REMOTE_ADDR", "") if self.request is not None else ""
        key = _key(str(self.cleaned_data.get("username") or ""), address)
        if int(cache.get(key, 0)) >= settings.LOGIN_MAX_FAILURES:
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            raise ValidationError(
                f"Too many failed sign-ins for this user from your address; try again in {minutes} minutes.",
                code="throttled",
            )
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except ValidationError:
            cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
            cache.incr(key)
            raise
        cache.delete(key)
        return cleaned


class ThrottledAuthenticationForm(ThrottledMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledMixin, AdminAuthenticationForm):
    pass


login_view = LoginView.as_view(authentication_form=ThrottledAuthenticationForm)
api_login_view = LoginView.as_view(
    authentication_form=ThrottledAuthenticationForm, template_name="rest_framework/login.html"
)
