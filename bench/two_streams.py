"""What a camera's second stream buys (issue 20): the worker's CPU against decoding the main
stream, and what a stalled live.mp4 viewer costs the web process.

    .venv/bin/python bench/two_streams.py [--video PATH] [--rounds 3] [--seconds 20]
        [--stall-seconds 60]

The camera: a 1920x1080 main stream and a 640x360 sub-stream, both H.264 15 fps with a 2 s GOP,
encoded once from --video (one scene; without it, a synthetic one) into bench/out/streams/ and
served with `-c copy`: the main stream over RTSP (GStreamer, tests/rtsp_server.py), the sub over
HTTP MPEG-TS (ffmpeg -listen), as tests/test_two_streams.py does, on 127.0.0.1.

1. CPU, --rounds paired rounds: `manage.py capture` on that camera (recording events, the
   default; nobody watching) beside the decode floor of the main stream alone (ffmpeg decoding
   it to null, from its own RTSP server), measured from /proc over the same --seconds window
   after a warm-up (bench/capture_cost.py's Bench). The table gives each one's median (range),
   the median (range) of the rounds' worker / floor, and the camera's health fields `fps` and
   `dropped_frames` (from the database) at the end of each round.
2. A stalled viewer: the web server (Daphne, as runsurveillance starts it) and one worker; a raw
   socket client sends GET live.mp4 with an API token (`createtoken`), reads for READ_SECONDS,
   stops reading for --stall-seconds, then reads again. The web process's RSS and PSS
   (smaps_rollup) with no viewer, while it reads, and through the stall (end and peak). The
   client parses the fMP4 (mfhd sequence, tfdt decode time, the sample's sync flag). live.mp4
   carries no capture time, so a fragment's age is taken against the wall clock through the
   stream's own: the decode time runs at the camera's real-time pace, and the smallest
   (arrival - decode time) while reading is the live edge; a fragment's age is how far its
   decode time is behind the live edge when it arrives. After the stall the client first reads
   what its own kernel buffered (reported apart), then what the server sends next: a jump in
   the sequence numbers, which must start at a keyframe no older than 2 s.

Prints progress and a markdown table, written to bench/out/two_streams.md.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_cost import WARMUP, Bench, Run, cell, check_tools
from bench.capture_streams import Server, Stream, floor_argv, make_video, synthetic_source
from bench.install import PASSWORD, USERNAME
from bench.proc import load_average
from bench.tables import publish
from capture.memory import Memory
from tests.harness import (
    REPO,
    free_port,
    manage,
    setup_django,
    start_redis,
    start_web_server,
    start_worker,
    stop_process,
    tail,
    wait_until,
)

MAIN = Stream("H.264 1920x1080 RTSP", (1920, 1080), "rtsp")
SUB_SIZE = (640, 360)
SLUG = "gate"
CPU_LIMIT = 0.35  # worker / decode floor of the main stream
MEMORY_LIMIT = 2.0  # MB the web process may hold for a stalled viewer
AGE_LIMIT = 2.0  # s: how old the keyframe a resumed viewer starts at may be
READ_SECONDS = RESUME_SECONDS = 5.0
MB = 1024 * 1024


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


def add_camera(env: dict[str, str], main_url: str, sub_url: str) -> tuple[Callable, Callable]:
    """The camera, fresh; whether its worker is online on both streams, and its health."""
    from cameras.models import Camera

    Camera.objects.filter(slug=SLUG).delete()
    manage(env, "addcamera", SLUG, main_url, "--detect-source", sub_url)
    camera = Camera.objects.get(slug=SLUG)

    def online() -> bool:
        camera.refresh_from_db()
        return camera.status == Camera.Status.ONLINE and "main" in camera.streams

    def health() -> str:
        camera.refresh_from_db()
        fps = f"{camera.fps:.1f} fps" if camera.fps else "fps ?"
        detail = f", “{camera.status_detail}”" if camera.status_detail else ""
        return f"{fps}, {camera.dropped_frames} dropped, {camera.reconnects} reconnects{detail}"

    return online, health


class TwoStreamBench(Bench):
    def pair(self, videos: dict[str, Path]) -> dict[str, Run]:
        """The worker on the two streams and the floor on the main one, in the same window."""
        with contextlib.ExitStack() as stack:
            floor_url = stack.enter_context(Server(MAIN, videos["main"])).url
            main_url = stack.enter_context(Server(MAIN, videos["main"])).url
            sub_url = stack.enter_context(MpegTs(videos["sub"])).url
            floor = self.spawn("floor", floor_argv(MAIN, floor_url))
            stack.callback(stop_process, floor.process, 15)
            online, health = add_camera(self.env, main_url, sub_url)
            argv = [sys.executable, str(REPO / "manage.py"), "capture", SLUG]
            worker = self.spawn("worker", argv)
            stack.callback(stop_process, worker.process, 15)
            worker.ready, worker.observe = online, health
            try:
                cpus = self.measure([floor, worker])
            except RuntimeError:
                print(tail(worker.log), tail(floor.log), sep="\n")
                raise
            return {c.kind: Run(cpus[c.kind], c.observe()) for c in (floor, worker)}


# -- the stalled viewer --


def boxes(data: bytes | bytearray) -> Iterator[tuple[bytes, bytes, int]]:
    """(type, payload, end) of each complete box in `data`."""
    pos = 0
    while len(data) - pos >= 8:
        size, kind, head = int.from_bytes(data[pos : pos + 4]), bytes(data[pos + 4 : pos + 8]), 8
        if size == 1:
            if len(data) - pos < 16:
                return
            size, head = int.from_bytes(data[pos + 8 : pos + 16]), 16
        if size < head or len(data) - pos < size:
            return
        yield kind, bytes(data[pos + head : pos + size]), pos + size
        pos += size


def find(data: bytes, *path: bytes) -> bytes:
    for kind, payload, _ in boxes(data):
        if kind == path[0]:
            return find(payload, *path[1:]) if path[1:] else payload
    raise ValueError(f"no {b'/'.join(path).decode()} box")


def number(data: bytes, at: int, size: int = 4) -> int:
    return int.from_bytes(data[at : at + size])


@dataclass
class Fragment:
    seq: int  # mfhd: the worker's muxer numbers every fragment it makes
    time: float  # tfdt, s
    key: bool
    size: int
    arrival: float = 0.0  # time.monotonic() when its mdat was all in


class Viewer:
    """live.mp4 on a raw socket: HTTP/1.1 (chunked) parsed by hand, fMP4 boxes as they come."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(f"GET /cameras/{SLUG}/live.mp4?stream=main HTTP/1.1\r\nHost: {host}"
                          f"\r\nAuthorization: Bearer {token}\r\n\r\n".encode())  # fmt: skip
        self.raw, self.body = bytearray(), bytearray()
        self.left = self.crlf = 0  # of the current chunk: data bytes, then its CRLF
        self.timescale, self.trex_flags, self.moof = 0, 0, None
        while b"\r\n\r\n" not in self.raw:
            self.recv()
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0]
        if b" 200 " not in status:
            raise RuntimeError(f"live.mp4: {status.decode()}")
        self.chunked = b"transfer-encoding: chunked" in head.lower()
        self.raw = bytearray(rest)

    def recv(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed live.mp4")
        self.raw += data

    def buffered(self) -> int:
        """Bytes waiting in this socket's kernel receive queue."""
        return struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]

    def dechunk(self) -> None:
        if not self.chunked:
            self.body += self.raw
            self.raw.clear()
        while self.raw:
            if self.left or self.crlf:
                take = min(self.left or self.crlf, len(self.raw))
                if self.left:
                    self.body += self.raw[:take]
                    self.left -= take
                else:
                    self.crlf -= take
                del self.raw[:take]
                continue
            end = self.raw.find(b"\r\n")
            if end < 0:
                return
            self.left, self.crlf = int(self.raw[:end].split(b";")[0], 16), 2
            del self.raw[: end + 2]
            if not self.left:
                raise ConnectionError("the server ended live.mp4")

    def read_for(self, seconds: float, tick: Callable[[], None] = lambda: None) -> list[Fragment]:
        """The fragments that came in `seconds` of reading; `tick` about once a second."""
        fragments, deadline, next_tick = [], time.monotonic() + seconds, 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_tick:
                tick()
                next_tick = now + 1
            self.sock.settimeout(max(0.01, min(deadline, next_tick) - now))
            with contextlib.suppress(TimeoutError):
                self.recv()
            self.dechunk()
            used = 0
            for kind, payload, end in boxes(self.body):
                self.take(kind, payload, fragments)
                used = end
            del self.body[:used]
        return fragments

    def take(self, kind: bytes, payload: bytes, fragments: list[Fragment]) -> None:
        if kind == b"moov":
            mdhd = find(payload, b"trak", b"mdia", b"mdhd")
            self.timescale = number(mdhd, 12 if mdhd[0] == 0 else 20)
            with contextlib.suppress(ValueError):
                self.trex_flags = number(find(payload, b"mvex", b"trex"), 20)
        elif kind == b"moof":
            self.moof = payload
        elif kind == b"mdat" and self.moof is not None:
            fragment = self.fragment(self.moof, len(payload))
            fragment.arrival = time.monotonic()
            fragments.append(fragment)

    def fragment(self, moof: bytes, size: int) -> Fragment:
        seq = number(find(moof, b"mfhd"), 4)
        tfhd, tfdt = find(moof, b"traf", b"tfhd"), find(moof, b"traf", b"tfdt")
        trun, flags = find(moof, b"traf", b"trun"), self.trex_flags
        has, at = number(tfhd, 0), 8  # tfhd's optional fields come in this order
        for bit, length in ((0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4)):
            at += length if has & bit else 0
        flags = number(tfhd, at) if has & 0x20 else flags
        has, at = number(trun, 0) & 0xFFFFFF, 8 + (4 if number(trun, 0) & 0x1 else 0)
        if has & 0x4:  # first_sample_flags
            flags = number(trun, at)
        elif has & 0x400:  # the first sample's own flags, after its duration and size
            flags = number(trun, at + (4 if has & 0x100 else 0) + (4 if has & 0x200 else 0))
        decode = number(tfdt, 4, 8 if tfdt[0] == 1 else 4)
        return Fragment(seq, decode / self.timescale, not flags & 0x10000, size)


@dataclass
class Stall:
    memory: dict[str, Memory]  # none, reading, stalled (its end), peak (of the stall)
    edge: float = 0.0  # the live edge: the least (arrival - decode time) while reading
    read: int = 0  # fragments read before the stall
    buffered: int = 0  # bytes in the viewer's kernel receive queue at the stall's end
    resumed: list[Fragment] = field(default_factory=list)
    jump: Fragment | None = None  # the first fragment the server sent after the stall
    error: str = ""

    def age(self, fragment: Fragment) -> float:
        return fragment.arrival - self.edge - fragment.time


def watch_and_stall(url: str, token: str, seconds: float, web_pid: int) -> Stall:
    """No viewer (after one came and went: the code paths it runs are loaded), a viewer that
    reads, stops reading for `seconds`, and reads again."""
    from cameras.live import Feed

    warm = Viewer(url, token)
    warm.read_for(READ_SECONDS)
    warm.sock.close()
    time.sleep(Feed.linger + 2)  # the feed and its GOP let go
    stall, samples = Stall({"none": Memory.of(web_pid)}), []
    viewer = Viewer(url, token)
    reading = viewer.read_for(READ_SECONDS, lambda: samples.append(Memory.of(web_pid)))
    if not reading:
        raise RuntimeError(f"no fragment of live.mp4 in {READ_SECONDS:.0f} s")
    stall.memory["reading"], stall.read = samples[-1], len(reading)
    stall.edge = min(f.arrival - f.time for f in reading)
    print(f"  read {len(reading)} fragments in {READ_SECONDS:.0f} s; stalling {seconds:.0f} s",
          flush=True)  # fmt: skip
    peak = now = stall.memory["reading"]
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(1.0, seconds - elapsed))
        now = Memory.of(web_pid)
        peak = max(peak, now, key=lambda m: m.rss)
        if round(elapsed) % 10 == 0:
            print(f"    stalled {elapsed:3.0f} s: web RSS {now.rss / MB:.1f} MB", flush=True)
    stall.memory.update(stalled=now, peak=peak)
    stall.buffered = viewer.buffered()
    try:
        stall.resumed = viewer.read_for(RESUME_SECONDS)
    except ConnectionError as exc:
        stall.error = str(exc)
    viewer.sock.close()
    previous = reading[-1].seq
    for fragment in stall.resumed:
        if fragment.seq != previous + 1:
            stall.jump = fragment
            break
        previous = fragment.seq
    return stall


def stall_phase(env: dict[str, str], tmp: Path, videos: dict[str, Path], seconds: float) -> Stall:
    """One worker, the web server and a viewer of live.mp4 with an API token that stalls."""
    from django.contrib.auth import get_user_model

    print(f"\nstalled viewer: the web server, one worker, {seconds:.0f} s of stall", flush=True)
    get_user_model().objects.create_superuser(USERNAME, password=PASSWORD)
    token = manage(env, "createtoken", USERNAME, "--name", "bench").strip().splitlines()[-1]
    with contextlib.ExitStack() as stack:
        main_url = stack.enter_context(Server(MAIN, videos["main"])).url
        sub_url = stack.enter_context(MpegTs(videos["sub"])).url
        online, _ = add_camera(env, main_url, sub_url)
        worker = start_worker(env, SLUG, tmp / "stall-worker.log", detached=True)
        stack.callback(stop_process, worker, 15)
        web = start_web_server(env, log=tmp / "web.log", detached=True)
        stack.callback(stop_process, web.process, 15)
        try:
            wait_until(online, 60, "the worker online on both streams")
            time.sleep(WARMUP)
            return watch_and_stall(web.url, token, seconds, web.process.pid)
        except (RuntimeError, AssertionError, OSError):
            print(tail(tmp / "stall-worker.log"), tail(tmp / "web.log"), sep="\n")
            raise


# -- the report --


def report(runs: list[dict[str, Run]], stall: Stall, args: argparse.Namespace,
           loads: list[str]) -> str:  # fmt: skip
    ratios = [run["worker"].cpu / run["floor"].cpu for run in runs]
    met = "✓" if statistics.median(ratios) <= CPU_LIMIT else "✗"
    lines = [
        f"# Two streams per camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Camera: 1920x1080 main (RTSP) + 640x360 sub (HTTP MPEG-TS), H.264 15 fps, 2 s GOP, "
        f"served with `-c copy`, encoded from {args.source}; recording events; "
        f"{os.cpu_count()} cores; load average {' → '.join(loads)}. CPU: {args.rounds} paired "
        f"round(s) of {args.seconds:.0f} s after {WARMUP:.0f} s of warm-up, % of one core, "
        "median (range). Memory: the web process, MB.",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| worker, nobody watching | {cell([r['worker'].cpu for r in runs])} % | |",
        f"| decode floor of the main stream alone (ffmpeg) | "
        f"{cell([r['floor'].cpu for r in runs])} % | |",
        f"| worker / floor | {cell(ratios, 2)} | ≤ {CPU_LIMIT} {met} |",
        f"| worker's health at the end of each round | "
        f"{'; '.join(r['worker'].note for r in runs)} | 15 fps, 0 dropped |",
        *stall_rows(stall, args.stall_seconds),
    ]
    return "\n".join(lines) + "\n"


def stall_rows(stall: Stall, seconds: float) -> list[str]:
    mem = stall.memory
    states = ("none", "reading", "stalled", "peak")
    rss, pss = (
        " → ".join(f"{getattr(mem[k], f) / MB:.1f}" for k in states) for f in ("rss", "pss")
    )
    grew = [(getattr(mem["peak"], f) - getattr(mem["none"], f)) / MB for f in ("rss", "pss")]
    stalling = (mem["peak"].rss - mem["reading"].rss) / MB
    rows = [
        f"| web memory: no viewer → reading ({stall.read} fragments in {READ_SECONDS:.0f} s) → "
        f"at the end of a {seconds:.0f} s stall → the stall's peak | RSS {rss}; PSS {pss} | |",
        f"| web memory for the stalled viewer (peak - no viewer; a first viewer came and went "
        f"before) | RSS {grew[0]:+.1f}, PSS "
        f"{grew[1]:+.1f} (peak - reading: RSS {stalling:+.1f}) "
        f"| ≤ {MEMORY_LIMIT:.0f} MB {'✓' if max(grew) <= MEMORY_LIMIT else '✗'} |",
        f"| in the viewer's own kernel receive queue after the stall | "
        f"{stall.buffered / 1024:.0f} KB | |",
    ]
    if stall.error:
        return [*rows, f"| live.mp4 after the stall | {stall.error} | |"]
    if stall.resumed:
        first, last = stall.resumed[0], stall.resumed[-1]
        old = [f for f in stall.resumed if stall.jump is None or f.arrival < stall.jump.arrival]
        span = old[-1].time - old[0].time + 1 / 15 if old else 0.0
        rows.append(f"| first fragment read after the stall (from that queue) | "
                    f"{stall.age(first):.1f} s old, then {len(old)} fragments ({span:.1f} s of "
                    f"video) from the stall's start; the last read, {RESUME_SECONDS:.0f} s "
                    f"later: {stall.age(last):.2f} s old | |")  # fmt: skip
    jump, met = stall.jump, "✗"
    if jump is not None:
        met = "✓" if jump.key and stall.age(jump) <= AGE_LIMIT else "✗"
        what = f"{'a keyframe' if jump.key else 'NOT a keyframe'}, {stall.age(jump):.2f} s old"
    else:
        what = f"no skip in {len(stall.resumed)} fragments"
    rows.append(f"| first fragment the server sent after the stall | {what} "
                f"| a keyframe ≤ {AGE_LIMIT:.0f} s old {met} |")  # fmt: skip
    return rows


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="the scene to encode both streams from")
    parser.add_argument("--rounds", type=int, default=3, help="paired CPU rounds")
    parser.add_argument("--seconds", type=float, default=20.0, help="CPU window per round")
    parser.add_argument("--stall-seconds", type=float, default=60.0, help="the viewer's stall")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    check_tools(["floor"], [MAIN])
    source = args.video.resolve() if args.video else synthetic_source()
    args.source = f"`{source.name}`" if args.video else "a synthetic scene"
    length = max(args.seconds + WARMUP, READ_SECONDS + args.stall_seconds + RESUME_SECONDS) + 40
    videos = {"main": make_video(source, MAIN.size, length),
              "sub": make_video(source, SUB_SIZE, length)}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="two-streams-") as name:
        tmp = Path(name)
        env = setup_django(tmp / "data", tmp / "redis.sock")
        loads = [load_average()]
        redis = start_redis(tmp / "redis.sock", log=tmp / "redis.log")
        try:
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            bench = TwoStreamBench(tmp, env, args.seconds, ["floor", "worker"])
            runs = []
            for round_ in range(args.rounds):
                print(f"\nround {round_ + 1}/{args.rounds}: worker and floor", flush=True)
                runs.append(bench.pair(videos))
            stall = stall_phase(env, tmp, videos, args.stall_seconds)
        finally:
            stop_process(redis, 5)
        loads.append(load_average())
    publish(report(runs, stall, args, loads), "two_streams.md")


if __name__ == "__main__":
    main()
