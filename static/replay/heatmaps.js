/**
 * The heatmaps page. The page is drawn as it was recorded: a recent page view of that
 * URL at that screen width (chosen automatically, or another from the list) is rebuilt by
 * rrweb's Replayer in its sandboxed iframe, as the player does, and opened out to its
 * full height (a container that scrolls the page is opened too). Each element the
 * clicks fell on is found in it by its selector, and its clicks are drawn at their
 * places inside its box, so a point lands on its element whatever the layout; elements
 * the page drawn has not are listed apart, never drawn at stale coordinates. The scroll
 * map shades the page by the share of page views that reached each twentieth of it.
 *
 * `window.ReplayHeatmap` says what is drawn (points, boxes, bands, and the elements not
 * found), for tests and for anyone who inspects the page.
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('heatmaps-config').textContent);
  const $ = (id) => document.getElementById(id);
  const call = window.replayApi.call;
  const SessionSource = window.ReplayInternals.SessionSource;
  const Draw = window.ReplayInternals.HeatDraw;
  const SETTLE_MS = 1000; // a page view is drawn this long after it began
  const RADIUS = 16; // a click's glow, in the page's pixels
  const MAX_PIXELS = 16e6; // the most the heat is computed on (it is scaled down past it)
  const MAX_HEIGHT = 30000; // the tallest page drawn (browsers draw no taller canvas)
  const shown = (window.ReplayHeatmap = { ready: false, drawn: [], boxes: [], missing: [], bands: [], lines: [] });
  const state = { pages: [], data: null, replayer: null, doc: null, width: 0, height: 0, scale: 1 };
  let generation = 0; // each load's number: an older one's results are dropped

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function problem(message) {
    $('problem').hidden = !message;
    $('problem').textContent = message || '';
  }

  function query() {
    const days = Number($('range').value);
    const since = new Date(Date.now() - days * 86400000).toISOString();
    return new URLSearchParams({ url: $('url').value.trim(), width: $('width').value, since: since });
  }

  function kind() {
    return $('mode').value === 'scroll' ? 'scroll' : $('kind').value;
  }

  async function load() {
    const mine = ++generation;
    shown.ready = false;
    problem('');
    const params = query();
    const address = new URL(location.href);
    for (const name of ['url', 'width']) address.searchParams.set(name, params.get(name));
    address.searchParams.set('mode', $('mode').value);
    address.searchParams.set('kind', $('kind').value);
    history.replaceState(null, '', address);
    try {
      const [pages, data] = await Promise.all([
        call('GET', config.pagesUrl + '?' + params),
        call('GET', config.heatmapUrl + '?' + params + '&kind=' + kind()),
      ]);
      if (mine !== generation) return;
      state.pages = pages.pages;
      state.data = data;
      fillBackgrounds();
      if (state.pages.length) await background(state.pages[0]);
      else clearStage('No page view of this page at this screen width in the range: nothing to draw over.');
      if (mine !== generation) return;
      draw();
    } catch (err) {
      if (mine === generation) problem(err.message);
    }
  }

  function fillBackgrounds() {
    const select = $('background');
    select.textContent = '';
    state.pages.forEach((page, index) => {
      const when = new Date(page.ts).toLocaleString();
      const option = element('option', '', when + ' · ' + page.vw + ' px · ' + page.session.slice(0, 8));
      option.value = String(index);
      option.title = page.url;
      select.append(option);
    });
    select.disabled = !state.pages.length;
  }

  function clearStage(note) {
    if (state.replayer) state.replayer.destroy();
    state.replayer = null;
    state.doc = null;
    $('stage').textContent = '';
    $('stage').style.width = $('stage').style.height = '';
    $('stage-note').textContent = note || '';
  }

  /** The page view rebuilt, paused, and opened out to its full height. */
  async function background(page) {
    clearStage('Drawing the page as it was…');
    const source = await new SessionSource(page.manifest).init();
    const at = Math.min(page.ts + SETTLE_MS, source.end);
    const events = await source.open(at);
    const replayer = new rrweb.Replayer(events, {
      root: $('stage'),
      showWarning: false,
      mouseTail: false,
      skipInactive: false,
      triggerFocus: false,
    });
    replayer.pause(at - replayer.getMetaData().startTime);
    state.replayer = replayer;
    const iframe = $('stage').querySelector('iframe');
    state.doc = iframe.contentDocument;
    const meta = events.find((event) => event.type === 4);
    state.width = meta ? meta.data.width : iframe.clientWidth;
    await frames(2);
    unfold(state.doc, meta ? meta.data.height : iframe.clientHeight);
    // Images that load later move what is below them: draw again when they do.
    state.doc.addEventListener('load', redrawSoon, true);
    $('stage-note').textContent = 'Drawn over ' + page.url + ', as recorded at ' + new Date(page.ts).toLocaleString() + '.';
  }

  function frames(count) {
    return new Promise((resolve) => {
      const step = (left) => (left ? requestAnimationFrame(() => step(left - 1)) : resolve());
      step(count);
    });
  }

  /** Open the page to its full height: the document, and a container that fills most of
   *  the window and scrolls the page, show everything at once. */
  function unfold(doc, viewport) {
    const root = doc.documentElement;
    const view = doc.defaultView;
    for (const node of doc.querySelectorAll('body *')) {
      if (node.clientHeight < viewport / 2 || node.scrollHeight <= node.clientHeight + 1) continue;
      const overflow = view.getComputedStyle(node).overflowY;
      if (overflow !== 'auto' && overflow !== 'scroll') continue;
      node.style.setProperty('height', node.scrollHeight + 'px', 'important');
      node.style.setProperty('max-height', 'none', 'important');
      node.style.setProperty('overflow-y', 'visible', 'important');
    }
    for (const node of [root, doc.body]) {
      if (!node) continue;
      node.style.setProperty('overflow', 'visible', 'important');
      node.style.setProperty('height', 'auto', 'important');
    }
    layout();
  }

  function layout() {
    const iframe = $('stage').querySelector('iframe');
    const wrapper = $('stage').querySelector('.replayer-wrapper');
    if (!iframe || !state.doc) return;
    const root = state.doc.documentElement;
    state.height = Math.min(MAX_HEIGHT, Math.max(root.scrollHeight, state.doc.body ? state.doc.body.scrollHeight : 0));
    iframe.setAttribute('height', String(state.height));
    iframe.style.height = state.height + 'px';
    const room = $('viewport').clientWidth - 2;
    state.scale = Math.min(1, room / state.width);
    wrapper.style.transform = 'scale(' + state.scale + ')';
    $('stage').style.width = state.width * state.scale + 'px';
    $('stage').style.height = state.height * state.scale + 'px';
  }

  let redrawTimer = null;
  function redrawSoon() {
    clearTimeout(redrawTimer);
    redrawTimer = setTimeout(() => {
      layout();
      draw();
    }, 200);
  }

  /** An element's box in the page's coordinates, or null when the page has none. */
  function box(selector) {
    if (!state.doc || !selector) return null;
    let found = null;
    try {
      found = state.doc.querySelector(selector);
    } catch (err) {
      return null;
    }
    if (!found) return null;
    const rect = found.getBoundingClientRect();
    if (!(rect.width > 0 && rect.height > 0)) return null;
    const view = state.doc.defaultView;
    return { left: rect.left + view.scrollX, top: rect.top + view.scrollY, width: rect.width, height: rect.height };
  }

  function canvas() {
    const wrapper = $('stage').querySelector('.replayer-wrapper');
    let overlay = wrapper.querySelector('canvas.heat-overlay');
    if (!overlay) {
      overlay = element('canvas', 'heat-overlay');
      wrapper.append(overlay);
    }
    const resolution = Math.min(1, Math.sqrt(MAX_PIXELS / (state.width * state.height)));
    overlay.width = Math.max(1, Math.round(state.width * resolution));
    overlay.height = Math.max(1, Math.round(state.height * resolution));
    overlay.style.width = state.width + 'px';
    overlay.style.height = state.height + 'px';
    const context = overlay.getContext('2d');
    context.scale(resolution, resolution);
    return { context: context, resolution: resolution, overlay: overlay };
  }

  function draw() {
    shown.drawn = [];
    shown.boxes = [];
    shown.bands = [];
    shown.lines = [];
    shown.missing = [];
    const data = state.data;
    if (!data) return;
    const mode = $('mode').value;
    if (mode === 'scroll') drawScroll(data);
    else drawClicks(data, mode);
    shown.ready = true;
    document.dispatchEvent(new CustomEvent('replay:heatmap-drawn'));
  }

  function drawClicks(data, mode) {
    const placed = [];
    for (const item of data.elements) {
      const found = box(item.selector);
      if (!found) {
        shown.missing.push(item.selector);
        continue;
      }
      placed.push({ item: item, box: found });
      shown.boxes.push({ selector: item.selector, count: item.count, box: found });
      for (const [fx, fy] of item.points) {
        shown.drawn.push({ selector: item.selector, x: found.left + fx * found.width, y: found.top + fy * found.height });
      }
    }
    const what = { click: 'click', rage: 'rage click', dead: 'dead click', error: 'error click' }[$('kind').value];
    $('summary').textContent = plural(data.total, what);
    listElements(data, placed);
    if (!state.doc) return;
    const { context, overlay } = canvas();
    if (mode === 'heat') Draw.heat(context, shown.drawn, overlay, RADIUS);
    else Draw.elements(context, placed, data.total);
  }

  function drawScroll(data) {
    $('summary').textContent = plural(data.pageviews, 'page view');
    listReach(data);
    if (!state.doc) return;
    const drawn = Draw.scroll(canvas().context, data, state.width, state.height);
    shown.bands = drawn.bands;
    shown.lines = drawn.lines;
  }

  function plural(count, noun) {
    return count.toLocaleString() + ' ' + noun + (count === 1 ? '' : 's');
  }

  /** Beside a scroll map: how many read how much. */
  function listReach(data) {
    $('missing-block').hidden = true;
    $('side-title').textContent = 'Reach';
    const list = $('elements');
    list.textContent = '';
    const rows = ['25', '50', '75'].map((at) => [at + '% of the page', data.reach[at]]);
    for (const [label, share] of rows) {
      const row = element('li');
      row.append(element('span', 'selector', label));
      const bar = element('div', 'share');
      const fill = element('span');
      fill.style.width = Math.max(1, share * 100) + '%';
      bar.append(fill);
      row.append(bar);
      row.append(element('div', 'numbers', 'reached by ' + Math.round(share * 100) + '% of page views'));
      list.append(row);
    }
    if (data.fold !== null) {
      list.append(element('li', 'muted', 'The average fold is at ' + Math.round(data.fold * 100) + '% of the page.'));
    }
    if (!data.pageviews) list.append(element('li', 'muted', 'No page view here measured the page.'));
  }

  function listElements(data, placed) {
    $('side-title').textContent = 'Elements';
    const list = $('elements');
    const missing = $('missing');
    list.textContent = '';
    missing.textContent = '';
    const found = new Set(placed.map((p) => p.item.selector));
    for (const item of data.elements) {
      const row = element('li');
      row.append(element('span', 'selector', item.selector));
      const bar = element('div', 'share');
      const fill = element('span');
      fill.style.width = Math.max(1, item.share * 100) + '%';
      bar.append(fill);
      row.append(bar);
      const numbers = element('div', 'numbers');
      numbers.append(element('span', '', item.count.toLocaleString() + ' · ' + Math.round(item.share * 1000) / 10 + '%'));
      const sessions = element('button', 'button small', 'Sessions that clicked here');
      sessions.type = 'button';
      sessions.addEventListener('click', () => people(item, row));
      numbers.append(sessions);
      row.append(numbers);
      (found.has(item.selector) || !state.doc ? list : missing).append(row);
    }
    $('missing-block').hidden = !missing.children.length;
    if (data.unnamed) list.append(element('li', 'muted', data.unnamed.toLocaleString() + ' clicks on elements with no name'));
    if (!data.elements.length && $('mode').value !== 'scroll') list.append(element('li', 'muted', 'No clicks here.'));
  }

  async function people(item, row) {
    document.querySelectorAll('.heat-elements li.active').forEach((node) => node.classList.remove('active'));
    row.classList.add('active');
    $('people').hidden = false;
    $('people-title').textContent = 'Sessions that clicked ' + item.selector;
    const list = $('people-list');
    list.textContent = '';
    try {
      const answer = await call('GET', item.sessions);
      for (const session of answer.sessions) {
        const entry = element('li');
        entry.append(element('span', 'when', new Date(session.ts).toLocaleString()));
        entry.append(element('span', 'about', (session.user || session.session) + ' · ' + session.clicks + '×'));
        const play = element('a', '', 'Play');
        play.href = session.link;
        entry.append(play);
        list.append(entry);
      }
      if (answer.next) list.append(element('li', 'muted', 'and ' + (answer.count - answer.sessions.length) + ' more'));
    } catch (err) {
      list.append(element('li', 'problem', err.message));
    }
  }

  function showKind() {
    $('kind-label').hidden = $('mode').value === 'scroll';
  }

  $('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  $('mode').addEventListener('change', () => {
    showKind();
    if ($('url').value.trim()) load();
  });
  for (const id of ['width', 'kind', 'range']) {
    $(id).addEventListener('change', () => {
      if ($('url').value.trim()) load();
    });
  }
  $('background').addEventListener('change', async () => {
    const page = state.pages[Number($('background').value)];
    if (!page) return;
    shown.ready = false;
    try {
      await background(page);
      draw();
    } catch (err) {
      problem(err.message);
    }
  });
  $('people-close').addEventListener('click', () => {
    $('people').hidden = true;
  });
  window.addEventListener('resize', redrawSoon);

  const given = new URL(location.href).searchParams;
  $('url').value = given.get('url') || config.url || '';
  if (config.widths.includes(given.get('width'))) $('width').value = given.get('width');
  if (['heat', 'elements', 'scroll'].includes(given.get('mode'))) $('mode').value = given.get('mode');
  if (['click', 'rage', 'dead', 'error'].includes(given.get('kind'))) $('kind').value = given.get('kind');
  showKind();
  if ($('url').value.trim()) load();
})();
