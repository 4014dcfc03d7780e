"""Webhook secrets and push keys never leave the server through the admin: not to staff who may
only view them, not through lookups (each ?secret__startswith=… answers yes or no)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from notifications.admin import SECRET_MASK
from notifications.models import PushSubscription, Webhook
from tests.conftest import PASSWORD, client_for

WEBHOOKS = "/admin/notifications/webhook/"
SECRET = "s3cret-Qz81-receiver-key"


@pytest.fixture
def hook(db: None) -> Webhook:
    return Webhook.objects.create(name="hook", url="http://192.168.1.20/hook", secret=SECRET)


def staff_who_may_view(*models: str) -> User:
    user = User.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    for model in models:
        user.user_permissions.add(Permission.objects.get(codename=f"view_{model}"))
    return user


def test_staff_who_may_only_view_webhooks_see_a_mask_for_the_secret(hook: Webhook) -> None:
    client = client_for(staff_who_may_view("webhook"))
    for path in (WEBHOOKS, f"{WEBHOOKS}{hook.pk}/change/", f"{WEBHOOKS}{hook.pk}/history/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
    page = client.get(f"{WEBHOOKS}{hook.pk}/change/").text
    assert SECRET_MASK in page and "http://192.168.1.20/hook" in page
    assert 'name="_save"' not in page  # the control: this really is the read-only view


def test_who_may_change_a_webhook_types_a_new_secret_and_never_sees_the_old(
    hook: Webhook, owner: User
) -> None:
    page = client_for(owner).get(f"{WEBHOOKS}{hook.pk}/change/").text
    assert 'name="secret"' in page and SECRET not in page


def test_lookups_on_secrets_and_push_keys_are_refused(hook: Webhook, owner: User) -> None:
    PushSubscription.objects.create(user=owner, endpoint="https://push.example/x", p256dh="k",
                                    auth="a-secret-auth")  # fmt: skip
    client = client_for(owner)
    refused = [
        f"{WEBHOOKS}?secret__startswith=s3c",
        f"{WEBHOOKS}?url__contains=192",
        "/admin/notifications/pushsubscription/?auth__startswith=a",
        "/admin/notifications/pushsubscription/?endpoint__contains=push",
        "/admin/notifications/pushsubscription/?p256dh__startswith=k",
        "/admin/notifications/delivery/?webhook__secret__startswith=s",
        "/admin/notifications/preference/?user__password__startswith=pbkdf2",
    ]
    for path in refused:
        assert client.get(path).status_code == 400, path
    for allowed in (f"{WEBHOOKS}?enabled__exact=1", "/admin/notifications/delivery/?status=sent"):
        assert client.get(allowed).status_code == 200, allowed
