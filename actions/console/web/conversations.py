"""Conversations (designers): the list with its filters, a transcript, reveal, and the test story."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select

from actions.console import index, masking, stories, tracker
from actions.console.dashboard import REFUSAL_REASONS
from actions.console.models import Conversation, Role
from actions.console.staff import audit
from actions.console.web import CHANNELS, queries, refuse, require
from actions.register import clock, db
from actions.register.period import KYIV

blueprint = Blueprint("conversations", __name__, url_prefix="/conversations")

PROBLEMS = {
    "fallback": "не зрозумів / поза темою",
    "refused": "відхилене значення",
    "unfinished": "незавершена форма",
    "failure": "збій сервера дій",
    "low_confidence": "низька впевненість",
}
REVEAL_MINUTES = 15


@cache
def bot_masker(project_dir: Path) -> masking.BotMasker:
    return masking.BotMasker(project_dir / "domain.yml")


@blueprint.route("/")
@require(Role.DESIGNER)
def listing() -> Any:
    page = queries.page()
    channel = queries.channel()
    problem = queries.choice("problem", PROBLEMS)
    first, last = queries.date("from"), queries.date("to")
    index.index_events(batch=index.PAGE_BATCH, max_batches=1, wait=False)
    query = select(Conversation)
    if channel:
        query = query.where(Conversation.channel == channel)
    if problem:
        query = query.where(getattr(Conversation, problem).is_(True))
    if first:
        query = query.where(Conversation.last_at >= _kyiv_midnight(first))
    if last:
        query = query.where(Conversation.started_at < _kyiv_midnight(last + dt.timedelta(days=1)))
    with db.transaction() as tx:
        total = tx.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = tx.scalars(
            query.order_by(Conversation.last_at.desc(), Conversation.id.desc())
            .limit(queries.PAGE_SIZE)
            .offset((page - 1) * queries.PAGE_SIZE)
        ).all()
    secret = current_app.config["SECRET_KEY"]
    return render_template(
        "conversations.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // queries.PAGE_SIZE)),
        who={row.id: masking.pseudonym(row.sender_id, secret) for row in rows},
        problems=PROBLEMS,
        channels=CHANNELS,
        filters={"channel": channel, "problem": problem, "from": first or "", "to": last or ""},
        local=_local,
    )


def _kyiv_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), KYIV)


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(KYIV).strftime("%Y-%m-%d %H:%M")


def _conversation(conversation_id: int) -> Conversation:
    with db.transaction() as tx:
        row = tx.get(Conversation, conversation_id)
    if row is None:
        abort(404)
    return row


def _events(row: Conversation) -> list[tracker.Event]:
    return tracker.sender_events(row.sender_id, row.first_event_id, row.last_event_id)


def _revealed(conversation_id: int) -> bool:
    until = session.get("revealed", {}).get(str(conversation_id))
    return isinstance(until, (int, float)) and until > clock.now().timestamp()


@dataclass(frozen=True)
class Step:
    kind: str  # user, bot, action, form, slot
    text: str = ""
    intent: str = ""
    confidence: float | None = None
    entities: tuple[tuple[str, str], ...] = ()
    buttons: tuple[str, ...] = ()
    note: str = ""
    at: str = ""


def steps(events: list[tracker.Event], *, reveal: bool, project_dir: Path) -> list[Step]:
    """The transcript: what each side said, the model's reading of each message, and the form steps."""
    masker = bot_masker(project_dir)
    plain = (lambda text: text) if reveal else masking.mask_text
    shown: list[Step] = []
    for event in events:
        data = event.data
        at = _local(index.moment(event))
        if event.kind == "user":
            intent, confidence, _ = index.intents_of(event)
            entities = tuple(
                (
                    str(entity.get("entity")),
                    str(entity.get("value"))
                    if reveal
                    else masker.mask_slot(str(entity.get("entity")), entity.get("value")),
                )
                for entity in (data.get("parse_data") or {}).get("entities") or []
                if isinstance(entity, dict)
            )
            shown.append(
                Step("user", plain(str(data.get("text") or "")), intent, confidence, entities, at=at)
            )
        elif event.kind == "bot":
            response = str((data.get("metadata") or {}).get(masking.UTTERED_RESPONSE) or "")
            bot = data if reveal else masker.mask_bot_event(data)
            buttons = tuple(
                str(button.get("title", ""))
                for button in (bot.get("data") or {}).get("buttons") or []
                if isinstance(button, dict)
            )
            note = REFUSAL_REASONS.get(response, "") or response
            shown.append(Step("bot", str(bot.get("text") or ""), buttons=buttons, note=note, at=at))
        elif event.kind == "action" and data.get("name") not in ("action_listen", None):
            shown.append(Step("action", str(data.get("name")), note=_policy(data), at=at))
        elif event.kind == "active_loop":
            name = data.get("name")
            shown.append(Step("form", f"форма {name} почалась" if name else "форма завершилась", at=at))
        elif event.kind == "slot" and data.get("name") != "requested_slot":
            name, value = str(data.get("name")), data.get("value")
            shown.append(
                Step("slot", f"{name} = {value if reveal else masker.mask_slot(name, value)}", at=at)
            )
    return shown


def _policy(data: dict[str, Any]) -> str:
    policy = str(data.get("policy") or "").removeprefix("policy_").split("_", 1)[-1]
    confidence = data.get("confidence")
    return f"{policy} {confidence:.2f}" if isinstance(confidence, (int, float)) and policy else policy


@blueprint.route("/<int:conversation_id>")
@require(Role.DESIGNER)
def transcript(conversation_id: int) -> Any:
    row = _conversation(conversation_id)
    reveal = g.user.role is Role.ADMIN and _revealed(conversation_id)
    project_dir = current_app.config["PROJECT_DIR"]
    return render_template(
        "transcript.html",
        row=row,
        who=row.sender_id if reveal else masking.pseudonym(row.sender_id, current_app.config["SECRET_KEY"]),
        steps=steps(_events(row), reveal=reveal, project_dir=project_dir),
        revealed=reveal,
        problems=[label for name, label in PROBLEMS.items() if getattr(row, name)],
        channels=CHANNELS,
        local=_local,
    )


@blueprint.route("/<int:conversation_id>/reveal", methods=["POST"])
@require(Role.ADMIN)
def reveal(conversation_id: int) -> Any:
    row = _conversation(conversation_id)
    reason = " ".join(request.form.get("reason", "").split())
    if not 5 <= len(reason) <= 500:
        refuse("Вкажіть причину розкриття персональних даних (від 5 до 500 символів).")
    with db.transaction() as tx:
        audit(tx, g.user, "reveal", f"conversation {row.id}", reason)
    until = clock.now() + dt.timedelta(minutes=REVEAL_MINUTES)
    revealed = {key: value for key, value in session.get("revealed", {}).items() if key.isdigit()}
    revealed[str(row.id)] = until.timestamp()
    session["revealed"] = revealed
    return redirect(url_for("conversations.transcript", conversation_id=row.id))


@blueprint.route("/<int:conversation_id>/story.yml")
@require(Role.DESIGNER)
def story(conversation_id: int) -> Response:
    row = _conversation(conversation_id)
    name = f"conversation {row.id} ({_local(row.started_at)})"
    text = stories.test_story([event.data for event in _events(row)], name)
    return Response(
        text,
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="test_conversation_{row.id}.yml"'},
    )
