"""Run by tests/channels/test_token_memory.py with the Rasa interpreter (.venv-rasa): the Viber
channel's de-duplication memories and ViberInput.from_credentials, observed from inside Rasa's
Python, printed as one JSON object on stdout.

Arguments: the Redis URL to use (a test database) and a random prefix for the tokens.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from custom_channels import viber_api
from custom_channels.viber import RedisTokenMemory, TokenMemory, ViberInput

CHANNEL_ENV = ("VIBER_AUTH_TOKEN", "VIBER_API_URL", "REDIS_URL")


async def token_memory() -> dict[str, Any]:
    memory = TokenMemory()
    result: dict[str, Any] = {
        "new": (await memory.claim("a")).value,
        "repeat_while_handled": (await memory.claim("a")).value,
        "other": (await memory.claim("b")).value,
    }
    await memory.done("a")
    result["repeat_after_done"] = (await memory.claim("a")).value
    await memory.release("b")
    result["after_release"] = (await memory.claim("b")).value
    result["again_after_release"] = (await memory.claim("b")).value
    await memory.release("never-claimed")  # forgetting an unknown token is harmless
    result["release_unknown_ok"] = True

    short = TokenMemory(ttl=0.5, pending_ttl=0.3)
    result["pending_new"] = (await short.claim("p")).value
    await asyncio.sleep(0.4)  # its handler died: the claim lapses
    result["pending_after_lapse"] = (await short.claim("p")).value
    await short.done("p")
    result["done_repeat_at_once"] = (await short.claim("p")).value
    await asyncio.sleep(0.6)
    result["done_after_expiry"] = (await short.claim("p")).value

    small = TokenMemory(size=3)
    result["size_claims"] = [(await small.claim(token)).value for token in ("1", "2", "3", "4")]
    result["size_remembered"] = list(small._seen)
    # "1" was evicted (the oldest); "3" and "4" are still remembered.
    result["size_repeat_3"] = (await small.claim("3")).value
    result["size_repeat_4"] = (await small.claim("4")).value
    result["size_evicted_1"] = (await small.claim("1")).value
    result["size_remembered_after"] = list(small._seen)
    return result


async def redis_memory(url: str, prefix: str) -> dict[str, Any]:
    first, second = RedisTokenMemory(url), RedisTokenMemory(url)  # two Rasa instances
    token = f"{prefix}-a"
    key = f"viber:token:{token}"
    try:
        result: dict[str, Any] = {
            "claim": (await first.claim(token)).value,
            "claim_again_same_instance": (await first.claim(token)).value,
            "claim_other_instance": (await second.claim(token)).value,
            "pending_ttl": await first._redis.ttl(key),
            "stored_pending": (await first._redis.get(key) or b"").decode(),
        }
        await first.done(token)
        result["ttl"] = await first._redis.ttl(key)
        result["stored"] = (await first._redis.get(key) or b"").decode()
        result["claim_other_instance_after_done"] = (await second.claim(token)).value
        await second.release(token)  # released by the other instance
        result["key_after_release"] = await first._redis.exists(key)
        result["claim_after_release"] = (await first.claim(token)).value
        result["claim_after_release_other"] = (await second.claim(token)).value
        lapsing = RedisTokenMemory(url, pending_ttl=1)
        dying = f"{prefix}-c"
        result["lapsing_claim"] = (await lapsing.claim(dying)).value
        await asyncio.sleep(1.5)  # the instance handling it was killed: nobody marks it done
        result["claim_after_lapse_other"] = (await second.claim(dying)).value
        await lapsing._redis.close()
        other = f"{prefix}-b"
        result["independent_token"] = (await second.claim(other)).value
        for name in (token, other, dying):
            await first.release(name)
        result["left_over_keys"] = await first._redis.exists(
            key, f"viber:token:{other}", f"viber:token:{dying}"
        )
        return result
    finally:
        await first._redis.close()
        await second._redis.close()


def describe(make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What make() returned, or the exception it raised."""
    try:
        return make()
    except Exception as error:
        return {
            "raised": type(error).__name__,
            "rasa_exception": isinstance(error, RasaException),
            "message": str(error),
        }


def with_env(values: dict[str, str | None], make: Callable[[], Any]) -> Any:
    saved = {name: os.environ.get(name) for name in CHANNEL_ENV}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        return make()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def channel(credentials: dict[str, Any] | None, env: dict[str, str | None]) -> dict[str, Any]:
    unset: dict[str, str | None] = dict.fromkeys(CHANNEL_ENV)

    def make() -> dict[str, Any]:
        made = ViberInput.from_credentials(credentials)
        return {
            "raised": None,
            "api_url": made.client.api_url,
            "sender": made.client.sender,
            "auth_token": made.auth_token,
            "memory": type(made.memory).__name__,
        }

    return with_env(unset | env, lambda: describe(make))


def credentials_file(env: dict[str, str | None]) -> dict[str, Any]:
    """credentials.yml read as `rasa run` reads it."""
    unset: dict[str, str | None] = dict.fromkeys(CHANNEL_ENV)

    def make() -> dict[str, Any]:
        channels = create_http_input_channels(None, "credentials.yml")
        viber = [c for c in channels if isinstance(c, ViberInput)]
        return {
            "raised": None,
            "channels": sorted(type(c).__name__ for c in channels),
            "api_url": viber[0].client.api_url,
            "sender": viber[0].client.sender,
            "auth_token": viber[0].auth_token,
            "memory": type(viber[0].memory).__name__,
        }

    return with_env(unset | env, lambda: describe(make))


def from_credentials(redis_url: str) -> dict[str, Any]:
    token = {"auth_token": "tok-123"}
    return {
        "no_credentials": channel(None, {}),
        "no_token": channel({"name": "АТ «ОТКЕ»"}, {}),
        "empty_token": channel({"auth_token": ""}, {}),
        "blank_token": channel({"auth_token": "   "}, {}),
        "name_28": channel(token | {"name": "Я" * 28}, {}),
        "name_29": channel(token | {"name": "Я" * 29}, {}),
        "defaults": channel(token, {}),
        "api_url_from_env": channel(token, {"VIBER_API_URL": "http://127.0.0.1:9/pa"}),
        "api_url_from_credentials": channel(
            token | {"api_url": "http://127.0.0.1:8/pa"}, {"VIBER_API_URL": "http://127.0.0.1:9/pa"}
        ),
        "redis_from_env": channel(token, {"REDIS_URL": redis_url}),
        "redis_from_credentials": channel(token | {"redis_url": redis_url}, {}),
        "avatar": channel(token | {"avatar": "https://example.invalid/a.png"}, {}),
        "file_token_unset": credentials_file({}),
        "file_token_empty": credentials_file({"VIBER_AUTH_TOKEN": ""}),
        "file_token_set": credentials_file({"VIBER_AUTH_TOKEN": "file-token"}),
    }


async def main(redis_url: str, prefix: str) -> None:
    print(
        json.dumps(
            {
                "default_api_url": viber_api.DEFAULT_API_URL,
                "token_memory": await token_memory(),
                "redis": await redis_memory(redis_url, prefix),
                "from_credentials": from_credentials(redis_url),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
