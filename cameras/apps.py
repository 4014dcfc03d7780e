from django.apps import AppConfig


class CamerasConfig(AppConfig):
    name = "cameras"

    def ready(self) -> None:
        from cameras import checks  # noqa: F401  (registers the system checks)
