"""Drive the demo in headless Chromium (Debian's, through Playwright; nothing is downloaded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass(frozen=True)
class BrowserChat:
    answer: str
    answered_by: str
    leaderboard: str
    streamed_lengths: tuple[int, ...]  # the answer's length each time we looked while it streamed


def chat_and_read_leaderboard(url: str, message: str, artifacts: Path, timeout_s: float = 120.0) -> BrowserChat:
    """Send ``message`` in the chat tab, wait for the final "answered by" line, then open the leaderboard."""
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # Not "networkidle": the page polls the chain every few seconds (timers), so it is never idle for long.
            page.goto(url, wait_until="load", timeout=timeout_s * 1000)
            page.locator("#prompt textarea").wait_for(state="visible", timeout=timeout_s * 1000)
            page.locator("#prompt textarea").fill(message)
            page.locator("#send").click()
            bot = page.locator("#chatbot .bot").last  # the assistant's bubble
            lengths = []
            deadline_ms = timeout_s * 1000
            waited = 0
            while waited < deadline_ms:
                if bot.count():
                    lengths.append(len(bot.inner_text()))
                if "tokens/s" in page.locator("#answered-by").inner_text():
                    break
                page.wait_for_timeout(100)
                waited += 100
            answered_by = page.locator("#answered-by").inner_text()
            answer = bot.inner_text() if bot.count() else ""
            page.screenshot(path=str(artifacts / "demo-chat.png"), full_page=True)
            page.get_by_role("tab", name="Leaderboard").click()
            table = page.locator("#leaderboard")
            table.wait_for(state="visible", timeout=timeout_s * 1000)
            page.wait_for_function("() => document.querySelectorAll('#leaderboard tbody tr').length > 0",
                                   timeout=timeout_s * 1000)
            leaderboard = table.inner_text()
            page.screenshot(path=str(artifacts / "demo-leaderboard.png"), full_page=True)
        finally:
            browser.close()
    return BrowserChat(answer, answered_by, leaderboard, tuple(lengths))
