"""`manage.py analyze --workers N`: the file's pieces (`cameras/pieces.py`) analysed by a pool of
N processes, one thread each, motion and (with a model) objects, the events put back in order.

Spawned, not forked: a fork of a process with OpenCV's and PyAV's threads hung. The pieces report
their frames through a queue, so the progress bar shows the sum. A process that dies makes the
pool broken at once (concurrent.futures, unlike multiprocessing.Pool, which waits for ever).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import queue as queues
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

import cv2

from cameras.analysis import FoundEvent, Progress, VideoAnalysis
from cameras.motion.segments import EventRules
from cameras.motion.settings import DetectorSettings
from cameras.pieces import Piece, PieceResult, merge
from cameras.sources import SourceError

REPORT_EVERY = 50  # frames between a piece's progress reports

_reports: multiprocessing.Queue | None = None  # each pool process's, to the parent
_model: str | None = None  # what each pool process loads for objects (None: motion only)


class PoolError(RuntimeError):
    """A pool process failed or died; the message says which piece and how."""


def _start_pool_process(reports: multiprocessing.Queue, model: str | None) -> None:
    global _reports, _model
    cv2.setNumThreads(1)
    _reports, _model = reports, model


def analyse(path: str, settings: DetectorSettings, rules: EventRules, model: str | None,
            piece: Piece | None = None, progress: Progress | None = None,
            threads: int | None = 1) -> VideoAnalysis:  # fmt: skip
    """One piece (or the whole file), with objects when `model` is not None (as
    SURVEILLANCE_OBJECT_MODEL: a spawned process has no settings of its own)."""
    finder = None
    if model is not None:
        from objects.analysis import ObjectAnalysis
        from objects.detector import Detector
        from objects.model import load_network

        finder = ObjectAnalysis(Detector(load_network(model)))
    analysis = VideoAnalysis(settings, rules, finder.on_peak if finder else None)
    analysis.run(path, progress=progress, piece=piece, threads=threads)
    if finder is not None:
        finder.fill(analysis.events)
    return analysis


def _analyse_piece(path: str, piece: Piece, settings: DetectorSettings,
                   rules: EventRules) -> PieceResult:  # fmt: skip
    def report(done: int, total: int) -> None:
        if done % REPORT_EVERY == 0:
            _reports.put((piece.number, done))

    analysis = analyse(path, settings, rules, _model, piece, report)
    _reports.put((piece.number, analysis.frames))
    return PieceResult(piece.number, analysis.events, analysis.stopped_at, os.getpid(),
                       analysis.frames)  # fmt: skip


class AnalysisPool:
    def __init__(self, settings: DetectorSettings, rules: EventRules, model: str | None) -> None:
        self.settings, self.rules, self.model = settings, rules, model
        self.results: list[PieceResult] = []

    def run(self, path: str, pieces: list[Piece], total: int,
            progress: Progress | None = None) -> list[FoundEvent]:  # fmt: skip
        """SourceError as one process gives it; PoolError for any other failure."""
        context = multiprocessing.get_context("spawn")
        reports = context.Queue()
        with concurrent.futures.ProcessPoolExecutor(
            len(pieces), context, _start_pool_process, (reports, self.model)
        ) as pool:
            futures = [
                pool.submit(_analyse_piece, path, piece, self.settings, self.rules)
                for piece in pieces
            ]
            try:
                self.follow(futures, reports, lambda done: progress and progress(done, total))
                self.results = [self.result(future, piece) for future, piece in zip(
                    futures, pieces, strict=True)]  # fmt: skip
                if progress is not None:  # the last reports may still be on their way
                    progress(sum(result.frames for result in self.results), total)
            finally:
                for future in futures:
                    future.cancel()
        return merge(self.results)

    def follow(self, futures: list[concurrent.futures.Future], reports: multiprocessing.Queue,
               progress: Callable[[int], object]) -> None:  # fmt: skip
        """Until every piece is done or one failed, the sum of their frames to `progress`."""
        done: dict[int, int] = {}
        while True:
            finished, running = concurrent.futures.wait(
                futures, 0.1, concurrent.futures.FIRST_EXCEPTION
            )
            while True:
                try:
                    number, frames = reports.get_nowait()
                except queues.Empty:
                    break
                done[number] = frames
                progress(sum(done.values()))
            if not running or any(f.exception() for f in finished):
                return

    def result(self, future: concurrent.futures.Future, piece: Piece) -> PieceResult:
        try:
            return future.result()
        except SourceError:
            raise
        except BrokenProcessPool:
            raise PoolError(
                f"an analysis process died (piece {piece.number + 1}, from {piece.cut:.1f} s)"
            ) from None
        except Exception as exc:
            raise PoolError(
                f"analysis of piece {piece.number + 1} (from {piece.cut:.1f} s) failed: {exc}"
            ) from exc
