"""Forms parse and check the input; services decide the rest."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from market.accounts.models import Role, Scope
from market.core.errors import ApplicationError
from verification.checks.integrity import CHECK_MIN_SIDE
from verification.image import ImageRefused, load_image, sniff_mime_type

DEFAULT_WITHIN_KM = 10
MAX_WITHIN_KM = 50
ACCEPT_IMAGES = "image/*,.heic,.heif"
_POSITION_MESSAGE = "Your browser reported an impossible position: reload the page and try again."
BAD_POSITION = {
    "invalid": _POSITION_MESSAGE,
    "min_value": _POSITION_MESSAGE,
    "max_value": _POSITION_MESSAGE,
}


def add_application_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's refusal next to the field it names (``extra["field"]`` or
    ``extra["errors"]``), or above the form."""
    field = error.extra.get("field")
    errors = error.extra.get("errors")
    if isinstance(errors, dict) and errors:
        for name, messages in errors.items():
            target = name if name in form.fields else None
            for message in messages if isinstance(messages, list) else [messages]:
                form.add_error(target, str(message))
        return
    form.add_error(field if field in form.fields else None, error.message)


class SignupForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    role = forms.ChoiceField(
        label="I want to",
        choices=[(Role.WORKER, "take photos and get paid"), (Role.REQUESTER, "run AI agents")],
        initial=Role.WORKER,
        widget=forms.RadioSelect,
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            try:
                validate_password(first)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


def megabytes(size_bytes: int) -> str:
    """20971520 -> "20 MB", 31457280 -> "30 MB", 157286 -> "0.2 MB" (MiB, as phones show)."""
    return f"{size_bytes / 2**20:.1f}".removesuffix(".0") + " MB"


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float


def parse_place(raw: str) -> Place | None:
    """ "51.5072, -0.1276" -> Place; None when it is not two numbers in range."""
    parts = [part.strip() for part in raw.replace(";", ",").split(",")]
    if len(parts) != 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Place(lat=lat, lon=lon)


class FindForm(forms.Form):
    """Where to search from (the browser's position, or a typed "lat,lon") and the filters."""

    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    place = forms.CharField(
        label="Or type a place as latitude, longitude",
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": "51.5072, -0.1276", "inputmode": "decimal"}),
    )
    within_km = forms.IntegerField(
        label="Within (km)", min_value=1, max_value=MAX_WITHIN_KM, initial=DEFAULT_WITHIN_KM,
        required=False,
    )  # fmt: skip
    min_pay = forms.DecimalField(
        label="Minimum pay", min_value=0, max_digits=9, decimal_places=2, required=False
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        place_text = cleaned.get("place") or ""
        if place_text:
            place = parse_place(place_text)
            if place is None:
                self.add_error("place", 'Type a latitude and longitude, like "51.5072, -0.1276".')
            else:
                cleaned["lat"], cleaned["lon"] = place.lat, place.lon
        return cleaned

    def location(self) -> Place | None:
        lat, lon = self.cleaned_data.get("lat"), self.cleaned_data.get("lon")
        if lat is None or lon is None:
            return None
        return Place(lat=lat, lon=lon)

    def within_m(self) -> int:
        return (self.cleaned_data.get("within_km") or DEFAULT_WITHIN_KM) * 1000

    def min_pay_minor(self) -> int:
        pay = self.cleaned_data.get("min_pay")
        try:
            return int(Decimal(pay) * 100) if pay else 0
        except InvalidOperation:
            return 0


class UploadForm(forms.Form):
    """The photo and where the browser says the worker is. The file is checked by its
    content: size, type by magic bytes, pixel count against its type and its size (from the
    header), and that it decodes: once, at a reduced scale if it is a big JPEG."""

    photo = forms.FileField(
        label="Photo",
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT_IMAGES, "capture": "environment"}),
        error_messages={"required": "Choose or take a photo.", "empty": "The file is empty."},
    )
    upload_id = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "The page is missing its upload id: reload it and try again.",
            "invalid": "The page's upload id is damaged: reload it and try again.",
        },
    )
    lat = forms.FloatField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput,
        error_messages=BAD_POSITION,
    )  # fmt: skip
    lon = forms.FloatField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput,
        error_messages=BAD_POSITION,
    )  # fmt: skip
    accuracy_m = forms.FloatField(
        required=False, min_value=0, widget=forms.HiddenInput, error_messages=BAD_POSITION
    )
    note = forms.CharField(
        label="Note for the requester (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_photo(self) -> UploadedFile:
        photo: UploadedFile = self.cleaned_data["photo"]
        limit = settings.MAX_UPLOAD_BYTES
        if (photo.size or 0) > limit:
            raise ValidationError(
                f"The file is {megabytes(photo.size or 0)}; the limit is {megabytes(limit)}."
            )
        photo.seek(0)
        data = photo.read()
        photo.seek(0)
        if sniff_mime_type(data[:16]) is None:
            raise ValidationError(
                "This file is not a photo we accept: send a JPEG, PNG, WebP or HEIC/HEIF image."
            )
        try:
            # The request's only decode (the checks decode again in a task). The pipeline's
            # default limits are this process's, from `settings.MAX_UPLOAD_BYTES` like `limit`.
            loaded = load_image(data, min_side=CHECK_MIN_SIDE)
        except ImageRefused as refused:
            raise ValidationError(refused.reason) from refused
        self.cleaned_data["content_type"] = loaded.mime_type
        return photo


class AppealForm(forms.Form):
    note = forms.CharField(
        label="Why should this photo be accepted?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the photo should be accepted."},
    )


class AgentForm(forms.Form):
    name = forms.CharField(label="Agent name", max_length=100)
    is_test = forms.BooleanField(
        label="Test mode (free test money; only test workers see its bounties)", required=False
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Key name", max_length=100, required=False)
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=Scope.choices,
        initial=list(Scope.values),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one scope."},
    )
