"""What one client may make the web server hold, before the application sees anything.

- A request head (the request line and headers) must arrive whole within HEAD_TIMEOUT of its
  first byte. Twisted's idle timeout restarts with every byte, so a client sending a header line
  every few seconds (Slowloris) held its connection for as long as it liked.
- A request body may be at most the limit for its path (REQUEST_BODY_LIMITS: the longest
  matching prefix), checked against Content-Length as soon as the head is in, and counted as a
  chunked body arrives. Twisted reads a whole body (into a temporary file past 100 KB) before
  Daphne hands it to Django, which then reads it again: an anonymous 200 MB POST to the login
  page grew the server by 214 MB before Django answered 403.
- A websocket may send at most WS_RATE messages a second (WS_BURST at once) and have at most
  WS_QUEUE waiting for the application; beyond either it is closed with 4429. Daphne queued every
  message without a bound: 200 000 in 1.6 s kept it busy for a minute and grew it by 200 MB.
  What the server holds for a client that does not read is bounded too (WS_SEND_BUFFER).

A refused request gets its answer (413, 408) and the connection is half-closed; what the client
still sends is read and dropped for a moment (so that it sees the answer instead of a reset),
then the connection is closed.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import unquote, urlsplit

from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor
from twisted.internet.interfaces import IDelayedCall
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from cameras.sockets import TOO_MANY, QuietLog

logger = logging.getLogger(__name__)
refusals = QuietLog(logger)

HEAD_TIMEOUT = 10.0  # seconds from a request's first byte to the end of its headers
LINGER = 2.0  # seconds a refused request's connection is read (and dropped) before closing
WS_RATE, WS_BURST = 100.0, 200  # messages per second a websocket may send, and at once
WS_QUEUE = 64  # messages waiting for the application
WS_SEND_BUFFER = 16 * 1024 * 1024  # bytes held for a client that does not read


def body_limit(target: bytes) -> int:
    """The most a request body may be, in bytes, for this request target (path and query, as
    sent): the entry in settings.REQUEST_BODY_LIMITS for the longest prefix of its path."""
    from django.conf import settings  # configured: Daphne loaded the application first

    path = unquote(urlsplit(target.decode("latin-1")).path) or "/"
    limits = settings.REQUEST_BODY_LIMITS
    return limits[max((p for p in limits if path.startswith(p)), key=len, default="/")]


def answer(status: int, reason: str, text: str) -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


class Channel(HTTPChannel):
    """Twisted's HTTP connection, with a deadline for each request head and bodies bounded."""

    head_deadline: IDelayedCall | None = None
    closing: IDelayedCall | None = None
    refusing = False  # an answer is on its way: what the client sends is dropped

    def dataReceived(self, data: bytes) -> None:
        if self.refusing:
            return
        if self.head_deadline is None and self.line_mode and not self._handlingRequest:
            self.head_deadline = reactor.callLater(HEAD_TIMEOUT, self.head_too_slow)
        super().dataReceived(data)

    def rawDataReceived(self, data: bytes) -> None:
        if not self.refusing:
            super().rawDataReceived(data)

    def allHeadersReceived(self) -> None:
        self.stop_head_deadline()
        limit = body_limit(self._path)
        if self.length is not None and self.length > limit:  # None: chunked, counted below
            self.refuse_body(limit, f"Content-Length {self.length}")
            return
        super().allHeadersReceived()
        self.requests[-1].body_limit = limit

    def allContentReceived(self) -> None:
        if not self.refusing:  # a chunked body can end in the data that went over the limit
            super().allContentReceived()

    def refuse_body(self, limit: int, what: str) -> None:
        refusals.warning("request body refused from %s: %s, the limit is %d", self.peer(), what,
                         limit)  # fmt: skip
        text = f"Request body too large: at most {limit} bytes here.\n"
        self.refuse(answer(413, "Content Too Large", text))

    def head_too_slow(self) -> None:
        self.head_deadline = None
        refusals.warning("request head from %s not complete after %g s", self.peer(),
                         HEAD_TIMEOUT)  # fmt: skip
        self.refuse(answer(408, "Request Timeout", "The request took too long to arrive.\n"))

    def refuse(self, response: bytes) -> None:
        self.refusing = True
        self.stop_head_deadline()
        self.setTimeout(None)
        self.transport.write(response)
        self.transport.loseWriteConnection()
        self.closing = reactor.callLater(LINGER, self.transport.abortConnection)

    def stop_head_deadline(self) -> None:
        if self.head_deadline is not None and self.head_deadline.active():
            self.head_deadline.cancel()
        self.head_deadline = None

    def connectionLost(self, reason: object) -> None:
        self.stop_head_deadline()
        if self.closing is not None and self.closing.active():
            self.closing.cancel()
        super().connectionLost(reason)

    def peer(self) -> str:
        return str(getattr(self.transport.getPeer(), "host", "?"))


class Request(WebRequest):
    """Daphne's request, counting its body as it arrives."""

    body_limit = 0  # set once the head is in
    body_received = 0

    def handleContentChunk(self, data: bytes) -> None:
        if self.channel is None or self.channel.refusing:
            return
        self.body_received += len(data)
        if self.body_received > self.body_limit:
            self.channel.refuse_body(self.body_limit, f"more than {self.body_limit} bytes sent")
            return
        super().handleContentChunk(data)


class BoundedHTTPFactory(HTTPFactory):
    """Daphne's HTTP factory, making our Channel and Request."""

    def protocol(self) -> _GenericHTTPChannelProtocol:  # what Twisted's buildProtocol calls
        return _GenericHTTPChannelProtocol(Channel())

    def buildProtocol(self, addr: object) -> _GenericHTTPChannelProtocol:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = Request
        return protocol


class TokenBucket:
    """`rate` a second on average, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class BoundedWebSocket(WebSocketProtocol):
    """Daphne's websocket, closed with 4429 when its client sends more than any page does."""

    refused = False
    bucket: TokenBucket | None = None

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.refused:
            return
        if self.bucket is None:
            self.bucket = TokenBucket(WS_RATE, WS_BURST)
        queue = getattr(self, "application_queue", None)
        if not self.bucket.take():
            self.refuse(f"more than {WS_RATE:g} messages a second")
        elif queue is not None and queue.qsize() >= WS_QUEUE:
            self.refuse(f"{WS_QUEUE} messages waiting for the application")
        else:
            super().onMessage(payload, isBinary)

    def refuse(self, why: str) -> None:
        self.refused = True
        refusals.warning("websocket %s from %s closed with %d: %s", self.request.path,
                         self.peer_host(), TOO_MANY, why)  # fmt: skip
        self.sendClose(code=TOO_MANY, reason="too many messages")
        # What it has sent meanwhile stays in the kernel: no more of it is read and parsed. The
        # close handshake then times out and the connection is dropped.
        self.transport.pauseProducing()

    def handle_reply(self, message: dict) -> None:
        if message["type"] == "websocket.send" and buffered(self.transport) > WS_SEND_BUFFER:
            refusals.warning("websocket %s from %s dropped: it does not read what it is sent",
                             self.request.path, self.peer_host())  # fmt: skip
            self.dropConnection(abort=True)
            return
        super().handle_reply(message)

    def peer_host(self) -> str:
        return (self.client_addr or ["?"])[0]


def buffered(transport: object) -> int:
    """Bytes Twisted holds for a connection, not yet handed to the kernel (0 where unknown)."""
    data = getattr(transport, "dataBuffer", b"")
    return len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)
