"""What the experiment and adoption pages' forms ask, read from their query parameters
into the very bodies their JSON APIs take (`replay.analytics.experiments.parse`,
`replay.analytics.adoption.parse`), so a page shows exactly what the API answers.

A goal or a feature is chosen as `action:ID`, `funnel:ID` (a saved funnel's steps,
order, window and exclusions; goals only) or a quick matcher (`pageview`, `click`,
`custom`) with its value typed beside it. Dates are calendar days in UTC, both ends
included; the default is the last 30 days. What cannot be read is a `BadRequest` naming
the field, which the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.http import QueryDict
from django.utils import timezone

from replay.analytics.experiments import GOAL_FIELDS
from replay.models import Action, Project, SavedFunnel
from replay.search import BadRequest

QUICK = {
    "pageview": ("url", "A page view at (URL, * for anything)"),
    "click": ("selector", "A click on (CSS selector)"),
    "custom": ("name", "A custom event named"),
}
DEFAULT_DAYS = 30


@dataclass
class Choice:
    value: str
    label: str
    group: str


def options(project: Project, *, funnels: bool) -> list[Choice]:
    """What a goal (`funnels`) or a feature may be, for the form's select."""
    found = [Choice(kind, label, "Quick") for kind, (_, label) in QUICK.items()]
    for action in Action.objects.filter(project=project).order_by("name"):
        found.append(Choice(f"action:{action.pk}", action.name, "Actions"))
    if funnels:
        for funnel in SavedFunnel.objects.filter(project=project).order_by("name"):
            found.append(Choice(f"funnel:{funnel.pk}", funnel.name, "Saved funnels"))
    return found


def step_of(project: Project, choice: str, value: str, where: str, *, funnels: bool) -> Any:
    """The STEP (or, for a goal, the funnel definition) a choice stands for."""
    if choice in QUICK:
        name = QUICK[choice][0]
        if not value.strip():
            raise BadRequest(f"{where}: type what to match ({QUICK[choice][1].lower()})")
        return {"kind": choice, name: value.strip()}
    kind, _, number = choice.partition(":")
    if kind == "action" and number.isdigit():
        return {"action": int(number)}
    if kind == "funnel" and funnels and number.isdigit():
        funnel = SavedFunnel.objects.filter(project=project, pk=int(number)).first()
        if funnel is None or not isinstance(funnel.definition, dict):
            raise BadRequest(f"{where}: no saved funnel {number} in this project")
        return {k: v for k, v in funnel.definition.items() if k in GOAL_FIELDS}
    raise BadRequest(f"{where}: choose an action, a saved funnel or a matcher")


def _day(params: QueryDict, name: str) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}: a day, e.g. 2026-11-01") from None


def days(params: QueryDict) -> tuple[date, date]:
    """The first and last day asked (UTC), the last 30 days by default."""
    last = _day(params, "until") or timezone.now().astimezone(UTC).date()
    first = _day(params, "since") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadRequest("since: must not come after until")
    return first, last


def span(first: date, last: date) -> dict[str, str]:
    """`since` and `until` of an API body: from the first day's start to the end of the
    last."""
    since = datetime.combine(first, time.min, UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, UTC)
    return {"since": since.isoformat(), "until": until.isoformat()}


def experiment_body(project: Project, params: QueryDict, control: str) -> dict[str, Any]:
    """The report asked, against `control` (the page chooses it among the variants)."""
    first, last = days(params)
    goal = step_of(project, params.get("goal", ""), params.get("value", ""), "goal", funnels=True)
    return {
        "experiment": params.get("experiment", ""),
        "goal": goal,
        "count": params.get("count", "sessions"),
        "control": control,
        **span(first, last),
    }


def adoption_body(project: Project, params: QueryDict) -> dict[str, Any]:
    first, last = days(params)
    feature = step_of(
        project, params.get("feature", ""), params.get("value", ""), "feature", funnels=False
    )
    return {"feature": feature, "interval": params.get("interval", "week"), **span(first, last)}
