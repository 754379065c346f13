"""The DOM mirror on rrweb's hard cases, recorded by rrweb itself in Chromium: a page
with a same-origin iframe, shadow roots with adopted style sheets, rules inserted into
nested @media blocks and declarations changed, nodes moved and removed, text and
attribute changes, form input and scrolling, in the page and in the iframe. At several
moments, rrweb's Replayer starting from our keyframe shows what it shows after replaying
from the start."""

from __future__ import annotations

from typing import Any

import pytest

from tests.replayer import RRWEB, open_oracle
from tests.test_mirror_replay import check

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html><head>
<style id="main">
  body { font-family: sans-serif; }
  @media (min-width: 100px) { .card { padding: 4px; } .card b { color: navy; } }
  .list li { margin: 1px; }
</style>
</head><body>
<ul class="list" id="list"><li id="a">alpha</li><li id="b">beta</li><li id="c">gamma</li></ul>
<div id="box" style="height: 80px; overflow: auto"><div style="height: 400px">tall</div></div>
<p id="para" class="card"><b>bold</b> text</p>
<input id="name"> <textarea id="note"></textarea>
<select id="size"><option>small</option><option>large</option></select>
<label><input id="agree" type="checkbox"> agree</label>
<div id="host"></div>
<iframe id="frame" srcdoc="{FRAME}"></iframe>
<div style="height: 2000px"></div>
</body></html>""".replace(
    "{FRAME}",
    "<style>p { color: green; }</style><p id='inner'>inside</p><input id='inner-input'>"
    "<div id='inner-box' style='height:50px;overflow:auto'><div style='height:300px'>x</div></div>",
)

SETUP = """async () => {
  await new Promise((resolve) => {
    const frame = document.getElementById('frame');
    if (frame.contentDocument && frame.contentDocument.readyState === 'complete') resolve();
    else frame.addEventListener('load', resolve);
  });
  const host = document.getElementById('host');
  const shadow = host.attachShadow({ mode: 'open' });
  shadow.innerHTML = '<span id="in-shadow">shadow text</span><em>more</em>';
  const sheet = new CSSStyleSheet();
  sheet.replaceSync('span { color: red; }');
  shadow.adoptedStyleSheets = [sheet];
  window.__events = [];
  rrweb.record({ emit: (event) => window.__events.push(event) });
}"""

STEPS = [
    # style rules: into a nested @media block, out of the top level, declarations
    """() => {
      const sheet = document.getElementById('main').sheet;
      sheet.cssRules[1].insertRule('.card i { color: teal; }', 1);
      sheet.insertRule('#para { border: 1px solid red; }', 3);
      sheet.deleteRule(0);
      sheet.cssRules[2].style.setProperty('margin', '3px', 'important');
    }""",
    # moves, removes, inserts, text and attribute changes
    """() => {
      const list = document.getElementById('list');
      list.insertBefore(document.getElementById('c'), document.getElementById('a'));
      document.getElementById('b').remove();
      const item = document.createElement('li');
      item.innerHTML = '<span class="new">delta <i>four</i></span>';
      list.appendChild(item);
      document.getElementById('para').firstChild.textContent = 'BOLD';
      document.getElementById('para').className = 'card changed';
      document.getElementById('para').style.setProperty('color', 'purple');
      document.getElementById('a').setAttribute('data-x', '1');
    }""",
    # shadow DOM and adopted sheets
    """() => {
      const shadow = document.getElementById('host').shadowRoot;
      const extra = document.createElement('strong');
      extra.textContent = 'added in shadow';
      shadow.insertBefore(extra, shadow.firstChild);
      const sheet = new CSSStyleSheet();
      sheet.replaceSync('strong { font-size: 20px; }');
      shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, sheet];
    }""",
    # the iframe's document
    """() => {
      const doc = document.getElementById('frame').contentDocument;
      const p = doc.createElement('p');
      p.textContent = 'added inside the frame';
      doc.body.appendChild(p);
      doc.getElementById('inner').setAttribute('title', 'hello');
      doc.querySelector('style').sheet.insertRule('p { font-weight: bold; }', 1);
    }""",
    # moves of a subtree between parents
    """() => {
      const para = document.getElementById('para');
      document.getElementById('box').appendChild(para);
      const list = document.getElementById('list');
      document.body.insertBefore(list, document.getElementById('host'));
    }""",
]

TYPING = [
    ("#name", "hello world"),
    ("#note", "a longer note\\nwith two lines"),
]


@pytest.fixture(scope="module")
def recording(browser: Any) -> list[dict[str, Any]]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.route(
        "http://cases.test/",
        lambda route: route.fulfill(body=PAGE, content_type="text/html"),
    )
    page.goto("http://cases.test/")
    page.add_script_tag(path=str(RRWEB))
    page.evaluate(SETUP)
    for step in STEPS[:2]:
        page.evaluate(step)
        page.wait_for_timeout(120)
    for selector, text in TYPING:
        page.click(selector)
        page.keyboard.type(text.replace("\\n", "\n"), delay=2)
    page.select_option("#size", "large")
    page.check("#agree")
    page.evaluate("document.getElementById('box').scrollTop = 150")
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(200)
    for step in STEPS[2:]:
        page.evaluate(step)
        page.wait_for_timeout(120)
    frame = page.frame_locator("#frame")
    frame.locator("#inner-input").fill("typed in the frame")
    inner_box = "document.getElementById('frame').contentDocument.getElementById('inner-box')"
    page.evaluate(f"{inner_box}.scrollTop = 100")
    page.wait_for_timeout(300)
    events = page.evaluate("window.__events")
    page.close()
    return list(events)


@pytest.fixture(scope="module")
def oracle(browser: Any) -> Any:
    page = open_oracle(browser)
    yield page
    page.close()


def test_the_recording_covers_the_hard_cases(recording):
    sources = {e["data"].get("source") for e in recording if e["type"] == 3}
    assert {0, 3, 5, 8, 13, 15} <= sources  # mutations, scroll, input, rules, declarations, adopted
    assert any(e["type"] == 3 and e["data"].get("isAttachIframe") for e in recording)


@pytest.mark.parametrize("share", [0.2, 0.35, 0.5, 0.65, 0.8, 0.95])
def test_a_keyframe_anywhere_replays_like_the_whole_recording(oracle, recording, share):
    cut = max(3, int(len(recording) * share))
    check(oracle, recording, cut)
