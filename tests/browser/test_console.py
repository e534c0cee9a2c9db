"""The staff console in headless Chromium, against real servers: the production-profile stack (Rasa
with its PostgreSQL tracker store, the action server, a fake Viber API) and `otke console serve` on
the same databases. Subscribers talk through the signed Viber webhook; staff sign in through the
login form and read what the console made of it: transcripts, the NLU inbox, the period's chart.

One stack and one console for the module; screenshots go to tests/output/console-*.png.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from ruamel.yaml import YAML

from actions.console.models import Role
from actions.register.period import KYIV
from tests.support.console import Console, StaffMember, copy_project, running_console
from tests.support.moments import TEST_MOMENT
from tests.support.paths import OUTPUT, ROOT
from tests.support.stack import Stack, running_stack
from tests.support.viber import viber_user

DESIGNER = StaffMember("olena.designer", Role.DESIGNER, "designer-password-1")
OPERATOR = StaffMember("petro.operator", Role.OPERATOR, "operator-password-1")
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
ACCOUNT, METER, READING = "12345", "111111", "479.00"
# out_of_scope for the model (what a subscriber asks that the bot does not handle), and a mumble
UNSURE = "а коли дадуть гарячу воду у квартиру?"
UNSURE_GROUP = "а коли дадуть гарячу воду у квартиру"  # as the inbox groups it (index.normalised)
MUMBLE = "ммм ну таке"
LABELLED = "коли дадуть гарячу воду в квартиру"
TIMEOUT = 20_000
# the conversation index catches up on each page request; this only stops a hang
INDEX_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def stack(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        "browser-console", model_path, "production", tmp_path_factory.mktemp("stack")
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def console(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    project_dir = copy_project(tmp_path_factory.mktemp("project"))
    with running_console("browser-console", stack, project_dir, [DESIGNER, OPERATOR]) as console:
        yield console


@pytest.fixture(scope="module")
def reader(stack: Stack) -> dict[str, Any]:
    """A Viber subscriber who registered heat meter 111111 and sent a reading."""
    user = viber_user()
    stack.register(user, ACCOUNT, METER)
    assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
    assert stack.say(user, READING)[0] == f"Прийнято {READING} до обробки. Дякуємо"
    return user


@pytest.fixture(scope="module")
def unsure(stack: Stack) -> dict[str, Any]:
    """A Viber subscriber who asked two things the model is unsure of."""
    user = viber_user()
    for words in (UNSURE, MUMBLE):
        assert stack.say(user, words)[0].startswith("На жаль, з цим питанням я не допоможу.")
    return user


def sender_id(user: dict[str, Any]) -> str:
    """The Rasa sender id of a Viber user (custom_channels/viber.py)."""
    return f"viber:{user['id']}"


@contextmanager
def signed_in(
    browser: Browser, console: Console, member: StaffMember, size: str = "desktop"
) -> Iterator[Page]:
    """A browser of its own, signed in through the login form, on the role's home page."""
    context = browser.new_context(locale="uk-UA", accept_downloads=True, **SIZES[size])
    context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        page.goto(f"{console.url}/login")
        page.get_by_label("Ім'я користувача").fill(member.name)
        page.get_by_label("Пароль").fill(member.password)
        page.get_by_role("button", name="Увійти").click()
        home = "/period/" if member.role is Role.OPERATOR else "/conversations/"
        expect(page).to_have_url(f"{console.url}{home}")
        yield page
    finally:
        context.close()


def reload_until_shown(page: Page, locator: Locator, what: str) -> Locator:
    """Reload until ``locator`` is on the page: each request indexes Rasa's new events."""
    for _ in range(int(INDEX_TIMEOUT / 0.5)):
        if locator.count():
            return locator
        page.wait_for_timeout(500)
        page.reload()
    pytest.fail(f"{what} did not show up in the console")


def conversation_row(page: Page, console: Console, user: dict[str, Any]) -> Locator:
    """The user's one row in the Conversations list (reloaded until it is there)."""
    who = console.who(sender_id(user))
    page.goto(f"{console.url}/conversations/")
    row = page.locator("#conversations tbody tr", has_text=who)
    reload_until_shown(page, row, f"the conversation of {who}")
    expect(row).to_have_count(1)
    return row


def open_transcript(page: Page, console: Console, user: dict[str, Any]) -> None:
    conversation_row(page, console, user).get_by_role("link").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^Розмова \d+$"))
    expect(page.locator("#who")).to_have_text(console.who(sender_id(user)))


def inbox_group(page: Page, normalised: str) -> Locator:
    return page.locator(".group").filter(has=page.get_by_text(normalised, exact=True))


def page_widths(page: Page) -> tuple[int, int]:
    """The document's width (with what overflows) and the window's."""
    widths: Any = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return int(widths[0]), int(widths[1])


def test_a_viber_conversation_shows_intents_and_masked_numbers(
    browser: Browser, console: Console, reader: dict[str, Any]
) -> None:
    with signed_in(browser, console, DESIGNER) as page:
        row = conversation_row(page, console, reader)
        expect(row.locator("td")).to_have_text(
            [re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"), console.who(sender_id(reader)), "Viber", "5", ""]
        )
        open_transcript(page, console, reader)
        said = page.locator(".step-user")
        expect(said).to_have_count(5)
        assert [" ".join(text.split()) for text in said.locator(".bubble").all_inner_texts()] == [
            "Абонент Додати лічильник",
            "Абонент •••••",
            "Абонент ••••••",
            "Абонент Передати показання",
            f"Абонент {READING}",
        ]
        assert said.locator("code.intent").all_inner_texts() == [
            "register_meter",
            "inform_number",
            "inform_number",
            "submit_reading",
            "inform_number",
        ]
        confidences = [float(shown) for shown in said.locator(".confidence").all_inner_texts()]
        assert len(confidences) == 5 and all(0.4 < value <= 1 for value in confidences), confidences
        shown = page.locator("main").inner_text()
        # the numbers, the street, and the Viber profile name Rasa keeps in session_started_metadata
        for personal in (ACCOUNT, METER, "Шевченка", reader["name"]):
            assert personal not in shown, personal
        expect(page.locator(".step-slot", has_text="session_started_metadata")).to_contain_text(
            "session_started_metadata = •••"
        )
        expect(page.locator(".step-bot", has_text="Тепер Ви зареєстровані!")).to_have_count(1)
        page.screenshot(path=OUTPUT / "console-transcript-viber.png", full_page=True)


def test_an_unsure_message_is_labelled_and_added_to_the_nlu_data(
    browser: Browser, console: Console, unsure: dict[str, Any]
) -> None:
    out_of_scope = console.project_dir / "data" / "nlu" / "out_of_scope.yml"
    checkout_nlu = {path.name: path.read_text() for path in (ROOT / "data" / "nlu").glob("*.yml")}
    copy_nlu = {path.name: path.read_text() for path in out_of_scope.parent.glob("*.yml")}
    with signed_in(browser, console, DESIGNER) as page:
        page.goto(f"{console.url}/inbox/")
        question = inbox_group(page, UNSURE_GROUP)
        reload_until_shown(page, question, "the unsure message")
        expect(question.locator(".tag")).to_have_text("поза темою")
        expect(question.locator("code")).to_have_text("out_of_scope")
        expect(inbox_group(page, MUMBLE)).to_have_count(1)

        question.get_by_label("Інтент").select_option("out_of_scope")
        question.get_by_label("Приклад").fill(LABELLED)
        question.get_by_role("button", name="Позначити").click()
        expect(page.locator("#labelled")).to_have_text("1")
        expect(inbox_group(page, UNSURE_GROUP)).to_have_count(0)
        expect(inbox_group(page, MUMBLE)).to_have_count(1)

        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("^Завантажити позначені приклади")).click()
        labelled = YAML(typ="safe").load(Path(download.value.path()).read_text(encoding="utf-8"))
        assert labelled["nlu"] == [{"intent": "out_of_scope", "examples": f"- {LABELLED}\n"}]

        page.get_by_role("button", name="Додати позначені приклади у файли data/nlu/").click()
        expect(page.locator(".notice")).to_contain_text("Додано прикладів: 1 (out_of_scope.yml: 1)")
    now = {path.name: path.read_text() for path in out_of_scope.parent.glob("*.yml")}
    assert {name for name in now if now[name] != copy_nlu.get(name)} == {"out_of_scope.yml"}
    intents = YAML(typ="safe").load(now["out_of_scope.yml"])["nlu"]
    examples = next(item["examples"] for item in intents if item.get("intent") == "out_of_scope")
    assert f"- {LABELLED}\n" in examples
    assert {path.name: path.read_text() for path in (ROOT / "data" / "nlu").glob("*.yml")} == checkout_nlu


def test_a_conversation_saved_as_a_test_story_runs_in_rasa_test(
    browser: Browser, console: Console, reader: dict[str, Any], model_path: Path, tmp_path: Path
) -> None:
    story = tmp_path / "test_conversation.yml"
    with signed_in(browser, console, DESIGNER) as page:
        open_transcript(page, console, reader)
        with page.expect_download() as download:
            page.get_by_role("link", name="Зберегти як тестову історію (YAML)").click()
        download.value.save_as(story)
    assert METER not in story.read_text(encoding="utf-8")
    done = subprocess.run(
        [
            str(ROOT / ".venv-rasa/bin/rasa"),
            "test",
            "core",
            "--stories",
            str(story),
            "--model",
            str(model_path),
            "--out",
            str(tmp_path / "results"),
        ],
        cwd=ROOT,
        env=os.environ | {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    (OUTPUT / "browser-console-rasa-test-core.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-4000:]
    # Rasa reports a story file it cannot read as an ERROR, an exception, or a warning "Issue found in"
    refused = re.compile(r"\bERROR\b|Traceback|Exception|Issue found in|test_conversation\.yml.*warn", re.I)
    assert not [line for line in done.stderr.splitlines() if refused.search(line)], done.stderr[-4000:]
    assert "Evaluating 1 stories" in done.stderr
    assert re.search(r"Evaluation Results on CONVERSATION level:\n.*Correct:\s+[01] / 1", done.stderr), (
        done.stderr[-4000:]
    )


def test_the_period_chart_counts_a_reading_just_sent(
    browser: Browser, console: Console, stack: Stack
) -> None:
    today = str(TEST_MOMENT.astimezone(KYIV).day)
    with signed_in(browser, console, OPERATOR) as page:
        bar = page.locator(f'#chart rect.bar[data-day="{today}"]')
        count = int(bar.get_attribute("data-count") or "")
        received = int(page.locator("#received").inner_text())

        user = viber_user()
        stack.register(user, "23456", "333333")
        assert "в форматі ХХХ.ХХ" in stack.say(user, "Передати показання")[-1]
        assert stack.say(user, "45.10")[0] == "Прийнято 45.10 до обробки. Дякуємо"

        page.reload()
        expect(bar).to_have_attribute("data-count", str(count + 1))
        expect(page.locator("#received")).to_have_text(str(received + 1))


@pytest.mark.parametrize("size", SIZES)
def test_the_pages_fit_the_screen(
    browser: Browser, console: Console, reader: dict[str, Any], unsure: dict[str, Any], size: str
) -> None:
    fits: dict[str, tuple[int, int]] = {}
    with signed_in(browser, console, DESIGNER, size) as page:
        page.goto(f"{console.url}/conversations/")
        reload_until_shown(page, page.locator("#conversations tbody tr a"), "a conversation")
        fits["conversations"] = page_widths(page)
        page.screenshot(path=OUTPUT / f"console-conversations-{size}.png", full_page=True)
        open_transcript(page, console, reader)
        fits["transcript"] = page_widths(page)
        page.screenshot(path=OUTPUT / f"console-transcript-{size}.png", full_page=True)
        page.goto(f"{console.url}/inbox/")
        reload_until_shown(page, inbox_group(page, MUMBLE), "the inbox")
        fits["inbox"] = page_widths(page)
        page.screenshot(path=OUTPUT / f"console-inbox-{size}.png", full_page=True)
    with signed_in(browser, console, OPERATOR, size) as page:
        expect(page.locator("#chart svg")).to_be_visible()
        fits["period"] = page_widths(page)
        page.screenshot(path=OUTPUT / f"console-period-{size}.png", full_page=True)
    assert {name: scroll for name, (scroll, width) in fits.items() if scroll > width} == {}, fits
