"""The report of bench/live_viewers.py: what each scenario measured, its row in the table, and
the targets of issue 4 judged on our server's scenarios."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

MAX_CLIENTS = 4  # client processes: the machine has two cores, the clients must stay cheap
WARMUP = 5.0  # seconds after every viewer has a frame, before the window
TARGET_SHARE = 0.95  # of the camera's frames, each viewer, with 100 viewers
TARGET_P95_MS = 150.0
TARGET_STALL_MB = 2.0
TARGET_WORKER_CHANGE = 0.10  # worker CPU with 100 viewers against 1
TARGET_WEB_CORES = 1.0


@dataclass
class Scenario:
    name: str
    server: str  # "ours" or "seed"
    cameras: int
    viewers: int  # per camera
    stall: bool = False

    @property
    def shape(self) -> str:
        return f"{self.cameras} x {self.viewers}" + (" + 1 stalled" if self.stall else "")


@dataclass
class Outcome:
    scenario: Scenario
    wall: float
    cpu: dict[str, float]  # % of one core by role
    rss: float  # web process, MB, at the end of the window
    viewers: list[dict]
    camera_fps: float
    stall_growth: tuple[float, float] | None = None  # RSS MB: at the end, at the peak

    def fps(self) -> list[float]:
        return [len(v["stamps"]) / self.wall for v in self.viewers]

    def seen(self) -> float:
        """Frames per second each camera made, as far as any of its viewers saw."""
        stamps: dict[str, set[float]] = {}
        for viewer in self.viewers:
            stamps.setdefault(viewer["path"], set()).update(viewer["stamps"])
        return sum(len(s) for s in stamps.values()) / len(stamps) / self.wall

    def latency(self, q: float) -> float | None:
        pooled = sorted(ms for v in self.viewers for ms in v["latencies"])
        return pooled[min(len(pooled) - 1, int(q * len(pooled)))] if pooled else None

    def lost(self) -> int:
        """Frames missing between the frames each viewer received, all viewers together."""
        gaps = (b - a for v in self.viewers for a, b in pairwise(v["stamps"]))
        return sum(max(0, round(gap * self.camera_fps) - 1) for gap in gaps)

    def row(self) -> str:
        fps, n = self.fps(), len(self.viewers)
        share = [f / self.camera_fps for f in fps]
        parts = sum(v["parts"] for v in self.viewers)
        kb = sum(v["bytes"] for v in self.viewers) / max(1, parts) / 1024
        ms = [self.latency(q) for q in (0.5, 0.95, 1.0)]
        cpu = [f"{self.cpu[role]:.1f}" if role in self.cpu else "-"
               for role in ("web", "capture", "redis", "clients")]  # fmt: skip
        return (
            f"| {self.scenario.name} | {self.scenario.shape} | {sum(fps) / n:.1f} / {min(fps):.1f} "
            f"| {100 * sum(share) / n:.0f} / {100 * min(share):.0f} | {self.seen():.1f} "
            f"| {parts / n / self.wall:.1f} "
            f"| {' / '.join('-' if m is None else f'{m:.0f}' for m in ms)} "
            f"| {' | '.join(cpu)} | {self.rss:.0f} | {kb:.0f} |"
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def targets(outcomes: dict[str, Outcome], stall_seconds: float) -> list[str]:
    lines = []
    hundred = outcomes.get("ours-100")
    if hundred is not None:
        share = [f / hundred.camera_fps for f in hundred.fps()]
        mean = sum(share) / len(share)
        ok = verdict(min(share) >= TARGET_SHARE)
        lines.append(f"- Frames delivered with 100 viewers ≥ {100 * TARGET_SHARE:.0f} % of the "
                     f"camera's, every viewer: mean {100 * mean:.1f} %, min "
                     f"{100 * min(share):.1f} % — {ok}.")  # fmt: skip
    one = outcomes.get("ours-1")
    if hundred is not None:
        web = hundred.cpu["web"]
        lines.append(f"- Web process with 100 viewers ≤ {TARGET_WEB_CORES:.0f} core: {web:.1f} % — "
                     f"{verdict(web <= 100 * TARGET_WEB_CORES)}.")  # fmt: skip
    if hundred is not None and one is not None:
        change = hundred.cpu["capture"] / one.cpu["capture"] - 1
        lines.append(
            f"- Worker CPU with 100 viewers within {100 * TARGET_WORKER_CHANGE:.0f} % of its CPU "
            f"with 1: {one.cpu['capture']:.1f} → {hundred.cpu['capture']:.1f} % of a core "
            f"({100 * change:+.0f} %) — {verdict(abs(change) <= TARGET_WORKER_CHANGE)}."
        )
    ours = [o for o in outcomes.values() if o.scenario.server == "ours"]
    if ours:
        p95 = {o.scenario.name: o.latency(0.95) for o in ours}
        listed = ", ".join(
            f"{name} {'-' if ms is None else f'{ms:.0f}'}" for name, ms in p95.items()
        )
        ok = all(ms is not None and ms <= TARGET_P95_MS for ms in p95.values())
        lines.append(f"- Latency p95 ≤ {TARGET_P95_MS:.0f} ms (ms): {listed} — {verdict(ok)}.")
    if (stalled := outcomes.get("ours-stall")) is not None and stalled.stall_growth:
        end, peak = stalled.stall_growth
        share = [f / stalled.camera_fps for f in stalled.fps()]
        lines.append(
            f"- Stalled viewer for {stall_seconds:.0f} s: web RSS grew {end:+.1f} MB (peak "
            f"{peak:+.1f} MB) — target ≤ {TARGET_STALL_MB:.0f} MB: "
            f"{verdict(max(end, peak) <= TARGET_STALL_MB)}. The 10 normal viewers lost "
            f"{stalled.lost()} frames between frames they received (min "
            f"{100 * min(share):.1f} % of the camera's frames)."
        )
    return lines


def report(outcomes: dict[str, Outcome], failures: dict[str, str], args: argparse.Namespace,
           video: str, loads: list[str]) -> str:  # fmt: skip
    camera_fps = next(iter(outcomes.values())).camera_fps if outcomes else math.nan
    stall = f" ({args.stall_seconds:.0f} s for the stall)" if "ours-stall" in outcomes else ""
    lines = [
        f"# Live viewers — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Camera: {video} at {camera_fps:.0f} fps; window {args.seconds:.0f} s{stall} "
        f"after {WARMUP:.0f} s of warm-up; "
        f"{os.cpu_count()} cores shared by servers and clients (≤ {MAX_CLIENTS} client "
        f"processes); load average {' → '.join(loads)}.",
        "",
        "Frames are new frames (by X-Timestamp): the seed sends the same frame many times, so "
        "its parts/s is higher. Latency: capture → the whole part received, new frames only, "
        "all viewers pooled. CPU in % of one core; the seed's capture is its capture thread, "
        "its web is the rest of its process. Camera frames/s seen: distinct frames any viewer "
        "of the camera got. Web RSS at the end of the window; KB/part: the JPEGs sent (the seed "
        "encodes at OpenCV's default quality).",
        "",
        "| scenario | cameras x viewers | frames/s per viewer mean / min "
        "| % of camera's frames mean / min | camera frames/s seen | parts/s per viewer "
        "| latency ms p50 / p95 / max "
        "| web CPU | capture CPU | Redis CPU | clients CPU | web RSS MB | KB/part |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(outcome.row() for outcome in outcomes.values()),
        "",
        "Targets (ours):",
        *targets(outcomes, args.stall_seconds),
    ]
    lines += [f"\n{name} failed: `{message}`" for name, message in failures.items()]
    for outcome in outcomes.values():
        if errors := [v["error"] for v in outcome.viewers if v["error"]]:
            lines.append(f"\n{outcome.scenario.name}: {len(errors)} viewers failed: `{errors[0]}`")
    return "\n".join(lines) + "\n"
