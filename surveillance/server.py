"""The web server: Daphne, with backpressure on streamed responses, the client's address from
trusted proxies only, and bounds on what a client may send (surveillance/limits.py).

    python -m surveillance.server [daphne's options] surveillance.asgi:application

Daphne's send() writes each chunk of a response into Twisted's buffer and returns at once, however
full that buffer is. A client that stops reading an MJPEG stream (a phone on bad Wi-Fi, a tab in
the background) therefore makes the server hold every frame it is sent, growing by the stream's
bitrate (about 0.75 MB/s at 640x480 15 fps) for as long as the connection lives.

Here a response that streams registers a push producer with Twisted, and its send() returns only
once the chunk has left Twisted's buffer and the kernel has sent nearly all of it on. The kernel
takes megabytes into a connection's send buffer when the client does not read (Linux grows it on
its own): seconds of video a slow client would read through before it saw a new frame. So send()
also waits while more than a little of what was written is still unsent (SIOCOUTQNSD); bytes in
flight do not count, so a fast client on a long link is not slowed. The stream view asks for the
newest frame only after send() returns, so a slow viewer gets fewer frames, never old ones, and a
stalled one holds about one frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import struct

from daphne.cli import CommandLineInterface as DaphneCommandLine
from daphne.http_protocol import WebRequest
from daphne.server import Server as DaphneServer
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from accounts.proxies import TrustedProxies, parse_networks
from surveillance.limits import BoundedHTTPFactory, BoundedWebSocket

DISCONNECT_CHECK = 1.0  # seconds between checks that a paused client is still connected
SIOCOUTQNSD = 0x894B  # Linux: bytes in a TCP socket's send queue not yet sent
UNSENT_LIMIT = 16 * 1024  # a streamed response waits while more than this is unsent
UNSENT_CHECK = 0.02  # seconds between checks while it waits
# No page sends a websocket message longer than 8 KB (cameras/sockets.py); Daphne takes 1 MB.
WEBSOCKET_MAX_MESSAGE = 64 * 1024


@implementer(IPushProducer)
class Backpressure:
    """Whether one response may send more. Its connection's Twisted buffer is set to pause it on
    every write and resume it once all is in the kernel (or the connection is lost)."""

    def __init__(self) -> None:
        self.resumed = asyncio.Event()
        self.resumed.set()

    def pauseProducing(self) -> None:  # Twisted's names
        self.resumed.clear()

    def resumeProducing(self) -> None:
        self.resumed.set()

    def stopProducing(self) -> None:
        self.resumed.set()


class Server(DaphneServer):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from django.conf import settings  # configured: Daphne loaded the application first

        # A bad entry stops the server here, with the entry named (system check accounts.E001).
        self.trusted_proxies = TrustedProxies(parse_networks(settings.TRUSTED_PROXIES))
        self.websocket_max_message_size = min(
            self.websocket_max_message_size, WEBSOCKET_MAX_MESSAGE
        )
        self.websocket_max_frame_size = min(self.websocket_max_frame_size, WEBSOCKET_MAX_MESSAGE)

    # Daphne's run() makes its factories under these names: ours bound what a client may send
    # (surveillance/limits.py).
    @property
    def http_factory(self) -> BoundedHTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, daphnes: object) -> None:
        self._http_factory = BoundedHTTPFactory(self)

    @property
    def ws_factory(self) -> object:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: object) -> None:
        factory.protocol = BoundedWebSocket
        # A protocol error (text that is not UTF-8, a message over the limit) is answered with
        # its close code (1007, 1009) before the connection is dropped, not by a bare drop.
        factory.setProtocolOptions(failByDrop=False)
        self._ws_factory = factory

    def create_application(self, protocol: object, scope: dict) -> object:
        self.resolve_client(scope)
        return super().create_application(protocol, scope)

    def resolve_client(self, scope: dict) -> None:
        """The client's own address (and scheme) when the connection is from a trusted proxy."""
        if not scope.get("client"):
            return
        headers = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, []).append(value.decode("latin-1"))
        client = self.trusted_proxies.client(
            scope["client"][0], headers.get(b"x-forwarded-for", [])
        )
        if client is None:
            return
        scope["client"] = [client, 0]
        proto = headers.get(b"x-forwarded-proto", [""])[-1].strip().lower()
        if proto in ("http", "https"):
            secure = proto == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = proto

    async def handle_reply(self, protocol: object, message: dict) -> None:
        producer = None
        if isinstance(protocol, WebRequest) and message["type"] == "http.response.body":
            producer = self.streaming(protocol, more=message.get("more_body", False))
        await super().handle_reply(protocol, message)
        if producer is not None:
            await self.drained(protocol, producer)

    def streaming(self, request: WebRequest, more: bool) -> Backpressure | None:
        """The response's producer while it has more to send; unregistered before the last
        chunk, because Twisted insists on that before a response finishes."""
        if request.finished or request.channel is None:
            return None
        if not more:
            if isinstance(request.producer, Backpressure):
                request.unregisterProducer()
                with contextlib.suppress(AttributeError):  # the connection may serve more
                    del request.channel.transport.bufferSize
            return None
        if request.producer is None:
            request.registerProducer(Backpressure(), True)
            request.channel.transport.bufferSize = 0  # pause until each chunk is in the kernel
        return request.producer if isinstance(request.producer, Backpressure) else None

    async def drained(self, request: WebRequest, producer: Backpressure) -> None:
        """Return once the client has taken nearly all that was sent, or is gone."""
        while not self.gone(request):
            if not producer.resumed.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(producer.resumed.wait(), DISCONNECT_CHECK)
            elif unsent_bytes(request) > UNSENT_LIMIT:
                await asyncio.sleep(UNSENT_CHECK)
            else:
                return

    def gone(self, request: WebRequest) -> bool:
        details = self.connections.get(request)
        return details is None or bool(details.get("disconnected"))


def unsent_bytes(request: WebRequest) -> int:
    """What the kernel holds for this connection and has not sent yet (0 where unknown)."""
    try:
        fd = request.channel.transport.getHandle().fileno()
        return struct.unpack("i", fcntl.ioctl(fd, SIOCOUTQNSD, b"\0" * 4))[0]
    except (AttributeError, OSError):
        return 0


class CommandLine(DaphneCommandLine):
    server_class = Server


if __name__ == "__main__":
    CommandLine.entrypoint()
