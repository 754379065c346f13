"""Actions' click matchers agree with the browser: a page recorded by the real recorder in
Chromium is clicked all over, the server computes its click records, and for every click
record and each of more than a hundred selectors of the supported grammar, whether the
matcher matches the record equals whether `document.querySelectorAll(selector)` holds the
clicked element in the page."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from replay.analytics.matchers import parse
from replay.models import Session, TrackedEvent
from replay.records import track_session
from replay.storage import get_storage
from tests.test_browser_tracking import site

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PAGE = """<!doctype html>
<html lang="en-GB"><head><title>Selectors</title></head>
<body class="app theme-dark">
  <nav id="top" class="bar main-nav" role="navigation" aria-label="Main">
    <ul class="menu">
      <li class="item first">
        <a id="home" class="link" href="#home" data-track="nav-home">Home</a></li>
      <li class="item"><a class="link active" href="#shop?sort=price" title="Shop now">Shop</a></li>
      <li class="item last" data-kind="help desk"><span class="label">Help</span></li>
    </ul>
  </nav>
  <main id="content" data-page="product-42">
    <section class="card featured" data-kind="product" lang="fr-CA">
      <h2 class="title">Fern</h2>
      <div class="actions">
        <button type="button" class="btn btn-primary" id="add" data-testid="add-fern">Add</button>
        <button type="BUTTON" class="btn" name="later" aria-label="Save for later">Later</button>
      </div>
    </section>
    <section class="card" data-kind="product-list">
      <article class="row" data-sku="cactus-8"><p>Cactus <em class="tag">new</em></p></article>
      <article class="row odd" data-sku="monstera-29">
        <div><div><span id="deep" class="x y z">Deep</span></div></div></article>
    </section>
    <form id="signup" class="form" method="POST" onsubmit="return false">
      <label for="mail">Email</label>
      <input id="mail" type="email" name="email" class="field wide" placeholder="you@example.com">
      <input type="checkbox" id="terms" name="terms" class="field">
      <button type="submit" class="btn submit" disabled-not="x">Join</button>
    </form>
  </main>
  <script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>
</body></html>"""

CLICKED = [
    "#home",
    "a.active",
    ".label",
    ".title",
    "#add",
    "button[name=later]",
    "em.tag",
    ".row p",
    "#deep",
    "label[for=mail]",
    "#mail",
    "#terms",
    "button.submit",
    "section.featured",
    "nav ul",
]

# Selectors of the supported grammar: type, *, #id, .class, attribute selectors of each
# operator (quoted, bare, with the i flag, and on attributes HTML compares ignoring case),
# descendant and child combinators, lists.
BASES = [
    "*",
    "a",
    "button",
    "span",
    "em",
    "p",
    "h2",
    "input",
    "label",
    "section",
    "li",
    "ul",
    "#home",
    "#add",
    "#deep",
    "#mail",
    "#terms",
    "#content",
    "#top",
    ".link",
    ".active",
    ".btn",
    ".btn.btn-primary",
    ".item.first",
    ".x.y.z",
    ".card",
    ".featured",
    ".row.odd",
    ".field.wide",
    "a.link.active",
    "button.btn",
    "span.label",
    "[data-track]",
    "[data-track=nav-home]",
    '[data-track="nav-home"]',
    "[data-kind=product]",
    "[data-kind~=desk]",
    "[data-kind|=product]",
    "[data-kind^=prod]",
    "[data-kind$=list]",
    "[data-kind*=duct]",
    "[data-sku^=cactus]",
    "[data-sku$='-29']",
    "[data-page*='42']",
    "[data-testid=add-fern]",
    "[title='Shop now']",
    "[title='shop NOW' i]",
    "[aria-label='Save for later']",
    "[aria-label^=save i]",
    "[role=navigation]",
    "[type=button]",
    "[type=BUTTON]",
    "[type=email]",
    "[type=checkbox]",
    "[type=submit]",
    "[name=email]",
    "[name=later]",
    "[placeholder*=example]",
    "[for=mail]",
    "[lang|=fr]",
    "[lang|=en]",
    "[method=post]",
    "[id]",
    "[class~=btn]",
    "[class*=btn-]",
    "[class^=card]",
    "[DATA-SKU]",
]
ANCESTORS = [
    "nav",
    "#top",
    "ul.menu",
    "li",
    "main",
    "#content",
    "section",
    "section.featured",
    ".actions",
    "article",
    "article.odd",
    "form",
    "#signup",
    "body.app",
    "[data-kind=product]",
    "[lang|=fr]",
    "div",
    "div > div",
    "*",
]
SUBJECTS = ["a", "button", "span", "em", "input", "label", "p", ".btn", "#deep", "ul", "h2", "*"]


def selectors() -> list[str]:
    combined = [
        f"{ancestor}{combinator}{subject}"
        for ancestor, subject in itertools.product(ANCESTORS, SUBJECTS)
        for combinator in (" ", " > ")
    ]
    lists = ["a, button", "#deep, .title", "em , [type=email]", "li > a, section p em"]
    return [*BASES, *combined[::2], *lists]


MATCHES_IN_BROWSER = """([ids, selectors]) => ids.map((id) => {
  const element = rrweb.record.mirror.getNode(id);
  if (!element) return null;
  return selectors.map((s) => Array.from(document.querySelectorAll(s)).includes(element));
})"""


def test_click_matchers_agree_with_the_browser(daphne, shop, alice, browser):
    chosen = selectors()
    assert len(chosen) >= 100
    matchers = [parse({"kind": "click", "selector": s}, s) for s in chosen]  # all supported

    html = PAGE.replace("SERVER", daphne.url).replace("KEY", shop.key)
    with site(html) as origin:
        shop.allowed_origins = [origin]
        shop.save()
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        page = context.new_page()
        page.goto(f"{origin}/selectors.html")
        page.wait_for_function("() => window.replay && window.replay.sessionId()")
        session_id = page.evaluate("replay.sessionId()")
        for target in CLICKED:
            page.click(target)
            page.wait_for_timeout(60)
        page.evaluate("async () => { await replay.flush(); }")

        session = Session.objects.select_related("project").get(pk=session_id)
        track_session(session, get_storage())
        clicks = list(TrackedEvent.objects.filter(session=session, kind="click").order_by("ts"))
        assert len(clicks) >= len(CLICKED)  # a label passes its click on to its field
        browser_says: list[Any] = page.evaluate(
            MATCHES_IN_BROWSER, [[c.data["node"] for c in clicks], chosen]
        )
        context.close()

    disagreements = []
    for click, answers in zip(clicks, browser_says, strict=True):
        assert answers is not None, click.selector
        for selector, matcher, in_browser in zip(chosen, matchers, answers, strict=True):
            if matcher.matches(click) != in_browser:
                disagreements.append((click.selector, selector, in_browser))
    assert disagreements == []
    # The selectors tell the clicks apart: each click is matched by some, and most
    # selectors match some click and miss others.
    assert all(any(answers) for answers in browser_says)
    telling = [i for i in range(len(chosen)) if 0 < sum(a[i] for a in browser_says) < len(clicks)]
    assert len(telling) >= 100, len(telling)
