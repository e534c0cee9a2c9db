"""The NLU inbox (designers): unsure messages grouped by their normalised text, labelled with an
intent (entities in Rasa's markup) or dismissed; the labels come out as data/nlu YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import CursorResult, func, select, update

from actions.console import index, nlu_data
from actions.console.models import InboxMessage, InboxStatus, Role
from actions.console.staff import audit
from actions.console.web import queries, refuse, require
from actions.register import db

blueprint = Blueprint("inbox", __name__, url_prefix="/inbox")

WHY = {"fallback": "нижче порогу", "out_of_scope": "поза темою", "margin": "два інтенти поруч"}


def _project_dir() -> Path | None:
    project_dir: Path | None = current_app.config["PROJECT_DIR"]
    return project_dir if project_dir and (project_dir / "data" / "nlu").is_dir() else None


def _labelable() -> tuple[list[str], list[str]]:
    project_dir = current_app.config["PROJECT_DIR"]
    return nlu_data.labelable(project_dir / "domain.yml")


@blueprint.route("/")
@require(Role.DESIGNER)
def listing() -> Any:
    page = queries.page()
    index.index_events(batch=index.PAGE_BATCH, max_batches=1, wait=False)
    open_items = select(InboxMessage).where(InboxMessage.status == InboxStatus.OPEN).subquery()
    groups = (
        select(
            open_items.c.normalised,
            func.count().label("count"),
            func.max(open_items.c.at).label("last_at"),
            func.max(open_items.c.conversation_id).label("conversation_id"),
            func.max(open_items.c.intent).label("intent"),
            func.min(open_items.c.confidence).label("confidence"),
            func.max(open_items.c.why).label("why"),
        )
        .group_by(open_items.c.normalised)
        .order_by(func.count().desc(), func.max(open_items.c.at).desc())
    )
    with db.transaction() as tx:
        total = tx.scalar(select(func.count(func.distinct(open_items.c.normalised)))) or 0
        rows = tx.execute(groups.limit(queries.PAGE_SIZE).offset((page - 1) * queries.PAGE_SIZE)).all()
        labelled = tx.scalar(select(func.count()).where(InboxMessage.status == InboxStatus.LABELLED)) or 0
    intents, entities = _labelable()
    return render_template(
        "inbox.html",
        rows=rows,
        total=total,
        labelled=labelled,
        page=page,
        pages=max(1, -(-total // queries.PAGE_SIZE)),
        intents=intents,
        entities=entities,
        why=WHY,
        beside_project=_project_dir() is not None,
        added=request.args.get("added", ""),
    )


def _group() -> str:
    normalised = request.form.get("normalised", "")
    if not normalised or len(normalised) > 255:
        refuse("Повідомлення не вказано.")
    return normalised


def _close(normalised: str, status: InboxStatus, label: str) -> int:
    with db.transaction() as tx:
        changed = cast(
            CursorResult[Any],
            tx.execute(
                update(InboxMessage)
                .where(InboxMessage.status == InboxStatus.OPEN, InboxMessage.normalised == normalised)
                .values(status=status, label=label, labelled_by=g.user.name)
            ),
        ).rowcount
        if not changed:
            refuse("Цих повідомлень уже немає у вхідних (їх позначили або відхилили).")
        audit(tx, g.user, status.value, f"inbox: {normalised}", label)
    return int(changed)


@blueprint.route("/label", methods=["POST"])
@require(Role.DESIGNER)
def label() -> Any:
    normalised = _group()
    intents, entities = _labelable()
    try:
        example = nlu_data.checked_example(
            request.form.get("intent", ""), request.form.get("text", ""), intents=intents, entities=entities
        )
    except nlu_data.LabelError as error:
        refuse(str(error))
    _close(
        normalised,
        InboxStatus.LABELLED,
        json.dumps({"intent": example.intent, "text": example.text}, ensure_ascii=False),
    )
    return redirect(url_for("inbox.listing"))


@blueprint.route("/dismiss", methods=["POST"])
@require(Role.DESIGNER)
def dismiss() -> Any:
    _close(_group(), InboxStatus.DISMISSED, "")
    return redirect(url_for("inbox.listing"))


def labelled_examples() -> list[nlu_data.Example]:
    with db.transaction() as tx:
        labels = tx.scalars(
            select(InboxMessage.label).where(InboxMessage.status == InboxStatus.LABELLED).distinct()
        ).all()
    examples = []
    for label in labels:
        try:
            data = json.loads(label)
            examples.append(nlu_data.Example(intent=str(data["intent"]), text=str(data["text"])))
        except (ValueError, KeyError, TypeError):
            continue  # written by this module only; a damaged row is left out, never guessed
    return examples


@blueprint.route("/labelled.yml")
@require(Role.DESIGNER)
def download() -> Response:
    return Response(
        nlu_data.nlu_yaml(labelled_examples()),
        mimetype="application/x-yaml",
        headers={"Content-Disposition": 'attachment; filename="inbox.yml"'},
    )


@blueprint.route("/apply", methods=["POST"])
@require(Role.DESIGNER)
def apply() -> Any:
    project_dir = _project_dir()
    if project_dir is None:
        refuse("Консоль працює не поруч із файлами проєкту: завантажте YAML і додайте його вручну.")
    try:
        report = nlu_data.add_to_project(project_dir / "data" / "nlu", labelled_examples())
    except nlu_data.NluFileError as error:
        refuse(str(error))
    with db.transaction() as tx:
        audit(tx, g.user, "apply_nlu", "data/nlu", str(report))
    return redirect(url_for("inbox.listing", added=str(report)[:300]))
