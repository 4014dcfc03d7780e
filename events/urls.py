from __future__ import annotations

from django.urls import path

from events import views

urlpatterns = [
    path("<int:pk>/snapshot.jpg", views.snapshot, name="event-snapshot"),
]
