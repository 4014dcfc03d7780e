"""Imported by the fork server, once, before it forks (capture/forkserver.py): everything the
capture workers and the notifier need, loaded here, is shared by all of them."""

from __future__ import annotations

import gc
import os


def preload() -> None:
    """What the fork server runs once, before it forks anything."""
    os.environ["SURVEILLANCE_PROCESS"] = "back"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveillance.settings")
    try:
        import django

        django.setup()
        import channels_redis.core  # noqa: F401 (the Bus's layer, with Redis and msgpack)
        import cv2
        from django.core.management import get_commands, load_command_class
        from django.urls import reverse

        from cameras.sources.demo import sensor_noise

        # the worker, the sources, PyAV, NumPy; MQTT…; the detector's code (not its model)
        for command in ("capture", "notifier", "detector"):
            load_command_class(get_commands()[command], command)
        reverse("login")  # the URL map, which a worker's status messages name pages from
        sensor_noise()
    except ImportError as exc:  # multiprocessing would swallow it, and workers start bare
        raise RuntimeError(f"the workers' fork server cannot import what they need: {exc}") from exc
    cv2.setNumThreads(1)  # one camera's loop: OpenCV's pool costs more in wake-ups than it saves
    gc.collect()
    gc.freeze()  # a collection would touch, and so copy into every worker, every frozen object


preload()
