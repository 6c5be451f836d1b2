"""UI responsiveness while 3 chat panes stream at once (200 tokens/s each).

    python benchmarks/chat.py [--seconds 10]

A 5 ms Qt timer measures how late the event loop is: the stall is how much later than due each
tick runs. Printed: max and p99 stall while streaming, beside the same measure on an idle
window in the same run. Target: max stall ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes, from a checkout

from benchmarks.stalls import StallMeter, private_home, qt_loop


def measure(loop, seconds: float, work=None) -> list[float]:
    meter = StallMeter()
    meter.start()

    async def run() -> None:
        if work is not None:
            work()
        await asyncio.sleep(seconds)

    loop.run_until_complete(run())
    return meter.stop()[1:]


def report(name: str, stalls: list[float]) -> float:
    p99 = statistics.quantiles(stalls, n=100)[98] if len(stalls) > 100 else max(stalls)
    print(f"{name:<28} max stall {max(stalls):6.1f} ms   p99 {p99:6.1f} ms   ({len(stalls)} ticks)")
    return max(stalls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    home = private_home("persona-chat-bench-")

    from persona_studio.core.config import ProviderProfile
    from persona_studio.gui.app import settle_after_startup
    from persona_studio.tools.offscreen import demo_window
    from tests.fakes.openai_server import FakeOpenAI

    loop = qt_loop()
    tokens = int(200 * args.seconds)
    with FakeOpenAI(api_key="sk-bench", models=("bench-model",)) as server:
        server.reply_for = lambda messages: " ".join(f"w{i}" for i in range(tokens))
        server.chunk_delay = 1 / 200
        window = demo_window(
            home,
            [
                ProviderProfile(
                    name="bench",
                    kind="openai-compatible",
                    base_url=server.base_url,
                    chat_model="bench-model",
                )
            ],
            secret="sk-bench",
        )
        window.tabs.setCurrentIndex(3)
        window.show()
        chat = window.chat_tab
        chat.pane_count.setValue(3)
        for pane in chat.panes:
            pane.fill_engines()
            pane.engine.setCurrentIndex(pane.engine.findData("bench"))
        settle_after_startup()  # as the app does after its first paint
        idle = measure(loop, min(3.0, args.seconds))
        streaming = measure(
            loop, args.seconds, work=lambda: chat.send_message("Tell me everything.")
        )
        received = [len(p.messages[-1]["content"].split()) for p in chat.panes]
        chat.stop_all()
        loop.run_until_complete(asyncio.sleep(0.2))
    report("idle window", idle)
    worst = report("3 panes streaming", streaming)
    print(f"words received per pane: {received} (≈200/s each)")
    print(f"target: max stall ≤ 50 ms -> {'OK' if worst <= 50 else 'OVER TARGET'}")
    window.close()
    loop.run_until_complete(asyncio.sleep(0.1))
    loop.close()  # stops the worker threads the clients were built on
    return 0


if __name__ == "__main__":
    sys.exit(main())
