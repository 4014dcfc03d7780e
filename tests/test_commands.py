"""The small management commands, called in-process: addcamera, bootstrap, capture."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from cameras.models import Camera


def run(*args: str, **options: object) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_addcamera_registers_a_camera_named_after_its_slug(db: None) -> None:
    output = run("addcamera", "front-door", "demo")

    camera = Camera.objects.get()
    assert (camera.slug, camera.name, camera.source, camera.enabled) == (
        "front-door", "Front door", "demo", True,
    )  # fmt: skip
    assert "Added camera front-door" in output


def test_addcamera_updates_the_camera_with_the_same_slug(db: None) -> None:
    run("addcamera", "garage", "demo", "--name", "Garage door")

    output = run("addcamera", "garage", "rtsp://127.0.0.1:8554/garage")

    camera = Camera.objects.get()
    assert camera.source == "rtsp://127.0.0.1:8554/garage"
    assert camera.name == "Garage door"  # kept when --name is not given again
    assert "Updated camera garage" in output


def test_addcamera_name_option_sets_the_display_name(db: None) -> None:
    run("addcamera", "cam-1", "demo", "--name", "Back porch")
    assert Camera.objects.get().name == "Back porch"


def test_addcamera_disabled_option_registers_without_capturing(db: None) -> None:
    run("addcamera", "cam-1", "demo", "--disabled")
    assert Camera.objects.get().enabled is False
    assert not Camera.objects.enabled().exists()


def test_addcamera_viewer_may_see_the_camera_and_others_may_not(
    member: User, stranger: User
) -> None:
    run("addcamera", "garden", "demo", "--viewer", "member")

    camera = Camera.objects.get()
    assert list(camera.viewers.all()) == [member]
    assert list(Camera.objects.visible_to(member)) == [camera]
    assert not Camera.objects.visible_to(stranger).exists()


def test_addcamera_with_unknown_viewer_names_the_user_and_adds_nothing(member: User) -> None:
    with pytest.raises(CommandError, match="no such user: ghost"):
        run("addcamera", "garden", "demo", "--viewer", "member", "--viewer", "ghost")
    assert not Camera.objects.exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("rtsp://", "needs a host"),
        ("usb:x", "usb:N takes a device number"),
        ("; rm -rf /", "characters that are not allowed"),
        ("/dev/sda", "/dev/videoN"),
    ],
)
def test_addcamera_rejects_a_bad_source_and_adds_nothing(
    db: None, source: str, message: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)) as error:
        run("addcamera", "cam-1", source)
    assert str(error.value).startswith("source: ")
    assert not Camera.objects.exists()


def test_addcamera_output_masks_the_password_in_the_source(db: None) -> None:
    output = run("addcamera", "door", "rtsp://user:secret@127.0.0.1/x")

    assert "rtsp://user:***@127.0.0.1/x" in output
    assert "secret" not in output
    camera = Camera.objects.get()
    assert (camera.source, camera.password) == ("rtsp://user@127.0.0.1/x", "secret")


def generated_password(output: str) -> str | None:
    # The token alone: a terminal may wrap the line in colour codes.
    found = re.search(r"admin / ([A-Za-z0-9_-]+)", output)
    return found and found.group(1)


def test_bootstrap_registers_two_demo_cameras_only_when_there_are_none(db: None) -> None:
    run("bootstrap")
    cameras = list(Camera.objects.order_by("slug").values_list("slug", "source"))
    assert cameras == [("back-yard", "demo:back-yard"), ("front-yard", "demo:front-yard")]

    output = run("bootstrap")

    assert Camera.objects.count() == 2
    assert "demo cameras" not in output


def test_bootstrap_adds_no_demo_camera_next_to_a_real_one(db: None) -> None:
    run("addcamera", "door", "rtsp://127.0.0.1/door")
    run("bootstrap")
    assert list(Camera.objects.values_list("slug", flat=True)) == ["door"]


def test_bootstrap_creates_an_admin_once_and_prints_its_password_once(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SURVEILLANCE_ADMIN_PASSWORD", raising=False)

    password = generated_password(run("bootstrap"))
    second = run("bootstrap")

    admin = User.objects.get(username="admin")
    assert password and admin.check_password(password)
    assert admin.is_superuser and admin.is_staff
    assert generated_password(second) is None
    assert password not in second
    assert User.objects.filter(username="admin").count() == 1


def test_bootstrap_uses_the_admin_password_from_the_environment_and_prints_none(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEILLANCE_ADMIN_PASSWORD", "chosen by the owner")

    output = run("bootstrap")

    assert User.objects.get(username="admin").check_password("chosen by the owner")
    assert "chosen by the owner" not in output
    assert generated_password(output) is None


def test_bootstrap_sets_an_existing_admins_password_from_the_environment(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SURVEILLANCE_ADMIN_PASSWORD", raising=False)
    run("bootstrap")
    monkeypatch.setenv("SURVEILLANCE_ADMIN_PASSWORD", "a new one for the owner")

    output = run("bootstrap")

    assert User.objects.get(username="admin").check_password("a new one for the owner")
    assert "a new one for the owner" not in output


def test_capture_of_an_unknown_camera_says_how_to_add_one(db: None) -> None:
    with pytest.raises(CommandError, match="addcamera") as error:
        run("capture", "no-such-camera")
    assert "no-such-camera" in str(error.value)


def test_addcamera_takes_a_sub_stream_and_its_password_goes_with_the_cameras(db: None) -> None:
    out = StringIO()
    call_command(
        "addcamera", "gate", "rtsp://admin:s3cret@192.0.2.4/main",
        "--detect-source", "rtsp://admin:s3cret@192.0.2.4/sub", stdout=out,
    )  # fmt: skip
    camera = Camera.objects.get(slug="gate")
    assert camera.detect_source == "rtsp://admin@192.0.2.4/sub"
    assert camera.password == "s3cret" and "s3cret" not in out.getvalue()
    with pytest.raises(CommandError, match="FFmpeg protocol"):
        call_command("addcamera", "gate", "rtsp://192.0.2.4/main", "--detect-source", "pipe:0")


def test_a_sub_stream_with_a_password_of_its_own_is_refused_not_dropped(db: None) -> None:
    with pytest.raises(CommandError, match="one password"):
        call_command(
            "addcamera", "yard", "rtsp://admin:s3cret@192.0.2.5/main",
            "--detect-source", "rtsp://admin:other@192.0.2.5/sub",
        )  # fmt: skip
    assert not Camera.objects.filter(slug="yard").exists()
    call_command("addcamera", "yard", "rtsp://192.0.2.5/main",
                 "--detect-source", "rtsp://admin:only-sub@192.0.2.5/sub")  # fmt: skip
    assert Camera.objects.get(slug="yard").password == "only-sub"  # the camera's one password


def test_addcamera_sets_what_is_recorded(db: None) -> None:
    call_command("addcamera", "drive", "demo", "--record", "continuous", stdout=StringIO())
    call_command("addcamera", "porch", "demo", stdout=StringIO())
    assert Camera.objects.get(slug="drive").record == Camera.Record.CONTINUOUS
    assert Camera.objects.get(slug="porch").record == Camera.Record.EVENTS  # the default
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("addcamera", "yard", "demo", "--record", "always")
