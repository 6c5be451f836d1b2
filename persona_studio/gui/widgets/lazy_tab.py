"""A tab page built the first time it is shown, so start-up pays only for the visible tab."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QVBoxLayout, QWidget

from persona_studio.gui.project_session import ProjectSession


class LazyTab(QWidget):
    def __init__(self, factory: Callable[[], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factory = factory
        self._page: QWidget | None = None
        self._session: ProjectSession | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    @property
    def built(self) -> QWidget | None:
        """The tab if it was built already (without building it)."""
        return self._page

    @property
    def page(self) -> QWidget:
        """The real tab, built (and given the open project) on first use."""
        if self._page is None:
            self._page = self._factory()
            self._layout.addWidget(self._page)
            if self._session is not None:
                self._page.set_session(self._session)  # type: ignore[attr-defined]
            if self.isVisible():  # built again after `reset` in a shown tab: Qt leaves it hidden
                self._page.show()
        return self._page

    def reset(self) -> None:
        """Drop the built tab: the next use builds it afresh."""
        if self._page is not None:
            self._layout.removeWidget(self._page)
            self._page.hide()
            self._page.deleteLater()
            self._page = None

    def set_session(self, session: ProjectSession) -> None:
        self._session = session
        if self._page is not None:
            self._page.set_session(session)  # type: ignore[attr-defined]
