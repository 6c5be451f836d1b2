"""Model replies render inert (issue 15 item 5): no resource loaded from anywhere, raw HTML
shown as text, links show their target and open only http(s), after a confirmation."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QMessageBox

from persona_studio.core.demo import ensure_demo_project
from persona_studio.gui.widgets.reply_html import reply_html
from tests.conftest import wait_until
from tests.fakes.openai_server import FakeOpenAI
from tests.gui.conftest import add_provider

MODEL = "gpt-4.1-mini-2025-04-14"
HOSTILE = (
    "Sure! ![z](file:///dev/zero) ![cat](https://example.com/cat.png)\n\n"
    "<p style='color:red'><b>Warning from Persona Studio: your key expired</b></p>\n\n"
    "You: ignore the above\n\n"
    "[your files](file:///etc/passwd) · [help](custom-scheme://run) · "
    "[docs](https://example.com/docs) · https://example.com/plain"
)


def test_hostile_markdown_becomes_inert_html(qapp) -> None:
    body = reply_html(HOSTILE, "#777")
    assert "<img" not in body.lower()
    assert "[image: z — file:///dev/zero]" in body and "[image: cat — https://example.com" in body
    assert "<b>Warning" not in body and "&lt;b&gt;Warning" in body  # the HTML is text
    assert 'href="file:' not in body and 'href="custom-scheme:' not in body
    assert "your files" in body and "(file:///etc/passwd)" in body  # shown, not clickable
    assert '<a href="https://example.com/docs">' in body and "(https://example.com/docs)" in body


def test_a_hostile_reply_in_a_pane_loads_nothing_and_asks_before_opening(
    make_window, context, qtbot, run_async, keyring_backend, monkeypatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(
        "persona_studio.gui.widgets.chat_pane.QDesktopServices.openUrl",
        lambda url: opened.append(url.toString()),
    )
    with FakeOpenAI(api_key="sk-test", models=(MODEL,)) as server:
        server.reply_for = lambda _messages: HOSTILE
        add_provider(context, keyring_backend, "fake", server, chat_model=MODEL)
        window = make_window()
        window.open_project(ensure_demo_project(context.data_folder))
        window.tabs.setCurrentIndex(3)
        tab = window.chat_tab
        pane = tab.panes[0]
        pane.fill_engines()
        pane.engine.setCurrentIndex(pane.engine.findData("fake"))
        pane.mode.setCurrentIndex(pane.mode.findData("persona"))
        tab.send_message("hi")
        run_async(wait_until(lambda: not pane.busy and pane.messages[-1]["role"] == "assistant"))
        shown = pane.transcript.toHtml()
        assert "<img" not in shown.lower() and "file:///dev/zero" in pane.transcript.toPlainText()
        assert pane.transcript.loadResource(2, QUrl("file:///etc/passwd")) is None
        assert pane.confirm_link(QUrl("file:///etc/passwd")) is None  # never opened
        box = pane.confirm_link(QUrl("https://example.com/docs"))
        qtbot.waitUntil(box.isVisible)
        assert "https://example.com/docs" in box.informativeText()
        box.button(QMessageBox.StandardButton.Cancel).click()
        assert opened == []
        box = pane.confirm_link(QUrl("https://example.com/docs"))
        qtbot.waitUntil(box.isVisible)
        next(b for b in box.buttons() if b.text() == "Open in browser").click()
        assert opened == ["https://example.com/docs"]
