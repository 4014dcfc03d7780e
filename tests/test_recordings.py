"""Recordings from the capture worker over real H.264 and H.265 files: a clip per event with its
pre- and post-roll, continuous segments, spans made into one MP4, and the camera's own packets
kept as they came (checked with ffprobe, packet by packet)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from cameras.models import Camera
from cameras.sources.demux import FileSource
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from recordings import recorder as recorder_module
from recordings.exports import export_span
from recordings.models import Recording
from recordings.preroll import Item, PreRoll
from tests.cameras import (  # noqa: F401
    long_motion_video,
    mjpeg_camera,
    motion_video_h265,
    mpegts_camera,
    mpegts_camera_h265,
    needs_ffmpeg,
    rtsp_camera,
    rtsp_camera_h265,
)
from tests.conftest import client_for, logged_in_page, outside_the_browser_loop, session_cookie
from tests.processes import wait_until
from tests.videos import frames_in, packet_hashes, write_video

pytestmark = pytest.mark.django_db(transaction=True)


def ffprobe(path: Path, *entries: str) -> dict:
    if shutil.which("ffprobe") is None:
        pytest.skip("needs the ffmpeg package (apt install ffmpeg)")
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_entries", ":".join(entries), str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def stream_of(path: Path) -> dict:
    found = ffprobe(path, "stream=codec_name,profile,level,width,height,pix_fmt")
    return found["streams"][0]


def sample_entry(path: Path) -> str:
    """The MP4's name for how its video is coded: avc1, hvc1, hev1."""
    return ffprobe(path, "stream=codec_tag_string")["streams"][0]["codec_tag_string"]


def seconds_of(path: Path) -> float:
    return float(ffprobe(path, "format=duration")["format"]["duration"])


def run_worker(camera: Camera) -> CaptureWorker:
    """The worker's loop over the whole file, as fast as it decodes, then stopped."""
    worker = CaptureWorker(
        camera, Bus(), source_factory=lambda s, **_: FileSource(s, realtime=False, loop=False)
    )
    worker.run()
    return worker


def media(recording: Recording) -> Path:
    return Path(settings.MEDIA_ROOT) / recording.file.name


@pytest.fixture(scope="module")
def crossing_at_8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 s of H.264 with a keyframe every second; a box crosses from 8 to 10 s."""
    return write_video(tmp_path_factory.mktemp("videos") / "crossing.mp4", 16, moving=(8, 10))


@pytest.fixture
def yard(db: None, crossing_at_8: Path) -> Camera:
    return Camera.objects.create(slug="yard", name="Yard", source=str(crossing_at_8), end_after=1)


def test_an_events_clip_runs_from_the_keyframe_before_its_pre_roll_to_its_post_roll(
    yard: Camera, crossing_at_8: Path
) -> None:
    run_worker(yard)
    event = MotionEvent.objects.get()
    clip = event.clip
    epoch = event.started_at - dt.timedelta(seconds=8)  # the file's 0 s, as the worker stamped
    assert clip.kind == Recording.Kind.CLIP and clip.ended_at is not None
    assert (event.started_at - clip.started_at).total_seconds() >= yard.pre_roll
    assert (clip.started_at - epoch).total_seconds() == pytest.approx(3.0, abs=0.01)  # keyframe
    assert (clip.ended_at - event.ended_at).total_seconds() >= yard.post_roll - 0.1
    assert seconds_of(media(clip)) == pytest.approx(12.0, abs=0.2)  # 3 s to 15 s of the file
    assert event.to_dict()["clip_url"] == f"/events/{event.pk}/clip.mp4"


def test_a_clip_is_the_cameras_own_h264_packet_for_packet(
    yard: Camera, crossing_at_8: Path
) -> None:
    run_worker(yard)
    clip = media(MotionEvent.objects.get().clip)
    assert stream_of(clip) == stream_of(crossing_at_8)  # codec, profile, level, size, pixels
    source, copied = packet_hashes(crossing_at_8), packet_hashes(clip)
    start = source.index(copied[0])
    assert copied == source[start : start + len(copied)]  # not one frame re-encoded


def is_run_of(copied: list[str], source: list[str]) -> bool:
    """Whether the clip's packets are the source's, in order, from some packet on."""
    start = source.index(copied[0])
    return copied == source[start : start + len(copied)]


@pytest.fixture(scope="module")
def crossing_at_8_h265(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """crossing_at_8 as a camera that sends H.265 makes it (x265 is in PyAV's wheel)."""
    path = tmp_path_factory.mktemp("videos") / "crossing-h265.mp4"
    return write_video(path, 16, moving=(8, 10), codec="hevc")


@pytest.fixture
def h265_yard(db: None, crossing_at_8_h265: Path) -> Camera:
    return Camera.objects.create(
        slug="yard", name="Yard", source=str(crossing_at_8_h265), end_after=1
    )


def test_an_h265_cameras_clip_is_its_own_h265_packet_for_packet(
    h265_yard: Camera, crossing_at_8_h265: Path
) -> None:
    run_worker(h265_yard)
    recording = MotionEvent.objects.get().clip
    clip = media(recording)
    assert (recording.codec, recording.width, recording.height) == ("hevc", 320, 240)
    assert stream_of(clip) == stream_of(crossing_at_8_h265)  # hevc, Main, 320x240, yuv420p
    copied = packet_hashes(clip)
    assert is_run_of(copied, packet_hashes(crossing_at_8_h265))  # not one frame re-encoded
    assert frames_in(clip) == len(copied)
    assert seconds_of(clip) == pytest.approx(12.0, abs=0.2)  # 3 s to 15 s, as for H.264
    # Marked hvc1, as Safari wants H.265 in MP4: the clip, and a span of it made into one MP4
    # (the video of an event going on, a download from the timeline).
    span = export_span(h265_yard, recording.started_at, None)
    assert sample_entry(clip) == sample_entry(span) == "hvc1"


def test_recording_off_keeps_no_video(yard: Camera) -> None:
    yard.record = Camera.Record.OFF
    yard.save()
    worker = run_worker(yard)
    assert worker.video is None
    assert MotionEvent.objects.get().clip is None
    assert not Recording.objects.exists()


@pytest.fixture(scope="module")
def two_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """130 s of H.264; a box crosses at 55-62 s, across the first segment's end."""
    return write_video(tmp_path_factory.mktemp("videos") / "long.mp4", 130, moving=(55, 62))


def test_continuous_recording_cuts_segments_at_keyframes_and_marks_the_events(
    db: None, two_minutes: Path
) -> None:
    camera = Camera.objects.create(
        slug="drive", name="Drive", source=str(two_minutes), record="continuous", end_after=1
    )
    run_worker(camera)
    segments = list(Recording.objects.order_by("started_at"))
    assert [s.kind for s in segments] == [Recording.Kind.SEGMENT] * 3
    for before, after in itertools.pairwise(segments):
        gap = (after.started_at - before.ended_at).total_seconds()
        assert 0 < gap <= 0.1  # one frame apart: nothing lost between files
    assert sum(seconds_of(media(s)) for s in segments) == pytest.approx(130, abs=0.5)
    event = MotionEvent.objects.get()
    assert event.clip == segments[0]  # the segment it began in
    # Its video crosses into the second segment, and comes back as one MP4, packet for packet.
    span = export_span(
        camera, event.started_at - dt.timedelta(seconds=5), event.ended_at + dt.timedelta(seconds=5)
    )
    assert seconds_of(span) == pytest.approx(17, abs=1.1)  # 50-67 s, from the keyframe before
    source, exported = packet_hashes(two_minutes), packet_hashes(span)
    start = source.index(exported[0])
    assert exported == source[start : start + len(exported)]

    # The same from the shell: manage.py export, and a clear error for a span with no video.
    out = Path(settings.MEDIA_ROOT) / "exported.mp4"
    begin, end = (
        event.started_at - dt.timedelta(seconds=5),
        event.ended_at + dt.timedelta(seconds=5),
    )
    call_command(
        "export", "drive", begin.isoformat(), end.isoformat(), str(out), stdout=io.StringIO()
    )
    assert packet_hashes(out) == exported
    later = segments[-1].ended_at + dt.timedelta(hours=1)
    with pytest.raises(CommandError, match="recorded nothing"):
        call_command("export", "drive", later.isoformat(),
                     (later + dt.timedelta(minutes=1)).isoformat(), str(out))  # fmt: skip


def test_a_span_that_was_not_recorded_is_nothing(db: None, yard: Camera) -> None:
    now = dt.datetime.now(dt.UTC)
    assert export_span(yard, now - dt.timedelta(hours=2), now - dt.timedelta(hours=1)) is None


def item(at: float, keyframe: bool = False, size: int = 1000) -> Item:
    return Item(data=b"x" * size, at=at, keyframe=keyframe, size=size)


def test_the_pre_roll_holds_from_the_keyframe_before_it_and_no_more() -> None:
    preroll = PreRoll(seconds=5)
    for tenth in range(300):  # 30 s at 10 fps, a keyframe every 2 s
        preroll.add(item(tenth / 10, keyframe=tenth % 20 == 0))
    start = preroll.since(29.9 - 5)
    assert start[0].keyframe and start[0].at == 24.0  # the keyframe at or before 24.9 s
    assert preroll.groups[0].at == 24.0  # nothing older is held
    assert preroll.size == 60 * 1000


def test_a_stream_without_keyframes_for_long_is_held_within_its_memory_bound() -> None:
    preroll = PreRoll(seconds=5, max_bytes=50_000)
    preroll.add(item(0.0, keyframe=True))
    for tenth in range(1, 600):  # a minute without a keyframe
        preroll.add(item(tenth / 10))
    assert preroll.size <= 50_000
    assert preroll.since(55.0) == []  # no keyframe left to start a clip at: it waits for one
    preroll.add(item(60.0, keyframe=True))
    assert preroll.since(55.0)[0].at == 60.0


def test_a_camera_whose_keyframes_are_rare_records_from_the_next_one(
    db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Less memory than one keyframe: the pre-roll cannot hold a group, as with a camera that
    # sends no keyframe for longer than its memory lasts.
    monkeypatch.setattr(recorder_module, "PreRoll", lambda seconds, cap: PreRoll(seconds, 4_000))
    video = tmp_path / "rare.mp4"
    times = [i / 15 for i in range(30 * 15)]
    from tests.videos import write_vfr_video

    write_vfr_video(video, times, moving=(10, 14), gop=15 * 12)  # a keyframe every 12 s
    camera = Camera.objects.create(slug="rare", name="Rare", source=str(video), end_after=1)
    worker = run_worker(camera)
    assert worker.video.preroll.size <= 4_000
    event = MotionEvent.objects.get()  # detection never waited for the video
    epoch = event.started_at - dt.timedelta(seconds=10)
    clip = event.clip
    assert (clip.started_at - epoch).total_seconds() == pytest.approx(12.0, abs=0.01)
    assert stream_of(media(clip))["codec_name"] == "h264"


# -- serving: through the real web server, with HTTP ranges --


@pytest.fixture
def recorded(yard: Camera) -> MotionEvent:
    run_worker(yard)
    return MotionEvent.objects.get()


def get(url: str, cookie: bytes, **headers: str) -> httpx.Response:
    return httpx.get(url, headers={"Cookie": cookie.decode(), **headers}, timeout=10)


def test_a_clip_is_served_whole_and_in_ranges_to_who_may_see_it(
    live_server_url: str, recorded: MotionEvent, owner: object, member: object
) -> None:
    url = f"{live_server_url}/events/{recorded.pk}/clip.mp4"
    _, cookie = session_cookie(owner)
    whole = get(url, cookie)
    on_disk = media(recorded.clip).read_bytes()
    assert whole.status_code == 200 and whole.content == on_disk
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"] == f'inline; filename="event-{recorded.pk}.mp4"'
    middle = get(url, cookie, Range="bytes=1000-1999")
    assert middle.status_code == 206 and middle.content == on_disk[1000:2000]
    assert middle.headers["content-range"] == f"bytes 1000-1999/{len(on_disk)}"
    tail = get(url, cookie, Range="bytes=-100")
    assert tail.status_code == 206 and tail.content == on_disk[-100:]
    beyond = get(url, cookie, Range=f"bytes={len(on_disk) + 10}-")
    assert (
        beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(on_disk)}"
    )
    download = get(f"{url}?download=1", cookie)
    assert download.headers["content-disposition"].startswith("attachment;")

    _, theirs = session_cookie(member)  # may not view the yard
    assert get(url, theirs).status_code == 403
    assert httpx.get(url, timeout=10).status_code == 401  # an anonymous player: a challenge


def test_a_clip_deleted_by_hand_is_a_clear_404_page(
    live_server_url: str, recorded: MotionEvent, owner: object
) -> None:
    media(recorded.clip).unlink()
    _, cookie = session_cookie(owner)
    response = get(f"{live_server_url}/events/{recorded.pk}/clip.mp4", cookie)
    assert response.status_code == 404
    assert "Its video file is missing" in response.text
    page = get(f"{live_server_url}/events/{recorded.pk}/", cookie)
    assert page.status_code == 200


def test_a_player_reading_on_in_an_event_going_on_gets_the_file_it_began(
    live_server_url: str, recorded: MotionEvent, owner: object, crossing_at_8: Path
) -> None:
    MotionEvent.objects.filter(pk=recorded.pk).update(ended_at=None)  # still going on, its
    Recording.objects.filter(pk=recorded.clip_id).update(ended_at=None)  # clip being written
    url = f"{live_server_url}/events/{recorded.pk}/clip.mp4"
    _, cookie = session_cookie(owner)
    began = get(url, cookie, Range="bytes=0-").content  # a player's first request: the index
    shutil.copyfile(crossing_at_8, media(recorded.clip))  # the recording grew meanwhile
    grown = time.time() + 5
    os.utime(media(recorded.clip), (grown, grown))
    rest = get(url, cookie, Range="bytes=1000-")
    assert rest.status_code == 206 and rest.content == began[1000:]  # the same file, read on
    anew = get(url, cookie, Range="bytes=0-").content  # a new load: what is recorded now
    assert len(anew) > len(began)


def test_any_recorded_span_of_a_camera_is_one_mp4(
    live_server_url: str, recorded: MotionEvent, owner: object, member: object
) -> None:
    start = recorded.started_at - dt.timedelta(seconds=2)
    query = {"start": start.isoformat(), "end": (start + dt.timedelta(seconds=6)).isoformat()}
    url = f"{live_server_url}/cameras/yard/clip.mp4?{urlencode(query)}"
    _, cookie = session_cookie(owner)
    response = get(url, cookie)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert 'filename="yard-' in response.headers["content-disposition"]
    path = Path(settings.MEDIA_ROOT) / "served.mp4"
    path.write_bytes(response.content)
    assert seconds_of(path) == pytest.approx(6, abs=1.1)  # from the keyframe before the start
    too_long = {"start": start.isoformat(), "end": (start + dt.timedelta(hours=2)).isoformat()}
    refused = get(f"{live_server_url}/cameras/yard/clip.mp4?{urlencode(too_long)}", cookie)
    assert refused.status_code == 400 and "at most 60 minutes" in refused.text
    _, theirs = session_cookie(member)
    assert get(url, theirs).status_code == 403


@pytest.mark.e2e
def test_chromium_plays_the_clip_on_the_event_page_and_seeks_in_it(
    live_server_url: str, recorded: MotionEvent, owner: object, browser: object
) -> None:
    page = logged_in_page(browser, live_server_url, "owner")
    page.goto(f"/events/{recorded.pk}/")
    video = page.locator("#video video")
    page.wait_for_function("v => v.readyState >= 1", arg=video.element_handle(), timeout=10_000)
    duration = video.evaluate("v => v.duration")
    assert duration == pytest.approx(12.0, abs=0.3)
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.currentTime > 0.5", arg=video.element_handle(), timeout=10_000)
    video.evaluate("v => { v.pause(); v.currentTime = v.duration / 2; }")
    page.wait_for_function(
        "v => !v.seeking && v.readyState >= 2", arg=video.element_handle(), timeout=10_000
    )
    assert video.evaluate("v => v.currentTime") == pytest.approx(duration / 2, abs=0.5)
    assert page.locator("a[download]").get_attribute("href").endswith("clip.mp4?download=1")
    list_page = page.goto("/events/")
    assert list_page.ok
    assert page.locator(f"a[href='/events/{recorded.pk}/clip.mp4?download=1']").count() == 1
    page.close()


@pytest.fixture
def recorded_h265(h265_yard: Camera) -> MotionEvent:
    run_worker(h265_yard)
    return MotionEvent.objects.select_related("clip").get()


@pytest.mark.e2e
def test_a_browser_that_cannot_play_h265_says_so_and_offers_the_download(
    live_server_url: str, recorded_h265: MotionEvent, owner: object, browser: object
) -> None:
    event = recorded_h265
    page = logged_in_page(browser, live_server_url, "owner")
    hevc = 'video/mp4; codecs="hvc1.1.6.L93.B0"'
    if page.evaluate("t => document.createElement('video').canPlayType(t)", hevc):
        pytest.skip("this Chromium decodes H.265 (with hardware): it plays the clip")
    page.goto(f"/events/{event.pk}/")
    notice = page.locator("#video .video-unsupported")
    notice.wait_for(state="visible", timeout=10_000)
    assert "This browser cannot play HEVC video" in notice.inner_text()
    assert not page.locator("#video video").is_visible()  # no black box that never plays
    with page.expect_download() as download:
        page.locator("#video a[download]").click()
    assert Path(download.value.path()).read_bytes() == media(event.clip).read_bytes()
    page.close()


@pytest.fixture(scope="module")
def moving_all_along(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s of H.264 with a box crossing all along: looped by a file camera, an event that goes
    on (until its maximum length, 5 minutes)."""
    return write_video(tmp_path_factory.mktemp("videos") / "moving.mp4", 10, moving=(0, 10))


@pytest.fixture
def going_on(moving_all_along: Path, start_worker: Callable) -> MotionEvent:
    """An event going on, its clip being written by a real capture worker."""
    Camera.objects.create(slug="street", name="Street", source=str(moving_all_along),
                          pre_roll=1, end_after=5)  # fmt: skip
    start_worker("street")

    def playable() -> MotionEvent | None:
        event = MotionEvent.objects.filter(ended_at__isnull=True, clip__isnull=False).first()
        on_disk = event and media(event.clip).is_file() and media(event.clip).stat().st_size
        return event if on_disk and on_disk > 5_000 else None  # a fragment, not just a header

    return wait_until(playable, 30, "an event going on, with video on disk")


@pytest.mark.e2e
def test_the_page_of_an_event_going_on_says_so_and_plays_what_is_recorded_so_far(
    live_server_url: str, going_on: MotionEvent, owner: object, browser: object
) -> None:
    page = logged_in_page(browser, live_server_url, "owner")
    page.goto(f"/events/{going_on.pk}/")
    assert "Still going on" in page.locator("#video [data-ongoing-note]").inner_text()
    video = page.locator("#video video").element_handle()
    page.wait_for_function("v => v.readyState >= 1", arg=video, timeout=20_000)  # once it can
    first = video.evaluate(
        "v => { v.errors = 0; v.addEventListener('error', () => v.errors++);"
        " v.muted = true; v.play(); return v.duration; }"
    )
    # It plays past what was on disk when it first loaded: the page fetched the rest since.
    page.wait_for_function(f"v => v.currentTime > {first} + 3", arg=video, timeout=30_000)
    assert video.evaluate("v => v.errors") == 0  # not once a file it could not decode
    now = outside_the_browser_loop(lambda: MotionEvent.objects.get(pk=going_on.pk))
    assert now.ended_at is None
    page.close()


@pytest.mark.e2e
def test_a_worker_killed_mid_clip_leaves_a_clip_that_plays_to_the_kill(
    front_door: Camera, start_worker: Callable, child_env: dict
) -> None:
    front_door.post_roll = 30  # the clip is still being written when the worker dies
    front_door.save()
    worker = start_worker("front-door")

    def growing() -> Recording | None:
        clip = Recording.objects.filter(ended_at__isnull=True).first()
        if clip is None or not media(clip).is_file() or media(clip).stat().st_size < 5_000:
            return None
        return clip if time.time() - clip.started_at.timestamp() > 4 else None

    clip = wait_until(growing, 30, "a clip on disk that is still being written")
    worker.kill()  # SIGKILL: no chance to close the file
    killed_at = time.time()
    worker.wait()
    assert MotionEvent.objects.order_by("pk").first().clip == clip  # the row points at it
    shown = frames_in(media(clip))  # and it plays, up to the last second before the kill
    assert shown >= 15 * (killed_at - clip.started_at.timestamp() - 1.5)

    restarted = start_worker("front-door")
    wait_until(lambda: Recording.objects.get(pk=clip.pk).ended_at, 30, "the clip to be finished")
    clip.refresh_from_db()
    assert clip.size == media(clip).stat().st_size
    assert seconds_of(media(clip)) == pytest.approx(
        (clip.ended_at - clip.started_at).total_seconds(), abs=0.3
    )
    restarted.terminate()


# -- real cameras on 127.0.0.1 --


def record_one_event(camera: Camera, seconds: float = 40) -> MotionEvent:
    """Step a worker (with a real Redis behind its bus) until an event's clip is finished."""
    bus = Bus()
    bus.start()
    worker = CaptureWorker(camera, bus)
    # An event with the whole of its pre-roll behind it: not one the moment the camera is open.
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=camera.pre_roll + 1)

    def clip_finished() -> bool:
        worker.step()
        event = MotionEvent.objects.filter(
            ended_at__isnull=False, clip__isnull=False, started_at__gt=after
        ).first()
        return bool(event and Recording.objects.get(pk=event.clip_id).ended_at)

    try:
        wait_until(clip_finished, seconds, f"a finished clip from {camera.source}")
    finally:
        worker.shutdown()
        bus.stop()
    return MotionEvent.objects.filter(clip__isnull=False, started_at__gt=after).first()


@pytest.mark.parametrize("served", ["rtsp_camera", "mpegts_camera"])
def test_an_h264_network_cameras_clip_is_its_own_h264(
    served: str, redis_server: str, long_motion_video: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(served)
    camera = Camera.objects.create(
        slug="gate", name="Gate", source=url, end_after=1, pre_roll=1, post_roll=1
    )
    event = record_one_event(camera)
    clip = media(event.clip)
    assert stream_of(clip) == stream_of(long_motion_video)
    source, copied = packet_hashes(long_motion_video), packet_hashes(clip)
    start = source.index(copied[0])
    assert copied == source[start : start + len(copied)]
    assert frames_in(clip) == len(copied)


@pytest.mark.parametrize("served", ["rtsp_camera_h265", "mpegts_camera_h265"])
def test_an_h265_network_cameras_clip_is_its_own_h265(
    served: str, redis_server: str, motion_video_h265: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(served)
    camera = Camera.objects.create(
        slug="gate", name="Gate", source=url, end_after=1, pre_roll=1, post_roll=1
    )
    event = record_one_event(camera, seconds=30)
    clip = media(event.clip)
    assert event.clip.codec == "hevc"
    assert stream_of(clip) == stream_of(motion_video_h265)
    copied = packet_hashes(clip)
    assert is_run_of(copied, packet_hashes(motion_video_h265))
    assert frames_in(clip) == len(copied)
    assert sample_entry(clip) == "hvc1"  # its parameter sets in band as well, as they came


def test_an_mjpeg_cameras_clip_is_encoded_to_h264_once(
    mjpeg_camera: str, redis_server: str
) -> None:
    camera = Camera.objects.create(
        slug="porch", name="Porch", source=mjpeg_camera, end_after=1, pre_roll=2, post_roll=2
    )
    event = record_one_event(camera)
    clip = media(event.clip)
    stream = stream_of(clip)
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    length = (event.clip.ended_at - event.clip.started_at).total_seconds()
    assert seconds_of(clip) == pytest.approx(length, abs=0.3)
    assert frames_in(clip) == pytest.approx(15 * length, rel=0.15)  # every JPEG the camera sent
    assert (event.started_at - event.clip.started_at).total_seconds() >= 1.9  # its pre-roll


# -- bad input --


def as_mpegts(video: Path, out: Path) -> Path:
    """The same H.264 in an MPEG-TS file: what a camera streams, parameter sets in band."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-c", "copy", "-f", "mpegts", str(out)],
        check=True,
    )  # fmt: skip
    return out


def test_a_camera_that_changes_resolution_mid_event_gets_a_clean_new_clip(
    db: None, tmp_path: Path
) -> None:
    needs_ffmpeg()
    small = write_video(tmp_path / "small.mp4", 6, moving=(3, 6))
    large = write_video(tmp_path / "large.mp4", 6, moving=(0, 3), size=(640, 480))
    both = tmp_path / "both.ts"
    both.write_bytes(
        as_mpegts(small, tmp_path / "a.ts").read_bytes()
        + as_mpegts(large, tmp_path / "b.ts").read_bytes()
    )
    camera = Camera.objects.create(slug="cut", name="Cut", source=str(both), end_after=1)
    run_worker(camera)
    first, second = Recording.objects.order_by("started_at")
    assert MotionEvent.objects.filter(clip=first).exists()
    assert (stream_of(media(first))["width"], stream_of(media(second))["width"]) == (320, 640)
    assert frames_in(media(first)) > 0 and frames_in(media(second)) > 0
    assert (second.started_at - first.ended_at).total_seconds() < 0.2  # cut, not a gap


def test_damaged_packets_cost_frames_not_the_recording_or_detection(
    db: None, tmp_path: Path, crossing_at_8: Path
) -> None:
    needs_ffmpeg()
    damaged = as_mpegts(crossing_at_8, tmp_path / "damaged.ts")
    data = bytearray(damaged.read_bytes())
    for at in range(len(data) // 3, len(data) // 3 + 60_000, 997):  # here and there, a byte off
        data[at] ^= 0xFF
    damaged.write_bytes(bytes(data))
    camera = Camera.objects.create(slug="bad", name="Bad", source=str(damaged), end_after=1)
    worker = run_worker(camera)  # FFmpeg conceals the damage in the pictures it decodes
    event = MotionEvent.objects.get()
    assert event.clip is not None and frames_in(media(event.clip)) > 100
    copied, source = packet_hashes(media(event.clip)), set(packet_hashes(crossing_at_8))
    damaged_packets = [h for h in copied if h not in source]
    assert 0 < len(damaged_packets) < len(copied) / 2  # copied as they came, damage and all
    assert worker.source is None  # the worker played the file to its end


# -- the camera page's timeline of continuous recording --


@pytest.fixture
def driveway(db: None, two_minutes: Path) -> Camera:
    camera = Camera.objects.create(
        slug="drive", name="Drive", source=str(two_minutes), record="continuous", end_after=1
    )
    run_worker(camera)
    return camera


def test_the_camera_page_draws_its_day_of_recordings_and_events(
    driveway: Camera, owner: object
) -> None:
    page = client_for(owner).get("/cameras/drive/").content.decode()
    assert page.count('class="recorded"') == 1  # three segments, no gap: one span
    assert page.count('class="event-mark"') == 1
    assert 'action="/cameras/drive/clip.mp4"' in page  # the download form
    yesterday = client_for(owner).get("/cameras/drive/?day=2020-01-01").content.decode()
    assert "Nothing was recorded this day." in yesterday


@pytest.mark.e2e
def test_a_click_on_the_timeline_plays_from_that_moment(
    live_server_url: str, driveway: Camera, owner: object, browser: object
) -> None:
    segment = outside_the_browser_loop(lambda: Recording.objects.order_by("started_at").first())
    page = logged_in_page(
        browser, live_server_url, "owner", viewport={"width": 1400, "height": 900}
    )
    page.goto("/cameras/drive/", wait_until="domcontentloaded")
    day = page.locator(".timeline-day")
    box = day.bounding_box()
    midnight = dt.datetime.fromisoformat(day.locator("xpath=..").get_attribute("data-day-start"))
    at = (segment.started_at - midnight).total_seconds() + 30
    page.mouse.click(box["x"] + box["width"] * at / 86400 + 1, box["y"] + box["height"] / 2)
    player = page.locator(".timeline-player")
    page.wait_for_function("v => v.readyState >= 2", arg=player.element_handle(), timeout=15_000)
    player.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.currentTime > 0.3", arg=player.element_handle(), timeout=10_000)
    assert "start=" in player.get_attribute("src")
    page.close()


def test_a_span_asked_for_again_is_made_again_only_when_its_video_grew_and_in_place(
    yard: Camera,
) -> None:
    run_worker(yard)
    clip = MotionEvent.objects.get().clip
    first = export_span(yard, clip.started_at, None)  # "what is recorded so far"
    made, exports = first.stat().st_mtime_ns, set(first.parent.iterdir())
    assert export_span(yard, clip.started_at, None) == first
    assert first.stat().st_mtime_ns == made  # not made again
    grown = time.time() + 5
    os.utime(media(clip), (grown, grown))  # the clip grew since (a recording going on)
    assert export_span(yard, clip.started_at, None) == first
    assert first.stat().st_mtime_ns != made
    assert set(first.parent.iterdir()) == exports  # the same file, made again, none beside it
