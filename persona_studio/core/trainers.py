"""The training services a creator can choose, in one line each, and OpenAI's end dates.

Pure data: the Train tab, the settings and the command line show the same words. Prices are the
providers' published ranges (per million trained tokens); the Train tab's estimate for the
creator's own dataset comes from `fine_tuning_models.toml`, and Together's own price for the
uploaded file is checked before a job starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# OpenAI accepts no new self-serve fine-tuning jobs from this day, and retires the GPT-4o and
# GPT-4.1 families and their fine-tunes on the second.
OPENAI_JOBS_END = date(2027, 1, 6)
OPENAI_RETIREMENT = date(2027, 1, 14)
OPENAI_HOSTS = ("", "https://api.openai.com/v1", "https://api.openai.com/v1/")


@dataclass(frozen=True)
class TrainingService:
    kind: str  # the provider-profile kind that trains there
    name: str
    line: str  # price range, what you need, which models


SERVICES = (
    TrainingService(
        "local",
        "This computer",
        "Small open models (Qwen, Llama, Gemma; 0.5–4B) trained with LoRA on your own graphics "
        "card, Mac or processor. Free and private: no account, nothing leaves the computer. "
        "Needs the optional local part and a one-time model download.",
    ),
    TrainingService(
        "together",
        "Together AI",
        "Open models (Llama, Qwen) trained with LoRA, about $0.50–$3 per million tokens. "
        "Needs a together.ai account and API key. Chat with the result at Together.",
    ),
    TrainingService(
        "nebius",
        "Nebius Token Factory",
        "Open models (Llama 3.1 8B, 3.3 70B…) trained with LoRA, priced per token. Needs a "
        "Nebius account and API key. The result is deployed and answers at Nebius.",
    ),
    TrainingService(
        "fireworks",
        "Fireworks AI",
        "Open models trained with LoRA, about $0.50–$3 per million tokens. Needs a Fireworks "
        "account, its ID and an API key; the result runs on a deployment you start (per hour).",
    ),
    TrainingService(
        "azure",
        "Azure OpenAI",
        "GPT-4.1 family in your organisation's Azure resource. Needs an Azure subscription; "
        "someone with rights deploys the result before you chat with it. Its profile says "
        "where it trains: Global (cheaper), Standard (stays in your region) or Developer.",
    ),
    TrainingService(
        "openai",
        "OpenAI",
        "GPT-4.1 family, about $1.50–$25 per million tokens. Takes no new jobs from "
        "6 January 2027.",
    ),
    TrainingService(
        "openai-compatible",
        "Your own server",
        "Any server that speaks OpenAI's fine-tuning API (a gateway, or one you run).",
    ),
)


# Where Azure OpenAI trains a job: its `trainingType`, as Microsoft's fine-tuning guide names the
# values (Microsoft Learn, "Customize a model with fine-tuning", REST and OpenAI SDK tabs;
# MicrosoftDocs/azure-ai-docs articles/ai-foundry/openai/includes/fine-tuning-rest.md and
# fine-tuning-oai-sdk.md, 2025). It is sent only when the creator chose one, and needs the
# data-plane API version 2025-04-01-preview or later. "" leaves the choice to Azure.
AZURE_TRAINING_API = "2025-04-01-preview"
AZURE_TRAINING_TYPES = {
    "": ("Azure's default", "Send no training type: Azure decides where the job runs."),
    "GlobalStandard": (
        "Global (cheaper)",
        "Cheaper, and usually quicker to start: Azure trains wherever it has capacity, so "
        "your examples and the new model are copied out of your resource's region.",
    ),
    "Standard": (
        "Standard (stays in your region)",
        "Trains in your Azure resource's own region, so your examples stay there. Costs more "
        "than Global, and not every model offers it.",
    ),
    "developerTier": (
        "Developer (cheapest, preview)",
        "Spare capacity at the lowest price, with no promise when it finishes (a job may "
        "pause and resume) and no data residency. For trying things out.",
    ),
}
AZURE_TRAINING_CHOICES = {"global": "GlobalStandard", "standard": "Standard",
                          "developer": "developerTier"}  # fmt: skip


def azure_training_error(training_type: str, api_version: str) -> str:
    """Why this training type cannot be sent with this API version ("" when it can)."""
    if training_type not in AZURE_TRAINING_TYPES:
        names = ", ".join(AZURE_TRAINING_CHOICES)
        return f"“{training_type}” is not an Azure training type (use one of: {names})."
    dated = api_version[:1].isdigit()  # "v1" and "preview" are the newer, undated API
    if training_type and dated and api_version < AZURE_TRAINING_API:
        return (
            f"Choosing where Azure trains needs API version {AZURE_TRAINING_API} or newer; "
            f"this profile uses {api_version}."
        )
    return ""


RETIRING_FAMILIES = ("gpt-4o", "gpt-4.1")  # OpenAI fine-tunes of these end on the 14th


def retirement(model: str) -> date | None:
    """When OpenAI retires this fine-tuned model (None: not one that is being retired)."""
    parts = model.split(":")
    if len(parts) >= 2 and parts[0] == "ft" and parts[1].startswith(RETIRING_FAMILIES):
        return OPENAI_RETIREMENT
    return None


def retirement_note(model: str, today: date) -> str:
    """The banner's words for a model being retired ("" when it is not)."""
    ends = retirement(model)
    if ends is None:
        return ""
    days = (ends - today).days
    if days < 0:
        return (
            f"OpenAI retired your fine-tuned model {model} on 14 January 2027: it no longer "
            "answers. Train a new one with your examples (Together AI or Azure OpenAI)."
        )
    when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    return (
        f"OpenAI retires your fine-tuned model {model} on 14 January 2027 ({when}). Keep its "
        "voice: the app asks it your questions and keeps its answers, to train its successor "
        "and to compare the new model with it."
    )


def service(kind: str) -> TrainingService | None:
    return next((s for s in SERVICES if s.kind == kind), None)


def openai_closed(kind: str, base_url: str, today: date) -> bool:
    """Whether this profile is OpenAI's own API and it no longer takes new jobs."""
    return kind == "openai" and base_url in OPENAI_HOSTS and today >= OPENAI_JOBS_END


OPENAI_CLOSED = (
    "OpenAI no longer accepts new fine-tuning jobs (since 6 January 2027).",
    "Train with Together AI or Azure OpenAI instead: add a profile in Settings → Providers "
    "(on the command line: persona-studio profile add NAME --kind together --ask-key).",
)
