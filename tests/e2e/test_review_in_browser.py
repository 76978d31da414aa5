"""A reviewer, in a real browser, signs in, claims the worst item of the review queue,
labels it, and sees it leave the queue (docs/review.md). Everything is real: Streamlit
serves the app on the test database, Playwright drives Debian's Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.ui.pages import item_row, seed
from vigil.auth import hash_password
from vigil.store import users

pytestmark = pytest.mark.slow

REVIEWER = "rita"
PASSWORD = "correct horse battery"
TIMEOUT_MS = 30_000  # a Streamlit rerun, not a network round trip: generous on 2 cores


def shows(page: Page, text: str | re.Pattern[str]) -> None:
    expect(page.get_by_text(text)).to_be_visible(timeout=TIMEOUT_MS)


def test_a_reviewer_labels_the_claimed_item_and_it_leaves_the_queue(
    conn: psycopg.Connection,
    streamlit_url: str,
    browser: BrowserContext,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(conn)  # a regression of support-bot queues traces t0 (worst score) and t1
    with conn.transaction():
        users.add_user(conn, REVIEWER, "reviewer", by="test", password_hash=hash_password(PASSWORD))
        users.grant(conn, REVIEWER, "support-bot", by="test")

    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(streamlit_url)
    page.get_by_role("textbox", name="Name").fill(REVIEWER)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    shows(page, f"Signed in as {REVIEWER}")

    page.get_by_role("link", name="Review queue").click()
    shows(page, "2 pending item(s) in this view")
    page.get_by_role("button", name=re.compile(r"^Claim next")).click()
    shows(page, re.compile(r"Item #\d+ · support-bot · t0"))
    shows(page, f"Claimed by {REVIEWER}")

    page.get_by_role("button", name=re.compile(r"^hallucinated")).click()
    shows(page, re.compile(rf"Item #\d+ labeled 'hallucinated' by {REVIEWER}\."))
    shows(page, "1 pending item(s) in this view")
    screenshot = tmp_path / "review-labeled.png"
    page.screenshot(path=str(screenshot), full_page=True)
    with capsys.disabled():
        print(f"\n  screenshot: {screenshot}")

    page.get_by_role("button", name=re.compile(r"^Next item")).click()  # t0 is not offered again
    shows(page, re.compile(r"Item #\d+ · support-bot · t1"))

    row = item_row(conn, "t0")
    assert (row["status"], row["label"], row["reviewer"]) == ("labeled", "hallucinated", REVIEWER)
    row = item_row(conn, "t1")
    assert (row["status"], row["claimed_by"]) == ("pending", REVIEWER)


def test_a_link_to_a_page_opens_it_after_sign_in(
    conn: psycopg.Connection, streamlit_url: str, browser: BrowserContext
) -> None:
    """An alert's or a gate comment's link, opened signed out, leads to its page once the
    viewer signs in, not to the overview."""
    seed(conn)
    with conn.transaction():
        users.add_user(conn, REVIEWER, "reviewer", by="test", password_hash=hash_password(PASSWORD))
        users.grant(conn, REVIEWER, "support-bot", by="test")
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{streamlit_url}/traces?trace=t1")
    expect(page.get_by_role("link", name="Review queue")).to_have_count(0)  # no menu yet
    page.get_by_role("textbox", name="Name").fill(REVIEWER)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    shows(page, "Trace t1")
    assert "/traces" in page.url and "trace=t1" in page.url
