from __future__ import annotations

from django.urls import path

from events import views

urlpatterns = [
    path("", views.event_list, name="event-list"),
    path("<int:pk>/", views.event_detail, name="event-detail"),
    path("<int:pk>/snapshot.jpg", views.snapshot, name="event-snapshot"),
    path("<int:pk>/clip.mp4", views.clip, name="event-clip"),
]
