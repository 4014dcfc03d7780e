"""Live view at scale (issue 4): many viewers of one MJPEG stream, ours against the seed's design.

    .venv/bin/python bench/live_viewers.py [--video PATH] [--seconds 20] [--stall-seconds 60]
        [--only NAME ...]

Scenarios (names for --only; `ours` or `seed` alone selects all of that server's), run in this
order, each with servers started fresh:

- ours-1, ours-10, ours-50, ours-100: one camera (--video looping: the figures in
  docs/benchmarks.md are of ../shared/testdata/highway-640x480-15fps.mp4; without it, a generated
  640x480 15 fps scene) watched by that many viewers through our web process (`python -m
  surveillance.server`, Daphne with backpressure) and a `manage.py capture` worker, with a Redis
  of our own;
- seed-1 ... seed-100: the same counts against bench/seed_server.py, the seed's Flask design (a
  capture thread, and a loop per client encoding the shared frame without pause). Needs Flask:
  `.venv/bin/pip install flask`;
- ours-4x10: four cameras (four workers), ten viewers each;
- ours-stall: ten viewers plus one that sends its request and never reads (SO_RCVBUF 4096) for
  --stall-seconds: the web process's RSS growth over the stall, and whether the others lose
  frames.

Viewers are real HTTP/1.1 clients in up to four processes of their own
(bench/live_viewers_client.py), each running its viewers as asyncio connections and parsing the
multipart stream by Content-Length. After every viewer has its first frame and a warm-up, a
window of --seconds starts: for each viewer, the new frames received (by X-Timestamp) and their
latency (the time the whole part arrived minus X-Timestamp, the capture time); for the
processes, CPU from /proc (utime+stime over the window) of the web process, the capture
worker(s) (for the seed: its capture thread, and the rest of the process as "web"),
redis-server, and the clients themselves, and the web process's RSS. Prints progress and a
markdown table with the targets, and writes them to bench/out/live_viewers.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client_process import ClientProcess
from bench.install import PASSWORD, USERNAME, install, video_or_synthetic
from bench.live_servers import READY_TIMEOUT, Ours, Seed
from bench.live_viewers_report import MAX_CLIENTS, WARMUP, Outcome, Scenario, report
from bench.proc import cpu_seconds, load_average
from bench.tables import publish
from tests.harness import REPO, session_cookie, setup_django

CLIENT = REPO / "bench" / "live_viewers_client.py"
PROGRESS_EVERY = 5.0

SCENARIOS = [
    *(Scenario(f"{server}-{n}", server, 1, n)
      for n in (1, 10, 50, 100) for server in ("ours", "seed")),
    Scenario("ours-4x10", "ours", 4, 10),
    Scenario("ours-stall", "ours", 1, 10, stall=True),
]  # fmt: skip


class Bench:
    def __init__(self, tmp: Path, env: dict[str, str], video: Path,
                 args: argparse.Namespace) -> None:  # fmt: skip
        import cv2

        self.tmp, self.env, self.video, self.args = tmp, env, video, args
        self.camera_fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) or 15.0
        self.cookie = ""

    def session_cookie(self, url: str) -> str:
        """Logs in once; the session lives in the database, so later web processes take it."""
        if not self.cookie:
            self.cookie = session_cookie(url, USERNAME, PASSWORD)
        return self.cookie

    def start_clients(self, servers: Ours | Seed, paths: list[str],
                      clients: list[ClientProcess], stalled: bool = False) -> None:  # fmt: skip
        """Adds client processes for these viewers to `clients`; returns once all are ready."""
        count, first = min(MAX_CLIENTS, len(paths)), len(clients)
        for i in range(count):
            spec = {"host": "127.0.0.1", "port": servers.port, "cookie": servers.cookie,
                    "paths": paths[i::count], "stalled": stalled}  # fmt: skip
            name = f"client-{'stalled' if stalled else i}"
            argv = [sys.executable, str(CLIENT), json.dumps(spec)]
            clients.append(ClientProcess(name, argv, self.env, self.tmp / f"{name}.log"))
        deadline = time.time() + READY_TIMEOUT
        for client in clients[first:]:
            client.wait_ready(deadline)

    def servers(self, scenario: Scenario) -> Ours | Seed:
        if scenario.server == "ours":
            return Ours(self.tmp, self.env, scenario.cameras, self.session_cookie)
        return Seed(self.tmp, self.env, self.video)

    def run(self, scenario: Scenario) -> Outcome:
        print(f"\nscenario {scenario.name} ({scenario.shape}): starting the servers", flush=True)
        started = time.monotonic()
        servers = self.servers(scenario)
        clients: list[ClientProcess] = []
        with servers:
            try:
                paths = servers.paths() * scenario.viewers
                self.start_clients(servers, paths, clients)
                normal = list(clients)
                took = time.monotonic() - started
                print(f"  [{scenario.name}] {len(paths)} viewers have frames after {took:.1f} s; "
                      f"warming up {WARMUP:.0f} s", flush=True)  # fmt: skip
                time.sleep(WARMUP)
                before = servers.rss()
                if scenario.stall:
                    self.start_clients(servers, paths[:1], clients, stalled=True)
                seconds = self.args.stall_seconds if scenario.stall else self.args.seconds
                wall, cpu, rss, peak = self.measure(scenario.name, servers, clients, seconds)
                viewers = [viewer for client in normal for viewer in client.ask("done")]
            except RuntimeError:
                print(servers.dead())
                raise
            finally:
                for client in clients:
                    client.stop()
        growth = (rss - before, peak - before) if scenario.stall else None
        if errors := [v["error"] for v in viewers if v["error"]]:
            print(f"  [{scenario.name}] {len(errors)} viewers failed, e.g. {errors[0]}")
        return Outcome(scenario, wall, cpu, rss, viewers, self.camera_fps, growth)

    def measure(self, name: str, servers: Ours | Seed, clients: list[ClientProcess],
                seconds: float) -> tuple[float, dict[str, float], float, float]:  # fmt: skip
        """Wall time, CPU by role (% of one core), and the web process's RSS at the end and peak."""
        pids = [client.process.pid for client in clients]
        probes = {**servers.probes(), "clients": lambda: sum(cpu_seconds(pid) for pid in pids)}
        start = time.time() + 0.5
        for client in clients:
            client.say(f"{start} {start + seconds}")
        time.sleep(max(0.0, start - time.time()))
        before, t0 = {role: probe() for role, probe in probes.items()}, time.monotonic()
        peak, next_progress = servers.rss(), PROGRESS_EVERY
        while (wall := time.monotonic() - t0) < seconds:
            time.sleep(min(1.0, seconds - wall))
            if servers.dead():
                raise RuntimeError("a server process exited")
            rss, wall = servers.rss(), time.monotonic() - t0
            peak = max(peak, rss)
            if wall + 0.5 >= next_progress or wall >= seconds:
                self.progress(name, probes, before, wall, seconds, rss)
                next_progress += PROGRESS_EVERY
        wall = time.monotonic() - t0
        cpu = {role: 100 * (probe() - before[role]) / wall for role, probe in probes.items()}
        return wall, cpu, servers.rss(), max(peak, servers.rss())

    def progress(self, name: str, probes: dict[str, Callable[[], float]],
                 before: dict[str, float], wall: float, seconds: float,
                 rss: float) -> None:  # fmt: skip
        cpu = ", ".join(f"{role} {100 * (probe() - before[role]) / wall:.0f}"
                        for role, probe in probes.items())  # fmt: skip
        print(f"  [{name}] {wall:4.0f}/{seconds:.0f} s: CPU % of a core: {cpu}; "
              f"web RSS {rss:.1f} MB; load {load_average()}", flush=True)  # fmt: skip


def selected(only: list[str] | None) -> list[Scenario]:
    if not only:
        return SCENARIOS
    scenarios = [s for s in SCENARIOS if s.name in only or s.server in only]
    if unknown := set(only) - {s.name for s in SCENARIOS} - {"ours", "seed"}:
        sys.exit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return scenarios


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="the camera's file (default: generated)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per scenario")
    parser.add_argument("--stall-seconds", type=float, default=60.0, help="the stall's window")
    names = ", ".join(s.name for s in SCENARIOS)
    parser.add_argument("--only", nargs="*", help=f"of: {names}; or ours, seed")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    scenarios = selected(args.only)
    if any(s.server == "seed" for s in scenarios) and not importlib.util.find_spec("flask"):
        sys.exit("the seed baseline needs Flask: .venv/bin/pip install flask (or --only ours)")
    with tempfile.TemporaryDirectory(prefix="live-viewers-") as name:
        tmp = Path(name)
        env = setup_django(tmp / "data", tmp / "redis.sock")
        video, described = video_or_synthetic(args.video, tmp)
        loads = [load_average()]
        print(f"video {described}; load average {loads[0]}", flush=True)
        install(env, max(s.cameras for s in scenarios), str(video))
        bench = Bench(tmp, env, video, args)
        outcomes, failures = {}, {}
        for scenario in scenarios:
            try:
                outcomes[scenario.name] = bench.run(scenario)
            except RuntimeError as exc:  # the next scenario starts its own servers
                print(f"scenario {scenario.name} failed: {exc}", flush=True)
                failures[scenario.name] = str(exc).splitlines()[0]
        loads.append(load_average())
    publish(report(outcomes, failures, args, described, loads), "live_viewers.md")


if __name__ == "__main__":
    main()
