"""A real Secret Service for tests: gnome-keyring on a private D-Bus session bus.

Nothing here touches the developer's own keyring: the bus, HOME and keyring files are new and
live in a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REQUIRED_BINARIES = ("dbus-daemon", "gnome-keyring-daemon")


def available() -> bool:
    return all(shutil.which(b) for b in REQUIRED_BINARIES)


@contextmanager
def private_secret_service(home: Path) -> Iterator[dict[str, str]]:
    """Start dbus-daemon and an unlocked gnome-keyring; yield the environment to use them."""
    runtime = home / "run"
    runtime.mkdir(parents=True, mode=0o700)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    bus = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1", "--print-pid=1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    )
    address, pid = bus.stdout.split()[:2]
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    try:
        subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--components=secrets"],
            input="test-password",
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        yield {k: env[k] for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
    finally:
        # gnome-keyring-daemon leaves with the bus it was started on
        os.kill(int(pid), signal.SIGTERM)
