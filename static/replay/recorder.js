/*
 * Session replay recorder. Embed with one tag:
 *
 *   <script src="https://REPLAY-HOST/static/replay/recorder.js" data-key="PROJECT-KEY"></script>
 *
 * The script finds the server from its own src, loads rrweb and the msgpack codec from
 * there, asks the server for the project's privacy options (GET /ingest/config: masking,
 * blocked and ignored elements, pages where nothing is recorded, consent, sampling, Do
 * Not Track) and records nothing until it has them. It starts rrweb when the server
 * welcomes the session; every welcome repeats the options, and a change starts rrweb
 * over with the new ones. Passwords, card-number and hidden fields are always masked.
 * Batches stream to the server (transport.js). The session lives in sessionStorage, so
 * page loads in this tab continue it, with the same sequence numbers.
 *
 * Optional attributes: data-require-consent (record nothing until replay.consent(true),
 * whatever the project says), data-buffer-bytes (the most unacknowledged data kept while
 * the server cannot store it; default 5 MB, see transport.js). The same options can be
 * set before the tag as window.replayOptions = {requireConsent, bufferBytes}, for tag
 * managers that cannot add attributes; attributes win.
 *
 * API on window.replay: identify(id, traits), track(name, props), consent(bool), stop(),
 * sessionId(), replayUrl(), flush().
 */
(function () {
  'use strict';

  const script = document.currentScript;
  if (!script || (window.replay && window.replay.flush)) return; // no src, or loaded twice

  const SESSION_IDLE_MS = 30 * 60 * 1000;
  const SESSION_MAX_MS = 12 * 60 * 60 * 1000;
  const BATCH_INTERVAL_MS = 1000;
  const BATCH_MAX_EVENTS = 500;
  const BUFFER_BYTES = 5 * 1024 * 1024;

  const src = new URL(script.src, location.href);
  const server = src.origin;
  const key = script.getAttribute('data-key') || '';
  if (!key) {
    console.warn('[replay] the script tag has no data-key attribute; nothing is recorded');
    return;
  }
  const preset = window.replayOptions || {};
  const attribute = (name) => script.getAttribute('data-' + name);
  const pageOptions = {
    requireConsent: attribute('require-consent') !== null || preset.requireConsent === true,
    bufferBytes: Number(attribute('buffer-bytes')) || Number(preset.bufferBytes) || BUFFER_BYTES,
  };
  const storageKey = 'replay:' + key;
  const consentKey = 'replay:consent:' + key;
  // rrweb's list for maskAllInputs, plus hidden fields (rrweb looks options up by type).
  const INPUT_TYPES = [
    'color', 'date', 'datetime-local', 'email', 'month', 'number', 'range', 'search', 'tel',
    'text', 'time', 'url', 'week', 'textarea', 'select', 'password', 'hidden',
  ];
  // Card fields are masked even where inputs are not: rrweb masks a field carrying
  // data-rr-is-password as a password, whatever its type.
  const CARD_NAME = /(^|[^a-z])(cc|card|cvc|cvv|csc)([^a-z]|$)|cardnum|creditcard|cc-?num/i;

  let config = null; // the project's privacy options: GET /ingest/config, then each welcome
  let recordingWith = null; // the options rrweb runs with (JSON), while it runs
  let state = null;
  let transport = null;
  let stopRecording = null;
  let buffer = [];
  let batchTimer = null;
  let lastHref = location.href;
  let cardObserver = null;
  let started = false; // rrweb has run for this session on this page
  const early = []; // identify/track calls made before rrweb started, sent when it does
  // Set from pagehide until the page is shown again (bfcache): a page going away must
  // not touch the session state the next page of this tab is about to use.
  let unloading = false;

  function log(message) {
    if (window.console) console.warn('[replay] ' + message);
  }

  function loadScript(path) {
    return new Promise((resolve, reject) => {
      const tag = document.createElement('script');
      tag.src = new URL(path, src).href;
      tag.async = true;
      tag.onload = resolve;
      tag.onerror = () => reject(new Error('could not load ' + tag.src));
      document.head.appendChild(tag);
    });
  }

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, '');
    let id = '';
    for (let i = 0; i < 32; i++) id += Math.floor(Math.random() * 16).toString(16);
    return id;
  }

  // -- session state, kept in sessionStorage so the next page of this tab continues it --

  function readState() {
    try {
      return JSON.parse(sessionStorage.getItem(storageKey) || 'null');
    } catch (err) {
      return null;
    }
  }

  function freshState(previous) {
    return {
      session: randomId(),
      tab: (previous && previous.tab) || randomId(),
      nextSeq: 0,
      acked: -1,
      unacked: [],
      gaps: [],
      startedAt: null,
      lastActivity: Date.now(),
      user: previous ? previous.user : null,
    };
  }

  function expired(saved, now) {
    return (
      now - saved.lastActivity > SESSION_IDLE_MS ||
      (saved.startedAt !== null && now - saved.startedAt > SESSION_MAX_MS)
    );
  }

  function persist() {
    if (unloading) return;
    const plain = Object.assign({}, state, {
      unacked: state.unacked.map((batch) => ({ seq: batch.seq, events: batch.events })),
    });
    try {
      sessionStorage.setItem(storageKey, JSON.stringify(plain));
    } catch (err) {
      // Over quota: keep the session going without the tail; if this page goes away
      // before the server acknowledges it, the server records the hole as a gap.
      try {
        sessionStorage.setItem(storageKey, JSON.stringify(Object.assign(plain, { unacked: [] })));
      } catch (ignored) {
        /* storage unavailable: the session simply ends with this page */
      }
    }
  }

  function page() {
    return {
      url: location.href,
      referrer: document.referrer,
      viewport: { width: window.innerWidth, height: window.innerHeight },
    };
  }

  // -- the project's privacy options (README, "Privacy options") --

  function fetchConfig(attempt) {
    const url = server + '/ingest/config?key=' + encodeURIComponent(key);
    return fetch(url, { credentials: 'omit' })
      .then((response) => response.json().then((body) => ({ status: response.status, body: body })))
      .then(({ status, body }) => {
        if (status === 200) return body;
        const error = (body && body.error) || {};
        if (error.retry === false) {
          throw Object.assign(new Error(error.reason || 'refused'), { final: true });
        }
        throw new Error('status ' + status);
      })
      .catch((err) => {
        if (err.final) throw err;
        // Nothing is recorded until the options are known: retry with backoff.
        const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
        return new Promise((resolve) => setTimeout(resolve, delay)).then(() => fetchConfig(attempt + 1));
      });
  }

  function doNotTrack() {
    return navigator.doNotTrack === '1' || window.doNotTrack === '1' || navigator.globalPrivacyControl === true;
  }

  function globMatches(pattern, text) {
    const pieces = pattern.split('*');
    if (pieces.length === 1) return pattern === text;
    const first = pieces[0];
    const last = pieces[pieces.length - 1];
    if (!text.startsWith(first) || !text.endsWith(last)) return false;
    let at = first.length;
    const end = text.length - last.length;
    for (const piece of pieces.slice(1, -1)) {
      const found = text.indexOf(piece, at);
      if (found < 0 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return at <= end;
  }

  /** A page where nothing is recorded: patterns with :// match the whole URL, others
   *  the path and query. */
  function excluded(href) {
    const url = new URL(href);
    const local = url.pathname + url.search;
    return (config.excluded_urls || []).some((pattern) =>
      globMatches(pattern, pattern.includes('://') ? url.href : local));
  }

  function selectorsParse() {
    const probe = document.createDocumentFragment();
    for (const selector of [config.block_selector, config.mask_selector, config.ignore_selector]) {
      if (!selector) continue;
      try {
        probe.querySelector(selector);
      } catch (err) {
        return false;
      }
    }
    return true;
  }

  function consented() {
    return sessionStorage.getItem(consentKey) === 'granted';
  }

  /** Why nothing may be recorded in this tab now, or null. */
  function refusal() {
    if (config.respect_dnt && doNotTrack()) return 'the browser asks not to be tracked';
    if ((pageOptions.requireConsent || config.require_consent) && !consented()) return 'no consent yet';
    // A mask that does not apply must not leak what it was for.
    if (!selectorsParse()) return "a selector in the project's options does not parse";
    return null;
  }

  function openTransport() {
    const created = new window.ReplayInternals.Transport({
      wsUrl: server.replace(/^http/, 'ws') + '/ingest/ws',
      batchUrl: server + '/ingest/batch',
      key: key,
      maxBufferBytes: pageOptions.bufferBytes,
      state: state,
      page: page,
      persist: persist,
      // A transport left behind by rotate() only delivers its session's tail.
      onReady: (fresh) => {
        if (transport === created) onReady(fresh);
      },
      resync: () => {
        if (stopRecording && transport === created) window.rrweb.record.takeFullSnapshot(true);
      },
      onStop: (reason, takenOver) => {
        if (unloading || transport !== created) return;
        if (takenOver) {
          // Another tab (a duplicate of this one) continues this session: carry on
          // under a new one.
          rotate();
          return;
        }
        log(reason + '; recording stopped');
        stop();
      },
    });
    transport = created;
    transport.connect();
  }

  /** The server took the session (welcome, with its current options) or batches go
   *  over HTTP (options as fetched): record with those options. */
  function onReady(fresh) {
    if (fresh) config = fresh;
    const why = refusal();
    if (why) {
      log(why + '; recording stopped');
      stop();
      return;
    }
    if (excluded(location.href)) {
      pause();
      return;
    }
    if (stopRecording && JSON.stringify(config) === recordingWith) return;
    // New options (changed in the project): start over with a fresh snapshot.
    stopRecordingOnly();
    capture();
  }

  // -- recording --

  function cutBatch() {
    if (buffer.length && transport) transport.enqueue(buffer.splice(0));
  }

  function isInteraction(event) {
    return event.type === 3 && event.data.source >= 1 && event.data.source <= 5;
  }

  function onEvent(event) {
    if (state.startedAt === null) state.startedAt = event.timestamp;
    if (isInteraction(event)) {
      if (expired(state, Date.now())) {
        setTimeout(rotate, 0);
        return;
      }
      state.lastActivity = Date.now();
    }
    buffer.push(event);
    // A full snapshot is worth sending at once: nothing replays without it.
    if (event.type === 2 || buffer.length >= BATCH_MAX_EVENTS) cutBatch();
  }

  function noteNavigation(kind) {
    if (location.href === lastHref) return;
    lastHref = location.href;
    if (!transport) {
      begin(); // leaving a first page where nothing was recorded
      return;
    }
    if (excluded(location.href)) {
      pause();
    } else if (!stopRecording) {
      if (transport.ready || transport.http) capture(); // leaving a page where nothing is recorded
    } else {
      window.rrweb.record.addCustomEvent('replay/navigation', {
        href: location.href,
        kind: kind,
        title: document.title,
      });
    }
  }

  function watchNavigation() {
    for (const name of ['pushState', 'replaceState']) {
      const original = history[name];
      history[name] = function () {
        const result = original.apply(this, arguments);
        noteNavigation(name);
        return result;
      };
    }
    window.addEventListener('popstate', () => noteNavigation('popstate'));
    window.addEventListener('hashchange', () => noteNavigation('hashchange'));
  }

  function markCardField(element) {
    if (element.tagName !== 'INPUT' || element.hasAttribute('data-rr-is-password')) return;
    const autocomplete = element.getAttribute('autocomplete') || '';
    if (autocomplete.startsWith('cc-') || CARD_NAME.test(element.name || '') || CARD_NAME.test(element.id || '')) {
      element.setAttribute('data-rr-is-password', '');
    }
  }

  function watchCardFields() {
    // Created before rrweb's own observer, so it runs first: a card field added to the
    // page is marked before rrweb serializes it.
    if (cardObserver) return;
    document.querySelectorAll('input').forEach(markCardField);
    cardObserver = new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === 'attributes') markCardField(record.target);
        for (const node of record.addedNodes || []) {
          if (node.nodeType !== 1) continue;
          markCardField(node);
          node.querySelectorAll('input').forEach(markCardField);
        }
      }
    });
    cardObserver.observe(document.documentElement, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ['autocomplete', 'name', 'id'],
    });
  }

  function selectors(own, extra) {
    return extra ? own + ', ' + extra : own;
  }

  function capture() {
    if (stopRecording) return;
    watchCardFields();
    const maskInputOptions = { password: true, hidden: true };
    if (config.mask_all_inputs) for (const type of INPUT_TYPES) maskInputOptions[type] = true;
    recordingWith = JSON.stringify(config);
    started = true;
    stopRecording = window.rrweb.record({
      emit: onEvent,
      maskAllInputs: false, // rrweb's own list leaves hidden fields out: ours is above
      maskInputOptions: maskInputOptions,
      blockSelector: selectors('[data-replay-block]', config.block_selector),
      maskTextSelector: config.mask_all_text ? '*' : selectors('[data-replay-mask]', config.mask_selector),
      ignoreSelector: selectors('[data-replay-ignore]', config.ignore_selector),
      slimDOMOptions: 'all',
      recordCanvas: false,
    });
    for (const [tag, payload] of early.splice(0)) window.rrweb.record.addCustomEvent(tag, payload);
    batchTimer = setInterval(cutBatch, BATCH_INTERVAL_MS);
  }

  /** On a page where nothing is recorded: rrweb stops, the session goes on. */
  function pause() {
    if (!stopRecording) return;
    window.rrweb.record.addCustomEvent('replay/paused', { reason: 'excluded page' });
    stopRecordingOnly();
  }

  /** Start (or continue) this tab's session, if the project's options allow it here;
   *  rrweb starts once the server has said hello back (`onReady`). */
  function begin(previous) {
    if (transport || !config || refusal()) return;
    const saved = previous ? null : readState();
    if (saved && !expired(saved, Date.now())) {
      state = saved;
    } else {
      state = freshState(previous || saved);
      // Drawn once per session: every page of a sampled session is recorded.
      state.sampled = Math.random() < config.sample_rate;
    }
    state.gaps = state.gaps || [];
    persist();
    if (state.sampled === false) return;
    // A first page where nothing is recorded opens no session (an empty one would
    // show in the list); a later one still delivers what earlier pages left unsent.
    if (excluded(location.href) && !state.unacked.length && state.nextSeq === 0) return;
    openTransport();
  }

  function stopRecordingOnly() {
    if (stopRecording) stopRecording();
    stopRecording = null;
    recordingWith = null;
    clearInterval(batchTimer);
    cutBatch();
  }

  function rotate() {
    // 30 minutes idle, 12 hours in all, or taken over by a duplicated tab: the old
    // session ends here and a new one begins, with a fresh full snapshot.
    stopRecordingOnly();
    if (transport) transport.end();
    const previous = state;
    transport = null;
    state = null;
    started = false;
    begin(previous);
  }

  function stop() {
    if (!state) return;
    stopRecordingOnly();
    if (transport) transport.end();
  }

  function onPageHide() {
    if (!transport) return;
    cutBatch();
    persist();
    unloading = true;
    transport.beacon();
  }

  function customEvent(tag, payload) {
    if (stopRecording) window.rrweb.record.addCustomEvent(tag, payload);
    else if (transport && early.length < 100) early.push([tag, payload]);
  }

  const ready = loadScript('vendor/msgpack/msgpack.min.js')
    .then(() => Promise.all([
      loadScript('vendor/rrweb/rrweb.min.js'),
      loadScript('transport.js'),
      fetchConfig(0).then((fetched) => {
        config = fetched;
      }),
    ]))
    .then(() => {
      watchNavigation();
      window.addEventListener('pagehide', onPageHide);
      window.addEventListener('pageshow', (event) => {
        if (event.persisted) unloading = false;
      });
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'hidden') cutBatch();
      });
      begin();
    })
    .catch((err) => log(err.message));

  window.replay = {
    identify(id, traits) {
      return ready.then(() => {
        if (!state) return;
        state.user = String(id);
        persist();
        customEvent('replay/identify', { id: String(id), traits: traits || {} });
      });
    },
    track(name, props) {
      return ready.then(() => customEvent(String(name), props || {}));
    },
    consent(granted) {
      return ready.then(() => {
        sessionStorage.setItem(consentKey, granted ? 'granted' : 'denied');
        if (granted) begin();
        else if (state) {
          stop();
          transport = null;
          state = null;
          started = false;
          sessionStorage.removeItem(storageKey);
        }
      });
    },
    stop() {
      return ready.then(stop);
    },
    sessionId() {
      return started && state ? state.session : null;
    },
    replayUrl() {
      if (!started || !state) return null;
      const seconds = state.startedAt ? Math.max(0, (Date.now() - state.startedAt) / 1000) : 0;
      return server + '/sessions/' + state.session + '?t=' + seconds.toFixed(1);
    },
    flush() {
      return ready.then(() => {
        if (!transport) return undefined;
        cutBatch();
        return transport.whenAcked();
      });
    },
  };
})();
