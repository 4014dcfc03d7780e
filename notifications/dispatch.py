"""Fan-out: each new alert becomes one delivery row per target, in one transaction.

Who gets what is decided here, once per alert: MQTT gets every alert (it describes the house;
Home Assistant sees the camera's notify switch too); webhooks, e-mail and Web Push only those of
an armed camera, and e-mail and push only an event's first alert (its motion.start, or the
motion.update that found what its camera alerts on), for the people who may view the camera,
who chose it, outside their quiet hours and their cooldown."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.utils import timezone

from cameras.models import Camera
from events.models import Alert
from notifications.config import email_server, mqtt_server
from notifications.models import Delivery, Preference, Webhook

Channel = Delivery.Channel


def dispatch_new(limit: int = 500) -> set[str]:
    """Dispatch the alerts not yet dispatched, oldest first; the channels that got work."""
    channels: set[str] = set()
    for alert in Alert.objects.undispatched().select_related("camera")[:limit]:
        channels |= {delivery.channel for delivery in dispatch(alert)}
    return channels


def dispatch(alert: Alert) -> list[Delivery]:
    deliveries = [Delivery(channel=Channel.MQTT)] if mqtt_server() else []
    webhooks = Webhook.objects.filter(enabled=True).prefetch_related("cameras")
    deliveries += [Delivery(channel=Channel.WEBHOOK, webhook=w) for w in webhooks if w.wants(alert)]
    if alert.armed and tells_people(alert):
        for user in people_to_tell(alert):
            deliveries += personal_deliveries(alert, user)
    for delivery in deliveries:
        delivery.alert = alert
        delivery.created_at = delivery.next_try_at = alert.created_at
    with transaction.atomic():
        # Marked only if still undispatched: a second notifier never fans out twice.
        claimed = Alert.objects.filter(pk=alert.pk, dispatched_at__isnull=True).update(
            dispatched_at=timezone.now()
        )
        if claimed:
            Delivery.objects.bulk_create(deliveries)
    return deliveries if claimed else []


def tells_people(alert: Alert) -> bool:
    """An event's first alert: motion.start, or (a camera that alerts on objects) the update
    that found one; later updates and the end only describe it."""
    if alert.kind == Alert.Kind.START:
        return True
    return (
        alert.kind == Alert.Kind.UPDATE and not alert.event.alerts.filter(pk__lt=alert.pk).exists()
    )


def may_view(user: AbstractBaseUser, camera_id: int) -> bool:
    """The one permission rule, asked again at every delivery."""
    return Camera.objects.visible_to(user).filter(pk=camera_id).exists()


def people_to_tell(alert: Alert) -> list[AbstractBaseUser]:
    """Active users with e-mail or a push subscription who may view the alert's camera."""
    candidates = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            models.Q(push_subscriptions__isnull=False)
            | models.Q(notification_preference__email=True)
        )
        .distinct()
    )
    return [user for user in candidates if may_view(user, alert.camera_id)]


def personal_deliveries(alert: Alert, user: AbstractBaseUser) -> list[Delivery]:
    preference = Preference.of(user)
    if not preference.covers(alert.camera_id) or preference.quiet_at(alert.created_at):
        return []
    deliveries = []
    if preference.email and user.email and email_server() and not cooling(alert, user, preference):
        deliveries.append(Delivery(channel=Channel.EMAIL, user=user))
    if preference.push and not cooling(alert, user, preference, Channel.PUSH):
        deliveries += [
            Delivery(channel=Channel.PUSH, user=user, subscription=subscription)
            for subscription in user.push_subscriptions.all()
        ]
    return deliveries


def cooling(
    alert: Alert, user: AbstractBaseUser, preference: Preference, channel: str = Channel.EMAIL
) -> bool:
    """Whether this person was told about this camera on this channel within their cooldown
    before this alert: one notification for a burst, not ten."""
    since = alert.created_at - dt.timedelta(seconds=preference.cooldown)
    return Delivery.objects.filter(
        user=user,
        channel=channel,
        alert__camera_id=alert.camera_id,
        alert__created_at__gte=since,
        alert__created_at__lt=alert.created_at,
    ).exists()
