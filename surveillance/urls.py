from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from cameras import views as camera_views

urlpatterns = [
    path("", camera_views.dashboard, name="dashboard"),
    path("healthz", camera_views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("cameras/", include("cameras.urls")),
    path("events/", include("events.urls")),
]
