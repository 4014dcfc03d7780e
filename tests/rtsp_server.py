"""An RTSP camera on 127.0.0.1 playing an H.264 (or H.265) MP4 file, for tests and benchmarks.

    /usr/bin/python3 tests/rtsp_server.py VIDEO.mp4 PORT [h264|h265]
    /usr/bin/python3 tests/rtsp_server.py --check    # prints the Debian packages missing

Run with the system Python: GStreamer's bindings (python3-gi, gir1.2-gst-rtsp-server-1.0) are
Debian packages, not wheels. Serves rtsp://127.0.0.1:PORT/cam; every client gets the file from
its start, in real time, once (make it as long as the client needs). Prints "ready" once it
listens; exits on SIGTERM.
"""

import signal
import sys
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"  # GStreamer's Python bindings are Debian packages


def command(*args):
    """The argv that runs this server (or `--check`) with the Python that has the bindings."""
    return [SYSTEM_PYTHON, str(Path(__file__).resolve()), *map(str, args)]


def packages_missing_here():
    """For tests: the Debian packages the RTSP camera needs and this machine lacks ("" if none)."""
    import subprocess

    if not Path(SYSTEM_PYTHON).is_file():
        return "python3"
    check = subprocess.run(command("--check"), capture_output=True, text=True)
    return check.stdout.strip() or ("" if check.returncode == 0 else check.stderr.strip())


ELEMENTS = {  # what the pipeline needs, and the package that has it
    "filesrc": "gstreamer1.0-plugins-base",
    "qtdemux": "gstreamer1.0-plugins-good",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "h264parse": "gstreamer1.0-plugins-bad",
    "rtph265pay": "gstreamer1.0-plugins-good",
    "h265parse": "gstreamer1.0-plugins-bad",
}


def missing_packages():
    try:
        import gi
    except ImportError:
        return ["python3-gi"]
    try:
        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
    except ValueError:
        return ["gir1.2-gst-rtsp-server-1.0"]
    from gi.repository import Gst

    Gst.init(None)
    return sorted({pkg for name, pkg in ELEMENTS.items() if not Gst.ElementFactory.find(name)})


def factory_for(path, codec="h264"):
    """A pipeline per client, so each one starts at the beginning of the file."""
    from gi.repository import GstRtspServer

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_shared(False)
    factory.set_launch(
        f'( filesrc location="{path}" ! qtdemux ! {codec}parse '
        f"! rtp{codec}pay name=pay0 pt=96 config-interval=1 )"
    )
    return factory


def main():
    if sys.argv[1:] == ["--check"]:
        missing = missing_packages()
        print(" ".join(missing))
        sys.exit(1 if missing else 0)
    path, port = sys.argv[1], sys.argv[2]
    codec = sys.argv[3] if len(sys.argv) > 3 else "h264"
    if codec not in ("h264", "h265"):
        sys.exit(f"codec must be h264 or h265, not {codec}")
    if missing := missing_packages():
        sys.exit("missing Debian packages: " + " ".join(missing))
    from gi.repository import GLib, GstRtspServer

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    server.get_mount_points().add_factory("/cam", factory_for(path, codec))
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
