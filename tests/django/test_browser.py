"""The example's chat page in a real browser (headless Chromium, through selenium), served by
gunicorn (its WSGI application) and by uvicorn (its ASGI one, with async views), on an emulator
that paces its answers (``--stream-delay``).

The page shows the answer while the run is still under way, piece after piece; a weather
question shows its tool call, then the answer; closing the tab in the middle of an answer
cancels its run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from assistants_client import AssistantsClient
from bench.django_site import DjangoSite

WAIT = 20.0  # seconds: a bound on a hang, not a speed claim
# Records every text the first answer shows, as the page changes it.
RECORD_STEPS = """
window.steps = [];
new MutationObserver(() => {
  const answer = document.getElementById("answer-1");
  if (answer) window.steps.push(answer.textContent);
}).observe(document.getElementById("log"), {childList: true, subtree: true, characterData: true});
"""


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def site(request: pytest.FixtureRequest) -> Iterator[DjangoSite]:
    with DjangoSite(workers=1, threads=8, stream_delay=0.1, server=request.param) as running:
        yield running


@pytest.fixture
def api(site: DjangoSite) -> Iterator[AssistantsClient]:
    with AssistantsClient(base_url=site.api_url) as client:
        yield client


def ask(browser: WebDriver, message: str) -> None:
    browser.find_element(By.ID, "message").send_keys(message)
    browser.find_element(By.ID, "send").click()


def shown(browser: WebDriver, answer: str = "answer-1") -> str:
    elements = browser.find_elements(By.ID, answer)
    return elements[0].text if elements else ""


def latest_run_status(api: AssistantsClient, browser: WebDriver) -> tuple[str, str, str]:
    thread_id = browser.find_element(By.TAG_NAME, "body").get_attribute("data-thread-id") or ""
    run = api.list_runs(thread_id, limit=1).data[0]
    return thread_id, run.id, run.status


def test_the_page_shows_the_answer_piece_by_piece_while_the_run_goes_on(
    browser: WebDriver, site: DjangoSite, api: AssistantsClient
) -> None:
    message = "tell me something in a dozen words or so please"
    browser.get(site.url + "/")
    browser.execute_script(RECORD_STEPS)

    ask(browser, message)
    first_seen = WebDriverWait(browser, WAIT).until(lambda b: shown(b))
    _, _, status_then = latest_run_status(api, browser)
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_element(By.ID, "answer-1").get_attribute("data-status") == "completed"
    )

    final = shown(browser)
    steps = [step for step in browser.execute_script("return window.steps") if step]
    assert final == f"You said: {message}"
    assert status_then == "in_progress"  # text was on the page before the run ended
    assert final.startswith(first_seen) and first_seen != final
    distinct = list(dict.fromkeys(steps))
    assert len(distinct) >= 5
    assert all(b.startswith(a) for a, b in itertools.pairwise(distinct))


def test_a_weather_question_shows_the_tool_call_then_the_answer(
    browser: WebDriver, site: DjangoSite
) -> None:
    browser.get(site.url + "/")
    question = browser.find_element(By.ID, "message").get_attribute("placeholder") or ""
    assert "weather" in question

    ask(browser, question)
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_element(By.ID, "answer-1").get_attribute("data-status") == "completed"
    )

    calls = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".tool")]
    assert calls == ['get_weather({"city": "Paris"})']
    assert shown(browser) == (
        'get_weather returned: {"city":"Paris","temperature_c":18,"sky":"partly cloudy"}'
    )


def test_closing_the_tab_in_the_middle_of_an_answer_cancels_its_run(
    browser: WebDriver, site: DjangoSite, api: AssistantsClient
) -> None:
    first_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(site.url + "/")

    ask(browser, "a long answer that nobody will stay to read " * 4)
    WebDriverWait(browser, WAIT).until(lambda b: shown(b))
    thread_id, run_id, status_then = latest_run_status(api, browser)
    browser.close()
    browser.switch_to.window(first_tab)

    run = api.wait_for_run(thread_id, run_id, timeout=WAIT, poll_interval=0.05)
    assert status_then == "in_progress"
    assert run.status == "cancelled"
