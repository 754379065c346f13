/*
 * The player page: loads a session's events and plays them with rrweb's Replayer,
 * which rebuilds the recorded page inside an iframe sandboxed with only
 * allow-same-origin (recorded scripts never run). Our own controls sit around it:
 * play/pause, speed, skip inactivity, a timeline with page loads marked, and links
 * that open the session at a moment (?t= seconds from the start).
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('player-config').textContent);
  const $ = (id) => document.getElementById(id);
  const stage = $('stage');
  const message = $('stage-message');
  const playButton = $('play');
  const timeline = $('timeline');

  let replayer = null;
  let totalMs = 0;
  let pages = []; // [{at: ms from start, href}]
  let frameSize = { width: 1024, height: 768 };

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

  function now() {
    return replayer ? Math.min(totalMs, Math.max(0, replayer.getCurrentTime())) : 0;
  }

  function seek(ms, play) {
    const target = Math.min(totalMs, Math.max(0, ms));
    if (play) replayer.play(target);
    else replayer.pause(target);
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
  }

  function loop() {
    render();
    requestAnimationFrame(loop);
  }

  function collectPages(events, start) {
    for (const event of events) {
      let href = null;
      if (event.type === 4) href = event.data.href;
      else if (event.type === 5 && event.data.tag === 'replay/navigation' && event.data.payload) {
        href = event.data.payload.href;
      }
      if (href) pages.push({ at: event.timestamp - start, href: href });
    }
    const marks = $('timeline-marks');
    for (const page of pages) {
      const tick = document.createElement('span');
      tick.className = 'mark page-load';
      tick.style.left = (totalMs ? (page.at / totalMs) * 100 : 0) + '%';
      tick.title = clock(page.at) + ' ' + page.href;
      marks.appendChild(tick);
    }
  }

  function markGaps() {
    // Parts the server knows are missing, with their reason (README: completeness).
    const marks = $('timeline-marks');
    for (const gap of config.gaps) {
      if (gap.start_offset_ms === null) continue;
      const start = Math.max(0, gap.start_offset_ms);
      const end = gap.end_offset_ms === null ? totalMs : gap.end_offset_ms;
      const band = document.createElement('span');
      band.className = 'mark gap';
      band.style.left = (totalMs ? (start / totalMs) * 100 : 0) + '%';
      band.style.width = Math.max(0.4, totalMs ? ((end - start) / totalMs) * 100 : 0) + '%';
      band.title = 'Missing ' + clock(start) + '–' + clock(end) + ': ' + gap.label + (gap.detail ? ' (' + gap.detail + ')' : '');
      marks.appendChild(band);
    }
  }

  function timelineMs(clientX) {
    const box = timeline.getBoundingClientRect();
    return ((clientX - box.left) / box.width) * totalMs;
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
      seek(timelineMs(e.clientX), false);
    });
    timeline.addEventListener('pointermove', (e) => {
      if (dragging) seek(timelineMs(e.clientX), false);
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
    $('copy-link').addEventListener('click', async () => {
      const url = new URL(location.href);
      url.searchParams.set('t', (now() / 1000).toFixed(1));
      history.replaceState(null, '', url);
      try {
        await navigator.clipboard.writeText(url.href);
        $('copy-link').textContent = 'Link copied';
      } catch (err) {
        $('copy-link').textContent = 'Link in the address bar';
      }
      setTimeout(() => ($('copy-link').textContent = 'Copy link at this moment'), 2000);
    });
    window.addEventListener('resize', fit);
  }

  async function start() {
    let events;
    try {
      const response = await fetch(config.eventsUrl, { credentials: 'same-origin' });
      if (!response.ok) throw new Error('the server answered ' + response.status);
      events = await response.json();
    } catch (err) {
      say('Could not load the recording: ' + err.message);
      return;
    }
    if (events.length < 2 || !events.some((e) => e.type === 2)) {
      say('Nothing to replay yet: this session has no full page snapshot stored.');
      return;
    }
    replayer = new rrweb.Replayer(events, {
      root: stage,
      skipInactive: true,
      showWarning: false,
      mouseTail: { strokeStyle: 'rgba(239, 68, 68, 0.6)', lineWidth: 2 },
    });
    const meta = replayer.getMetaData();
    totalMs = meta.totalTime;
    $('time-total').textContent = clock(totalMs);
    timeline.setAttribute('aria-valuemax', String(Math.round(totalMs / 1000)));
    collectPages(events, meta.startTime);
    markGaps();
    replayer.on('resize', (size) => {
      frameSize = size;
      fit();
    });
    replayer.on('finish', render);
    say('');
    wireControls();
    const firstMeta = events.find((e) => e.type === 4);
    if (firstMeta) frameSize = { width: firstMeta.data.width, height: firstMeta.data.height };
    fit();
    if (config.start !== null) seek(config.start * 1000, false);
    else seek(0, true);
    stage.dataset.ready = 'true';
    loop();
  }

  start();
})();
