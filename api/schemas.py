"""The API's payloads, as OpenAPI describes them: exactly the models' to_dict(), which the
websocket sends too (these classes describe those dicts; they make none of their own)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Field, Schema
from pydantic import AwareDatetime, field_validator

from events.forms import LONGEST

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Path = Annotated[str, Field(description="a path on this site")]


class CameraOut(Schema):
    slug: str
    name: str
    url: Path
    stream_url: Path = Field(description="MJPEG: multipart/x-mixed-replace")
    snapshot_url: Path = Field(description="the latest live frame, one JPEG")
    live_url: Path | None = Field(
        description="the camera's own H.264 as live fragmented MP4; null for a camera that "
        "sends pictures (MJPEG)"
    )
    armed: bool = Field(description="whether its events notify (e-mail, push, webhooks)")
    status: str = Field(description="starting, online, offline or error")
    detail: str
    fps: float | None
    since: Timestamp | None
    last_frame_at: Timestamp | None
    dropped_frames: int
    reconnects: int
    status_label: str
    since_label: str
    health_label: str
    recording: str = Field(description='what its recorder is doing ("" while idle)')


class EventOut(Schema):
    id: int
    camera: str
    camera_name: str
    started_at: Timestamp
    ended_at: Timestamp | None = Field(description="null while the motion goes on")
    area: float = Field(description="the largest fraction of the frame in motion (0..1)")
    duration: float | None = Field(description="seconds; null while it goes on")
    duration_label: str
    snapshot_url: str = Field(description='a path on this site; "" without a snapshot')
    clip_url: Path | None = Field(description="its video (MP4, HTTP ranges); null without one")
    url: Path
    objects: dict[str, float] = Field(
        description='what the object detector found: {label: best score}, e.g. {"person": 0.91}'
    )
    alert: bool = Field(
        description="false for a quiet event: its camera alerts only on objects, none found"
    )


class SpanOut(Schema):
    start: Timestamp
    end: Timestamp
    url: Path = Field(description="the span as one MP4 (at most an hour of it)")


class EventPage(Schema):
    items: list[EventOut] = Field(description="newest first")
    next: str | None = Field(description="the next page's URL; null on the last page")


class EventFilters(Schema):
    camera: str | None = Field(
        None, description="a camera's slug", max_length=50, pattern=r"^[-a-zA-Z0-9_]+$"
    )
    since: AwareDatetime | None = Field(None, description="started at or after (ISO 8601)")
    until: AwareDatetime | None = Field(None, description="started before (ISO 8601)")
    min_duration: float | None = Field(None, ge=0, le=LONGEST, description="seconds, finished")
    has_clip: bool | None = Field(None, description="with a recorded clip, or without")
    cursor: str | None = Field(None, max_length=200, description="from a page's `next`")
    limit: int = Field(50, ge=1, le=200)

    @field_validator("since", "until")
    @classmethod
    def in_utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        """As UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows."""
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:  # year 1 at +01:00 is before the first instant there is
            raise ValueError("out of range") from None


class Problem(Schema):
    detail: str
