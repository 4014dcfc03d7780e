"""Camera settings are validated before a worker ever sees them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cameras.models import Camera


@pytest.mark.parametrize(
    "mask",
    ["abc", [[]], [[0.1, 0.2]], [[[0, 0], [1, 0]]], [[[0, 0], [1, 0], [1, 2]]],
     [[[0, 0], [1, 0], ["a", 1]]], [[[0, 0], [1, 0], [1]]]],
)  # fmt: skip
def test_malformed_masks_are_refused(db: None, mask: object) -> None:
    camera = Camera(slug="yard", name="Yard", source="demo", mask=mask)
    with pytest.raises(ValidationError) as refused:
        camera.full_clean()
    assert "mask" in refused.value.message_dict


def test_a_well_formed_mask_is_accepted(db: None) -> None:
    triangle = [[[0, 0], [0.5, 0], [0, 0.5]]]
    Camera(slug="yard", name="Yard", source="demo", mask=triangle).full_clean()


def test_detection_rate_below_one_per_second_is_refused(db: None) -> None:
    with pytest.raises(ValidationError):
        Camera(slug="yard", name="Yard", source="demo", detection_fps=0.5).full_clean()


def test_renaming_a_camera_restarts_its_worker(db: None) -> None:
    camera = Camera.objects.create(slug="yard", name="Yard", source="demo")
    before = camera.config_fingerprint()
    camera.name = "Back yard"
    assert camera.config_fingerprint() != before
