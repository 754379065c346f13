/*
 * The player's devtools drawer: what the recorded page's console and network did, and
 * its errors (GET /api/sessions/ID/devtools, loaded once after the first frame), in
 * step with the replay. Rows up to the playhead are shown as they are and later rows
 * dimmed (still there to be chosen); the last row at or before the playhead is
 * highlighted, and the list scrolls to keep it in view unless the viewer scrolled it
 * away ("Follow" brings it back). Choosing a row plays from a second before it, as the
 * Moments list does; a request also opens its details. Errors and failed requests are
 * marked on the timeline, and "Copy bug report" copies the moment as Markdown.
 *
 * It uses the player only through window.replayPlayer: now(), seek(), onTime(),
 * mark() and linkAt(). Rows are built by devtools-rows.js, the report by bugreport.js.
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('player-config').textContent);
  if (!config.devtoolsUrl) return; // a public share link shows the replay only
  const rows = window.ReplayInternals.devtoolsRows;
  const bugReport = window.ReplayInternals.bugReport;
  const $ = (id) => document.getElementById(id);
  const LEAD_MS = 1000; // a row plays from this long before it, as a moment does
  const REPORT_LAST = 5; // errors and failed requests in a bug report
  const OPEN_KEY = 'replay:devtools-open';
  const HEIGHT_KEY = 'replay:devtools-height';
  const drawer = $('devtools');

  let player = null;
  let data = null;
  let origin = 0; // the session's start, epoch ms
  let at = 0; // the playhead, ms from the start
  let tab = 'console';
  let following = true;
  let selected = null; // the request whose details are open

  // Each tab's rows: the items its filters keep (by time), how many are at or before
  // the playhead, the highlighted one, and the scroll position the drawer last set.
  const views = {};
  for (const name of ['console', 'network', 'errors']) {
    views[name] = { list: $('dt-' + name), items: [], past: 0, current: null, scrolledTo: 0 };
  }

  function scroller(view) {
    return view.list.parentElement;
  }

  function say(text) {
    $('dt-note').textContent = text;
    $('dt-note').hidden = !text;
  }

  function text(id) {
    return $(id).value.trim().toLowerCase();
  }

  // -- building the lists --

  function build(name) {
    const view = views[name];
    if (name === 'console') {
      const levels = new Set(Array.from($('dt-levels').querySelectorAll('input:checked'), (i) => i.value));
      view.items = rows.consoleItems(data, origin, levels, text('dt-console-text'));
      for (const item of view.items) item.row = rows.consoleRow(item);
    } else if (name === 'network') {
      const status = $('dt-statuses').querySelector('input:checked').value;
      view.items = rows.networkItems(data, origin, status, text('dt-network-text'));
      const from = Math.min(...view.items.map((item) => item.request.ts));
      const to = Math.max(...view.items.map((item) => item.request.end));
      view.range = { from: from, span: Math.max(1, to - from) };
      for (const item of view.items) {
        item.row = rows.networkRow(item, view.range);
        if (selected && item.request === selected.request) select(item);
      }
    } else {
      view.items = rows.errorItems(data, origin, text('dt-errors-text'));
      for (const item of view.items) item.row = rows.errorRow(item);
    }
    view.items.forEach((item, index) => {
      item.row.dataset.index = String(index);
      item.row.classList.add('future');
    });
    view.list.replaceChildren(...view.items.map((item) => item.row));
    const empty = scroller(view).querySelector('.dt-empty');
    const recorded = name === 'console' ? data.console.length + data.dropped.length : data[name].length;
    empty.textContent = recorded ? 'Nothing here matches the filters.' : emptyText(name);
    empty.hidden = view.items.some((item) => item.kind !== 'dropped'); // notes stay, whatever the filters
    view.past = 0;
    view.current = null;
    view.scrolledTo = scroller(view).scrollTop; // a shorter list may have moved it
    sync(name, true);
  }

  function emptyText(name) {
    if (name === 'console') return 'The page wrote nothing to its console (or the project does not record it).';
    if (name === 'network') return 'No requests recorded (the project may not record them).';
    return 'No errors recorded.';
  }

  /** Brings a tab's rows in step with the playhead: only the rows that crossed it change. */
  function sync(name, force) {
    const view = views[name];
    const items = view.items;
    let low = 0;
    let high = items.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (items[middle].ts <= at) low = middle + 1;
      else high = middle;
    }
    for (let i = Math.min(low, view.past); i < Math.max(low, view.past); i++) {
      items[i].row.classList.toggle('future', i >= low);
    }
    view.past = low;
    const current = low ? items[low - 1] : null;
    if (current !== view.current) {
      if (view.current) {
        view.current.row.classList.remove('current');
        repeats(view.current, Infinity);
      }
      if (current) current.row.classList.add('current');
      view.current = current;
      if (following) reveal(view);
    } else if (force && following) {
      reveal(view);
    }
    if (current) repeats(current, at);
    if (name === 'network' && items.length) {
      const playhead = ((origin + at - view.range.from) / view.range.span) * 100;
      view.list.style.setProperty('--playhead', Math.max(-1, Math.min(101, playhead)) + '%');
    }
  }

  /** A group of repeated messages counts those up to the playhead. */
  function repeats(item, until) {
    if (!item.entries || item.entries.length < 2) return;
    const shown = item.entries.filter((entry) => entry.ts - origin <= until).length;
    const repeat = item.row.querySelector('.dt-repeat');
    repeat.textContent = String(shown);
    repeat.hidden = shown < 2;
  }

  /** Scrolls the highlighted row into view, with a few of the rows after it below. */
  function reveal(view) {
    if (drawer.hidden || !view.list.offsetParent) return;
    const box = scroller(view);
    const row = view.current ? view.current.row : null;
    if (!row) box.scrollTop = 0;
    else if (row.offsetTop < box.scrollTop || row.offsetTop + row.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, row.offsetTop + row.offsetHeight - box.clientHeight * 0.7); // a few later rows below
    }
    view.scrolledTo = box.scrollTop;
  }

  function follow(on) {
    following = on;
    $('dt-follow').hidden = on;
    if (on) reveal(views[tab]);
  }

  // -- choosing rows, and a request's details --

  function choose(item) {
    if (String(window.getSelection())) return; // the viewer is selecting text
    if (item.kind === 'request') select(item);
    follow(true);
    player.seek(Math.max(0, item.ts - LEAD_MS), true);
  }

  function select(item) {
    if (selected && selected.row) selected.row.classList.remove('selected');
    selected = item;
    item.row.classList.add('selected');
    $('dt-details').replaceChildren(...rows.requestDetails(item.request, origin));
    $('dt-details').hidden = false;
  }

  function unselect() {
    if (selected && selected.row) selected.row.classList.remove('selected');
    selected = null;
    $('dt-details').hidden = true;
  }

  // -- tabs, counts, the drawer --

  function show(name) {
    tab = name;
    for (const button of drawer.querySelectorAll('.dt-tab')) {
      button.setAttribute('aria-selected', String(button.dataset.tab === name));
    }
    for (const key of Object.keys(views)) $('dt-panel-' + key).hidden = key !== name;
    if (data) sync(name, true);
  }

  function open(shown) {
    drawer.hidden = !shown;
    $('devtools-toggle').setAttribute('aria-expanded', String(shown));
    $('devtools-toggle').classList.toggle('active', shown);
    stored(OPEN_KEY, shown ? 'open' : '');
    if (shown && data) sync(tab, true);
  }

  function count(name, total, bad, badTitle) {
    const button = $('dt-tab-' + name);
    button.querySelector('[data-count]').textContent = String(total);
    const problem = button.querySelector('[data-bad]');
    if (problem) {
      problem.textContent = String(bad);
      problem.title = badTitle;
      problem.hidden = !bad;
    } else {
      button.querySelector('[data-count]').classList.toggle('bad', bad > 0);
    }
  }

  function chipCount(chip, n) {
    chip.querySelector('.dt-chip-count').textContent = String(n);
  }

  function counts() {
    const failed = data.network.filter(rows.isFailed).length;
    const errors = data.errors.length;
    const errorLevel = data.console.filter((entry) => rows.chipOf(entry.level) === 'error').length;
    count('console', data.console.length, errorLevel, errorLevel + ' at level error');
    count('network', data.network.length, failed, failed + ' failed');
    count('errors', errors, errors, '');
    for (const chip of $('dt-levels').querySelectorAll('.dt-chip')) {
      const level = chip.querySelector('input').value;
      chipCount(chip, data.console.filter((entry) => rows.chipOf(entry.level) === level).length);
    }
    const [, failedChip, slowChip] = $('dt-statuses').querySelectorAll('.dt-chip');
    chipCount(failedChip, failed);
    chipCount(slowChip, data.network.filter((r) => r.slow).length);
    slowChip.title = 'Requests that took more than ' + data.slow_ms / 1000 + ' s';
    const badge = $('devtools-badge');
    badge.textContent = String(errors + failed);
    badge.hidden = !(errors + failed);
    badge.title = errors + ' errors, ' + failed + ' failed requests';
  }

  function markTimeline() {
    const pin = (kind, ms, title) => {
      const mark = player.mark('dt-mark dt-' + kind, ms, null, title);
      mark.addEventListener('pointerdown', (event) => event.stopPropagation()); // not a drag
      mark.addEventListener('click', () => player.seek(Math.max(0, ms - LEAD_MS), true));
    };
    for (const e of data.errors) {
      pin('error', e.ts - origin, rows.clock(e.ts - origin) + ' ' + e.kind + ': ' + e.message);
    }
    for (const r of data.network.filter(rows.isFailed)) {
      const what = r.method + ' ' + r.url + ' ' + rows.statusText(r);
      pin('request', r.ts - origin, rows.clock(r.ts - origin) + ' ' + what);
    }
  }

  // -- the bug report --

  async function copyReport() {
    const button = $('dt-report');
    const ms = player.now();
    const until = origin + ms;
    const last = (entries) => entries.filter((entry) => entry.ts <= until).slice(-REPORT_LAST);
    let page = data.pages.length ? data.pages[0].url : null;
    for (const shown of data.pages) if (shown.ts <= until) page = shown.url;
    try {
      const report = bugReport.report({
        session: config.session,
        user: config.user,
        userAgent: config.userAgent,
        atMs: ms,
        totalMs: player.totalMs,
        link: await player.linkAt(ms / 1000),
        page: page,
        start: origin,
        errors: last(data.errors),
        requests: last(data.network.filter(rows.isFailed)),
      });
      await bugReport.copyText(report);
      button.textContent = 'Copied';
    } catch (err) {
      button.textContent = 'Could not copy: ' + err.message;
    }
    setTimeout(() => (button.textContent = 'Copy bug report'), 2500);
  }

  // -- wiring --

  function onRowEvent(view, event) {
    const row = event.target.closest('.dt-row');
    if (!row || event.target.closest('.dt-more, .dt-expand')) return;
    if (event.type === 'keydown' && event.key !== 'Enter') return;
    choose(view.items[Number(row.dataset.index)]);
  }

  function debounce(fn) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, 150);
    };
  }

  /** The viewer's choices kept in localStorage ('' where it refuses, as in private mode). */
  function stored(key, value) {
    try {
      if (value === undefined) return localStorage.getItem(key) || '';
      localStorage.setItem(key, value);
    } catch (err) {
      // not kept: the drawer starts as it is by default next time
    }
    return '';
  }

  function resizable() {
    const column = drawer.parentElement;
    const height = (h) => Math.max(150, Math.min(h, column.clientHeight - 300));
    const saved = Number(stored(HEIGHT_KEY));
    if (saved) drawer.style.flexBasis = height(saved) + 'px';
    const handle = $('dt-resize');
    handle.addEventListener('pointerdown', (event) => {
      handle.setPointerCapture(event.pointerId);
      drawer.classList.add('resizing');
    });
    handle.addEventListener('pointermove', (event) => {
      if (!handle.hasPointerCapture(event.pointerId)) return;
      drawer.style.flexBasis = height(column.getBoundingClientRect().bottom - event.clientY) + 'px';
    });
    handle.addEventListener('pointerup', () => {
      drawer.classList.remove('resizing');
      stored(HEIGHT_KEY, String(drawer.getBoundingClientRect().height));
    });
  }

  function wire() {
    $('devtools-toggle').addEventListener('click', () => open(drawer.hidden));
    $('dt-close').addEventListener('click', () => open(false));
    for (const button of drawer.querySelectorAll('.dt-tab')) {
      button.addEventListener('click', () => show(button.dataset.tab));
    }
    $('dt-follow').addEventListener('click', () => follow(true));
    $('dt-report').addEventListener('click', copyReport);
    $('dt-details').addEventListener('click', (event) => {
      if (event.target.closest('[data-close]')) unselect();
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && selected) unselect();
    });
    for (const [name, view] of Object.entries(views)) {
      view.list.addEventListener('click', (event) => onRowEvent(view, event));
      view.list.addEventListener('keydown', (event) => onRowEvent(view, event));
      scroller(view).addEventListener('scroll', () => {
        // A scroll the drawer did not make is the viewer's: stop following.
        const moved = Math.abs(scroller(view).scrollTop - view.scrolledTo) > 2;
        if (following && moved && name === tab) follow(false);
      });
    }
    $('dt-levels').addEventListener('change', () => build('console'));
    $('dt-statuses').addEventListener('change', () => build('network'));
    for (const name of Object.keys(views)) {
      $('dt-' + name + '-text').addEventListener('input', debounce(() => build(name)));
    }
    resizable();
  }

  async function load() {
    const response = await fetch(config.devtoolsUrl, { credentials: 'same-origin' });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || 'the server answered ' + response.status);
    return answer;
  }

  async function begin() {
    player = window.replayPlayer;
    try {
      data = await load();
    } catch (err) {
      say('Could not load: ' + err.message);
      return;
    }
    origin = data.start !== null ? data.start : player.source.start;
    at = player.now();
    say(data.truncated ? 'Long session: only the first 5,000 of each list' : '');
    counts();
    markTimeline();
    for (const name of Object.keys(views)) build(name);
    $('dt-report').disabled = false;
    player.onTime((ms) => {
      at = ms;
      if (!drawer.hidden) sync(tab, false);
    });
    drawer.dataset.ready = 'true';
  }

  $('dt-report').disabled = true;
  wire();
  open(stored(OPEN_KEY) === 'open');
  if (window.replayPlayer) begin();
  else document.addEventListener('replay:ready', begin, { once: true });
})();
