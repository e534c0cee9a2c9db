"""Whole conversations through the Viber webhook, as Viber sends them, against real servers.

For each Rasa configuration (ours, `config.yml`, and Rasa's stock `rasa init` one trained on the
same data) it times `rasa train` (from scratch, and after a change to responses only), the time
from `rasa run` to the first answered message, then offers load at several rates: simulated
subscribers register a meter and send one or two readings through signed Viber callbacks, with
a local fake Viber API taking the replies. It reports per-turn latency (webhook in -> replies out)
p50/p90/p99, turns per second, errors, both servers' peak RSS, checks the register afterwards
(every acknowledged reading stored exactly once), and writes bench/results/conversations.{json,md,png}.

    .venv/bin/python bench/conversations.py                      # both configs, default rates
    .venv/bin/python bench/conversations.py --configs lean --rates 5,10 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.register import clock  # noqa: E402
from actions.register.models import Reading, ReadingStatus, Subscriber  # noqa: E402
from actions.register.period import period_of, previous_period  # noqa: E402
from custom_channels import viber_api  # noqa: E402
from tests.support.database import fresh_database  # noqa: E402
from tests.support.fake_viber import start_fake_viber  # noqa: E402
from tests.support.servers import action_server_command, production_env  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-viber-token"
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STOCK_CONFIG = """\
recipe: default.v1
language: uk
assistant_id: stock
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    constrain_similarities: true
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: 100
    constrain_similarities: true
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: UnexpecTEDIntentPolicy
    max_history: 5
    epochs: 100
  - name: TEDPolicy
    max_history: 5
    epochs: 100
    constrain_similarities: true
"""
SERVER_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def say(text_: str) -> None:
    print(text_, flush=True)


# --- the register and the project copy each configuration trains in -----------------------


@contextmanager
def register(subscribers: int) -> Iterator[str]:
    """A fresh PostgreSQL schema with one account and hot-water meter per simulated subscriber."""
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    try:
        seed_accounts(url_text, subscribers)
        yield url_text
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seed_accounts(database_url: str, subscribers: int) -> None:
    """Migrate the register and import account 10000+i with hot-water meter 500000+i for each i."""
    env = os.environ | {"DATABASE_URL": database_url}
    subprocess.run([str(ROOT / ".venv/bin/otke"), "db", "upgrade"], env=env, check=True, capture_output=True)
    period = previous_period(period_of(clock.now()))
    rows = ["account_number,address,meter_number,meter_kind,last_reading,last_period"]
    rows += [f"{10000 + i},адреса {i},{500000 + i},hot_water,100.00,{period}" for i in range(subscribers)]
    subprocess.run(
        [str(ROOT / ".venv/bin/otke"), "import-accounts", "-"],
        input="\n".join(rows) + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )


def project_copy(work: Path, config: str | None) -> Path:
    """The Rasa project (data, domain, NLU components) in a folder of its own, with this config."""
    target = work / "project"
    target.mkdir()
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, target / name)
    for name in ("data", "custom_components", "custom_channels"):
        shutil.copytree(ROOT / name, target / name)
    if config is not None:
        (target / "config.yml").write_text(config, encoding="utf-8")
    return target


def train(project: Path, name: str) -> float:
    start = time.monotonic()
    subprocess.run(
        [str(ROOT / ".venv-rasa/bin/rasa"), "train", "--out", "models", "--fixed-model-name", name],
        cwd=project,
        env=os.environ | SERVER_ENV,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - start


def understanding(project: Path, model: str) -> dict[str, Any]:
    """What the measured model understands: NLU test-set accuracy and the test stories."""
    env = os.environ | SERVER_ENV
    rasa = str(ROOT / ".venv-rasa/bin/rasa")
    subprocess.run(
        [
            rasa,
            "test",
            "nlu",
            "--model",
            f"models/{model}.tar.gz",
            "--nlu",
            str(ROOT / "tests/nlu/test_nlu.yml"),
            "--out",
            "nlu-results",
        ],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    report = json.loads((project / "nlu-results" / "intent_report.json").read_text(encoding="utf-8"))
    stories = subprocess.run(
        [
            rasa,
            "test",
            "core",
            "--e2e",
            "--model",
            f"models/{model}.tar.gz",
            "--stories",
            str(ROOT / "tests/test_stories.yml"),
            "--out",
            "story-results",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    failed = project / "story-results" / "failed_test_stories.yml"
    failures = failed.read_text(encoding="utf-8").count("- story:") if failed.exists() else -1
    return {
        "nlu_intent_accuracy": float(report["accuracy"]),
        "nlu_test_utterances": int(report["weighted avg"]["support"]),
        "test_stories_failed": failures if stories.returncode == 0 or failures > 0 else "error",
    }


def change_a_response(project: Path) -> None:
    domain = project / "domain.yml"
    domain.write_text(
        domain.read_text(encoding="utf-8").replace("Дякуємо", "Щиро дякуємо", 1), encoding="utf-8"
    )


# --- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children (Sanic may fork), in MB."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


@dataclass
class Servers:
    rasa: list[subprocess.Popen[bytes]]
    actions: list[subprocess.Popen[bytes]]
    others: list[subprocess.Popen[bytes]]
    url: str
    first_answer_seconds: float


def _spawn(command: list[str], cwd: Path, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=(logs / log).open("wb"), stderr=subprocess.STDOUT
    )


def _actions(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return _spawn(action_server_command(port), ROOT, env, f"actions-{port}.log")


def _rasa(
    project: Path, model: str, port: int, endpoints: Path, credentials: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv-rasa/bin/rasa"),
        "run",
        "--model",
        f"models/{model}.tar.gz",
        "--port",
        str(port),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(credentials),
    ]
    return _spawn(command, project, env, f"rasa-{model}-{port}.log")


def _first_answer(url: str, rasa: list[subprocess.Popen[bytes]], started: float) -> float:
    probe_user = {"id": f"bench-probe-{secrets.token_hex(3)}", "name": "probe", "language": "uk"}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in rasa):
            raise SystemExit(f"a Rasa server stopped; see {RESULTS / 'logs'}")
        try:
            if post(url, callback(probe_user, "Привіт")).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the Rasa server did not answer in 600 s")


def start_servers(project: Path, model: str, database_url: str, api_url: str) -> Servers:
    action_port, rasa_port = free_port(), free_port()
    endpoints = project / "endpoints.bench.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    credentials = project / "credentials.bench.yml"
    credentials.write_text(f'custom_channels.viber.ViberInput:\n  auth_token: "{TOKEN}"\n')
    env = os.environ | SERVER_ENV | {"DATABASE_URL": database_url, "VIBER_API_URL": api_url}
    actions = _actions(action_port, env)
    started = time.monotonic()
    rasa = _rasa(project, model, rasa_port, endpoints, credentials, env)
    url = f"http://127.0.0.1:{rasa_port}"
    return Servers([rasa], [actions], [], url, _first_answer(url, [rasa], started))


NGINX_VERSION = "1.22.1-9+deb12u11"  # Debian 12's, as deploy/nginx.conf was checked with


def _nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def ensure_nginx() -> str:
    """Debian's nginx, installed (pinned, falling back to the archive's current one) if missing."""
    found = _nginx()
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise SystemExit("--scale-out needs nginx (Debian: apt-get install nginx)")
    say(f"  installing Debian's nginx {NGINX_VERSION} for the scale-out mode")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
    for package in (f"nginx={NGINX_VERSION}", "nginx"):
        done = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True)
        if done.returncode == 0:
            break
    found = _nginx()
    if not found:
        raise SystemExit(f"could not install nginx: {done.stderr.decode(errors='replace')[-500:]}")
    return found


def start_cluster(
    project: Path, model: str, database_url: str, api_url: str, trackers: str, work: Path
) -> Servers:
    """Two Rasa instances and two action servers in the production profile, behind deploy/nginx.conf."""
    rasa_ports, action_ports = [free_port(), free_port()], [free_port(), free_port()]
    front, inner = free_port(), free_port()
    env = (
        os.environ
        | SERVER_ENV
        | {
            "DATABASE_URL": database_url,
            "VIBER_API_URL": api_url,
            "VIBER_AUTH_TOKEN": TOKEN,
        }
        | production_env(
            action_url=f"http://127.0.0.1:{inner}/webhook",
            tracker_database=trackers,
            redis_db="12",
            server_url=ADMIN_URL,
        )
    )
    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for old, new in {
        "127.0.0.1:5005": f"127.0.0.1:{rasa_ports[0]}",
        "127.0.0.1:5006": f"127.0.0.1:{rasa_ports[1]}",
        "127.0.0.1:5055": f"127.0.0.1:{action_ports[0]}",
        "127.0.0.1:5056": f"127.0.0.1:{action_ports[1]}",
        "listen 8000;": f"listen 127.0.0.1:{front};",
        "listen 127.0.0.1:8055;": f"listen 127.0.0.1:{inner};",
        "worker_processes auto;": f"worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx-error.log;",
        "http {": f"http {{ access_log off; client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;",
    }.items():
        conf = conf.replace(old, new)
    (work / "nginx.conf").write_text(conf, encoding="utf-8")
    nginx = _spawn(
        [ensure_nginx(), "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
        work,
        env,
        "nginx.log",
    )
    actions = [_actions(port, env) for port in action_ports]
    started = time.monotonic()
    production = ROOT / "deploy"
    rasa = [
        _rasa(
            project,
            model,
            port,
            production / "endpoints.production.yml",
            production / "credentials.production.yml",
            env,
        )
        for port in rasa_ports
    ]
    url = f"http://127.0.0.1:{front}"
    first = _first_answer(url, rasa, started)
    for port in rasa_ports:  # both instances up, not just the first to answer
        _first_answer(f"http://127.0.0.1:{port}", rasa, started)
    return Servers(rasa, actions, [nginx], url, first)


def stop(servers: Servers) -> None:
    for process in [*servers.others, *servers.rasa, *servers.actions]:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


# --- Viber callbacks ---------------------------------------------------------------------------

# Unique across runs too: the de-duplication memory in Redis outlives a run.
_tokens = itertools.count(time.time_ns() // 1000)


def callback(user: dict[str, Any], words: str) -> bytes:
    body = {
        "event": "message",
        "timestamp": int(time.time() * 1000),
        "message_token": next(_tokens),
        "sender": user,
        "message": {"type": "text", "text": words},
    }
    return json.dumps(body, ensure_ascii=False).encode()


def post(url: str, raw: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/webhooks/viber/webhook",
        content=raw,
        headers={"X-Viber-Content-Signature": viber_api.signature(raw, TOKEN)},
        timeout=60,
    )


@dataclass
class Load:
    rate: float
    duration: float
    turns: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    readings_sent: int = 0
    elapsed: float = 0.0
    concurrency: int | None = None  # closed loop; rate is then unused
    conversations: int = 0


def conversation(index: int, readings: int) -> list[str]:
    value = 100 + random.randint(1, 900) / 100
    turns = ["Привіт", "Додати лічильник", str(10000 + index), str(500000 + index)]
    for _ in range(readings):
        value += random.randint(10, 400) / 100
        turns += ["Передати показання", f"{value:.2f}"]
    return turns


async def converse(client: httpx.AsyncClient, url: str, index: int, load: Load) -> None:
    """One subscriber's conversation, turn after turn, each turn timed webhook in -> reply out."""
    user = {"id": f"bench-{index}-{secrets.token_hex(4)}", "name": "Абонент", "language": "uk"}
    turns = conversation(index, 1 + index % 2)
    load.conversations += 1
    load.readings_sent += turns.count("Передати показання")
    for words in turns:
        raw = callback(user, words)
        sent = time.monotonic()
        try:
            answer = await client.post(
                f"{url}/webhooks/viber/webhook",
                content=raw,
                headers={"X-Viber-Content-Signature": viber_api.signature(raw, TOKEN)},
            )
            ok = answer.status_code == 200
        except httpx.HTTPError:
            ok = False
        load.latencies_ms.append((time.monotonic() - sent) * 1000)
        load.turns += 1
        load.errors += not ok


async def _progress(label: str, load: Load, tasks: list[asyncio.Task[None]] | None = None) -> None:
    while True:
        done = f", {sum(task.done() for task in tasks)}/{len(tasks)} conversations" if tasks else ""
        print(f"\r  {label}: {load.turns} turns{done}, {load.errors} errors", end="", flush=True)
        await asyncio.sleep(0.5)


async def offer(url: str, rate: float, duration: float, first: int, subscribers: int) -> Load:
    """Open-loop load: new conversations start at rate/turns-per-conversation; each is sequential."""
    load = Load(rate, duration)
    per_conversation = 8  # on average: 4 to register, 2 or 4 for the readings
    gap = per_conversation / rate
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1000)) as client:
        progress = asyncio.create_task(_progress(f"{rate:>5.1f} turns/s offered", load, tasks))
        index = first
        while time.monotonic() - started < duration and index < subscribers:
            tasks.append(asyncio.create_task(converse(client, url, index, load)))
            index += 1
            await asyncio.sleep(gap)
        await asyncio.gather(*tasks)
        progress.cancel()
    load.elapsed = time.monotonic() - started
    print()
    return load


async def closed_loop(url: str, concurrency: int, duration: float, first: int, subscribers: int) -> Load:
    """Closed-loop load: `concurrency` subscribers, each starting a new conversation as soon as its
    previous one ended, for `duration` seconds (the last conversations finish after it)."""
    load = Load(0.0, duration, concurrency=concurrency)
    indexes = itertools.count(first)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1000)) as client:
        progress = asyncio.create_task(_progress(f"{concurrency:>4} concurrent subscribers", load))

        async def subscriber() -> None:
            while time.monotonic() - started < duration:
                index = next(indexes)
                if index >= subscribers:
                    return
                await converse(client, url, index, load)

        await asyncio.gather(*(subscriber() for _ in range(concurrency)))
        progress.cancel()
    load.elapsed = time.monotonic() - started
    print()
    return load


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def check_register(database_url: str, fake: Any) -> dict[str, int]:
    acknowledged = sum(
        1
        for call in fake.calls
        if call.endpoint == "send_message" and str(call.body.get("text", "")).startswith("Прийнято ")
    )
    engine = create_engine(database_url)
    with engine.connect() as connection:
        accepted = connection.scalar(
            select(func.count())
            .select_from(Reading)
            .join(Subscriber, Subscriber.id == Reading.subscriber_id)
            .where(Reading.channel == "viber", Reading.status == ReadingStatus.ACCEPTED)
        )
        all_rows = connection.scalar(
            select(func.count()).select_from(Reading).where(Reading.channel == "viber")
        )
        doubled = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT meter_id, period FROM readings WHERE status = 'accepted' "
                "GROUP BY meter_id, period HAVING count(*) > 1) AS d"
            )
        )
    engine.dispose()
    return {
        "acknowledged": acknowledged,
        "stored_accepted": int(accepted or 0),
        "stored_all": int(all_rows or 0),
        "doubled": int(doubled or 0),
    }


# --- one configuration -----------------------------------------------------------------------------


def bench_config(name: str, config: str | None, args: argparse.Namespace) -> dict[str, Any]:
    say(f"== {name}")
    with tempfile.TemporaryDirectory(prefix=f"otke-bench-{name}-") as work:
        project = project_copy(Path(work), config)
        train_seconds = train(project, name)
        say(f"  rasa train from scratch: {train_seconds:.1f} s")
        understood = understanding(project, name)
        say(
            f"  NLU test set accuracy {understood['nlu_intent_accuracy']:.3f}, test stories failed: {understood['test_stories_failed']}"
        )
        change_a_response(project)
        retrain_seconds = train(project, f"{name}-responses")
        say(f"  rasa train after a change to responses only: {retrain_seconds:.1f} s")
        with register(args.subscribers) as database_url, fresh_database("bench_trackers") as trackers:
            fake = start_fake_viber()
            if args.scale_out:
                servers = start_cluster(project, name, database_url, fake.url, trackers, Path(work))
            else:
                servers = start_servers(project, name, database_url, fake.url)
            say(f"  rasa run to first answered message: {servers.first_answer_seconds:.1f} s")
            loads = []
            first = 0
            try:
                rates = args.stock_rates if name == "stock" and args.stock_rates else args.rates
                for level in args.concurrency or rates:
                    if args.concurrency:
                        run = closed_loop(servers.url, int(level), args.duration, first, args.subscribers)
                    else:
                        run = offer(servers.url, level, args.duration, first, args.subscribers)
                    load = asyncio.run(run)
                    first += load.conversations
                    loads.append(load)
                rss = {
                    "rasa_mb": sum(peak_rss_mb(process.pid) for process in servers.rasa),
                    "actions_mb": sum(peak_rss_mb(process.pid) for process in servers.actions),
                }
            finally:
                stop(servers)
            register_check = check_register(database_url, fake)
            fake.stop()
    rows = [
        {
            "offered_turns_per_s": None if load.concurrency else load.rate,
            "concurrency": load.concurrency,
            "turns": load.turns,
            "achieved_turns_per_s": load.turns / load.elapsed if load.elapsed else 0,
            "errors": load.errors,
            "p50_ms": percentile(load.latencies_ms, 0.50),
            "p90_ms": percentile(load.latencies_ms, 0.90),
            "p99_ms": percentile(load.latencies_ms, 0.99),
            "mean_ms": statistics.fmean(load.latencies_ms) if load.latencies_ms else float("nan"),
        }
        for load in loads
    ]
    # A rate counts only if every conversation ended with its readings acknowledged.
    complete = register_check["acknowledged"] == sum(load.readings_sent for load in loads)
    within = [
        row["achieved_turns_per_s"]
        for row in rows
        if row["p99_ms"] <= 500 and row["errors"] == 0 and complete
    ]
    return {
        "config": f"{name} (2+2 behind nginx)" if args.scale_out else name,
        "train_s": train_seconds,
        "retrain_after_responses_s": retrain_seconds,
        "first_answer_s": servers.first_answer_seconds,
        "peak_rss": rss,
        "understanding": understood,
        "loads": rows,
        "saturation_turns_per_s_at_p99_500ms": max(within) if within else 0,
        "register": register_check | {"sent": sum(load.readings_sent for load in loads)},
    }


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Conversations through the Viber webhook",
        "",
        "| config | load | turns/s achieved | p50 ms | p90 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for row in result["loads"]:
            offered = (
                f"{row['concurrency']} concurrent"
                if row.get("concurrency")
                else f"{row['offered_turns_per_s']:.0f} turns/s offered"
            )
            lines.append(
                f"| {result['config']} | {offered} | {row['achieved_turns_per_s']:.1f} | "
                f"{row['p50_ms']:.1f} | {row['p90_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} |"
            )
    lines += [
        "",
        "| config | NLU test-set accuracy | test stories failed | rasa train | after responses change | run to first answer | Rasa RSS | actions RSS | saturation (p99 <= 500 ms) | readings sent / acknowledged / stored / doubled |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        reg = r["register"]
        lines.append(
            f"| {r['config']} | {r['understanding']['nlu_intent_accuracy']:.3f} | {r['understanding']['test_stories_failed']} | {r['train_s']:.1f} s | {r['retrain_after_responses_s']:.1f} s | "
            f"{r['first_answer_s']:.1f} s | {r['peak_rss']['rasa_mb']:.0f} MB | {r['peak_rss']['actions_mb']:.0f} MB | "
            f"{r['saturation_turns_per_s_at_p99_500ms']:.1f} turns/s | "
            f"{reg['sent']} / {reg['acknowledged']} / {reg['stored_all']} / {reg['doubled']} |"
        )
    return "\n".join(lines) + "\n"


PLOT = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
results = json.load(open(sys.argv[1]))
fig, ax = plt.subplots(figsize=(8, 5))
for r in results:
    rates = [row.get("offered_turns_per_s") or row["achieved_turns_per_s"] for row in r["loads"]]
    for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
        ax.plot(rates, [row[key] for row in r["loads"]], style, marker="o", label=f"{r['config']} {key[:-3]}")
ax.set_xlabel("offered load, turns/s (closed loop: achieved)")
ax.set_ylabel("latency per turn, ms (webhook in -> replies out)")
ax.set_yscale("log")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=120)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", default="lean,stock", help="lean (config.yml), stock (rasa init), or both"
    )
    parser.add_argument("--rates", default="5,10,20,40", help="offered turns per second, comma-separated")
    parser.add_argument(
        "--stock-rates",
        default="",
        help="other rates for the stock configuration (it saturates early; far past it, turns wait minutes)",
    )
    parser.add_argument(
        "--concurrency",
        default="",
        help="closed loop instead of --rates: simulated subscribers talking at once, comma-separated",
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds of new conversations per load")
    parser.add_argument("--subscribers", type=int, default=5000, help="accounts in the bench register")
    parser.add_argument("--name", default="conversations", help="results file name under bench/results/")
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="2 Rasa instances and 2 action servers in the production profile behind deploy/nginx.conf",
    )
    args = parser.parse_args()
    args.rates = [float(rate) for rate in args.rates.split(",")]
    args.stock_rates = [float(rate) for rate in args.stock_rates.split(",") if rate]
    args.concurrency = [int(level) for level in args.concurrency.split(",") if level]
    configs = {"lean": None, "stock": STOCK_CONFIG}
    results = [bench_config(name, configs[name], args) for name in args.configs.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / args.name
    out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(results), encoding="utf-8")
    subprocess.run(
        [
            str(ROOT / ".venv-rasa/bin/python"),
            "-c",
            PLOT,
            str(out.with_suffix(".json")),
            str(out.with_suffix(".png")),
        ],
        check=True,
        env=os.environ | SERVER_ENV,
    )
    say(markdown(results))
    say(f"written: {out}.json, .md, .png")


if __name__ == "__main__":
    main()
