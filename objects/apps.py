from django.apps import AppConfig


class ObjectsConfig(AppConfig):
    name = "objects"

    def ready(self) -> None:
        from objects import checks  # noqa: F401  (registers the system checks)
