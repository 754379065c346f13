/*
 * The player page. rrweb's Replayer rebuilds the recorded page inside an iframe
 * sandboxed with only allow-same-origin (recorded scripts never run); our controls sit
 * around it: play/pause, speed, skip inactivity, a timeline with page loads and gaps
 * marked, and links that open the session at a moment (?t= seconds from the start).
 *
 * Events come from source.js: a moment opens from the keyframe before it and the
 * segments after that keyframe. Seeking forward within reach adds segments to the
 * running Replayer; seeking backward before its first event, or far ahead past a newer
 * keyframe, starts a new Replayer from the right keyframe (and drops the old one).
 * During long play the running Replayer lets go of events far behind the playhead: its
 * event list restarts from a later keyframe, so memory stays flat however long it plays.
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('player-config').textContent);
  const { SessionSource, AHEAD_MS } = window.ReplayInternals;
  const $ = (id) => document.getElementById(id);
  const stage = $('stage');
  const message = $('stage-message');
  const playButton = $('play');
  const timeline = $('timeline');
  // Jumping further than this past the running Replayer's start, with a newer keyframe
  // in between, is cheaper from that keyframe than by applying every event on the way.
  const REBUILD_AFTER_MS = 20000;

  let source = null;
  let replayer = null;
  let base = 0; // timestamp the running Replayer starts at
  let totalMs = 0;
  let loading = null;
  let trimming = null;
  let pages = []; // [{at: ms from start, href}]
  let frameSize = { width: 1024, height: 768 };
  const watchers = []; // called with the playhead after every render (devtools.js)

  function clock(ms) {
    const seconds = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, '0');
    return h ? h + ':' + String(m).padStart(2, '0') + ':' + s : m + ':' + s;
  }

  function say(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function isPlaying() {
    return replayer && replayer.service.state.matches('playing');
  }

  /** The playhead, in ms from the session's start. */
  function now() {
    if (!replayer) return 0;
    return Math.min(totalMs, Math.max(0, base - source.start + replayer.getCurrentTime()));
  }

  function notePages(events) {
    for (const event of events) {
      let href = null;
      if (event.type === 4) href = event.data.href;
      else if (event.type === 5 && event.data.tag === 'replay/navigation' && event.data.payload) {
        href = event.data.payload.href;
      }
      if (href) pages.push({ at: event.timestamp - source.start, href: href });
    }
    pages.sort((a, b) => a.at - b.at);
  }

  function build(events) {
    if (replayer) replayer.destroy();
    stage.querySelectorAll('.replayer-wrapper').forEach((node) => node.remove());
    replayer = new rrweb.Replayer(events, {
      root: stage,
      skipInactive: $('skip').checked,
      speed: Number($('speed').value),
      showWarning: false,
      mouseTail: { strokeStyle: 'rgba(239, 68, 68, 0.6)', lineWidth: 2 },
    });
    base = replayer.getMetaData().startTime;
    replayer.on('resize', (size) => {
      frameSize = size;
      fit();
    });
    replayer.on('finish', () => {
      // The end of what is loaded, not necessarily of the session.
      if (!source.complete) extend(source.loadedUntil + AHEAD_MS).then(() => replayer.play(replayer.getCurrentTime()));
      render();
    });
    const meta = events.find((e) => e.type === 4);
    if (meta) frameSize = { width: meta.data.width, height: meta.data.height };
    fit();
  }

  /** Load segments up to `until` into the running Replayer. */
  function extend(until) {
    if (loading || source.complete || source.loadedUntil >= until) return loading || Promise.resolve();
    loading = source
      .more(until)
      .then((events) => {
        notePages(events);
        for (const event of events) replayer.addEvent(event);
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  /** While playing, restart the Replayer's event list from the latest keyframe (or page
   *  load) more than KEEP_BEHIND_MS behind the playhead, once there is one. The page on
   *  screen is already past it, so nothing visible changes; seeking back within what is
   *  kept starts from that keyframe, and further back opens a new Replayer. */
  function trim() {
    const keep = window.ReplayInternals.KEEP_BEHIND_MS;
    if (trimming || loading || !isPlaying()) return;
    const at = source.start + now() - keep;
    if (at - source.headAt < keep) return;
    const running = replayer;
    trimming = source
      .trim(at)
      .then((events) => {
        // An extend() in flight would add its events twice: leave it to the next try.
        if (!events || replayer !== running || loading) return;
        events.sort((a, b) => a.timestamp - b.timestamp);
        const held = replayer.service.state.context.events;
        held.length = 0;
        for (const event of events) held.push(event);
        base = held[0].timestamp;
      })
      .catch(() => {}) // keep everything; the next try may succeed
      .finally(() => {
        trimming = null;
      });
  }

  async function seek(ms, play) {
    // The end is just past the last event, which the Replayer shows only once passed.
    const at = source.start + (ms >= totalMs ? totalMs + 1 : Math.max(0, ms));
    const frame = source.keyframeBefore(at);
    const loaded = source.snapshotBefore(at);
    const frameAt = Math.max(
      frame ? frame.timestamp : source.start,
      loaded >= 0 ? source.snapshotAt(source.segments[loaded]) : source.start
    );
    if (!replayer || at < base || frameAt > base + REBUILD_AFTER_MS) {
      if (loading) await loading;
      const events = await source.open(at);
      notePages(events);
      build(events);
    } else {
      await extend(at + AHEAD_MS);
    }
    if (play) replayer.play(at - base);
    else replayer.pause(at - base);
    render();
  }

  function toggle() {
    if (!replayer) return;
    if (isPlaying()) replayer.pause();
    else seek(now() >= totalMs ? 0 : now(), true);
    render();
  }

  function fit() {
    const wrapper = stage.querySelector('.replayer-wrapper');
    if (!wrapper) return;
    const scale = Math.min(stage.clientWidth / frameSize.width, stage.clientHeight / frameSize.height, 1);
    wrapper.style.transform = 'scale(' + scale + ')';
    wrapper.style.left = (stage.clientWidth - frameSize.width * scale) / 2 + 'px';
    wrapper.style.top = (stage.clientHeight - frameSize.height * scale) / 2 + 'px';
  }

  function render() {
    const at = now();
    const fraction = totalMs ? at / totalMs : 0;
    $('time-current').textContent = clock(at);
    $('timeline-fill').style.width = fraction * 100 + '%';
    $('timeline-thumb').style.left = fraction * 100 + '%';
    timeline.setAttribute('aria-valuenow', String(Math.round(at / 1000)));
    const playing = isPlaying();
    playButton.textContent = playing ? '❚❚' : '▶';
    playButton.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    let shown = null;
    for (const page of pages) if (page.at <= at) shown = page.href;
    if (shown) $('current-url').textContent = shown;
    for (const watcher of watchers) watcher(at);
  }

  function loop() {
    render();
    // Keep the next segments loaded ahead of a playing Replayer.
    if (isPlaying() && source.start + now() > source.loadedUntil - AHEAD_MS / 2) extend(source.start + now() + AHEAD_MS);
    trim();
    requestAnimationFrame(loop);
  }

  function mark(className, startMs, endMs, title) {
    const band = document.createElement('span');
    band.className = 'mark ' + className;
    band.style.left = (totalMs ? (startMs / totalMs) * 100 : 0) + '%';
    if (endMs !== null) band.style.width = Math.max(0.4, totalMs ? ((endMs - startMs) / totalMs) * 100 : 0) + '%';
    band.title = title;
    $('timeline-marks').appendChild(band);
    return band;
  }

  function markTimeline() {
    // Page loads (segments holding a real full snapshot) and gaps (README: completeness).
    for (const segment of source.segments) {
      if (segment.keyframe && segment.first_ts !== null) {
        const at = segment.first_ts - source.start;
        mark('page-load', at, null, clock(at) + ' page load');
      }
    }
    for (const gap of config.gaps) {
      if (gap.start_offset_ms === null) continue;
      const start = Math.max(0, gap.start_offset_ms);
      const end = gap.end_offset_ms === null ? totalMs : gap.end_offset_ms;
      const detail = gap.detail ? ' (' + gap.detail + ')' : '';
      mark('gap', start, end, 'Missing ' + clock(start) + '–' + clock(end) + ': ' + gap.label + detail);
    }
  }

  function timelineMs(clientX) {
    const box = timeline.getBoundingClientRect();
    return ((clientX - box.left) / box.width) * totalMs;
  }

  async function postShare(body) {
    // The server hands out links, and its audit log notes who shared what.
    const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || '';
    const shared = await fetch(config.shareUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
      body: JSON.stringify(body),
    });
    if (!shared.ok) throw new Error('share refused: ' + shared.status);
    return (await shared.json()).url;
  }

  function flash(id, text, back) {
    $(id).textContent = text;
    setTimeout(() => ($(id).textContent = back), 2500);
  }

  function wireSharing() {
    $('copy-link').addEventListener('click', async () => {
      const url = new URL(location.href);
      url.searchParams.set('t', (now() / 1000).toFixed(1));
      history.replaceState(null, '', url);
      try {
        await navigator.clipboard.writeText(await postShare({ t: now() / 1000 }));
        flash('copy-link', 'Link copied', 'Copy link at this moment');
      } catch (err) {
        flash('copy-link', 'Link in the address bar', 'Copy link at this moment');
      }
    });
    if (!$('share-moment')) return; // public links are not this viewer's to make
    $('share-moment').addEventListener('click', async () => {
      // The half minute around the playhead, for anyone holding the link (7 days).
      const at = now() / 1000;
      const start = Math.max(0, at - 15);
      try {
        const url = await postShare({ start: start, end: Math.max(at + 15, start + 1) });
        $('share-moment').dataset.url = url;
        $('share-moment').title = url;
        try {
          await navigator.clipboard.writeText(url);
          flash('share-moment', 'Public link copied', 'Share this moment');
        } catch (err) {
          flash('share-moment', 'Link: see the tooltip', 'Share this moment');
        }
      } catch (err) {
        flash('share-moment', 'Could not share: ' + err.message, 'Share this moment');
      }
    });
  }

  function wireControls() {
    playButton.disabled = false;
    playButton.addEventListener('click', toggle);
    $('speed').addEventListener('change', (e) => replayer.setConfig({ speed: Number(e.target.value) }));
    $('skip').addEventListener('change', (e) => replayer.setConfig({ skipInactive: e.target.checked }));
    let dragging = false;
    let resume = false;
    timeline.addEventListener('pointerdown', (e) => {
      dragging = true;
      resume = isPlaying();
      timeline.setPointerCapture(e.pointerId);
    });
    timeline.addEventListener('pointerup', (e) => {
      if (!dragging) return;
      dragging = false;
      seek(timelineMs(e.clientX), resume);
    });
    document.addEventListener('keydown', (e) => {
      if (e.target.closest('input, select, textarea')) return;
      if (e.key === ' ') {
        e.preventDefault();
        toggle();
      } else if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        seek(now() + (e.key === 'ArrowRight' ? 5000 : -5000), isPlaying());
      }
    });
    if (config.shareUrl) wireSharing(); // not on a public share link
    new ResizeObserver(fit).observe(stage); // the window, or a drawer opened beside it
  }

  async function start() {
    const began = performance.now();
    try {
      source = await new SessionSource(config.manifestUrl).init();
    } catch (err) {
      say('Could not load the recording: ' + err.message);
      return;
    }
    if (!source.segments.length || source.start === null) {
      say('Nothing to replay yet: this session has no events stored.');
      return;
    }
    totalMs = source.end - source.start;
    $('time-total').textContent = clock(totalMs);
    timeline.setAttribute('aria-valuemax', String(Math.round(totalMs / 1000)));
    markTimeline();
    try {
      await seek(config.start !== null ? config.start * 1000 : 0, config.start === null);
    } catch (err) {
      say('Could not load the recording: ' + err.message);
      return;
    }
    say('');
    wireControls();
    stage.dataset.ready = 'true';
    // For moments.js and devtools.js (the playhead, seeking, marks, links), and for tests
    // and benchmarks: what was loaded, and how long opening took.
    window.replayPlayer = {
      source: source,
      seek: seek,
      now: now,
      openedMs: performance.now() - began,
      held: () => replayer.service.state.context.events,
      playing: isPlaying,
      totalMs: totalMs,
      mark: mark,
      onTime: (watcher) => watchers.push(watcher),
      linkAt: (seconds) => postShare({ t: seconds }), // what "Copy link at this moment" copies
    };
    document.dispatchEvent(new CustomEvent('replay:ready'));
    loop();
  }

  start();
})();
