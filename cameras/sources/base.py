"""What every camera backend is, and the frames it hands over."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cameras.jpeg import REDUCED_GREY, decode_jpeg
from cameras.sources.parse import redact


class Frame:
    """One picture from a camera, decoded only as far as somebody needs it.

    A source may hand a frame over undecoded, with `decode` to make its BGR `image` on first use,
    or as the camera's own JPEG. Most frames are neither analysed (detection runs at a few fps)
    nor watched, and those then cost no colour conversion and no JPEG decode at all.

    A frame's pixels are its own: every source hands over new arrays for every frame.
    """

    def __init__(
        self,
        image: np.ndarray | None = None,  # BGR, as OpenCV wants it
        captured_at: float = 0.0,  # Unix seconds
        grey: np.ndarray | None = None,  # the camera's own small luma image, when it has one
        *,
        decode: Callable[[], np.ndarray] | None = None,
        jpeg: bytes | None = None,  # the camera's own JPEG, to pass on to viewers untouched
        width: int = 0,
        packets: Sequence[object] = (),  # the camera's own packets up to this frame (PyAV)
        stream_time: float | None = None,  # seconds on the camera's own clock (its timestamps)
    ) -> None:
        if image is None and decode is None and jpeg is None and not packets:
            raise ValueError("a frame needs an image, a decoder, a JPEG or packets")
        self._image, self._decode = image, decode
        self.captured_at, self.grey, self.jpeg = captured_at, grey, jpeg
        self._width = width
        self.packets, self.stream_time = packets, stream_time

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            self._image = self._decode() if self._decode else decode_jpeg(self.jpeg)
            self._decode = None
        return self._image

    def keep(self) -> Frame:
        """This frame, made safe to hold after the source reads the next one: a grabbed frame is
        converted now, while it still can be; a camera's JPEG stays undecoded until used."""
        if self._decode is not None:
            self.image  # noqa: B018 (converts and stores the picture)
        return self

    @property
    def width(self) -> int:
        return self._width or self.image.shape[1]

    def detection_image(self, width: int = 0) -> np.ndarray:
        """A picture at least `width` pixels wide (or the whole frame) for motion detection:
        the camera's grey image, a JPEG decoded straight to reduced-size grey (libjpeg-turbo
        scales while decoding), or the full image."""
        if self.grey is not None:
            return self.grey
        if self.jpeg is not None and self._image is None and self._width:
            factor = next((f for f in (8, 4, 2) if self._width // f >= width), 1)
            return decode_jpeg(self.jpeg, REDUCED_GREY[factor])
        return self.image


class Source:
    """A camera. read() blocks for at most about a frame interval plus the read timeout."""

    fps: float = 15.0

    def __init__(self, target: str) -> None:
        self.target = target

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> Frame:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return redact(self.target)
