"""The admin's changelists filter only on fields they name; users and groups included."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ApiToken


def field_path(model: type[models.Model], lookup: str) -> str:
    """The fields a lookup goes through, e.g. "camera" for camera__id__exact and "source" for
    source__startswith; "" when it names no field (a list filter's own parameter)."""
    names: list[str] = []
    for part in lookup.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            break  # a lookup or transform: the path ends here
        if names and getattr(field, "primary_key", False):
            break  # camera__id is the camera itself
        names.append(part)
        if not field.is_relation:
            break
        model = field.related_model
    return "__".join(names)


class NamedLookupsOnly:
    """Changelist filters on the fields this admin names (its list filters and date hierarchy),
    never on others. Django allows a query-string lookup on any field of the model itself, and
    each ?source__startswith=… answers yes or no about a secret: enough of them read it out
    (a camera password took 59 requests). A refused lookup is a 400."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        path = field_path(self.model, lookup)
        if path and path not in self.filter_fields(request):
            return False
        return super().lookup_allowed(lookup, value, request)

    def filter_fields(self, request: HttpRequest | None) -> set[str]:
        named = {self.date_hierarchy} if self.date_hierarchy else set()
        filters = self.get_list_filter(request) if request is not None else self.list_filter
        for item in filters:
            if isinstance(item, str):
                named.add(item)
            elif isinstance(item, list | tuple):
                named.add(item[0])
        return named


# Django's own user admin would filter on ?password__startswith=pbkdf2_sha256$…, one answer at a
# time, for any staff user allowed to see users.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(NamedLookupsOnly, auth_admin.UserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(NamedLookupsOnly, auth_admin.GroupAdmin):
    pass


@admin.action(description="Revoke the selected tokens")
def revoke(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for token in queryset.filter(revoked_at__isnull=True):
        token.revoke()


@admin.register(ApiToken)
class ApiTokenAdmin(NamedLookupsOnly, admin.ModelAdmin):
    """Every user's tokens, by their public prefix: made on the Tokens page or with
    createtoken (the token is shown once, there), revoked here."""

    list_display = ["name", "user", "label", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["user", "revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["name", "user", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = [revoke]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token is shown when it is made: on the Tokens page, or createtoken
