"""The installed Qt bindings keep Python's reference counts straight.

PySide6 6.12.0 on Python 3.11 drops a reference to None on every call of a void method
(setText, setEnabled, …): a GUI session then crashes ("deallocating None") after enough calls.
pyproject.toml keeps that version out; this test catches any other binding with the same bug.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QCheckBox, QLabel


def test_void_methods_keep_none_alive(qapp) -> None:
    label, box = QLabel(), QCheckBox()

    def calls(n: int) -> None:
        for i in range(n):
            label.setText("x")
            box.setChecked(i % 2 == 0)
            box.setEnabled(True)
            label.isVisible()

    calls(10)  # first calls may cache a reference or two
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    calls(500)
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    drift = [a - b for a, b in zip(after, before, strict=True)]
    assert all(abs(d) < 10 for d in drift), f"reference counts drift by {drift} in 500 calls"
