from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who may come in: logins and their throttling, and the admin's rules for user data."""

    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from accounts import checks, devices  # noqa: F401  (checks registers the system checks)

        # Django's signals are the one place both login forms (the site's and the admin's) report
        # to; django-axes counts failures the same way.
        user_login_failed.connect(devices.count_failure, dispatch_uid="accounts.count_failure")
        user_logged_in.connect(devices.remember, dispatch_uid="accounts.remember")
