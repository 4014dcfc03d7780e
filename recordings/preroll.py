"""Pre-roll: the last seconds of a camera's video, held in memory so that an event's clip starts
before the motion did.

What is held is what the clip will be made of: the camera's own packets (H.264, H.265), or its
own JPEGs (an MJPEG camera), or the frames of a camera that sends pictures, as JPEGs. It is held
by group of pictures, each from a keyframe, because a clip can only start at one: enough groups
that the oldest keyframe is at least `seconds` old. Memory is bounded by MAX_BYTES whatever the
camera does: a stream with no keyframe for a long time loses the start of its pre-roll, not the
memory of the machine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MAX_BYTES = 16 * 1024 * 1024  # per camera; 10 s at 4 Mbit/s plus a 2 s group is about 6 MB


@dataclass
class Item:
    data: object  # an av.Packet, or JPEG bytes
    at: float  # capture time, Unix seconds
    keyframe: bool
    size: int


@dataclass
class Group:
    """The items from one keyframe (or, once the front was dropped for memory, from none)."""

    items: list[Item] = field(default_factory=list)
    size: int = 0

    @property
    def whole(self) -> bool:
        return bool(self.items) and self.items[0].keyframe

    @property
    def at(self) -> float:
        return self.items[0].at


class PreRoll:
    def __init__(self, seconds: float, max_bytes: int = MAX_BYTES) -> None:
        self.seconds, self.max_bytes = seconds, max_bytes
        self.groups: deque[Group] = deque()
        self.size = 0

    def add(self, item: Item) -> None:
        if item.keyframe or not self.groups:
            self.groups.append(Group())
        group = self.groups[-1]
        group.items.append(item)
        group.size += item.size
        self.size += item.size
        self.trim(item.at)

    def trim(self, now: float) -> None:
        # The second-oldest group already starts `seconds` ago: the oldest is not needed.
        while len(self.groups) > 1 and self.groups[1].at <= now - self.seconds:
            self.drop_group()
        while self.size > self.max_bytes:
            if len(self.groups) > 1:
                self.drop_group()
            else:  # one group too big for memory: the pre-roll loses its start
                oldest = self.groups[0]
                item = oldest.items.pop(0)
                oldest.size -= item.size
                self.size -= item.size

    def drop_group(self) -> None:
        self.size -= self.groups.popleft().size

    def since(self, at: float) -> list[Item]:
        """What a clip starting at `at` begins with: from the last whole group starting at or
        before `at` (or the first whole one after it) to now."""
        whole = [group for group in self.groups if group.whole]
        if not whole:
            return []
        start = next((g for g in reversed(whole) if g.at <= at), whole[0])
        groups = list(self.groups)
        return [item for group in groups[groups.index(start) :] for item in group.items]

    def clear(self) -> None:
        self.groups.clear()
        self.size = 0
