from __future__ import annotations

from django.urls import path

from notifications import views

urlpatterns = [
    path("", views.preferences, name="notifications"),
    path("push/key", views.push_key, name="push-key"),
    path("push/subscribe", views.push_subscribe, name="push-subscribe"),
    path("push/unsubscribe", views.push_unsubscribe, name="push-unsubscribe"),
]
