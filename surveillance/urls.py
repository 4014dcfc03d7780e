from __future__ import annotations

from django.apps import apps
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import views as dashboard_views
from notifications import views as notification_views
from recordings import views as recording_views
from surveillance.views import healthz

urlpatterns = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("healthz", healthz, name="healthz"),
    # Only these two: password reset by e-mail would be an open, unauthenticated endpoint.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("cameras/<slug:slug>/", dashboard_views.camera, name="camera-detail"),
    path("cameras/<slug:slug>/clip.mp4", recording_views.span, name="camera-clip"),
    path("cameras/", include("cameras.urls")),
    path("cameras/<slug:slug>/armed", dashboard_views.camera_armed, name="camera-armed"),
    path("events/", include("events.urls")),
    path("notifications/", include("notifications.urls")),
    # at the root: a service worker's scope is the folder it is served from
    path("sw.js", notification_views.service_worker, name="service-worker"),
    path("manifest.webmanifest", notification_views.manifest, name="manifest"),
]

# The admin and the API exist in the web process only: a back-office process (a capture worker)
# reverses the names above for its messages, and loads neither (settings.PROCESS).
if apps.is_installed("django.contrib.admin"):
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
if apps.is_installed("api"):
    from api.api import api
    from api.api import home as api_home

    urlpatterns += [path("api/", api_home, name="api-home"), path("api/", api.urls)]
