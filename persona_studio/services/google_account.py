"""Google credentials for Sheets sync: checked on the way in, kept only in the keyring."""

from __future__ import annotations

import json
from dataclasses import dataclass

from persona_studio.core.errors import UserFacingError
from persona_studio.services.credentials import (
    GOOGLE_OAUTH_CLIENT,
    GOOGLE_SERVICE_ACCOUNT,
    CredentialStore,
)


class GoogleCredentialsError(UserFacingError):
    pass


@dataclass(frozen=True)
class GoogleIdentity:
    auth: str  # "service_account" or "oauth"
    label: str  # the e-mail to share sheets with, or the OAuth client id


def _parse(text: str, what: str) -> dict:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GoogleCredentialsError(
            f"This is not a {what} JSON file.", "Download it again from the Google Cloud console."
        ) from None
    if not isinstance(data, dict):
        raise GoogleCredentialsError(
            f"This is not a {what} JSON file.", "Download it again from the Google Cloud console."
        )
    return data


def service_account_identity(text: str) -> GoogleIdentity:
    data = _parse(text, "service-account")
    if data.get("type") != "service_account":
        hint = (
            "This looks like an OAuth client file: choose “OAuth client” instead."
            if "installed" in data or "web" in data
            else "In the Google Cloud console: IAM → Service accounts → Keys → Add key → JSON."
        )
        raise GoogleCredentialsError("This file is not a service-account key.", hint)
    missing = [k for k in ("client_email", "private_key", "token_uri") if not data.get(k)]
    if missing:
        raise GoogleCredentialsError(
            f"The service-account key is incomplete (missing {', '.join(missing)}).",
            "Create a new JSON key for the service account and choose that file.",
        )
    return GoogleIdentity("service_account", str(data["client_email"]))


def oauth_client_identity(text: str) -> GoogleIdentity:
    data = _parse(text, "OAuth client")
    section = data.get("installed") or data.get("web")
    if not isinstance(section, dict) or not section.get("client_id"):
        hint = (
            "This is a service-account key: choose “Service account” instead."
            if data.get("type") == "service_account"
            else "In the Google Cloud console: APIs & Services → Credentials → "
            "Create credentials → OAuth client ID → Desktop app, then download JSON."
        )
        raise GoogleCredentialsError("This file is not an OAuth client.", hint)
    return GoogleIdentity("oauth", str(section["client_id"]))


async def store_google_credentials(store: CredentialStore, auth: str, text: str) -> GoogleIdentity:
    """Check the JSON and put it in the keyring; returns what to show the user."""
    if auth == "service_account":
        identity, account = service_account_identity(text), GOOGLE_SERVICE_ACCOUNT
    elif auth == "oauth":
        identity, account = oauth_client_identity(text), GOOGLE_OAUTH_CLIENT
    else:
        raise ValueError(auth)
    await store.set(account, text)
    return identity
