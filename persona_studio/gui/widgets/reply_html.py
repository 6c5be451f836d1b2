"""Model replies as inert rich text: what a model writes can format its text, nothing more.

- Raw HTML in a reply is shown as text (Qt's Markdown parser with HTML off).
- No image or other resource is ever loaded: an image becomes "[image: …]" text with its
  address (a reply with `![x](file:///dev/zero)` used to make Qt read forever).
- Every link shows where it goes; only http(s) links stay clickable (and the pane asks before
  opening one); `file:` and other schemes are plain text.
- `InertBrowser` refuses every resource itself, whatever HTML reaches it.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QTextBrowser

_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_LINK = re.compile(r"<a\b([^>]*)>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_TAGS = re.compile(r"<[^>]+>")
WEB_SCHEMES = ("http", "https")


def reply_html(markdown: str, muted: str) -> str:
    """A reply's Markdown as inert HTML for the transcript (`muted`: the colour of the link
    targets and image notes)."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    features = QTextDocument.MarkdownFeature
    document.setMarkdown(markdown, features.MarkdownDialectGitHub | features.MarkdownNoHTML)
    body = document.toHtml()
    start, end = body.find("<body"), body.rfind("</body>")
    body = body[body.find(">", start) + 1 : end] if start >= 0 and end > start else body
    return _inert(body, muted)


def _inert(body: str, muted: str) -> str:
    def note(text: str) -> str:
        return f"<span style='color:{muted}'>{text}</span>"

    def image(match: re.Match[str]) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(0)))
        alt = attributes.get("alt", "")
        return note(f"[image{': ' + alt if alt else ''} — {attributes.get('src', '')}]")

    def link(match: re.Match[str]) -> str:
        target = dict(_ATTRIBUTE.findall(match.group(1))).get("href", "")
        inner = match.group(2)
        label = html.unescape(_TAGS.sub("", inner)).strip()
        shown = "" if label == html.unescape(target) else f" {note('(' + target + ')')}"
        if QUrl(html.unescape(target)).scheme().lower() in WEB_SCHEMES:
            return f'<a href="{target}">{inner}</a>{shown}'
        return f"{html.escape(label)}{shown or ' ' + note('(' + target + ')')}"

    return _LINK.sub(link, _IMAGE.sub(image, body))


class InertBrowser(QTextBrowser):
    """A transcript that loads nothing: no images, no style sheets, no files, no network.
    Links are not followed here; the owner gets `anchorClicked` and decides."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)

    def loadResource(self, kind: int, name: QUrl | str) -> Any:
        return None
