#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that serve no HTTP load the models without Daphne, the admin and the API
# (settings.PROCESS): the supervisor, a capture worker, the notifier, the object detector,
# retention.
BACK_OFFICE = {"runsurveillance", "capture", "notifier", "detector", "prune", "processes"}

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveillance.settings")
    if sys.argv[1:2] and sys.argv[1] in BACK_OFFICE:
        os.environ.setdefault("SURVEILLANCE_PROCESS", "back")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
