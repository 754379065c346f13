"""The report pages, drawn on the server (charts as SVG, `replay.analytics.charts`):
experiments (the experiments seen, and one's report against a goal: each variant's rate
with its interval, the lift with its interval, p-value, chance to beat the control, the
friction each variant met, and the sessions behind each result) and feature adoption
(adopters and active users over time, the adoption rate, stickiness). Both read their
forms into the bodies of their JSON APIs and answer what the API would; a field that
cannot be read is shown on the page with a 400."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse

from replay.analytics import adoption, charts, experiments, report_forms
from replay.analytics.experiment_api import linked
from replay.analytics.views import chosen_project
from replay.friction import DETECTORS
from replay.models import Project
from replay.search import BadRequest, number, page_of

SIGNIFICANT = 0.05
PEOPLE_PAGE = 50


def _ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)


def _tone(low: float | None, high: float | None) -> str:
    """Better when the whole interval is above 0, worse when below, else unsure."""
    if low is None or high is None:
        return "unsure"
    return "better" if low > 0 else "worse" if high < 0 else "unsure"


Days = tuple[date, date]
Filler = Callable[[HttpRequest, Project, Days, dict[str, Any], dict[str, Any]], None]


def _page(
    request: HttpRequest, template: str, form: dict[str, Any], fill: Filler, *, funnels: bool
) -> HttpResponse:
    """A report page: the user's project, the form (`form`, with the days asked and the
    steps to choose from, saved funnels among them if `funnels`), and what `fill` adds
    to the context; a field that cannot be read shown with a 400."""
    projects, project = chosen_project(request)
    context: dict[str, Any] = {"projects": projects, "project": project}
    status = 200
    if project is not None:
        form["choices"] = report_forms.options(project, funnels=funnels)
        context["form"] = form
        try:
            first, last = report_forms.days(request.GET)
            form.update(since=first.isoformat(), until=last.isoformat())
            fill(request, project, (first, last), form, context)
        except BadRequest as exc:
            context["problem"], status = str(exc), 400
    return render(request, template, context, status=status)


@login_required
def experiments_page(request: HttpRequest) -> HttpResponse:
    params = request.GET
    form = {
        "experiment": params.get("experiment", ""),
        "goal": params.get("goal", ""),
        "value": params.get("value", ""),
        "count": params.get("count", "sessions"),
    }
    return _page(request, "replay/experiments.html", form, _experiments, funnels=True)


def _experiments(
    request: HttpRequest, project: Project, days: Days, form: dict[str, Any], context: Any
) -> None:
    first, last = days
    seen = experiments.seen(project, _ms(first), _ms(last + timedelta(days=1)))
    context["seen"] = seen
    current = next((e for e in seen if e["experiment"] == form["experiment"]), None)
    variants = [v["variant"] for v in current["variants"]] if current else []
    control = request.GET.get("control", "")
    if control not in variants:  # (as when another experiment is chosen)
        control = "control" if "control" in variants else (variants or [""])[0]
    form.update(variants=variants, control=control)
    if form["experiment"] and form["goal"]:
        context.update(_report(request, project, control))


def _report(request: HttpRequest, project: Project, control: str) -> dict[str, Any]:
    params = request.GET
    asked = experiments.parse(project, report_forms.experiment_body(project, params, control))
    found = experiments.outcomes(project, asked)  # (one funnel run for the report and lists)
    answer = experiments.compute(project, asked, found)
    withheld = answer["insufficient"]
    rows = []
    for variant in answer["variants"]:
        low, high = variant["lift_ci"] or (None, None)
        is_control = variant["variant"] == answer["control"]
        tone = "control" if is_control else "unsure" if withheld else _tone(low, high)
        parts = {}
        for which in ("converted", "not_converted"):
            query = params.copy()
            query["variant"], query["part"] = variant["variant"], which
            query.pop("offset", None)
            parts[which] = f"?{query.urlencode()}#people"
        rows.append({**variant, "tone": tone, "control": is_control, **parts})
    context: dict[str, Any] = {
        "report": answer,
        "rows": rows,
        "goal_label": " → ".join(asked.funnel.labels[1:]),
        "sessions_url": reverse("sessions"),
        "rates": charts.intervals(
            [(r["variant"], r["rate"], r["rate_ci"], r["tone"]) for r in rows]
        ),
        "friction": _friction_rows(answer),
    }
    others = [r for r in rows if not r["control"]]
    if not withheld and others:
        context["lifts"] = charts.intervals(
            [(r["variant"], r["lift"], r["lift_ci"], r["tone"]) for r in others],
            around_zero=True,
            label=charts.signed_percent,
        )
    part, behind = params.get("part"), params.get("variant")
    if part in ("converted", "not_converted") and behind is not None:
        chosen = experiments.listed(found, behind, part == "converted")
        page, following = page_of(chosen, request, default=PEOPLE_PAGE, largest=PEOPLE_PAGE)
        offset = int(number(request, "offset", 0) or 0)
        context["people"] = {
            "variant": behind,
            "converted": part == "converted",
            "count": len(chosen),
            "first": offset + 1,
            "rows": linked(request, page),
            "next": f"{following}#people" if following else None,
        }
    return context


def _friction_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """For any friction and each detector, each variant's share and whether it differs
    from the control's (p < 0.05), the detectors no variant met left out."""
    control = next(v for v in answer["variants"] if v["variant"] == answer["control"])
    rows = []
    for name in ["any", *(d.name for d in DETECTORS)]:
        if not any(v["friction"][name]["share"] for v in answer["variants"]):
            continue
        cells = []
        for variant in answer["variants"]:
            found = variant["friction"][name]
            p = found["p_value"]
            shift = found["share"] - control["friction"][name]["share"]
            significant = p is not None and p < SIGNIFICANT and not answer["insufficient"]
            tone = ("worse" if shift > 0 else "better") if significant else ""
            cells.append({"share": found["share"], "p_value": p, "tone": tone})
        rows.append({"name": name, "cells": cells})
    return rows


@login_required
def adoption_page(request: HttpRequest) -> HttpResponse:
    params = request.GET
    form = {
        "feature": params.get("feature", ""),
        "value": params.get("value", ""),
        "interval": params.get("interval", "week"),
        "intervals": adoption.INTERVALS,
    }

    def fill(request: HttpRequest, project: Project, _: Days, form: Any, context: Any) -> None:
        if form["feature"]:
            context.update(_adoption(project, request.GET))

    return _page(request, "replay/adoption.html", form, fill, funnels=False)


def _adoption(project: Project, params: QueryDict) -> dict[str, Any]:
    asked = adoption.parse(project, report_forms.adoption_body(project, params))
    answer = adoption.compute(project, asked)
    intervals = answer["intervals"]
    labels = [i["start"] for i in intervals]
    counts = [
        ("Active users", [i["active_users"] for i in intervals], "active"),
        ("Adopters", [i["adopters"] for i in intervals], "adopters"),
        ("Cumulative adopters", [i["cumulative_adopters"] for i in intervals], "cumulative"),
        ("Retained adopters", [i["retained"] for i in intervals], "retained"),
    ]
    days = [f"{n} day{'s' if n > 1 else ''}" for n in range(1, 8)]
    return {
        "answer": answer,
        "users": charts.lines(labels, counts),
        "rate": charts.lines(
            labels, [("Adoption rate", [i["rate"] for i in intervals], "rate")], fraction=True
        ),
        "stickiness": charts.bars(days, answer["stickiness"]),
    }
