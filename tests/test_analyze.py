"""`manage.py analyze`: the worker's detection and event rules over a file, at decoding speed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import pytest
from django.core.management import CommandError, call_command

from cameras.models import Camera
from tests.videos import write_sprite_video, write_vfr_video, write_video


def analyze(*args: str) -> str:
    out = io.StringIO()
    call_command("analyze", *args, stdout=out)
    return out.getvalue()


def test_json_lists_the_motion_with_its_times(motion_video: Path) -> None:
    [event] = json.loads(analyze(str(motion_video), "--json"))
    # The box crosses from 2 s to 4 s of the 8 s file.
    assert set(event) == {"start", "end", "area"}
    assert event["start"] == pytest.approx(2.0, abs=0.5)
    assert event["end"] == pytest.approx(4.0, abs=0.5)
    assert 0.02 < event["area"] < 0.2


def test_a_variable_frame_rate_file_gives_the_events_at_its_own_times(tmp_path: Path) -> None:
    # 1 frame a second for 10 s, then 15 a second; the box crosses at 11-13 s. Timed by index
    # and the rate the file reports (5.6 fps), the crossing would come out at about 4 s.
    times = [float(t) for t in range(10)] + [10 + i / 15 for i in range(90)]
    video = write_vfr_video(tmp_path / "phone.mp4", times, moving=(11, 13))
    [event] = json.loads(analyze(str(video), "--json"))
    assert event["start"] == pytest.approx(11.0, abs=0.3)
    assert event["end"] == pytest.approx(13.0, abs=0.5)


def test_still_video_has_no_events(still_video: Path) -> None:
    assert json.loads(analyze(str(still_video), "--json")) == []


def test_text_output_counts_the_events_and_shows_each(tmp_path: Path) -> None:
    video = write_video(tmp_path / "late.mp4", 12, moving=(6, 9))
    lines = analyze(str(video)).splitlines()
    assert lines[0] == "1 motion event(s)"
    number, start, _, _, end, *_ = lines[1].split()
    assert number == "1"
    assert float(start) == pytest.approx(6.0, abs=0.5)
    assert float(end) == pytest.approx(9.0, abs=0.5)
    assert "peak area" in lines[1]


def test_camera_settings_are_used(db: None, motion_video: Path) -> None:
    Camera.objects.create(slug="blind", name="Blind", source="demo", min_area=50)
    assert json.loads(analyze(str(motion_video), "--camera", "blind", "--json")) == []


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    with pytest.raises(CommandError, match="cannot open"):
        analyze(str(garbage))
    with pytest.raises(CommandError, match="video file not found"):
        analyze(str(tmp_path / "missing.mp4"))


def test_unknown_camera_is_a_clear_error(db: None, motion_video: Path) -> None:
    with pytest.raises(CommandError, match="no camera 'nope'"):
        analyze(str(motion_video), "--camera", "nope")


def test_objects_lists_the_person_in_an_event_and_nothing_for_a_cup(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data"
    person = cv2.resize(cv2.imread(str(data / "camera.jpg")), (220, 220))
    cup = cv2.resize(cv2.imread(str(data / "coffee.jpg")), (300, 200))
    walking = write_sprite_video(tmp_path / "person.mp4", person, 7, (2, 5))
    crossing = write_sprite_video(tmp_path / "cup.mp4", cup, 7, (2, 5))

    [event] = json.loads(analyze(str(walking), "--objects", "--json"))
    assert set(event) == {"start", "end", "area", "objects"}
    assert set(event["objects"]) == {"person"} and event["objects"]["person"] > 0.8
    [event] = json.loads(analyze(str(crossing), "--objects", "--json"))
    assert event["objects"] == {}
    assert "person" in analyze(str(walking), "--objects")  # the table names it too


def test_objects_with_two_workers_on_a_file_too_short_to_cut_find_the_same(tmp_path: Path) -> None:
    person = cv2.resize(cv2.imread(str(Path(__file__).parent / "data" / "camera.jpg")), (220, 220))
    walking = write_sprite_video(tmp_path / "person.mp4", person, 7, (2, 5))
    [alone] = json.loads(analyze(str(walking), "--objects", "--json"))
    [pooled] = json.loads(analyze(str(walking), "--objects", "--workers", "2", "--json"))
    assert pooled == alone and set(pooled["objects"]) == {"person"}
    with pytest.raises(CommandError, match="--workers"):
        analyze(str(walking), "--objects", "--workers", "0")
