"""A camera's H.264 as a live fragmented MP4, in the capture worker: one fragment per frame, made
once for every viewer, the camera's own packets inside (nothing decoded, nothing encoded).

A viewer needs the init segment (ftyp and moov: the codec's parameters) and then fragments from a
keyframe on; browsers play that through Media Source Extensions, and ffplay, VLC or Home
Assistant read it over HTTP as any MP4.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import av

LIVE = {"movflags": "frag_keyframe+empty_moov+default_base_moof+frag_every_frame"}


def copy_packet(packet: av.Packet, pts: int, dts: int) -> av.Packet:
    """A packet of the same bytes with new timestamps: muxing rescales and keeps the packet it is
    given, and the camera's packet may still be written elsewhere."""
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts, copy.time_base = pts, dts, packet.time_base
    copy.duration, copy.is_keyframe = packet.duration, packet.is_keyframe
    return copy


def mime_of(stream: av.VideoStream) -> str:
    """The MIME type with codecs Media Source Extensions want ("" for what a browser can't take):
    avc1.PPCCLL from the sequence parameter set, in the avcC record or in band."""
    context = stream.codec_context
    if context.name != "h264":
        return ""
    data = bytes(context.extradata or b"")
    if data[:1] == b"\x01" and len(data) >= 4:  # an avcC record: profile, flags, level follow
        profile = data[1:4]
    else:  # Annex B: the SPS after its start code, if the container had one
        at = data.find(b"\x00\x00\x01\x67")
        if at < 0 or len(data) < at + 7:
            return 'video/mp4; codecs="avc1.42E01E"'  # unknown: baseline 3.0, as most play
        profile = data[at + 4 : at + 7]
    return f'video/mp4; codecs="avc1.{profile.hex().upper()}"'


class Sink:
    """Where the muxer writes: kept until taken. It cannot seek, so the muxer never goes back."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def take(self) -> bytes:
        data, self.data = bytes(self.data), bytearray()
        return data


@dataclass
class Fragment:
    data: bytes  # a moof and its mdat
    key: bool  # it starts with a keyframe: a viewer may start here


class LiveMuxer:
    """Packets in, fragments out. The muxer writes a frame's fragment once the next frame is in
    (it needs the duration), so a fragment comes one frame late; the first keyframe begins it."""

    def __init__(self, template: av.VideoStream) -> None:
        self.sink = Sink()
        self.container = av.open(self.sink, "w", format="mp4", options=LIVE)
        self.stream = self.container.add_stream_from_template(template)
        self.mime = mime_of(template)
        self.init = b""
        self.base: int | None = None
        self.last_dts = -1
        self.waiting_key: bool | None = None  # the key flag of the frame not yet written out

    def add(self, packet: av.Packet) -> list[Fragment]:
        if self.base is None:
            if not packet.is_keyframe:
                return []  # a viewer can only start at a keyframe
            self.base = packet.dts
        dts = max(packet.dts - self.base, self.last_dts + 1)
        copy = copy_packet(packet, max(packet.pts - self.base, dts), dts)
        copy.stream, self.last_dts = self.stream, dts
        self.container.mux(copy)
        written = self.sink.take()
        fragments = []
        if written and not self.init:
            self.init, written = written, b""  # the first write is the header alone
        if written and self.waiting_key is not None:
            fragments.append(Fragment(written, self.waiting_key))
        self.waiting_key = packet.is_keyframe
        return fragments

    def close(self) -> None:
        with contextlib.suppress(av.FFmpegError, OSError):
            self.container.close()
