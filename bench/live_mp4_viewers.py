"""50 viewers of one 1080p camera over live.mp4 (issue 20): 49 byte-level clients that parse
the fragments and one Chromium that decodes them.

    .venv/bin/python bench/live_mp4_viewers.py [--video PATH] [--viewers 50] [--seconds 30]

The camera: a 1920x1080 main stream over RTSP and a 640x360 sub-stream over HTTP MPEG-TS, H.264
15 fps, served pre-encoded with `-c copy` (as bench/ten_cameras.py); its worker and the web server
(Daphne, as runsurveillance starts it) on a throwaway site.

1. One viewer: Chromium on the camera page, which plays live.mp4 through Media Source
   Extensions. CPU of the worker and the web process over --seconds.
2. --viewers: Chromium and viewers - 1 byte-level clients (bench/fmp4_client.py, with an API
   token, on threads of a few client processes), over the next --seconds: the worker's and the
   web process's CPU, each client's frames (trun sample counts) against the camera's 15 fps,
   and its bytes against the camera's own bitrate (the main file's size over its length).

Latency: this process listens to the worker's fragments on the channel layer (the same messages
the web process relays), each carrying the capture time of its frame, and keys them by their
decode time (tfdt). Chromium reports each frame it presents (requestVideoFrameCallback: the
frame's media time, which is its decode time, and when it was presented, on the same clock), so
capture to presented frame is measured frame by frame. The byte clients' arrival times give the
same for the moment a fragment reaches a viewer; the difference is what the browser's buffer
and decoder add.

Prints progress and a markdown table, written to bench/out/live_mp4_viewers.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av

from bench.capture_cost import WARMUP, check_tools
from bench.capture_streams import MpegTs, Server, two_stream_videos
from bench.fmp4_client import Viewer, find, number
from bench.proc import cpu_seconds, load_average
from bench.tables import publish
from bench.ten_cameras import MAIN, all_online
from tests.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    bench_site,
    manage,
    start_web_server,
    start_worker,
    stop_process,
    tail,
    wait_until,
)

SLUG, FPS, PROCESSES = "cam0", 15.0, 3
USER, PASSWORD = "bench", "bench-password-1"
PRESENTED = """() => new Promise((done) => {
  const video = document.querySelector("video[data-live-full]");
  window.presented = [];
  const each = (now, frame) => {
    window.presented.push([(performance.timeOrigin + now) / 1000, frame.mediaTime]);
    video.requestVideoFrameCallback(each);
  };
  video.requestVideoFrameCallback(each);
  done(!video.hidden);
})"""


def client_main(url: str, token: str, count: int, start: float, end: float) -> None:
    """A client process: `count` viewers on threads, reading until `end` (wall clock); prints
    each one's frames and bytes within [start, end], and the first one's arrivals."""
    offset = time.time() - time.monotonic()
    results: list[dict] = [{} for _ in range(count)]

    def view(i: int) -> None:
        viewer = Viewer(url, token, SLUG)
        viewer.read_for(max(0.0, start - time.time()))
        received = viewer.received
        fragments = viewer.read_for(end - time.time())
        results[i] = {"frames": sum(f.samples for f in fragments), "bytes": viewer.received
                      - received, "arrivals": [(f.time, f.arrival + offset) for f in fragments]
                      if i == 0 else []}  # fmt: skip
        viewer.sock.close()

    threads = [threading.Thread(target=view, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(results))


class CaptureTimes(threading.Thread):
    """The worker's fragments as the channel layer carries them: decode time -> capture time."""

    def __init__(self, group: str) -> None:
        super().__init__(daemon=True)
        self.group, self.times, self.stopping = group, {}, threading.Event()

    def run(self) -> None:
        asyncio.run(self.listen())

    async def listen(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        timescale = 0
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                message = await asyncio.wait_for(layer.receive(channel), 1.0)
                if "init" in message:
                    mdhd = find(message["init"], b"moov", b"trak", b"mdia", b"mdhd")
                    timescale = number(mdhd, 12 if mdhd[0] == 0 else 20)
                if timescale:
                    tfdt = find(message["data"], b"moof", b"traf", b"tfdt")
                    decode = number(tfdt, 4, 8 if tfdt[0] == 1 else 4) / timescale
                    self.times[round(decode, 3)] = message["t"]

    def latencies(self, pairs: list[tuple[float, float]]) -> list[float]:
        """Seconds from capture to `when` for each (decode time, when) whose capture is known."""
        return [when - self.times[round(t, 3)] for t, when in pairs if round(t, 3) in self.times]


def cpu_window(pids: dict[str, int], seconds: float) -> dict[str, float]:
    cpu0, t0 = {k: cpu_seconds(p) for k, p in pids.items()}, time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    return {k: 100 * (cpu_seconds(p) - cpu0[k]) / wall for k, p in pids.items()}


def chromium_page(playwright: object, url: str) -> object:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(base_url=url)
    page.goto("/")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{url}/")
    page.goto(f"/cameras/{SLUG}/")
    page.wait_for_function("() => document.querySelector('video[data-live-full]').currentTime > 1")
    if not page.evaluate(PRESENTED):
        raise RuntimeError("the camera page did not play live.mp4 (it fell back to MJPEG)")
    return page


def run(env: dict[str, str], tmp: Path, videos: dict[str, Path], args: argparse.Namespace) -> dict:
    from django.contrib.auth import get_user_model
    from playwright.sync_api import sync_playwright

    get_user_model().objects.create_superuser(USER, password=PASSWORD)
    token = manage(env, "createtoken", USER, "--name", "bench").strip().splitlines()[-1]
    with contextlib.ExitStack() as stack:
        main = stack.enter_context(Server(MAIN, videos["main"]))
        sub = stack.enter_context(MpegTs(videos["sub"]))
        manage(env, "addcamera", SLUG, main.url, "--detect-source", sub.url)
        worker = start_worker(env, SLUG, tmp / "worker.log", detached=True)
        stack.callback(stop_process, worker, 15)
        web = start_web_server(env, log=tmp / "web.log", detached=True)
        stack.callback(stop_process, web.process, 15)
        wait_until(lambda: all_online(1), 60, "the worker online on both streams")
        clock = CaptureTimes(f"mp4.{SLUG}.main")
        clock.start()
        stack.callback(clock.stopping.set)
        playwright = stack.enter_context(sync_playwright())
        try:
            page = chromium_page(playwright, web.url)
        except Exception:
            print(tail(tmp / "web.log"), tail(tmp / "worker.log"), sep="\n")
            raise
        pids = {"worker": worker.pid, "web": web.process.pid}
        time.sleep(WARMUP)
        print(f"one viewer (Chromium): {args.seconds:.0f} s", flush=True)
        one = cpu_window(pids, args.seconds)
        start = time.time() + WARMUP + 5
        end = start + args.seconds
        clients, others = [], args.viewers - 1
        for n in range(PROCESSES):
            count = others // PROCESSES + (n < others % PROCESSES)
            argv = [sys.executable, __file__, "--client", web.url, token, str(count), str(start),
                    str(end)]  # fmt: skip
            clients.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
        print(f"{args.viewers} viewers: {args.seconds:.0f} s from {WARMUP + 5:.0f} s on",
              flush=True)  # fmt: skip
        time.sleep(max(0.0, start - time.time()))
        page.evaluate("() => { window.presented = []; }")
        many = cpu_window(pids, args.seconds)
        presented = page.evaluate("() => window.presented")
        results = [r for c in clients for r in json.loads(c.communicate(timeout=60)[0])]
        time.sleep(1)  # the clock's last fragments
        return {"one": one, "many": many, "clients": results, "clock": clock,
                "presented": [(m, when) for when, m in presented]}  # fmt: skip


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else float("nan")


def report(result: dict, args: argparse.Namespace, bitrate: float, loads: list[str]) -> str:
    one, many, clients, clock = result["one"], result["many"], result["clients"], result["clock"]
    expected = FPS * args.seconds
    shares = [c["frames"] / expected for c in clients]
    rates = [8 * c["bytes"] / args.seconds / 1e6 for c in clients]
    chromium = clock.latencies(result["presented"])
    arrivals = clock.latencies(clients[0]["arrivals"]) if clients else []
    browser = statistics.median(chromium) - statistics.median(arrivals) if arrivals else 0.0
    worker = many["worker"] / one["worker"]
    presented_share = len(result["presented"]) / expected

    def met(ok: bool) -> str:
        return "✓" if ok else "✗"

    return "\n".join([
        f"# {args.viewers} live.mp4 viewers of one camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"1920x1080 main stream (RTSP, {bitrate:.2f} Mbit/s) and a 640x360 sub-stream, H.264 15 "
        f"fps, from {args.source}; {args.viewers - 1} byte-level clients in {PROCESSES} "
        f"processes and one Chromium on the camera page; windows of {args.seconds:.0f} s; load "
        f"average {' → '.join(loads)}. CPU in % of one core.",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| frames each byte client got | {min(shares):.1%} to {max(shares):.1%} of the "
        f"camera's | ≥ 95 % {met(min(shares) >= 0.95)} |",
        f"| frames Chromium presented | {presented_share:.1%} | ≥ 95 % "
        f"{met(presented_share >= 0.95)} |",
        f"| capture → Chromium's presented frame | median {statistics.median(chromium):.3f} s, "
        f"p95 {p95(chromium):.3f} s ({len(chromium)} frames) | p95 ≤ 0.8 s "
        f"{met(p95(chromium) <= 0.8)} |",
        f"| capture → fragment at a byte client | median {statistics.median(arrivals):.3f} s, "
        f"p95 {p95(arrivals):.3f} s; the browser's buffer and decoder add {browser:.3f} s | |",
        f"| web process | {one['web']:.1f} with one viewer, {many['web']:.1f} with "
        f"{args.viewers} | ≤ 50 {met(many['web'] <= 50)} |",
        f"| worker | {one['worker']:.1f} with one viewer, {many['worker']:.1f} with "
        f"{args.viewers} (ratio {worker:.2f}) | ± 10 % {met(0.9 <= worker <= 1.1)} |",
        f"| bytes per byte client | {min(rates):.2f} to {max(rates):.2f} Mbit/s, the camera's "
        f"{bitrate:.2f} | ± 10 % {met(all(abs(r / bitrate - 1) <= 0.1 for r in rates))} |",
    ]) + "\n"  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, token, count, start, end = sys.argv[2:7]
        return client_main(url, token, int(count), float(start), float(end))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="the scene to encode both streams from")
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="each measured window")
    args = parser.parse_args()
    check_tools(["floor"], [MAIN])
    length = 2 * args.seconds + 4 * WARMUP + 120
    videos, args.source = two_stream_videos(args.video, length)
    with av.open(str(videos["main"])) as container:
        bitrate = videos["main"].stat().st_size * 8 / (container.duration / 1e6) / 1e6
    loads = [load_average()]
    with bench_site("live-mp4-viewers") as (tmp, env):
        result = run(env, tmp, videos, args)
    loads.append(load_average())
    publish(report(result, args, bitrate, loads), "live_mp4_viewers.md")
    return None


if __name__ == "__main__":
    main()
