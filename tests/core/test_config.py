from __future__ import annotations

from pathlib import Path

import pytest

from persona_studio.core.config import (
    MAX_RECENT,
    AppConfig,
    ConfigError,
    ProviderProfile,
    config_path,
    load_config,
    save_config,
)


def test_settings_live_under_the_user_config_folder(isolated_home: Path) -> None:
    assert config_path() == isolated_home / "config" / "persona-studio" / "settings.toml"


def test_round_trip(tmp_path: Path) -> None:
    config = AppConfig()
    config.upsert_profile(
        ProviderProfile(
            name="local",
            kind="openai-compatible",
            base_url="http://127.0.0.1:11434/v1",
            chat_model="llama3.1",
        )
    )
    config.upsert_profile(
        ProviderProfile(
            name="azure",
            kind="azure",
            base_url="https://x.openai.azure.com",
            api_version="2025-04-01-preview",
        )
    )
    config.google.auth = "service_account"
    config.google.account_email = "bot@project.iam.gserviceaccount.com"
    config.add_recent(tmp_path / "a.persona")
    path = tmp_path / "settings.toml"
    save_config(config, path)
    assert load_config(path) == config
    assert config.default_profile == "local"


def test_missing_file_is_a_fresh_start(tmp_path: Path) -> None:
    assert load_config(tmp_path / "none.toml") == AppConfig()


def test_broken_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("profiles = [[[")
    with pytest.raises(ConfigError, match="could not be read"):
        load_config(path)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (ProviderProfile(name=" "), "needs a name"),
        (ProviderProfile(name="x", kind="gemini"), "Unknown provider kind"),
        (ProviderProfile(name="x", base_url="localhost:1234"), "not a web address"),
        (ProviderProfile(name="x", kind="azure"), "needs a base URL"),
        (ProviderProfile(name="x", kind="openai-compatible"), "needs a base URL"),
        (ProviderProfile(name="env"), "built-in"),
    ],
)
def test_invalid_profiles_are_explained(profile: ProviderProfile, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        profile.validated()


def test_recent_projects_are_most_recent_first_and_bounded(tmp_path: Path) -> None:
    config = AppConfig()
    for i in range(MAX_RECENT + 3):
        config.add_recent(tmp_path / f"{i}.persona")
    assert config.add_recent(tmp_path / "5.persona")
    assert not config.add_recent(tmp_path / "5.persona")  # already first: nothing to save
    assert len(config.recent_projects) == MAX_RECENT
    assert config.last_project == str(tmp_path / "5.persona")
    assert config.recent_projects.count(str(tmp_path / "5.persona")) == 1


def test_env_profile_is_built_in_and_unknown_names_are_explained() -> None:
    config = AppConfig()
    assert config.profile("env").key_env == "OPENAI_API_KEY"
    with pytest.raises(ConfigError, match="no provider profile named"):
        config.profile("missing")
    with pytest.raises(ConfigError):
        config.remove_profile("missing")
