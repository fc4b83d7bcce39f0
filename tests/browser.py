"""Drive the demo in headless Chromium (Debian's, through Playwright; nothing is downloaded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


# The leaderboard's rows as {column title: cell text}. Gradio's Dataframe draws its body as ARIA rows of
# grid cells (virtualised: only the rows in view exist, which is all of them for a small subnet).
READ_ROWS = """(table) => {
    const titles = {};
    for (const th of table.querySelectorAll('[role=columnheader][data-heading]'))
        titles[th.dataset.heading] = th.getAttribute('title') || th.innerText.trim();
    return Array.from(table.querySelectorAll('[role=row]'))
        .map(row => Array.from(row.querySelectorAll('[role=gridcell][data-col]')))
        .filter(cells => cells.length)
        .map(cells => Object.fromEntries(cells.map(c => [titles[c.dataset.col] ?? c.dataset.col, c.innerText.trim()])));
}"""
COUNT_ROWS = "(n) => document.querySelectorAll('#leaderboard [role=gridcell][data-col=\"0\"]').length >= n"


@dataclass(frozen=True)
class BrowserChat:
    answer: str
    answered_by: str
    leaderboard: str
    leaderboard_rows: tuple[dict[str, str], ...]  # {column title: cell text} per row
    streamed_lengths: tuple[int, ...]  # the answer's length each time we looked while it streamed

    def column(self, title: str) -> list[str]:
        return [row.get(title, "") for row in self.leaderboard_rows]

    def partial_lengths(self) -> list[int]:
        """The distinct lengths seen before the final answer, in the order seen."""
        seen: list[int] = []
        for n in self.streamed_lengths:
            if 0 < n < len(self.answer) and (not seen or seen[-1] != n):
                seen.append(n)
        return seen


def chat_and_read_leaderboard(url: str, message: str, artifacts: Path, timeout_s: float = 120.0,
                              min_rows: int = 1) -> BrowserChat:
    """Send ``message`` in the chat tab, wait for the final "answered by" line (sampling the answer's length every
    50 ms meanwhile), then open the leaderboard and wait until it shows at least ``min_rows`` rows."""
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
                page.wait_for_timeout(50)
                waited += 50
            answered_by = page.locator("#answered-by").inner_text()
            answer = bot.inner_text() if bot.count() else ""
            page.screenshot(path=str(artifacts / "demo-chat.png"), full_page=True)
            page.get_by_role("tab", name="Leaderboard").click()
            table = page.locator("#leaderboard")
            table.wait_for(state="visible", timeout=timeout_s * 1000)
            page.wait_for_function(COUNT_ROWS, arg=min_rows, timeout=timeout_s * 1000)
            leaderboard = table.inner_text()
            rows = table.evaluate(READ_ROWS)
            page.screenshot(path=str(artifacts / "demo-leaderboard.png"), full_page=True)
        finally:
            browser.close()
    return BrowserChat(answer, answered_by, leaderboard, tuple(rows), tuple(lengths))
