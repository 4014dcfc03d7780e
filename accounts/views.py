"""The logged-in user's own API tokens: make one (shown once), see when each was used, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import TokenForm
from accounts.models import ApiToken


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # the page that shows a new token must stay out of every cache
def tokens(request: HttpRequest) -> HttpResponse:
    form, new_token = TokenForm(request.POST or None), None
    if request.method == "POST" and form.is_valid():
        # Shown in this response only, never stored: no redirect, no message in the session.
        _, new_token = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = TokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": request.user.api_tokens.order_by("-created_at"),
        "site": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "accounts/tokens.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.revoke()
    messages.success(request, f"Revoked {token.name} ({token.label}).")
    return redirect("tokens")
