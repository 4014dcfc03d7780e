"""Source strings (INTERFACE.md) parsed into a kind and a target, and credentials kept out of
sight. Plain text handling only: the admin, migrations and the supervisor use this without
loading OpenCV.
"""

from __future__ import annotations

import os
import re
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

NETWORK_SCHEMES = {"rtsp", "rtsps", "http", "https"}
MASK = "***"  # what a password looks like in pages and logs
# What may stand unencoded in a URL's user:password (RFC 3986 unreserved and sub-delims): a
# password written back into a URL reads as the user typed it, only @ : / ? # % and the like
# percent-encoded.
USERINFO_SAFE = "-._~!$&'()*+,;="
# Characters no camera URL or path needs and every injection does.
FORBIDDEN = re.compile(r"[\s;|`<>\\]|\$\(|\x00")
# "name:" at the start of a source: a scheme, ours or FFmpeg's.
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# What FFmpeg would open by protocol instead of as a file (`ffmpeg -protocols`, FFmpeg 5-7). A
# camera that is a file is opened by its absolute path, so none of these can be reached.
FFMPEG_PROTOCOLS = frozenset((
    "amqp", "async", "bluray", "cache", "concat", "concatf", "crypto", "data", "fd",
    "ffrtmpcrypt", "ffrtmphttp", "ftp", "gopher", "gophers", "hls", "httpproxy", "icecast",
    "ipfs", "ipns", "librist", "libsmbclient", "libssh", "md5", "mmsh", "mmst", "pipe",
    "prompeg", "rist", "rtmp", "rtmpe", "rtmps", "rtmpt", "rtmpte", "rtmpts", "rtp", "sctp",
    "sftp", "smb", "srt", "srtp", "subfile", "tcp", "tee", "tls", "udp", "udplite", "unix", "zmq",
))  # fmt: skip


class SourceError(Exception):
    """A source that cannot be parsed, opened or read; the message is safe to log and show."""


class EndOfStream(SourceError):
    """A file source that reached its end and does not loop."""


class CorruptFrame(SourceError):
    """One frame that does not decode; the next one may well."""


def parse_source(text: str) -> tuple[str, str]:
    """(kind, target) for a source string, or SourceError saying what is wrong with it. A file's
    target is its absolute path, so that FFmpeg never reads a part of it as a protocol."""
    text = text.strip()
    if not text:
        raise SourceError("the camera source is empty")
    if FORBIDDEN.search(text) or text.startswith("-"):
        raise SourceError("the camera source contains characters that are not allowed")
    match = SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    rest = text[match.end() :] if match else text
    if text == "demo":
        return "demo", "default"
    if scheme == "demo":
        if rest and not re.fullmatch(r"[\w-]{1,40}", rest):
            raise SourceError("demo:NAME takes letters, digits, - and _ only")
        return "demo", rest or "default"
    if scheme in NETWORK_SCHEMES:
        return "network", _network_url(text, scheme)
    if scheme == "usb":
        if not rest.isdigit():
            raise SourceError("usb:N takes a device number, e.g. usb:0")
        return "usb", rest
    if text.startswith("/dev/"):
        if not re.fullmatch(r"/dev/video\d+", text):
            raise SourceError("device paths must look like /dev/videoN")
        return "usb", text.removeprefix("/dev/video")
    if scheme == "picamera2":
        if not rest.isdigit():
            raise SourceError("picamera2:N takes a camera number, e.g. picamera2:0")
        return "picamera2", rest
    if scheme == "file":
        return "file", _file_path(rest)
    if scheme in FFMPEG_PROTOCOLS:
        raise SourceError(f"{scheme}: is an FFmpeg protocol, not a camera source")
    if scheme:
        raise SourceError(
            f"unknown camera source type {scheme!r} (a file whose name has a colon: ./{text})"
        )
    return "file", _file_path(text)


def normalize_source(text: str) -> str:
    """The source as it is stored: a file by its absolute path (resolved where it was entered,
    not wherever a worker happens to run), anything else as given."""
    kind, target = parse_source(text)
    return target if kind == "file" else text.strip()


def _file_path(path: str) -> str:
    if not path:
        raise SourceError("file:PATH needs a path")
    if path.startswith("-"):  # whatever reads it must never take it for an option
        raise SourceError("the camera source contains characters that are not allowed")
    return os.path.abspath(path)


def _network_url(text: str, scheme: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError as exc:
        raise SourceError(f"the {scheme}:// camera URL is malformed: {exc}") from None
    if not parts.hostname:
        raise SourceError(f"a {scheme}:// camera URL needs a host")
    if not re.fullmatch(r"[\w.\-\[\]:]+", parts.hostname) or parts.hostname.startswith("-"):
        raise SourceError(f"the {scheme}:// camera URL's host name is not valid")
    return text


def host_and_port(parts: SplitResult) -> str:
    """The URL's host[:port] as it must be written back: IPv6 addresses in brackets."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """The URL without user:password, and the user and password (urllib will not take them in
    the URL, and they must never reach a log line)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None, None
    bare = urlunsplit(parts._replace(netloc=host_and_port(parts)))
    return bare, unquote(parts.username), unquote(parts.password or "")


def take_password(source: str) -> tuple[str, str | None]:
    """A network source without the password in its URL (the user name stays), and that
    password (None when it has none, or is no URL)."""
    try:
        parts = urlsplit(source)
        if parts.scheme.lower() not in NETWORK_SCHEMES or parts.password is None:
            return source, None
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=user + host_and_port(parts))), unquote(
            parts.password
        )
    except ValueError:  # the source's validator says what is wrong with it
        return source, None


def with_password(source: str, password: str) -> str:
    """The URL to open: the source with the password put back (only where a camera is opened;
    never logged, stored or shown)."""
    parts = urlsplit(source)
    if not password or parts.scheme.lower() not in NETWORK_SCHEMES:
        return source
    user = parts.username or ""
    netloc = f"{user}:{quote(password, safe=USERINFO_SAFE)}@{host_and_port(parts)}"
    return urlunsplit(parts._replace(netloc=netloc))


def redact(text: str) -> str:
    """The source with its password replaced by ***, safe for pages and logs. Cheap cameras take
    credentials in the query string (?user=admin&pwd=…), so a query is masked whole."""
    try:
        parts = urlsplit(text)
        if parts.password is not None:
            parts = parts._replace(netloc=f"{parts.username}:{MASK}@{host_and_port(parts)}")
        if parts.query and parts.scheme in NETWORK_SCHEMES:
            parts = parts._replace(query=MASK)
        return urlunsplit(parts)
    except ValueError:
        return "(unparsable source)"
