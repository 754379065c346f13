from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from replay import api, events_api, sharing, views
from replay.analytics import (
    adoption_api,
    dataset_api,
    error_api,
    error_views,
    experiment_api,
    funnel_api,
    heatmap_api,
    report_views,
)
from replay.analytics import api as actions_api
from replay.analytics import views as actions_views
from replay.health import healthz
from replay.metrics import metrics_view

SESSION = "<str:session_id>"

urlpatterns = [
    path("", views.home, name="home"),
    path("sessions", views.session_list, name="sessions"),
    path(f"sessions/{SESSION}", views.player, name="player"),
    path("projects", views.project_list, name="projects"),
    path("actions", actions_views.actions_page, name="actions"),
    path("funnels", actions_views.funnels_page, name="funnels"),
    path("heatmaps", actions_views.heatmaps_page, name="heatmaps"),
    path("experiments", report_views.experiments_page, name="experiments"),
    path("adoption", report_views.adoption_page, name="adoption"),
    path("errors", error_views.errors_page, name="errors"),
    path("projects/<int:project_id>/audit", views.project_audit, name="project-audit"),
    path("demo/", views.demo, name="demo"),
    path("s/<str:token>", sharing.share_player, name="share"),
    path("s/<str:token>/manifest", sharing.share_manifest, name="share-manifest"),
    path("s/<str:token>/segments/<int:seq_start>", sharing.share_segment, name="share-segment"),
    path("s/<str:token>/keyframes/<int:after_seq>", sharing.share_keyframe, name="share-keyframe"),
    path("api/shares/<str:token>", api.share_revoke, name="api-share"),
    path("projects/<int:project_id>/redact", views.project_redact, name="project-redact"),
    path("api/sessions", api.list_sessions, name="api-sessions"),
    path("api/events", events_api.list_events, name="api-events"),
    path("api/projects/<int:project_id>/redact", api.project_redact, name="api-project-redact"),
    path(
        "api/projects/<int:project_id>/actions",
        actions_api.project_actions,
        name="api-project-actions",
    ),
    path(
        "api/projects/<int:project_id>/actions/preview",
        actions_api.preview,
        name="api-project-actions-preview",
    ),
    path("api/projects/<int:project_id>/funnel", funnel_api.funnel, name="api-project-funnel"),
    path("api/projects/<int:project_id>/heatmap", heatmap_api.heatmap, name="api-project-heatmap"),
    path(
        "api/projects/<int:project_id>/dataset",
        dataset_api.dataset,
        name="api-project-dataset",
    ),
    path(
        "api/projects/<int:project_id>/adoption",
        adoption_api.adoption,
        name="api-project-adoption",
    ),
    path("api/projects/<int:project_id>/errors", error_api.error_groups, name="api-project-errors"),
    path(
        "api/projects/<int:project_id>/errors/<slug:key>",
        error_api.error_group,
        name="api-project-error",
    ),
    path(
        "api/projects/<int:project_id>/errors/<slug:key>/sessions",
        error_api.error_sessions,
        name="api-project-error-sessions",
    ),
    path(
        "api/projects/<int:project_id>/experiments/report",
        experiment_api.report,
        name="api-project-experiment-report",
    ),
    path(
        "api/projects/<int:project_id>/experiments/sessions",
        experiment_api.report_sessions,
        name="api-project-experiment-sessions",
    ),
    path(
        "api/projects/<int:project_id>/heatmap/sessions",
        heatmap_api.heatmap_sessions,
        name="api-project-heatmap-sessions",
    ),
    path(
        "api/projects/<int:project_id>/heatmap/pages",
        heatmap_api.heatmap_pages,
        name="api-project-heatmap-pages",
    ),
    path(
        "api/projects/<int:project_id>/funnels",
        funnel_api.saved_funnels,
        name="api-project-funnels",
    ),
    path(
        "api/projects/<int:project_id>/funnels/<int:funnel_id>",
        funnel_api.saved_funnel,
        name="api-project-saved-funnel",
    ),
    path(
        "api/projects/<int:project_id>/funnel/sessions",
        funnel_api.funnel_sessions,
        name="api-project-funnel-sessions",
    ),
    path(
        "api/projects/<int:project_id>/actions/<int:action_id>",
        actions_api.project_action,
        name="api-project-action",
    ),
    path(f"api/sessions/{SESSION}", api.session_detail, name="api-session"),
    path(f"api/sessions/{SESSION}/share", api.session_share, name="api-session-share"),
    path(f"api/sessions/{SESSION}/tracked", api.session_tracked, name="api-session-tracked"),
    path("api/users/<str:user_id>/sessions", api.user_sessions_view, name="api-user-sessions"),
    path(f"api/sessions/{SESSION}/events", api.session_events, name="api-session-events"),
    path(f"api/sessions/{SESSION}/devtools", api.session_devtools, name="api-session-devtools"),
    path(f"api/sessions/{SESSION}/manifest", api.session_manifest, name="api-session-manifest"),
    path(
        f"api/sessions/{SESSION}/segments/<int:seq_start>",
        api.session_segment,
        name="api-session-segment",
    ),
    path(
        f"api/sessions/{SESSION}/keyframes/<int:after_seq>",
        api.session_keyframe,
        name="api-session-keyframe",
    ),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
