"""A camera's motion-detection settings, with their defaults and meaning. No OpenCV here: the
camera model takes its defaults from this, and the admin and the supervisor never load OpenCV."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DetectorSettings:
    threshold: int = 25  # grey-level difference that counts as change
    min_area: float = 0.005  # smallest region, as a fraction of the frame
    fps: float = 5.0  # detection rate; frames in between are not analysed
    width: int = 160  # detection image width in pixels
    mask: list = field(default_factory=list)  # polygons of [x, y] in 0..1 to ignore
    warmup_frames: int = 8
    learn_rate: float = 0.05  # background update where nothing moves
    absorb_seconds: float = 4.0  # a change that stays still this long joins the background
    relight_above: float = 0.02  # this fraction (or min_area, if less) changed: was it light?
    light_switch: float = 0.15  # a jump of brightness or contrast by this fraction at once
    global_change: float = 0.5  # this fraction changed at once is lighting, not motion

    @property
    def interval(self) -> float:
        """Seconds between detections, less 5 % so a frame arriving a hair early still counts."""
        return 0.95 / self.fps
