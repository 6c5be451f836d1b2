"""Non-secret app settings: provider profiles, Google account choice, recent projects.

Stored as TOML under the user's config folder. Secrets never go here: profiles only name where
their key lives (the OS keyring, or an environment variable for automation).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from persona_studio import APP_ID
from persona_studio.core.errors import UserFacingError

PROFILE_KINDS = (
    "openai",
    "together",
    "nebius",
    "fireworks",
    "azure",
    "openai-compatible",
    "local",
)
# The address a kind uses when the profile names none (the provider's published API address).
DEFAULT_BASE_URLS = {
    "together": "https://api.together.ai/v1",
    "nebius": "https://api.tokenfactory.nebius.com/v1/",
    "fireworks": "https://api.fireworks.ai/inference/v1",
}
ENV_PROFILE = "env"
LOCAL_PROFILE = "local"  # built in: training and chat on this computer, no key
MAX_RECENT = 10
GOOGLE_AUTH_KINDS = ("none", "service_account", "oauth")


class ConfigError(UserFacingError):
    pass


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_ID, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_ID, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_ID, appauthor=False))


def config_path() -> Path:
    return config_dir() / "settings.toml"


@dataclass
class ProviderProfile:
    """Where to send chat and fine-tuning requests. The API key lives in the keyring."""

    name: str
    kind: str = "openai"
    base_url: str = ""
    chat_model: str = ""
    finetune_model: str = ""
    api_version: str = ""  # Azure OpenAI only
    account: str = ""  # Fireworks only: the account ID its API paths name
    training_type: str = ""  # Azure only: where it trains (core.trainers.AZURE_TRAINING_TYPES)
    key_env: str = ""  # read the key from this environment variable instead of the keyring
    base_url_env: str = ""  # read the base URL from this environment variable

    def validated(self) -> ProviderProfile:
        name = self.name.strip()
        if not name:
            raise ConfigError("A profile needs a name.", "Type a short name such as “openai”.")
        if name == ENV_PROFILE and self.key_env != "OPENAI_API_KEY":
            raise ConfigError(
                f"“{ENV_PROFILE}” is the built-in environment profile.", "Choose another name."
            )
        if self.kind not in PROFILE_KINDS:
            raise ConfigError(
                f"Unknown provider kind “{self.kind}”.", f"Use one of: {', '.join(PROFILE_KINDS)}."
            )
        base_url = self.base_url.strip()
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"“{base_url}” is not a web address.",
                "It should start with https:// (or http:// for a local server).",
            )
        if "@" in base_url.split("/")[2 if "//" in base_url else 0]:
            raise ConfigError(
                "The address contains a user name or a key (before “@”).",
                "Remove it from the address and put the key in the API key field: it is kept "
                "in the system password store, never in the settings file.",
            )
        if self.kind in ("azure", "openai-compatible") and not (base_url or self.base_url_env):
            what = (
                "your Azure OpenAI endpoint" if self.kind == "azure" else "the server's /v1 address"
            )
            raise ConfigError("This kind of provider needs a base URL.", f"Enter {what}.")
        if self.kind == "fireworks" and not self.account.strip():
            raise ConfigError(
                "A Fireworks profile needs your account ID.",
                "Find it at fireworks.ai → Account (the address ends in /account/ID).",
            )
        from persona_studio.core.trainers import azure_training_error  # (not before the paint)

        training_type = self.training_type.strip() if self.kind == "azure" else ""
        problem = azure_training_error(training_type, self.api_version.strip())
        if problem:
            raise ConfigError(
                problem, "Choose another training type in the profile, or leave Azure's default."
            )
        return ProviderProfile(
            **{
                **asdict(self),
                "name": name,
                "base_url": base_url,
                "account": self.account.strip(),
                "training_type": training_type,
            }
        )

    @property
    def keyring_account(self) -> str:
        return f"provider:{self.name}"


def local_profile() -> ProviderProfile:
    """The built-in profile for this computer: the local trainer and the local chat server."""
    return ProviderProfile(name=LOCAL_PROFILE, kind="local")


def env_profile() -> ProviderProfile:
    """The built-in profile for automation: OPENAI_API_KEY and OPENAI_BASE_URL."""
    return ProviderProfile(
        name=ENV_PROFILE,
        kind="openai",
        key_env="OPENAI_API_KEY",
        base_url_env="OPENAI_BASE_URL",
    )


@dataclass
class GoogleSettings:
    auth: str = "none"  # none | service_account | oauth
    account_email: str = ""  # shown to the user: whom to share the sheet with


@dataclass
class AppConfig:
    profiles: list[ProviderProfile] = field(default_factory=list)
    default_profile: str = ""
    google: GoogleSettings = field(default_factory=GoogleSettings)
    recent_projects: list[str] = field(default_factory=list)
    llama_cpp_dir: str = ""  # a llama.cpp folder the creator chose (its converter writes GGUF)

    def profile(self, name: str) -> ProviderProfile:
        if name == ENV_PROFILE and all(p.name != ENV_PROFILE for p in self.profiles):
            return env_profile()
        if name == LOCAL_PROFILE and all(p.name != LOCAL_PROFILE for p in self.profiles):
            return local_profile()
        for profile in self.profiles:
            if profile.name == name:
                return profile
        known = ", ".join([p.name for p in self.profiles] + [ENV_PROFILE, LOCAL_PROFILE])
        raise ConfigError(
            f"There is no provider profile named “{name}”.",
            f"Known profiles: {known}. Add one in Settings or with `profile add`.",
        )

    def upsert_profile(self, profile: ProviderProfile) -> None:
        profile = profile.validated()
        names = [p.name for p in self.profiles]
        if profile.name in names:  # edited: it keeps its place in the list
            self.profiles[names.index(profile.name)] = profile
        else:
            self.profiles.append(profile)
        if not self.default_profile:
            self.default_profile = profile.name

    def remove_profile(self, name: str) -> None:
        if all(p.name != name for p in self.profiles):
            self.profile(name)  # a clear error for an unknown name
            raise ConfigError(
                f"“{name}” is built in and cannot be removed.", "Remove only profiles you added."
            )
        self.profiles = [p for p in self.profiles if p.name != name]
        if self.default_profile == name:
            self.default_profile = self.profiles[0].name if self.profiles else ""

    def add_recent(self, path: str | os.PathLike[str]) -> bool:
        """Put `path` first in the recent projects; False if it already was."""
        resolved = str(Path(path).absolute())
        if self.recent_projects[:1] == [resolved]:
            return False
        self.recent_projects = [resolved] + [p for p in self.recent_projects if p != resolved]
        del self.recent_projects[MAX_RECENT:]
        return True

    @property
    def last_project(self) -> str | None:
        return self.recent_projects[0] if self.recent_projects else None


def _from_toml(data: dict[str, Any]) -> AppConfig:
    known = set(ProviderProfile.__dataclass_fields__)
    profiles = [
        ProviderProfile(**{k: str(v) for k, v in raw.items() if k in known})
        for raw in data.get("profiles", [])
        if isinstance(raw, dict) and raw.get("name")
    ]
    google_raw = data.get("google", {})
    google = GoogleSettings(
        auth=str(google_raw.get("auth", "none"))
        if google_raw.get("auth") in GOOGLE_AUTH_KINDS
        else "none",
        account_email=str(google_raw.get("account_email", "")),
    )
    recent = [str(p) for p in data.get("recent_projects", []) if isinstance(p, str)]
    return AppConfig(
        profiles=profiles,
        default_profile=str(data.get("default_profile", "")),
        google=google,
        recent_projects=recent[:MAX_RECENT],
        llama_cpp_dir=str(data.get("llama_cpp_dir", "")),
    )


def load_config(path: Path | None = None) -> AppConfig:
    """Read the settings; a missing file is a fresh start, a broken one is reported."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return AppConfig()
    try:
        return _from_toml(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"The settings file “{path}” could not be read ({exc}).",
            "Fix or delete it; Persona Studio will start with default settings.",
        ) from exc


def save_config(config: AppConfig, path: Path | None = None) -> None:
    path = path or config_path()
    data = {
        "default_profile": config.default_profile,
        "recent_projects": config.recent_projects,
        "llama_cpp_dir": config.llama_cpp_dir,
        "google": asdict(config.google),
        "profiles": [asdict(p) for p in config.profiles],
    }
    import tomli_w  # (only a change of settings writes them: not before the first paint)

    atomic_write_bytes(path, tomli_w.dumps(data).encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write to a temp file in the same folder, then replace: readers never see half a file.
    `data` may come in pieces (a large export: no copy of the whole in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # here: startup reads settings but need not pay for writing them

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes):
                fh.write(data)
            else:
                fh.writelines(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def user_model_table() -> Path:
    """The user's editable copy of the fine-tuning model/price table, made from the shipped one
    the first time it is asked for (written atomically: a crash leaves no half table)."""
    from persona_studio.resources_path import resource_path

    path = config_dir() / "fine_tuning_models.toml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, resource_path("fine_tuning_models.toml").read_bytes())
    return path
