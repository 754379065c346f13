"""README.md documents exactly what the code does: settings, frames and close codes."""

from __future__ import annotations

import re

from django.conf import settings

from ingest.protocol import CloseCode
from tests.support import ROOT

README = (ROOT / "README.md").read_text()


def table_rows(heading: str) -> list[list[str]]:
    """The cells of the first table after `heading`."""
    section = README[README.index(heading) :]
    rows = []
    started = False
    for line in section.splitlines():
        if line.startswith("|"):
            started = True
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= {"-", ":"}:
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header row


def test_every_setting_is_documented_with_its_default():
    rows = {re.sub(r"`", "", row[0]): row[1] for row in table_rows("## Configuration")}
    assert set(rows) == set(settings.REPLAY_ENVIRONMENT)
    for name, default in settings.REPLAY_ENVIRONMENT.items():
        documented = rows[name]
        if documented.startswith("`"):
            assert documented == f"`{default}`", name
        else:  # described in words: unset, empty, generated
            assert default == "", name


def test_close_codes_match_the_protocol():
    documented = {int(row[0]) for row in table_rows("Close codes:")}
    assert documented == {int(code) for code in CloseCode}


def test_frame_types_match_the_protocol():
    rows = table_rows("## Wire protocol v1")
    client = {row[1].strip("`") for row in rows if row[0] == "c→s"}
    server = {row[1].strip("`") for row in rows if row[0] == "s→c"}
    assert client == {"hello", "batch", "gap", "end"}
    assert server == {"welcome", "ack", "error", "snapshot"}
    source = (ROOT / "ingest" / "protocol.py").read_text()
    for kind in client:
        assert f'kind == "{kind}"' in source
    for kind in server:
        assert f'"type": "{kind}"' in source


def test_readme_shows_the_two_commands_near_the_top():
    top = README[:600]
    assert "make run" in top
    assert "make test" in top


def test_every_friction_detector_is_documented_with_its_version_and_defaults():
    from replay.friction import DETECTORS

    rows = {re.sub(r"`", "", row[0]): row for row in table_rows("**Friction detectors**")}
    assert set(rows) == {detector.name for detector in DETECTORS}
    for detector in DETECTORS:
        _, version, thresholds, _ = rows[detector.name]
        assert version == str(detector.version), detector.name
        documented = dict(re.findall(r"`(\w+)` (\d+)", thresholds))
        assert documented == {k: str(int(v)) for k, v in detector.defaults.items()}, detector.name
