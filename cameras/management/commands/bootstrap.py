from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from cameras.models import Camera

DEMO_CAMERAS = [("front-yard", "Front yard"), ("back-yard", "Back yard")]


class Command(BaseCommand):
    help = "First-run setup: two demo cameras when there are none, and an admin account."

    def handle(self, **options: object) -> None:
        if not Camera.objects.exists():
            for slug, name in DEMO_CAMERAS:
                Camera.objects.create(slug=slug, name=name, source=f"demo:{slug}")
            self.stdout.write("Registered two demo cameras.")
        self.ensure_admin(os.environ.get("SURVEILLANCE_ADMIN_PASSWORD", ""))

    def ensure_admin(self, password: str) -> None:
        users = get_user_model().objects
        admin = users.filter(username="admin").first()
        if admin is None:
            shown = password or secrets.token_urlsafe(12)
            users.create_superuser("admin", email="", password=shown)
            if not password:
                self.stdout.write(self.style.WARNING(
                    f"Admin login (shown once, keep it): admin / {shown}"
                ))  # fmt: skip
        elif password:
            admin.set_password(password)
            admin.save(update_fields=["password"])
