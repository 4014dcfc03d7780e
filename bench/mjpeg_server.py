"""An MJPEG-over-HTTP camera on 127.0.0.1 for benchmarks: any number of clients, real time.

    python bench/mjpeg_server.py VIDEO.mjpeg PORT [--fps 15]

ffmpeg's own server (`-f mpjpeg -listen 1`) takes one client and exits when it leaves; `motion`
connects twice (a probe, then its reader), so it needs a server like a real camera's. It serves
a file of concatenated JPEGs (`ffmpeg -i IN -c:v mjpeg -f mjpeg OUT.mjpeg`); every client gets
them as multipart/x-mixed-replace with a Content-Length per part, paced at --fps, looping. Serves
http://127.0.0.1:PORT/cam.mjpg and prints "ready" once it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOUNDARY = b"frame"


def split_jpegs(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\xff\xd9\xff\xd8")  # ffmpeg's JPEGs carry no thumbnails
    return [
        (b"" if i == 0 else b"\xff\xd8") + part + (b"" if i == len(parts) - 1 else b"\xff\xd9")
        for i, part in enumerate(parts)
    ]


def serve(jpegs: list[bytes], port: int, fps: float) -> ThreadingHTTPServer:
    class Camera(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            next_at = time.monotonic()
            try:
                for index in range(10**9):
                    jpeg = jpegs[index % len(jpegs)]
                    self.wfile.write(
                        b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                        % (BOUNDARY, len(jpeg))
                        + jpeg
                        + b"\r\n"
                    )
                    next_at += 1 / fps
                    time.sleep(max(0.0, next_at - time.monotonic()))
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Camera)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mjpeg", help="concatenated JPEGs, as ffmpeg -f mjpeg writes them")
    parser.add_argument("port", type=int)
    parser.add_argument("--fps", type=float, default=15.0)
    args = parser.parse_args()
    server = serve(split_jpegs(args.mjpeg), args.port, args.fps)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


if __name__ == "__main__":
    main()
