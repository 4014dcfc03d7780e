"""Camera passwords in a field of their own: moved out of the source URLs they were typed into.

Credentials in a query string (?user=admin&pwd=…) stay in the source: which parameter is the
password only the camera knows. The source is shown with its query masked whole everywhere,
and the admin refuses lookups on it.
"""

from urllib.parse import quote, unquote, urlsplit, urlunsplit

from django.db import migrations, models

NETWORK_SCHEMES = {"rtsp", "rtsps", "http", "https"}
USERINFO_SAFE = "-._~!$&'()*+,;="  # what may stand unencoded in user:password


def host_and_port(parts):
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def split(source):
    try:
        parts = urlsplit(source)
        if parts.scheme.lower() not in NETWORK_SCHEMES or parts.password is None:
            return source, None
        user = f"{parts.username}@" if parts.username else ""
        bare = urlunsplit(parts._replace(netloc=user + host_and_port(parts)))
        return bare, unquote(parts.password)
    except ValueError:
        return source, None


def join(source, password):
    parts = urlsplit(source)
    user = parts.username or ""
    netloc = f"{user}:{quote(password, safe=USERINFO_SAFE)}@{host_and_port(parts)}"
    return urlunsplit(parts._replace(netloc=netloc))


def move_passwords_out(apps, schema_editor):
    Camera = apps.get_model("cameras", "Camera")
    for camera in Camera.objects.all():
        source, password = split(camera.source)
        if password is not None:
            camera.source, camera.password = source, password
            camera.save(update_fields=["source", "password"])


def put_passwords_back(apps, schema_editor):
    Camera = apps.get_model("cameras", "Camera")
    for camera in Camera.objects.exclude(password=""):
        camera.source = join(camera.source, camera.password)
        camera.save(update_fields=["source"])


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0007_camera_streams"),
    ]

    operations = [
        migrations.AddField(
            model_name="camera",
            name="password",
            field=models.CharField(
                blank=True,
                help_text="The camera's password, if its URL needs one. Never shown once saved.",
                max_length=200,
            ),
        ),
        migrations.RunPython(move_passwords_out, put_passwords_back),
    ]
