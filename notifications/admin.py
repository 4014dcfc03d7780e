from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.admin import NamedLookupsOnly
from notifications.models import Delivery, Preference, PushSubscription, Webhook


class WebhookForm(forms.ModelForm):
    """The secret is shown when the webhook is made (to copy into the receiver), never after:
    left empty on a change, the secret stays as it was."""

    class Meta:
        model = Webhook
        fields = ["name", "url", "secret", "enabled", "allow_local", "cameras", "on_start",
                  "on_end"]  # fmt: skip

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "secret" in self.fields:  # not there for who may only view
            self.fields["secret"].required = False
            # A callable default makes Django repeat the value in a hidden "initial-" input.
            self.fields["secret"].show_hidden_initial = False
            self.fields["secret"].widget = forms.PasswordInput(render_value=False)
            self.fields[
                "secret"
            ].help_text = "Leave empty to keep the secret; type one to change it."

    def clean_secret(self) -> str:
        return self.cleaned_data.get("secret") or self.instance.secret


SECRET_MASK = "\u2022" * 8  # shown for a secret that is set, to who may only view webhooks


@admin.register(Webhook)
class WebhookAdmin(NamedLookupsOnly, admin.ModelAdmin):
    """Its secret signs what the receiver gets: typed (or made) once, never shown again, not even
    read-only, and no lookup on it (?secret__startswith=… would read it out a letter a time)."""

    form = WebhookForm
    list_display = ["name", "url", "enabled", "on_start", "on_end", "allow_local", "cameras_list"]
    list_filter = ["enabled"]
    filter_horizontal = ["cameras"]
    fieldsets = [
        (None, {
            "fields": ["name", "url", "secret", "enabled", "allow_local"],
            "description": "Webhooks, like MQTT, are site-wide: every message of the chosen "
            "cameras goes to the URL, whoever may view them. People choose e-mail and Web "
            "Push for themselves (Notifications page).",
        }),
        ("What it gets", {"fields": ["cameras", "on_start", "on_end"]}),
    ]  # fmt: skip
    readonly_fields = ["secret_mask"]

    def get_fieldsets(self, request: HttpRequest, obj: Webhook | None = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (name, {**options, "fields": [
                "secret_mask" if field == "secret" else field for field in options["fields"]
            ]})
            for name, options in fieldsets
        ]  # fmt: skip

    @admin.display(description="secret")
    def secret_mask(self, webhook: Webhook) -> str:
        return SECRET_MASK if webhook.secret else "none"

    @admin.display(description="cameras")
    def cameras_list(self, webhook: Webhook) -> str:
        return ", ".join(camera.name for camera in webhook.cameras.all()) or "all"


@admin.register(Delivery)
class DeliveryAdmin(NamedLookupsOnly, admin.ModelAdmin):
    """The delivery log: one row per alert and target, with its tries and last error."""

    list_display = ["created_at", "channel", "target", "kind", "status", "tries", "next_try_at",
                    "last_error", "sent_at"]  # fmt: skip
    list_filter = ["status", "channel"]
    list_select_related = ["alert", "alert__camera", "webhook", "user"]
    show_full_result_count = False
    actions = ["retry_now"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="to")
    def target(self, delivery: Delivery) -> str:
        return str(delivery.webhook or delivery.user or "broker")

    @admin.display(description="alert")
    def kind(self, delivery: Delivery) -> str:
        return f"{delivery.alert.kind} · {delivery.alert.camera}"

    @admin.action(description="Try again now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.exclude(status=Delivery.Status.SENT).update(
            status=Delivery.Status.PENDING, next_try_at=timezone.now()
        )
        self.message_user(request, f"{count} deliveries will be tried again.")


@admin.register(Preference)
class PreferenceAdmin(NamedLookupsOnly, admin.ModelAdmin):
    list_display = ["user", "email", "push", "quiet_from", "quiet_until", "cooldown"]
    filter_horizontal = ["cameras"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(NamedLookupsOnly, admin.ModelAdmin):
    list_display = ["user", "user_agent", "created_at"]
    fields = ["user", "user_agent", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
