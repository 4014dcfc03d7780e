from __future__ import annotations

from django.urls import path

from cameras import views

urlpatterns = [
    path("<slug:slug>/stream.mjpg", views.stream, name="camera-stream"),
    path("<slug:slug>/snapshot.jpg", views.snapshot, name="camera-snapshot"),
    path("<slug:slug>/live.mp4", views.live_mp4, name="camera-live"),
]
