"""One map from the `openai` SDK's errors to plain words with a next step.

Used by connection tests, chat, generation and training alike. Hints name the place in the app
and the command that fix a thing, so they read right in the window and on the command line.
"""

from __future__ import annotations

from persona_studio.core.errors import UserFacingError


class ProviderError(UserFacingError):
    """A provider refused or failed a request; the message says which and what to do."""


def key_hint(profile: str = "", *, missing: bool = False) -> str:
    """Where the profile's key is fixed: the settings in the app, `profile add` on the command
    line. `missing`: there is no key yet (save one), else the one saved was refused."""
    named = f" “{profile}”" if profile else ""
    account = profile or "NAME"
    where = (
        f"(in the app: Settings → Providers; on the command line: persona-studio profile add "
        f"{account} --ask-key)."
    )
    if missing:
        return f"Save the key {where}"
    return f"Check the API key saved for the profile{named} {where}"


CHAT_ONLY = (
    "This server can chat, but it has no fine-tuning API: Ollama, LM Studio, llama.cpp and "
    "vLLM servers cannot train models.",
    "Chat with it in the Chat tab. To train, choose “This computer (no account)” or a "
    "training service (Together AI, Fireworks AI, Nebius, Azure) under Train → Where.",
)


def is_missing_route(exc: BaseException) -> bool:
    """The server has no such endpoint at all (404, 405, 501), as chat-only servers answer
    the files and fine-tuning routes."""
    import openai

    return isinstance(exc, openai.APIStatusError) and exc.status_code in (404, 405, 501)


def provider_error(
    exc: BaseException,
    *,
    what: str = "request",
    where: str = "",
    profile: str = "",
    model: str = "",
) -> ProviderError:
    """`what` names what we were sending ("training file", "job"…), `where` the server's
    address, `model` the model asked for: each makes the sentence more precise."""
    import openai

    place = where or "the provider"
    if isinstance(exc, openai.AuthenticationError):
        return ProviderError("The provider refused the API key.", key_hint(profile))
    if isinstance(exc, openai.PermissionDeniedError):
        return ProviderError(
            "The key works, but this account is not allowed to do this here.",
            "Check the account's permissions, or choose another provider profile.",
        )
    if isinstance(exc, openai.RateLimitError):
        return ProviderError(
            "The provider says too many requests, or the quota is used up.",
            "Wait a little, then try again.",
        )
    if isinstance(exc, openai.NotFoundError):
        if model:
            return ProviderError(
                f"The provider does not know the model “{model}”.",
                "Check the model name (for a local server, one it has loaded).",
            )
        return ProviderError(
            f"{place} does not offer this for the {what}.",
            "Check the profile's address (it usually ends in /v1) and that the server supports it.",
        )
    if isinstance(exc, openai.BadRequestError):
        body = getattr(exc, "body", None) or {}
        message = body.get("message") if isinstance(body, dict) else None
        reason = str(message or exc).rstrip(". ")
        return ProviderError(
            f"The provider refused the {what}: {reason}.",
            "Check the dataset and the settings, then retry.",
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(
            f"{place} did not answer in time.", "Check the address and your connection."
        )
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            f"Could not reach {place}.",
            "Check your connection and the profile's address; for a local server (Ollama, "
            "LM Studio, vLLM), check that it is running.",
        )
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(
            f"The provider answered with an error ({exc.status_code}) to the {what}.",
            "Try again later.",
        )
    return ProviderError(f"Unexpected problem with the {what}: {exc}", "Try again later.")
