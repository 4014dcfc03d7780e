"""Footage for the recording benchmarks, made once from real video and kept in bench/out/streams/:
a still scene (no event), scenes whose motion starts and stops (events that end), and a camera
stream at a fixed bit rate. Each is a 15 fps source for bench.capture_streams.make_video, or (the
fixed-rate one) a camera stream itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.capture_streams import STREAMS_DIR

# A still camera's picture is not frozen: its sensor adds a little grain to every frame, which
# the encoder spends bits on. ffmpeg's temporal noise at this strength is far below any motion
# threshold (the detector's default is a change of 25 in 255).
GRAIN = "noise=alls=3:allf=t"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def cached(name: str, what: str) -> tuple[Path, bool]:
    path = STREAMS_DIR / name
    if not path.is_file():
        STREAMS_DIR.mkdir(parents=True, exist_ok=True)
        print(f"making {name}: {what} (once; kept in {STREAMS_DIR})", flush=True)
    return path, path.is_file()


def still_scene(source: Path, seconds: float = 60) -> Path:
    """One frame of `source` (its second's first) held for `seconds`, with a sensor's grain:
    the scene between events."""
    path, done = cached(f"{source.stem}-still.mp4", "one frame held, with grain")
    if not done:
        ffmpeg("-ss", "1", "-i", str(source), "-frames:v", "1", "-an",
               "-vf", f"loop=loop={int(15 * seconds)}:size=1:start=0,setpts=N/15/TB,{GRAIN}",
               "-r", "15", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
               "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def stop_and_go(source: Path, moving: float, still: float) -> Path:
    """`moving` seconds of `source`, then its last frame held for `still` seconds (with grain):
    looped by a file camera, one event per loop that starts at the cut back to the motion and
    ends when the picture stops."""
    name = f"{source.stem}-moving{moving:g}-still{still:g}.mp4"
    path, done = cached(name, f"{moving:g} s of motion, then {still:g} s still")
    if not done:
        ffmpeg("-t", str(moving), "-i", str(source), "-an",
               "-vf", f"fps=15,tpad=stop_mode=clone:stop_duration={still},{GRAIN}",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
               str(path))  # fmt: skip
    return path


def fixed_rate(source: Path, size: tuple[int, int], mbits: float, seconds: float) -> Path:
    """`source` as a camera sends it at a constant `mbits` Mbit/s (x264's CBR), 15 fps, a
    keyframe every 2 s, at least `seconds` long."""
    width, height = size
    name = f"{source.stem}-h264-{width}x{height}-{mbits:g}Mbps-{int(seconds)}s.mp4"
    path, done = cached(name, f"{mbits:g} Mbit/s constant")
    if not done:
        rate = f"{mbits:g}M"
        ffmpeg("-stream_loop", "-1", "-i", str(source), "-t", str(seconds), "-an",
               "-vf", f"scale={width}:{height},fps=15", "-c:v", "libx264",
               "-preset", "veryfast", "-b:v", rate, "-minrate", rate, "-maxrate", rate,
               "-bufsize", rate, "-x264-params", "nal-hrd=cbr", "-g", "30",
               "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def bitrate(path: Path) -> float:
    """The stream's mean bit rate, Mbit/s, from its packets' sizes and its duration."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "format=duration:stream=bit_rate", "-of", "default=nw=1", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    fields = dict(line.split("=", 1) for line in out.split())
    if fields.get("bit_rate", "N/A") != "N/A":
        return int(fields["bit_rate"]) / 1e6
    return path.stat().st_size * 8 / float(fields["duration"]) / 1e6
