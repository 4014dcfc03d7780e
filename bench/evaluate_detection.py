"""Motion-detection accuracy on real footage: the product's detector beside the seed's.

    .venv/bin/python bench/evaluate_detection.py --testdata DIR [--out bench/out/detection]

Clips (from --testdata, e.g. ../shared/testdata; each skipped with a message when missing):
- highway-events-15fps.mp4: event-level truth (`expected_motion`), lighting ramps;
- highway-640x480-15fps.mp4: CDnet per-frame truth (frame k = CDnet frame k+1, temporal ROI);
- five nuisance clips made here from the quiet first 10 s of the events clip (light switch,
  slow ramp, strong noise, insect, IR switch), written to <out>/clips; truth: no motion.

Both detectors run through the product's VideoAnalysis at the default DetectorSettings and
EventRules (see detection_run). Writes <out>/<clip>.png and <out>/accuracy.md and prints the
table; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from detection_clips import Clip, cdnet_clip, events_clip, nuisance_clips
from detection_metrics import Run, score, table
from detection_plot import plot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import REPO, setup_django

DEFAULT_OUT = REPO / "bench" / "out" / "detection"
DETECTOR = "cameras/motion"  # the product code measured, for the report's provenance


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def missing(*paths: Path) -> list[str]:
    return [str(path) for path in paths if not path.is_file()]


def gather_clips(testdata: Path, out: Path) -> list[Clip]:
    """The clips whose files exist; the nuisance clips are (re)made in <out>/clips."""
    events_video = testdata / "highway-events-15fps.mp4"
    cdnet = testdata / "highway-640x480-15fps.mp4", testdata / "cdnet-highway" / "gt_summary.csv"
    clips: list[Clip] = []
    if absent := missing(events_video, testdata / "highway-events-15fps.csv"):
        say(f"skipping the events clip: not found: {', '.join(absent)}")
    else:
        clips.append(events_clip(testdata))
    if absent := missing(*cdnet):
        say(f"skipping the CDnet highway clip: not found: {', '.join(absent)}")
    else:
        clips.append(cdnet_clip(testdata))
    if not events_video.is_file():
        say(f"skipping the nuisance clips (made from its quiet start): not found: {events_video}")
    else:
        say(f"making the nuisance clips in {out / 'clips'} ...")
        clips.extend(nuisance_clips(events_video, out / "clips"))
    return clips


def evaluate(clips: list[Clip], out: Path) -> list[tuple[Clip, list[Run]]]:
    """Run every detector over every clip and draw the clip's PNG."""
    from detection_run import DETECTORS, run_detector

    evaluated = []
    for number, clip in enumerate(clips, 1):
        runs: list[Run] = []
        for detector in DETECTORS:
            say(f"[{number}/{len(clips)}] {clip.name}: {detector} ...")
            run = run_detector(detector, str(clip.path))
            moving = sum(sample.moving for sample in run.samples)
            say(f"    {len(run.samples)} frames analysed, {moving} moving, "
                f"{len(run.events)} event(s), {run.seconds:.1f} s")  # fmt: skip
            runs.append(run)
        png = out / f"{clip.name}.png"
        plot(clip, runs, png)
        say(f"    wrote {png}")
        evaluated.append((clip, runs))
    return evaluated


def listing(evaluated: list[tuple[Clip, list[Run]]]) -> str:
    """The events each detector found, per clip, in seconds."""
    lines = ["## Events found (seconds)", ""]
    for clip, runs in evaluated:
        lines.append(f"- {clip.name} ({clip.note}); truth: {spans(clip.intervals) or 'none'}")
        lines.extend(f"  - {run.detector}: {spans(run.events) or 'none'}" for run in runs)
    return "\n".join(lines) + "\n"


def spans(intervals: list[tuple[float, float]]) -> str:
    return ", ".join(f"{start:.1f}-{end:.1f}" for start, end in intervals)


def provenance() -> str:
    """Which product code was measured: HEAD, and whether the detector has uncommitted edits."""
    digest = hashlib.sha256()
    for path in sorted((REPO / DETECTOR).glob("*.py")):
        digest.update(path.read_bytes())
    dirty = "uncommitted changes" if git("status", "--porcelain", DETECTOR) else "as committed"
    head = git("rev-parse", "--short", "HEAD")
    return f"commit {head}, {DETECTOR}/ {dirty} ({digest.hexdigest()[:12]})"


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def report(evaluated: list[tuple[Clip, list[Run]]]) -> str:
    """The markdown report: the table, the per-detector summary, the events, what was run."""
    from detection_run import DETECTORS, describe_settings

    results = [(clip, run.detector, score(clip, run)) for clip, runs in evaluated for run in runs]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# Motion-detection accuracy: ours vs the seed",
        "",
        f"Run {when} on {provenance()}. Both detectors at 5 detections/s through the product's "
        f"VideoAnalysis and MotionSegmenter: {describe_settings()}. The seed is "
        "bench/seed_detector.py. Event recall counts ground-truth intervals >= 1 s; frame "
        "scores are per analysed frame; false-alarm frames are analysed frames flagged moving "
        "where the truth is quiet, over all quiet analysed frames (CDnet highway has almost "
        "none: its traffic never stops). On the nuisance clips the truth is no motion at all.",
        "",
        "",
    ]
    return "\n".join(head) + table(results, DETECTORS) + "\n" + listing(evaluated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where PNGs, clips go")
    parser.add_argument("--testdata", type=Path, required=True,
                        help="the test data (../shared/testdata: see its README)")  # fmt: skip
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evaluate-detection-") as data_dir:
        setup_django(Path(data_dir))  # nothing of a real install is touched
        clips = gather_clips(args.testdata, out)
        if not clips:
            say(f"no clips found under {args.testdata}: nothing to evaluate")
            return 1
        text = report(evaluate(clips, out))
    print(text)
    (out / "accuracy.md").write_text(text)
    say(f"wrote {out / 'accuracy.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
