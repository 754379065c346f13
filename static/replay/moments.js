/*
 * The player's moments: the session's event-tracking records (GET .../tracked) as marks
 * on the timeline (friction in red; errors are the devtools drawer's) and as a list beside
 * the replay.
 * Choosing a moment plays it from a second before; every moment also has its own ?t=
 * link. "Only friction" keeps the list to friction and, while playing, jumps from one
 * friction moment to the next, playing each for a few seconds. Loaded after player.js.
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('player-config').textContent);
  const $ = (id) => document.getElementById(id);
  const LEAD_MS = 1000; // a moment is shown from this long before it
  const WATCH_MS = 4000; // and, in "only friction" mode, this long after it
  const SHOWN = new Set(['friction', 'error', 'network', 'custom', 'pageview', 'click', 'identify']);
  const LABELS = {
    pageview: 'Page view',
    click: 'Click',
    custom: 'Event',
    identify: 'Identified',
    error: 'Error',
    network: 'Request',
  };

  let moments = [];
  let watching = null; // in "only friction" mode: the moment being played

  function clock(ms) {
    const seconds = Math.max(0, Math.floor(ms / 1000));
    return Math.floor(seconds / 60) + ':' + String(seconds % 60).padStart(2, '0');
  }

  function label(record) {
    if (record.kind === 'friction') {
      const name = record.name.replace(/_/g, ' ');
      return name.charAt(0).toUpperCase() + name.slice(1);
    }
    return LABELS[record.kind] || record.kind;
  }

  function detail(record) {
    if (record.kind === 'pageview') return record.url;
    if (record.kind === 'error' || record.kind === 'custom') return record.name;
    if (record.kind === 'identify') return record.data.user || '';
    if (record.kind === 'network') {
      const why = record.data.reason === 'slow' ? record.data.duration_ms + ' ms' : record.name;
      return record.data.method + ' ' + record.data.url + ' (' + why + ')';
    }
    const text = record.text ? ' “' + record.text + '”' : '';
    return (record.selector || '') + text;
  }

  function render() {
    const only = $('only-friction').checked;
    const list = $('moments');
    list.textContent = '';
    const shown = moments.filter((m) => (only ? m.kind === 'friction' : SHOWN.has(m.kind)));
    $('moments-note').textContent = shown.length ? '' : only ? 'No friction found.' : 'Nothing recorded yet.';
    $('moments-note').hidden = shown.length > 0;
    for (const record of shown) {
      const item = document.createElement('li');
      item.className = 'moment ' + record.kind;
      const link = document.createElement('a');
      link.href = record.link; // ?t= a second before: works opened in a new tab too
      link.dataset.ms = String(record.t * 1000);
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = clock(record.t * 1000);
      const what = document.createElement('span');
      what.className = 'what';
      what.textContent = label(record); // text, never markup: records come from pages
      const about = document.createElement('span');
      about.className = 'about';
      about.textContent = detail(record);
      link.append(when, what, about);
      link.addEventListener('click', (event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey) return; // a new tab
        event.preventDefault();
        watching = record.kind === 'friction' ? record : null;
        window.replayPlayer.seek(record.t * 1000 - LEAD_MS, true);
      });
      item.append(link);
      list.append(item);
    }
  }

  function markTimeline() {
    const player = window.replayPlayer;
    for (const record of moments) {
      // (Errors and failed requests are marked by the devtools drawer, devtools.js.)
      if (record.kind !== 'friction') continue;
      const title = clock(record.t * 1000) + ' ' + label(record) + ' ' + detail(record);
      player.mark('moment ' + record.kind, record.t * 1000, null, title);
    }
  }

  // "Only friction" while playing: after a moment has played, go to the next one.
  function follow() {
    const player = window.replayPlayer;
    if ($('only-friction').checked && player.playing()) {
      const at = player.now();
      const friction = moments.filter((m) => m.kind === 'friction');
      const current = watching || friction.find((m) => m.t * 1000 + WATCH_MS > at) || null;
      if (current && at >= current.t * 1000 + WATCH_MS) {
        const next = friction.find((m) => m.t * 1000 > current.t * 1000 + WATCH_MS - LEAD_MS);
        watching = next || null;
        if (next) player.seek(next.t * 1000 - LEAD_MS, true);
        else player.seek(at, false);
      } else if (current && at < current.t * 1000 - LEAD_MS - 500) {
        watching = current;
        player.seek(current.t * 1000 - LEAD_MS, true);
      }
    }
    setTimeout(follow, 250);
  }

  // The list comes in pages, after the first frame, of the kinds it shows only (a long
  // session's inputs and scrolls outnumber the rest): the first page is shown as soon as
  // it arrives, the others as they follow.
  const PAGE = 1000;

  async function page(url) {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) throw new Error('status ' + response.status);
    return response.json();
  }

  async function start() {
    const first = new URL(config.trackedUrl, location.href);
    first.searchParams.set('kind', Array.from(SHOWN).join(','));
    first.searchParams.set('limit', String(PAGE));
    let next = first.href;
    let failed = null;
    moments = [];
    try {
      while (next) {
        const body = await page(next);
        moments = moments.concat(body.records);
        if (!body.complete) $('moments-note').dataset.partial = 'true';
        // The next page's path, on this page's origin (as a proxy in front may not say).
        next = body.next ? new URL(body.next).pathname + new URL(body.next).search : null;
        if (next) render();
      }
    } catch (err) {
      failed = 'Could not load the moments: ' + err.message;
    }
    if (moments.length || !failed) render();
    if (failed) {
      $('moments-note').textContent = failed + (moments.length ? ' (the first are shown)' : '');
      $('moments-note').hidden = false;
      if (!moments.length) return;
    }
    markTimeline();
    $('only-friction').addEventListener('change', () => {
      watching = null;
      render();
    });
    document.getElementById('moments').dataset.ready = 'true';
    follow();
  }

  if (!config.trackedUrl) return; // a public share link shows the replay only
  if (window.replayPlayer) start();
  else document.addEventListener('replay:ready', start, { once: true });
})();
