"""Settings: profiles and keys, Google credentials, and the keyring fallback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt

from persona_studio.core.config import load_config
from persona_studio.core.demo import ensure_demo_project
from persona_studio.gui.dialogs.settings_dialog import SettingsDialog
from persona_studio.services.credentials import GOOGLE_SERVICE_ACCOUNT, SERVICE, CredentialStore
from tests.conftest import wait_until
from tests.fakes.openai_server import FakeOpenAI

SECRET = "sk-never-on-disk-7f3a9c"


def _assert_secret_not_on_disk(*folders: Path, secret: str = SECRET) -> None:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def _fill_profile(dialog, qtbot, name: str, base_url: str, key: str) -> None:
    page = dialog.providers
    qtbot.mouseClick(page.findChild(type(page.save), "add_profile"), Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.name, name)
    page.kind.setCurrentIndex(page.kind.findData("openai-compatible"))
    qtbot.keyClicks(page.base_url, base_url)
    qtbot.keyClicks(page.chat_model, "llama3.1")
    qtbot.keyClicks(page.api_key, key)


def test_profile_key_goes_to_the_keyring_only(
    make_window, context, keyring_backend, run_async, qtbot, isolated_home
) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    dialog = window.open_settings()
    run_async(wait_until(lambda: "system password store" in dialog.banner.text.text()))
    _fill_profile(dialog, qtbot, "local", "http://127.0.0.1:9/v1", SECRET)
    qtbot.mouseClick(dialog.providers.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "Saved" in dialog.providers.result.text()))
    assert "system password store" in dialog.providers.result.text()
    assert keyring_backend.secrets[(SERVICE, "provider:local")] == SECRET
    assert load_config(context.config_file).profile("local").chat_model == "llama3.1"
    assert dialog.providers.api_key.text() == ""  # not kept in the widget either
    window.session.flush()
    window.close()
    _assert_secret_not_on_disk(isolated_home, context.data_folder)


def test_test_connection_talks_to_the_server(make_window, run_async, qtbot) -> None:
    window = make_window()
    dialog = window.open_settings()
    with FakeOpenAI(api_key=SECRET) as server:
        _fill_profile(dialog, qtbot, "fake", server.base_url, SECRET)
        qtbot.mouseClick(dialog.providers.test, Qt.MouseButton.LeftButton)
        run_async(wait_until(lambda: dialog.providers.result.text().startswith("Connected")))
        assert "2 models available" in dialog.providers.result.text()
        assert dialog.providers.test.isEnabled()
        assert [r.path for r in server.requests[-2:]] == ["/v1/models", "/v1/fine_tuning/jobs"]
        assert "It can train models" in dialog.providers.result.text()

        # a key copied from a web page, with a zero-width space and a line break: cleaned
        dialog.providers.api_key.setText(f"\u200b{SECRET}\n")
        dialog.providers.result.clear()
        qtbot.mouseClick(dialog.providers.test, Qt.MouseButton.LeftButton)
        run_async(wait_until(lambda: dialog.providers.result.text().startswith("Connected")))
        assert server.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
        # a character no key has: said, nothing saved or sent (it failed in the request's
        # headers with an encoding error, and the button said nothing)
        sent = len(server.requests)
        dialog.providers.api_key.setText(f"{SECRET}é")
        qtbot.mouseClick(dialog.providers.test, Qt.MouseButton.LeftButton)
        run_async(wait_until(lambda: "no key has (“é”)" in dialog.providers.result.text()))
        assert len(server.requests) == sent and dialog.providers.test.isEnabled()

        dialog.providers.api_key.setText("sk-wrong")
        qtbot.mouseClick(dialog.providers.test, Qt.MouseButton.LeftButton)
        run_async(wait_until(lambda: "refused the API key" in dialog.providers.result.text()))


def test_invalid_profile_is_explained_inline(make_window, run_async, qtbot, context) -> None:
    dialog = make_window().open_settings()
    dialog.providers.name.setText("azure")
    dialog.providers.kind.setCurrentIndex(dialog.providers.kind.findData("azure"))
    assert dialog.providers.api_version.isVisibleTo(dialog)
    qtbot.mouseClick(dialog.providers.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "needs a base URL" in dialog.providers.result.text()))
    assert context.config.profiles == []


def test_no_keyring_offers_session_memory(
    make_window, context, run_async, qtbot, isolated_home
) -> None:
    context.store = CredentialStore(fail.Keyring())
    dialog = make_window(context).open_settings()
    banner = dialog.banner
    run_async(wait_until(lambda: "No system password store" in banner.text.text()))
    assert banner.use_memory.isVisibleTo(dialog)
    _fill_profile(dialog, qtbot, "local", "http://127.0.0.1:9/v1", SECRET)
    qtbot.mouseClick(dialog.providers.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "was not saved" in dialog.providers.result.text()))
    assert context.config.profiles == []

    qtbot.mouseClick(banner.use_memory, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "kept in memory until you quit" in banner.text.text()))
    assert dialog.providers.api_key.text() == SECRET  # the failed save lost nothing
    qtbot.mouseClick(dialog.providers.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "in memory until you quit" in dialog.providers.result.text()))
    assert run_async(context.store.get("provider:local")) == SECRET
    _assert_secret_not_on_disk(isolated_home)


def test_google_service_account_is_checked_and_kept_in_the_keyring(
    make_window, context, keyring_backend, run_async, tmp_path, isolated_home
) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "bot@proj.iam.gserviceaccount.com",
                "private_key": f"-----BEGIN PRIVATE KEY-----{SECRET}",
                "token_uri": "https://x",
            }
        )
    )
    bad_file = tmp_path / "oauth.json"
    bad_file.write_text(json.dumps({"installed": {"client_id": "abc"}}))
    dialog = make_window().open_settings()
    page = dialog.google

    page.load_file(bad_file)
    run_async(wait_until(lambda: "not a service-account key" in page.account.text()))
    assert "OAuth client" in page.account.text()

    page.load_file(key_file)
    run_async(wait_until(lambda: "bot@proj.iam.gserviceaccount.com" in page.account.text()))
    assert SECRET in keyring_backend.secrets[(SERVICE, GOOGLE_SERVICE_ACCOUNT)]
    saved = load_config(context.config_file).google
    assert (saved.auth, saved.account_email) == (
        "service_account",
        "bot@proj.iam.gserviceaccount.com",
    )
    key_file.unlink()
    _assert_secret_not_on_disk(isolated_home)


@pytest.mark.real_keyring
def test_settings_dialog_with_the_real_secret_service(
    make_window, context, real_keyring, run_async, qtbot, isolated_home
) -> None:
    context.store = CredentialStore()  # the OS keyring, exactly as the app uses it
    window = make_window(context)
    window.open_project(ensure_demo_project(context.data_folder))
    dialog = window.open_settings()
    run_async(wait_until(lambda: "system password store" in dialog.banner.text.text()))
    _fill_profile(dialog, qtbot, "gui-real", "http://127.0.0.1:9/v1", SECRET)
    qtbot.mouseClick(dialog.providers.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "Saved" in dialog.providers.result.text()), timeout=10)
    assert real_keyring.get_password(SERVICE, "provider:gui-real") == SECRET
    qtbot.mouseClick(dialog.providers.remove, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "Removed" in dialog.providers.result.text()), timeout=10)
    assert real_keyring.get_password(SERVICE, "provider:gui-real") is None
    window.close()
    _assert_secret_not_on_disk(isolated_home, context.data_folder)


def test_training_services_get_their_own_fields(make_window, run_async, qtbot, context) -> None:
    """Fireworks asks for its account ID (and refuses a profile without one); Together and
    Nebius need only a key (their address is filled in)."""
    dialog = make_window().open_settings()
    page = dialog.providers
    page.name.setText("fw")
    page.kind.setCurrentIndex(page.kind.findData("fireworks"))
    assert page.account.isVisibleTo(dialog) and not page.api_version.isVisibleTo(dialog)
    assert "api.fireworks.ai" in page.base_url.placeholderText()
    qtbot.mouseClick(page.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "account ID" in page.result.text()))
    page.account.setText("rhea-studio")
    qtbot.mouseClick(page.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "Saved" in page.result.text()))
    assert load_config(context.config_file).profile("fw").account == "rhea-studio"
    for kind, host in (("together", "api.together.ai"), ("nebius", "tokenfactory.nebius.com")):
        page.kind.setCurrentIndex(page.kind.findData(kind))
        assert host in page.base_url.placeholderText() and not page.account.isVisibleTo(dialog)
        assert not page.training_type.isVisibleTo(dialog)

    # Azure: where it trains, each choice explained; kept with the profile
    page.name.setText("az")
    page.kind.setCurrentIndex(page.kind.findData("azure"))
    page.base_url.setText("https://rhea.openai.azure.com")
    assert page.training_type.isVisibleTo(dialog) and page.api_version.isVisibleTo(dialog)
    for i in range(1, page.training_type.count()):
        assert len(page.training_type.itemData(i, Qt.ItemDataRole.ToolTipRole)) > 40
    page.training_type.setCurrentIndex(page.training_type.findData("GlobalStandard"))
    page.api_version.setText("2024-10-21")
    qtbot.mouseClick(page.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "2025-04-01-preview" in page.result.text()))
    page.api_version.clear()
    qtbot.mouseClick(page.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "Saved" in page.result.text()))
    assert load_config(context.config_file).profile("az").training_type == "GlobalStandard"
    page.list.setCurrentRow(page.list.count() - 1)
    assert page.training_type.currentText().startswith("Global")


def test_no_profile_says_what_to_set_up_and_a_new_one_shows_at_once(
    make_window, context, run_async, qtbot
) -> None:
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.show()
    window.tabs.setCurrentIndex(2)
    train = window.train_tab
    window.tabs.setCurrentIndex(3)
    chat = window.chat_tab
    chat.pane_count.setValue(2)
    # no hidden "env (OPENAI_API_KEY)" when that variable is not set; this computer needs none
    assert [train.profile.itemData(i) for i in range(train.profile.count())] == ["local"]
    qtbot.waitUntil(chat.isVisible)  # a page built into a shown window shows at the next event
    assert not train.setup.isHidden()  # shown when its tab is
    assert chat.setup.isVisible() and "set up the service" in chat.setup.label.text()

    qtbot.mouseClick(chat.setup.button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(SettingsDialog, "settings_dialog")
    assert dialog is not None and dialog.isVisible()
    _fill_profile(dialog, qtbot, "ollama", "http://127.0.0.1:9/v1", SECRET)
    qtbot.mouseClick(dialog.providers.save, Qt.MouseButton.LeftButton)
    run_async(wait_until(lambda: "Saved" in dialog.providers.result.text()))
    # every list has it now, without a restart; the notices are gone
    for pane in chat.panes:
        assert pane.engine.findData("ollama") >= 0
    assert train.profile.findData("ollama") >= 0
    assert not chat.setup.isVisible()
    window.tabs.setCurrentIndex(2)
    qtbot.waitUntil(train.isVisible)
    assert not train.setup.isVisible()


def test_the_environment_profile_is_offered_only_when_its_key_is_set(
    make_window, context, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-ci")
    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    window.tabs.setCurrentIndex(2)
    profile = window.train_tab.profile
    assert profile.currentText() == "From the environment (OPENAI_API_KEY)"


def test_closing_settings_while_it_works_lets_the_work_land(
    make_window, context, keyring_backend, run_async, qtbot, monkeypatch, isolated_home
) -> None:
    """Closed while a connection is tested or a profile removed (found by random actions:
    the answer was written into the deleted dialog, and a removal half done left the window's
    lists showing the profile): the dialog hides at once and goes once the work has landed."""
    from shiboken6 import isValid

    from persona_studio.services import providers

    window = make_window()
    window.open_project(ensure_demo_project(context.data_folder))
    train = window.train_tab
    release = asyncio.Event()
    tested = providers.test_connection

    async def held(*args, **kwargs):
        await release.wait()
        return await tested(*args, **kwargs)

    monkeypatch.setattr(providers, "test_connection", held)
    with FakeOpenAI(api_key=SECRET) as server:
        dialog = window.open_settings()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # as the window opens it
        _fill_profile(dialog, qtbot, "fake", server.base_url, SECRET)
        qtbot.mouseClick(dialog.providers.test, Qt.MouseButton.LeftButton)
        run_async(wait_until(lambda: "Contacting" in dialog.providers.result.text()))
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible() and isValid(dialog)  # closed for the creator, kept
        release.set()
        run_async(wait_until(lambda: not isValid(dialog)))  # deleted once it answered
        assert train.profile.findData("fake") >= 0  # saved, and the Train tab told

        removing = asyncio.Event()
        delete = context.store.delete

        async def held_delete(account):
            await removing.wait()
            return await delete(account)

        monkeypatch.setattr(context.store, "delete", held_delete)
        dialog = window.open_settings()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        page = dialog.providers
        page.list.setCurrentItem(page.list.findItems("fake", Qt.MatchFlag.MatchExactly)[0])
        qtbot.mouseClick(page.remove, Qt.MouseButton.LeftButton)
        dialog.reject()
        assert isValid(dialog)
        removing.set()
        run_async(wait_until(lambda: not isValid(dialog)))
    assert all(p.name != "fake" for p in context.config.profiles)
    assert all(p.name != "fake" for p in load_config(context.config_file).profiles)
    assert train.profile.findData("fake") < 0  # the Train tab no longer offers it

    # with nothing under way, closing deletes the dialog at once, as before
    dialog = window.open_settings()
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.reject()
    run_async(wait_until(lambda: not isValid(dialog)))
