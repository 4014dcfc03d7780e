from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "capture"

    def ready(self) -> None:
        from capture import checks  # noqa: F401  (registers the system checks)
