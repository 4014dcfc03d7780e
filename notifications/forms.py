from __future__ import annotations

from django import forms
from django.contrib.auth.models import AbstractBaseUser

from cameras.models import Camera
from notifications.models import Preference


class PreferenceForm(forms.ModelForm):
    """A person's own choices; the e-mail address is their account's, checked here."""

    address = forms.EmailField(
        required=False, label="E-mail address", help_text="Where e-mail notifications go."
    )

    class Meta:
        model = Preference
        fields = ["email", "address", "push", "cameras", "quiet_from", "quiet_until", "cooldown"]
        widgets = {
            "cameras": forms.CheckboxSelectMultiple,
            "quiet_from": forms.TimeInput(attrs={"type": "time"}),
            "quiet_until": forms.TimeInput(attrs={"type": "time"}),
        }
        labels = {"email": "E-mail me", "push": "Push to my browsers"}

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["cameras"].queryset = Camera.objects.visible_to(user)
        self.fields["address"].initial = user.email

    def clean(self) -> dict:
        data = super().clean()
        if data.get("email") and not data.get("address"):
            self.add_error("address", "E-mail notifications need an address.")
        if (data.get("quiet_from") is None) != (data.get("quiet_until") is None):
            self.add_error("quiet_until", "Give both ends of the quiet hours, or neither.")
        return data

    def save(self, commit: bool = True) -> Preference:
        preference = super().save(commit)
        self.user.email = self.cleaned_data["address"]
        self.user.save(update_fields=["email"])
        return preference


class SubscriptionForm(forms.Form):
    """A browser's PushSubscription.toJSON(): its endpoint and keys."""

    endpoint = forms.CharField(max_length=1000)  # checked as a target by the view
    p256dh = forms.RegexField(r"^[A-Za-z0-9_-]{80,100}={0,2}$", max_length=200)
    auth = forms.RegexField(r"^[A-Za-z0-9_-]{16,30}={0,2}$", max_length=100)
