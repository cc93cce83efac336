from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from webapp import auth, pages

# The admin's sign-in counts failures like the app's (webapp/auth.py).
admin.site.login_form = auth.ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", pages.home, name="home"),
    path("healthz", pages.health, name="health"),
    path("accounts/login/", auth.login_view, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("labeling.urls")),
    path("api/", include("training.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its settings as a script file: no inline script, so the CSP holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/login/", auth.api_login_view, name="api-login"),
    path("api-auth/", include("rest_framework.urls")),
]

handler400 = "webapp.pages.bad_request"
handler404 = "webapp.pages.not_found"
handler500 = "webapp.pages.server_error"
