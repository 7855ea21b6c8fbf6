"""通知设置: how each user is told, per kind of message — in the inbox only, or by e-mail
or SMS as well — their address and phone for it, whether they hear of their own reports'
closure, and the language of what leaves the site (docs/notifications.md). Every user
with an account may open it (it is linked from the inbox); a plain form, no script."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.validators import RegexValidator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from map_ui.pages.roles import pages_for
from notifications.models import Channel, Kind, Preference

PHONE = RegexValidator(r"^\+?[0-9]{5,20}$", gettext_lazy("手机号码只能包含数字（可带 +）。"))


def _field(kind: Kind) -> str:
    return f"kind_{kind.value}"


class PreferenceForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("电子邮箱"), required=False)
    phone = forms.CharField(
        label=gettext_lazy("手机号码"), required=False, max_length=20, validators=[PHONE]
    )
    closed = forms.BooleanField(label=gettext_lazy("我上报的案件结案时通知我"), required=False)
    language = forms.ChoiceField(label=gettext_lazy("邮件和短信的语言"), choices=settings.LANGUAGES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in Kind:
            self.fields[_field(kind)] = forms.ChoiceField(
                label=kind.label, choices=Channel.choices, widget=forms.RadioSelect
            )

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[_field(kind)] for kind in Kind]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = {data.get(_field(kind)) for kind in Kind}
        if Channel.EMAIL in chosen and not data.get("email"):
            self.add_error("email", _("选择邮件通知需要填写电子邮箱。"))
        if Channel.SMS in chosen and not data.get("phone"):
            self.add_error("phone", _("选择短信通知需要填写手机号码。"))
        return data


def _initial(user: Any, preference: Preference) -> dict[str, Any]:
    # A kind never chosen shows what it gets now (Preference.transports).
    before = Channel.SMS if preference.sms else Channel.EMAIL if preference.email else Channel.INBOX
    initial: dict[str, Any] = {
        _field(kind): (preference.channels or {}).get(kind.value, before) for kind in Kind
    }
    initial.update(
        email=user.email,
        phone=preference.phone,
        closed=preference.closed,
        # Never chosen: the language the user reads the site in now.
        language=preference.language or translation.get_language() or settings.LANGUAGE_CODE,
    )
    return initial


@transaction.atomic
def _save(user: Any, preference: Preference, data: dict[str, Any]) -> None:
    channels = {kind.value: data[_field(kind)] for kind in Kind}
    preference.channels = channels
    # The two switches follow the choices (they decide for kinds added later).
    preference.email = Channel.EMAIL in channels.values()
    preference.sms = Channel.SMS in channels.values()
    preference.phone = data["phone"]
    preference.closed = data["closed"]
    preference.language = data["language"]
    preference.save()
    if user.email != data["email"]:
        user.email = data["email"]
        user.save(update_fields=["email"])


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    uid = int(user.pk or 0)  # login_required: a signed-in user has one
    preference = Preference.objects.filter(user_id=uid).first() or Preference(user_id=uid)
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            _save(user, preference, form.cleaned_data)
            messages.success(request, _("通知设置已保存。"))
            return redirect("map_ui:preferences")
    else:
        form = PreferenceForm(initial=_initial(user, preference))
    context = {
        "pages": pages_for(user),
        "page_name": "preferences",
        "page_title": _("通知设置"),
        "page_config": {"csrf": get_token(request)},
        "form": form,
    }
    return render(request, "map_ui/preferences.html", context)
