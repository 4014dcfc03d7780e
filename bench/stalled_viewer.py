"""A live.mp4 viewer that stops reading: what the web process holds for it, and where it resumes
(bench/two_streams.py's second part; its docstring says how it is measured)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.fmp4_client import Fragment, Viewer
from capture.memory import Memory

MEMORY_LIMIT = 2.0  # MB the web process may hold for a stalled viewer
AGE_LIMIT = 2.0  # s: how old the keyframe a resumed viewer starts at may be
READ_SECONDS = RESUME_SECONDS = 5.0
MB = 1024 * 1024


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


def watch_and_stall(url: str, token: str, slug: str, seconds: float, web_pid: int) -> Stall:
    """No viewer (after one came and went: the code paths it runs are loaded), a viewer that
    reads, stops reading for `seconds`, and reads again."""
    from cameras.live import Feed

    warm = Viewer(url, token, slug)
    warm.read_for(READ_SECONDS)
    warm.sock.close()
    time.sleep(Feed.linger + 2)  # the feed and its GOP let go
    stall, samples = Stall({"none": Memory.of(web_pid)}), []
    viewer = Viewer(url, token, slug)
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
