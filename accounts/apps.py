from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who may come in: logins and their throttling, and the admin's rules for user data."""

    name = "accounts"
