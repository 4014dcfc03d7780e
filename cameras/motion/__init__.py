"""Motion detection: `settings.py` (what a camera is set to), `detector.py` (frames in, moving
regions out; OpenCV, no Django), `segments.py` (when detections make an event start and end)."""
