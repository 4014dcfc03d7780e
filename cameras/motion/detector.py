"""Background-subtraction motion detection on a small grey image. Knows nothing of Django.

Frames in, moving regions out: each frame is shrunk to `width` pixels, blurred, and compared with
a running-average background. Pixels that differ by more than `threshold` are motion; after a
morphological open (noise) and dilation (join the parts of one object) every connected region of
at least `min_area` of the frame is reported.

What is not an intruder:
- light that changes over the whole scene (daylight, clouds, a lamp dimming): when part of the
  frame changed, the background is refitted to the frame's brightness and contrast (measured
  where nothing moved last time); if the refit explains most of the change, it was light, and
  the refitted background is kept. An object changes only its own area, which a refit of the
  whole scene cannot explain, so it stays motion however large it is;
- a large jump of brightness or contrast at once, or a change over most of the frame (a light
  switch, the camera's IR day/night switch): the background starts over from this frame;
- something that arrives and stays (a parked car, a moved chair): pixels that differ from the
  background but no longer change from one detection to the next are taken into the background
  after `absorb_seconds`, so the event ends instead of lasting forever;
- sensor noise and insects: the open removes specks, `min_area` drops small regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from cameras.motion.settings import DetectorSettings

Box = tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


@dataclass
class Detection:
    boxes: list[Box]
    area: float  # fraction of the frame covered by reported regions

    @property
    def moving(self) -> bool:
        return bool(self.boxes)


NO_MOTION = Detection(boxes=[], area=0.0)


class MotionDetector:
    grow = 2  # pixels regions() adds around each object (two dilations by a 3x3 kernel)

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.background: np.ndarray | None = None  # float32 running average
        self.previous: np.ndarray | None = None  # the last detection's grey image
        self.still_for: np.ndarray | None = None  # detections each pixel has been a still change
        self.ignore: np.ndarray | None = None
        self.watched = 0  # pixels outside the ignored areas
        self.calm: np.ndarray | None = None  # where the last detection saw no motion
        self.frames_seen = 0
        self.absorb_after = max(1, math.ceil(self.settings.absorb_seconds * self.settings.fps))
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        # Whatever could be reported is first checked against a change of light.
        self.relight_above = min(self.settings.relight_above, self.settings.min_area)

    def detect(self, image: np.ndarray) -> Detection:
        """Moving regions in a BGR or grey frame, compared with the frames before it."""
        grey = self.prepare(image)
        if self.background is None or self.background.shape != grey.shape:
            self.reset(grey)
            return NO_MOTION
        self.frames_seen += 1
        if self.frames_seen <= self.settings.warmup_frames:
            cv2.accumulateWeighted(grey, self.background, 0.5)
            self.previous = grey
            return NO_MOTION
        changed = self.changed_pixels(grey, self.background)
        count = cv2.countNonZero(changed)
        if count == 0:  # a quiet scene, as most of the time
            self.learn_quiet(grey)
            return NO_MOTION
        if count > self.relight_above * self.watched:
            contrast, brightness, shift = self.lighting(grey)
            relit = self.background * contrast + brightness
            changed_relit = self.changed_pixels(grey, relit)
            count_relit = cv2.countNonZero(changed_relit)
            if count_relit < count / 2:  # the refit explains it: it was light
                limit = self.settings.light_switch
                if abs(contrast - 1) > limit or shift > limit:  # a switch, not a slow change
                    self.reset(grey)
                    return NO_MOTION
                self.background, changed, count = relit, changed_relit, count_relit
        if count > self.settings.global_change * self.watched:
            self.reset(grey)
            return NO_MOTION
        regions = self.regions(changed)
        self.learn(grey, changed, regions)
        return self.describe(regions)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The small, blurred grey image detection works on."""
        height, width = image.shape[:2]
        target = min(self.settings.width, width)
        size = (target, max(1, round(height * target / width)))
        if width > 2 * target:
            # Sample a large frame down to twice the target first: that reads only the pixels it
            # keeps, where grey conversion and area averaging at full size cost ~2 ms at 1080p.
            image = cv2.resize(image, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_NEAREST)
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if image.shape[1] != target:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(image, (5, 5), 0)

    def reset(self, grey: np.ndarray) -> None:
        self.background = grey.astype(np.float32)
        self.previous = grey
        self.still_for = np.zeros(grey.shape, np.uint16)
        self.ignore = self.mask_image(grey.shape)
        self.calm = self.ignore
        self.watched = grey.size if self.ignore is None else max(1, cv2.countNonZero(self.ignore))
        self.frames_seen = 0

    def mask_image(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """255 where detection looks, 0 inside the ignore polygons (None: look everywhere)."""
        if not self.settings.mask:
            return None
        height, width = shape[:2]
        keep = np.full((height, width), 255, np.uint8)
        for polygon in self.settings.mask:
            points = np.array([[x * width, y * height] for x, y in polygon], np.int32)
            cv2.fillPoly(keep, [points], 0)
        return keep

    def changed_pixels(self, grey: np.ndarray, background: np.ndarray) -> np.ndarray:
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(background))
        _, changed = cv2.threshold(diff, self.settings.threshold, 255, cv2.THRESH_BINARY)
        if self.ignore is not None:
            changed = cv2.bitwise_and(changed, self.ignore)
        return changed

    def lighting(self, grey: np.ndarray) -> tuple[float, float, float]:
        """(contrast, brightness, shift): frame = background * contrast + brightness, matched on
        spread and mean where nothing moved last time; shift is the mean's relative change."""
        mean_now, spread_now = self.mean_and_spread(grey)
        mean_before, spread_before = self.mean_and_spread(self.background)
        contrast = spread_now / spread_before if spread_before >= 1 else 1.0
        shift = abs(mean_now - mean_before) / max(1.0, mean_before)
        return contrast, mean_now - contrast * mean_before, shift

    def mean_and_spread(self, image: np.ndarray) -> tuple[float, float]:
        """As Python floats: a NumPy float64 would widen the float32 background for good."""
        mean, spread = cv2.meanStdDev(image, mask=self.calm)
        return float(mean[0][0]), float(spread[0][0])

    def regions(self, changed: np.ndarray) -> np.ndarray:
        opened = cv2.morphologyEx(changed, cv2.MORPH_OPEN, self.kernel)
        return cv2.dilate(opened, self.kernel, iterations=self.grow)

    def learn(self, grey: np.ndarray, changed: np.ndarray, regions: np.ndarray) -> None:
        """Follow the scene where nothing moves; take in changes that have stopped changing."""
        calm = cv2.bitwise_not(regions)
        cv2.accumulateWeighted(grey, self.background, self.settings.learn_rate, mask=calm)
        self.calm = calm if self.ignore is None else cv2.bitwise_and(calm, self.ignore)
        # OpenCV with masks, not NumPy temporaries: this runs on every analysed frame.
        steady = cv2.compare(
            cv2.absdiff(grey, self.previous), self.settings.threshold // 2, cv2.CMP_LT
        )
        still_change = cv2.bitwise_and(changed, steady)
        self.still_for = cv2.add(self.still_for, 1, mask=still_change)  # 0 where not still
        settled = cv2.compare(self.still_for, self.absorb_after, cv2.CMP_GE)
        if cv2.countNonZero(settled):
            taken = settled > 0
            self.background[taken] = grey[taken]
            self.still_for[taken] = 0
        self.previous = grey

    def learn_quiet(self, grey: np.ndarray) -> None:
        """learn() for a frame where no pixel changed, in 2 steps instead of 9: all of the scene
        is calm, and no change is still."""
        cv2.accumulateWeighted(grey, self.background, self.settings.learn_rate)
        self.calm = self.ignore
        self.still_for.fill(0)
        self.previous = grey

    def describe(self, regions: np.ndarray) -> Detection:
        height, width = regions.shape
        total = float(height * width)
        contours, _ = cv2.findContours(regions, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes: list[Box] = []
        area = 0.0
        for contour in contours:
            region_area = cv2.contourArea(contour) / total
            if region_area < self.settings.min_area:
                continue
            boxes.append(self.box(cv2.boundingRect(contour), width, height))
            area += region_area
        boxes.sort(key=lambda b: b[2] * b[3], reverse=True)
        return Detection(boxes=boxes, area=round(min(area, 1.0), 4))

    def box(self, rect: tuple[int, int, int, int], width: int, height: int) -> Box:
        """A region's bounding box without what the dilation added (none is added beyond the
        frame's edges), as fractions of the frame: at 160 px two pixels are 1.3 % a side."""
        x, y, w, h = rect
        left, top = (x + self.grow if x > 0 else 0), (y + self.grow if y > 0 else 0)
        right = x + w - self.grow if x + w < width else width
        bottom = y + h - self.grow if y + h < height else height
        right, bottom = max(right, left + 1), max(bottom, top + 1)
        return (left / width, top / height, (right - left) / width, (bottom - top) / height)
