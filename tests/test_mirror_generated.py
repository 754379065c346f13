"""Hypothesis writes DOM programs (adds, moves, removes, text, attributes, styles, rules);
rrweb records them running in Chromium; a keyframe from the mirror at a random point
must replay, in rrweb's Replayer, to what the whole recording shows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.replayer import RRWEB, open_oracle
from tests.test_mirror_replay import check

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><style id="s">.a { color: red; } .b { margin: 1px; }
@media (min-width: 10px) { .c { padding: 2px; } }</style></head>
<body><div id="root"><p class="a">one</p><p class="b">two <i>three</i></p>
<ul><li>x</li></ul></div></body></html>"""

# Interprets one step of a program against the live page. Nodes are picked by index
# into the current list of the root's descendants, so every program is valid.
RUN = """(program) => {
  const root = document.getElementById('root');
  const sheet = document.getElementById('s').sheet;
  const all = () => [root, ...root.querySelectorAll('*')];
  const pick = (list, n) => list[n % list.length];
  for (const [op, x, y, word] of program) {
    const nodes = all();
    const target = pick(nodes, x);
    if (op === 'add') {
      const el = document.createElement(['div', 'span', 'p', 'b', 'li'][y % 5]);
      el.textContent = word;
      const parent = pick(nodes, y);
      parent.insertBefore(el, parent.childNodes[x % (parent.childNodes.length + 1)] || null);
    } else if (op === 'move' && target !== root) {
      const parent = pick(nodes, y);
      if (!target.contains(parent)) parent.appendChild(target);
    } else if (op === 'remove' && target !== root) {
      target.remove();
    } else if (op === 'text') {
      target.appendChild(document.createTextNode(word));
      const first = target.firstChild;
      if (first && first.nodeType === 3) first.textContent = word + y;
    } else if (op === 'attr') {
      if (y % 3 === 0) target.removeAttribute('title');
      else target.setAttribute(y % 3 === 1 ? 'title' : 'data-' + word, word);
    } else if (op === 'class') {
      target.classList.toggle(['a', 'b', 'c'][y % 3]);
    } else if (op === 'style') {
      if (y % 2) target.style.setProperty('color', ['red', 'blue', 'green'][x % 3]);
      else target.style.removeProperty('color');
    } else if (op === 'rule') {
      const count = sheet.cssRules.length;
      const last = sheet.cssRules[count - 1];
      if (y % 3 === 0 && count > 1) sheet.deleteRule(x % count);
      else if (y % 3 === 1) sheet.insertRule('.' + word + ' { color: teal; }', x % (count + 1));
      else if (last.insertRule) last.insertRule('.' + word + ' { margin: 0; }', 0);
    }
  }
}"""

words = st.text(alphabet="abcdefgh", min_size=1, max_size=6)
steps = st.tuples(
    st.sampled_from(["add", "add", "move", "remove", "text", "attr", "class", "style", "rule"]),
    st.integers(0, 50),
    st.integers(0, 50),
    words,
)
programs = st.lists(st.lists(steps, min_size=1, max_size=6), min_size=2, max_size=6)


@pytest.fixture(scope="module")
def pages(browser: Any) -> Any:
    recorder = browser.new_page()
    recorder.route(
        "http://generated.test/", lambda route: route.fulfill(body=PAGE, content_type="text/html")
    )
    oracle = open_oracle(browser)
    yield recorder, oracle
    recorder.close()
    oracle.close()


def record(page: Any, rounds: list[list[tuple[str, int, int, str]]]) -> list[dict[str, Any]]:
    page.goto("http://generated.test/")
    page.add_script_tag(path=str(RRWEB))
    page.evaluate("window.__events = []; rrweb.record({ emit: (e) => window.__events.push(e) })")
    for program in rounds:
        page.evaluate(RUN, [list(step) for step in program])
        page.wait_for_timeout(20)  # each round flushes as its own mutation events
    return list(page.evaluate("window.__events"))


@given(rounds=programs, share=st.floats(0.1, 0.95))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_programs_replay_the_same_from_a_keyframe(pages, rounds, share):
    recorder, oracle = pages
    events = record(recorder, rounds)
    first = next(i for i, e in enumerate(events) if e["type"] == 2) + 1
    cut = max(first, min(len(events) - 1, int(len(events) * share)))
    check(oracle, events, cut)
