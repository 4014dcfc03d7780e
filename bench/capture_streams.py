"""The streams bench/capture_cost.py measures, the camera serving each one, and the command lines
of the two consumers that are not ours (the ffmpeg decode floor and the `motion` daemon); and a
camera serving a file over HTTP MPEG-TS (MpegTs), the sub-stream of bench/two_streams.py."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests import rtsp_server
from tests.harness import REPO, free_port, stop_process

STREAMS_DIR = REPO / "bench" / "out" / "streams"


@dataclass
class Stream:
    name: str
    size: tuple[int, int]
    transport: str  # file, rtsp or http


STREAMS = [
    Stream("H.264 640x480 file", (640, 480), "file"),
    Stream("H.264 640x480 RTSP", (640, 480), "rtsp"),
    Stream("H.264 1920x1080 file", (1920, 1080), "file"),
    Stream("H.264 1920x1080 RTSP", (1920, 1080), "rtsp"),
    Stream("MJPEG 640x480 HTTP", (640, 480), "http"),
]


def synthetic_source() -> Path:
    """A generated 30 s 640x480 scene, for a run given no --video."""
    from tests.videos import write_video

    path = STREAMS_DIR / "synthetic.mp4"
    if not path.is_file():
        STREAMS_DIR.mkdir(parents=True, exist_ok=True)
        write_video(path, 30, moving=(5, 9), size=(640, 480))
    return path


def make_video(source: Path, size: tuple[int, int], seconds: float) -> Path:
    """`source` as an H.264 15 fps file of at least `seconds`, encoded like a camera (2 s GOP),
    cached in bench/out/streams/ under the source's name."""
    width, height = size
    path = STREAMS_DIR / f"{source.stem}-h264-{width}x{height}-{int(seconds)}s.mp4"
    if path.is_file():
        return path
    STREAMS_DIR.mkdir(parents=True, exist_ok=True)
    print(f"encoding {path.name} from {source.name} (once; kept in {STREAMS_DIR})", flush=True)
    bitrate = "4M" if width > 1000 else "1M"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source),
         "-t", str(seconds), "-an", "-vf", f"scale={width}:{height},fps=15",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate, "-g", "30",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def make_mjpeg(video: Path) -> Path:
    """The video as a camera's JPEGs (ffmpeg's -q:v 5), cached beside it: the MJPEG server is
    started once per consumer and should not encode it again each time."""
    path = video.with_suffix(".mjpeg")
    if not path.is_file():
        print(f"encoding {path.name} (once)", flush=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-an", "-c:v", "mjpeg",
             "-q:v", "5", "-f", "mjpeg", str(path)],
            check=True,
        )  # fmt: skip
    return path


class Server:
    """A camera on 127.0.0.1 serving `video` over RTSP or MJPEG/HTTP (None for a file)."""

    def __init__(self, stream: Stream, video: Path) -> None:
        self.stream, self.video = stream, video
        self.process: subprocess.Popen | None = None
        self.url = str(video)

    def __enter__(self) -> Server:
        port = free_port()
        if self.stream.transport == "rtsp":
            self.url = f"rtsp://127.0.0.1:{port}/cam"
            argv = rtsp_server.command(self.video, port)
        elif self.stream.transport == "http":
            self.url = f"http://127.0.0.1:{port}/cam.mjpg"
            argv = [sys.executable, str(REPO / "bench" / "mjpeg_server.py"),
                    str(make_mjpeg(self.video)), str(port)]  # fmt: skip
        else:
            return self
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.process.stdout.readline()  # "ready" once it listens
        if b"ready" not in line:
            raise RuntimeError(f"the {self.stream.transport} server did not start: {line!r}")
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            stop_process(self.process, 5)


def floor_argv(stream: Stream, url: str) -> list[str]:
    argv = ["ffmpeg", "-v", "error", "-nostdin"]
    if stream.transport == "file":
        argv += ["-re", "-stream_loop", "-1"]
    elif stream.transport == "rtsp":
        argv += ["-rtsp_transport", "tcp"]
    return [*argv, "-i", url, "-an", "-f", "null", "-"]


def motion_argv(stream: Stream, url: str, tmp: Path) -> list[str]:
    """`motion` detecting on the stream with its defaults, saving nothing, serving nothing."""
    netcam = f"file://{url}" if stream.transport == "file" else url
    config = tmp / "motion.conf"
    config.write_text(
        "daemon off\nsetup_mode off\nlog_level 4\n"
        f"target_dir {tmp}\npid_file {tmp / 'motion.pid'}\n"
        f"netcam_url {netcam}\nframerate 15\n"
        "picture_output off\nmovie_output off\nstream_port 0\nwebcontrol_port 0\n"
    )
    return ["motion", "-n", "-c", str(config)]


class MpegTs:
    """A camera serving `video` over HTTP MPEG-TS as it is (-c copy), to one client."""

    def __init__(self, video: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}/sub.ts"
        self.video = video

    def __enter__(self) -> MpegTs:
        self.process = subprocess.Popen(
            ["ffmpeg", "-loglevel", "error", "-re", "-i", str(self.video), "-an", "-c:v", "copy",
             "-f", "mpegts", "-listen", "1", self.url], stdin=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)  # ffmpeg opens its input before it listens
        return self

    def __exit__(self, *_: object) -> None:
        self.process.kill()  # it ignores SIGTERM while it waits for its client
        self.process.wait()


TWO_STREAMS = (Stream("H.264 1920x1080 RTSP", (1920, 1080), "rtsp"), (640, 360))  # main, sub size


def two_stream_videos(video: Path | None, seconds: float) -> tuple[dict[str, Path], str]:
    """A 1920x1080 main and a 640x360 sub-stream of one scene (--video, else a synthetic one),
    each at least `seconds` long; and how a report names the scene."""
    source = video.resolve() if video else synthetic_source()
    main, sub_size = TWO_STREAMS
    videos = {"main": make_video(source, main.size, seconds),
              "sub": make_video(source, sub_size, seconds)}  # fmt: skip
    return videos, f"`{source.name}`" if video else "a synthetic scene"
