from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API (/api/): cameras and events as the pages and sockets see them."""

    name = "api"
