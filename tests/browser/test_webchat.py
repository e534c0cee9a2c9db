"""The web chat widget in headless Chromium, against the real Rasa server, action server and
PostgreSQL: the seed scenario, a reload that keeps the conversation, and the offline state."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import websockets
from playwright.sync_api import Page, expect
from sqlalchemy import select

from actions.register.models import Reading, Subscriber
from tests.support.paths import OUTPUT
from tests.support.servers import Servers, WebchatPage, free_port

T = TypeVar("T")
BOT = ".otke-chat__message--bot"
TIMEOUT = 20_000


def open_chat(page: Page, webchat_page: WebchatPage, rasa_url: str) -> None:
    page.goto(f"{webchat_page.url}?server={rasa_url}")
    expect(page.locator(".otke-chat__status")).to_have_attribute("data-state", "online", timeout=TIMEOUT)


def last_bot_text(page: Page) -> str:
    return page.locator(BOT).last.inner_text()


def type_and_send(page: Page, text: str) -> None:
    page.locator(".otke-chat__input").fill(text)
    page.get_by_role("button", name="Відправити").click()


def tap(page: Page, title: str) -> None:
    page.locator(".otke-chat__reply", has_text=title).first.click()


@pytest.fixture(scope="module")
def browser_meter(servers: Servers) -> tuple[str, str]:
    """An account and hot-water meter of the browser test's own, last read at 120.00."""
    servers.add_meter("45678", "м. Чернігів, вул. Незалежності, 8, кв. 21", "777777", "hot_water", "120.00")
    return "45678", "777777"


def test_the_seed_scenario_in_a_browser_survives_a_reload(
    page: Page, servers: Servers, webchat_page: WebchatPage, browser_meter: tuple[str, str]
) -> None:
    account, meter = browser_meter
    open_chat(page, webchat_page, servers.rasa_url)
    expect(page.locator(BOT).first).to_contain_text(
        "Вітаємо! Це офіційний чат-бот АТ «ОТКЕ»", timeout=TIMEOUT
    )
    expect(page.locator(".otke-chat__contacts")).to_contain_text("(0 800) 407-707")

    tap(page, "Додати лічильник")
    expect(page.locator(BOT).last).to_contain_text("п’ятизначний номер", timeout=TIMEOUT)
    type_and_send(page, account)
    expect(page.locator(BOT).last).to_contain_text("номер вашого приладу обліку", timeout=TIMEOUT)
    type_and_send(page, meter)
    expect(page.locator(BOT, has_text="Тепер Ви зареєстровані!")).to_have_count(1, timeout=TIMEOUT)

    tap(page, "Передати показання")
    expect(page.locator(BOT).last).to_contain_text("в форматі ХХХ.ХХ", timeout=TIMEOUT)
    expect(page.locator(BOT, has_text=re.compile("^Особовий рахунок 45678,"))).to_have_count(1)
    type_and_send(page, "123,45")
    expect(page.locator(BOT, has_text="Прийнято 123.45 до обробки. Дякуємо")).to_have_count(
        1, timeout=TIMEOUT
    )

    before = page.locator(".otke-chat__message").count()
    page.reload()
    expect(page.locator(".otke-chat__status")).to_have_attribute("data-state", "online", timeout=TIMEOUT)
    expect(page.locator(BOT, has_text="Прийнято 123.45 до обробки. Дякуємо")).to_have_count(1)
    assert page.locator(".otke-chat__message").count() == before
    # the same conversation goes on: the meter registered before the reload is still this sender's
    tap(page, "Мої лічильники")
    expect(page.locator(BOT, has_text="Ваші лічильники:")).to_contain_text(
        f"№{meter} · о/р {account}", timeout=TIMEOUT
    )

    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "webchat-conversation.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot of the web chat conversation: {shot}")

    session_id = page.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('otke-webchat:')))).sessionId"
    )
    with servers.engine.connect() as connection:
        saved = connection.execute(
            select(Reading.value, Reading.channel, Subscriber.channel, Subscriber.channel_user_id)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Subscriber.channel_user_id == session_id)
        ).all()
    assert [(str(v), c, sc, u) for v, c, sc, u in saved] == [("123.45", "webchat", "webchat", session_id)]


def test_the_widget_shows_when_the_server_is_down_and_recovers(
    page: Page, servers: Servers, webchat_page: WebchatPage
) -> None:
    port = free_port()
    rasa = servers.start_another_rasa(port, "rasa-server-offline-test")
    try:
        open_chat(page, webchat_page, f"http://127.0.0.1:{port}")
        expect(page.locator(BOT).first).to_contain_text("Вітаємо!", timeout=TIMEOUT)
    finally:
        servers.stop(rasa)
    status = page.locator(".otke-chat__status")
    expect(status).to_have_attribute("data-state", "offline", timeout=TIMEOUT)
    expect(status).to_have_text("Немає зв’язку із сервером. Повторюємо спробу…")
    expect(page.get_by_role("button", name="Відправити")).to_be_disabled()
    page.screenshot(path=str(OUTPUT / "webchat-offline.png"))

    rasa = servers.start_another_rasa(port, "rasa-server-offline-test-restarted")
    try:
        expect(status).to_have_attribute("data-state", "online", timeout=30_000)
        expect(page.get_by_role("button", name="Відправити")).to_be_enabled()
        type_and_send(page, "контакти")
        expect(page.locator(BOT).last).to_contain_text("0 800-50-50-51", timeout=TIMEOUT)
    finally:
        servers.stop(rasa)


def in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a thread of its own: Playwright's sync API owns this thread's loop."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def socket_answer(rasa_url: str, origin: str) -> str:
    async def handshake() -> str:
        url = rasa_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        try:
            async with websockets.connect(url, origin=origin, open_timeout=10) as socket:  # type: ignore[arg-type]
                return str(await asyncio.wait_for(socket.recv(), 10))
        except websockets.exceptions.InvalidStatus as refused:
            return f"refused {refused.response.status_code}"

    return in_own_loop(handshake())


def test_only_the_pages_origin_may_open_a_socket(servers: Servers, webchat_page: WebchatPage) -> None:
    assert re.match(r"^0\{", socket_answer(servers.rasa_url, webchat_page.origin))  # engine.io "open"
    assert socket_answer(servers.rasa_url, "http://evil.example").startswith("refused 4")


def test_a_browser_claiming_a_viber_id_gets_its_own_conversation(servers: Servers) -> None:
    """A page can choose any session id; it is qualified as webchat:<id> and never reaches Viber's."""
    from tests.support.viber import say as viber_say
    from tests.support.viber import viber_user

    user = viber_user()
    viber_say(servers, user, "Додати лічильник")  # the Viber user is in the middle of a registration

    async def as_browser() -> list[str]:
        url = servers.rasa_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        origin = servers.env["WEBCHAT_ORIGINS"]
        texts: list[str] = []
        async with websockets.connect(url, origin=origin) as socket:  # type: ignore[arg-type]
            await socket.recv()  # engine.io open
            await socket.send("40")  # socket.io connect
            await socket.recv()
            claimed = f"viber:{user['id']}"
            await socket.send('42["session_request",{"session_id":"' + claimed + '"}]')
            await socket.recv()  # session_confirm
            await socket.send('42["user_uttered",{"message":"12345","session_id":"' + claimed + '"}]')
            while len(texts) < 1:
                frame = str(await asyncio.wait_for(socket.recv(), 20))
                if frame == "2":
                    await socket.send("3")
                elif frame.startswith("42"):
                    event, body = json.loads(frame[2:])
                    texts.append(f"{event}: {body.get('text', '')}")
        return texts

    answer = in_own_loop(as_browser())
    # Not the Viber user's registration form: "12345" outside a form is just a number.
    assert answer[0].startswith("bot_uttered: Бачу число"), answer
    with servers.engine.connect() as connection:
        channels = connection.scalars(
            select(Subscriber.channel).where(
                Subscriber.channel_user_id.in_([user["id"], f"viber:{user['id']}"])
            )
        ).all()
    assert "webchat" not in channels or sorted(channels) == ["viber", "webchat"]


PHONE = {"width": 390, "height": 844}


def horizontal_overflow(page: Page) -> int:
    """How far the page scrolls sideways (0: it fits the screen's width)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 800}], ids=["phone", "desktop"])
def test_the_page_and_the_widget_fit_the_screen(
    browser: Any, servers: Servers, webchat_page: WebchatPage, viewport: dict[str, int]
) -> None:
    """On a phone the page never scrolls sideways and the open chat fills the screen; on a desktop
    the chat stays a panel in the corner. Screenshots of both are kept in tests/output/."""
    context = browser.new_context(
        locale="uk-UA", viewport=viewport, is_mobile=viewport is PHONE, has_touch=True
    )
    page = context.new_page()
    try:
        open_chat(page, webchat_page, servers.rasa_url)
        expect(page.locator(BOT).first).to_contain_text("Вітаємо!", timeout=TIMEOUT)
        name = "phone" if viewport is PHONE else "desktop"
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"webchat-{name}-open.png"))
        assert horizontal_overflow(page) == 0
        panel = page.locator(".otke-chat__panel").bounding_box()
        assert panel is not None
        if viewport is PHONE:
            assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 390, 844)
        else:
            assert panel["width"] == 380 and panel["x"] + panel["width"] == 1280 - 20
        page.get_by_role("button", name="Згорнути чат").click()
        page.screenshot(path=str(OUTPUT / f"webchat-{name}-page.png"))
        assert horizontal_overflow(page) == 0
        heading = page.locator("h1").bounding_box()
        assert heading is not None and heading["x"] + heading["width"] <= viewport["width"]
        launcher = page.locator(".otke-chat__launcher").bounding_box()
        assert launcher is not None and launcher["x"] + launcher["width"] <= viewport["width"]
    finally:
        context.close()
