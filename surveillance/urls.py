from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cameras import views as camera_views

urlpatterns = [
    path("", camera_views.dashboard, name="dashboard"),
    path("healthz", camera_views.healthz, name="healthz"),
    # Only these two: password reset by e-mail would be an open, unauthenticated endpoint.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("cameras/", include("cameras.urls")),
    path("events/", include("events.urls")),
]
