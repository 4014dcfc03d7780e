"""The README's Home Assistant settings, tested as written: the requests Home Assistant's MJPEG
IP Camera integration sends, against the real server. When the settings are saved it checks
each URL with `requests` and HTTP Basic, and on a 401 tries Digest before calling the
credentials invalid; then it fetches the still image and the stream with Basic credentials
(aiohttp and httpx send the same header), and cuts a frame out of the stream when it has to."""

from __future__ import annotations

import re
from collections.abc import Callable

import cv2
import httpx
import numpy as np
import pytest
import requests
from django.contrib.auth.models import User
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from accounts.models import ApiToken
from cameras.models import Camera
from tests.conftest import PASSWORD, ROOT, LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class InvalidAuth(Exception):
    pass


def readme_settings() -> dict[str, str]:
    """The settings table under the README's Home Assistant heading, as written."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Home Assistant**", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| ([^|]+?) \| (.+?) \|$", section, re.MULTILINE)
    return {name: value.strip("`") for name, value in rows if name != "setting"}


def validate_url(url: str, username: str, password: str, authentication: str = "basic") -> str:
    """What the integration's config flow does with each URL before it saves the settings."""
    auth = HTTPDigestAuth(username, password) if authentication == "digest" else (
        HTTPBasicAuth(username, password))  # fmt: skip
    response = requests.get(url, auth=auth, stream=True, timeout=10, verify=True)
    if response.status_code == 401:
        if authentication == "basic":
            return validate_url(url, username, password, "digest")
        raise InvalidAuth
    response.raise_for_status()
    response.close()
    return authentication


def extract_image_from_mjpeg(chunks: object) -> bytes | None:
    """How the integration cuts a still image out of the stream: the first JPEG in it."""
    data = b""
    for chunk in chunks:
        data += chunk
        end = data.find(b"\xff\xd9")
        if end == -1:
            continue
        start = data.find(b"\xff\xd8")
        if start == -1:
            continue
        return data[start : end + 2]
    return None


def decodes(jpeg: bytes | None) -> bool:
    return jpeg is not None and cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1) is not None


def test_the_readmes_home_assistant_settings_work_as_its_integration_sends_them(
    web_server: LiveServer, member: User, front_door: Camera, start_worker: Callable
) -> None:
    front_door.viewers.add(member)
    start_worker("front-door")
    token = ApiToken.issue(member, "Home Assistant")[1]
    written = readme_settings()
    assert written["Username"] == "your username on this site"
    assert written["Password"] == "an API token"

    def url(name: str) -> str:
        value = written[name].replace("http://HOST:8000", web_server.url)
        return value.replace("SLUG", front_door.slug)

    mjpeg_url, still_url = url("MJPEG URL"), url("Still image URL")
    # Saving the settings: both URLs checked, Basic taken.
    assert validate_url(mjpeg_url, "member", token) == "basic"
    assert validate_url(still_url, "member", token) == "basic"
    # The still image, as its camera entity fetches it.
    still = httpx.get(still_url, auth=httpx.BasicAuth("member", token), timeout=10)
    assert still.status_code == 200 and still.headers["content-type"] == "image/jpeg"
    assert decodes(still.content)
    # The stream, and a frame cut out of it (what it does without a still image URL).
    with requests.get(mjpeg_url, auth=HTTPBasicAuth("member", token), stream=True,
                      timeout=10) as stream:  # fmt: skip
        assert stream.headers["content-type"].startswith("multipart/x-mixed-replace")
        assert decodes(extract_image_from_mjpeg(stream.iter_content(102400)))
    # The account password instead of a token: Basic refused, Digest refused, not saved.
    with pytest.raises(InvalidAuth):
        validate_url(mjpeg_url, "member", PASSWORD)
