/*
 * Session replay recorder. Embed with one tag:
 *
 *   <script src="https://REPLAY-HOST/static/replay/recorder.js" data-key="PROJECT-KEY"></script>
 *
 * recorder.js is one file, built from this one, rrweb's recording side, the msgpack codec
 * and the modules named below (recorder-entry.js says how; `make` builds it). The script
 * finds the server from its own src and asks it for the project's privacy options
 * (privacy.js, GET /ingest/config: masking, blocked and ignored elements, pages where
 * nothing is recorded, consent, sampling, Do Not Track): the page downloads these two and
 * nothing else. It records nothing until it has the options, and starts rrweb when the
 * server welcomes the session; every welcome repeats the options, and a change starts
 * rrweb over with the new ones. Passwords, card-number and hidden fields are always
 * masked. Unless the project says otherwise, the page's console and requests are
 * recorded too, as rrweb plugin events (console.js, network.js; never credential
 * headers, and bodies only when the project asks). Events go in batches (batches.js)
 * that stream to the server (transport.js). The session lives in sessionStorage, so page loads in this tab continue
 * it, with the same sequence numbers.
 *
 * Optional attributes: data-require-consent (record nothing until replay.consent(true),
 * whatever the project says), data-buffer-bytes (the most unacknowledged data kept while
 * the server cannot store it; default 5 MB, see transport.js). The same options can be
 * set before the tag as window.replayOptions = {requireConsent, bufferBytes}, for tag
 * managers that cannot add attributes; attributes win.
 *
 * API on window.replay: identify(id, traits), track(name, props), experiment(name,
 * variant), consent(bool), stop(), sessionId(), replayUrl(), flush().
 */
(function () {
  'use strict';

  const script = document.currentScript;
  if (!script || (window.replay && window.replay.flush)) return; // no src, or loaded twice

  // Elements the page listens to for clicks, from now on (listeners.js).
  const listened = window.ReplayInternals.noteClickListeners();

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
  let config = null; // the project's privacy options: GET /ingest/config, then each welcome
  let recordingWith = null; // the options rrweb runs with (JSON), while it runs
  let state = null;
  let transport = null;
  let stopRecording = null;
  const batches = window.ReplayInternals.batches(() => transport); // batches.js
  let started = false; // rrweb has run for this session on this page
  let pageRecorded = false; // rrweb has run on this page (for any session)
  const early = []; // identify/track calls made before rrweb started, sent when it does
  // Set from pagehide until the page is shown again (bfcache): a page going away must
  // not touch the session state the next page of this tab is about to use.
  let unloading = false;

  function log(message) {
    if (window.console) console.warn('[replay] ' + message);
  }

  // -- session state (session.js), kept so the next page of this tab continues it --

  const store = () => window.ReplayInternals.SessionStore;
  const readState = () => store().read(storageKey);
  const freshState = (previous) => store().fresh(previous);
  const expired = (saved, now) => store().expired(saved, now);

  function persist() {
    if (!unloading) store().save(storageKey, state);
  }

  function page() {
    return {
      url: location.href,
      referrer: document.referrer,
      viewport: { width: window.innerWidth, height: window.innerHeight },
    };
  }

  // -- the project's privacy options (privacy.js) --

  function consented() {
    return sessionStorage.getItem(consentKey) === 'granted';
  }

  /** Why nothing may be recorded in this tab now, or null. */
  function refusal() {
    const needsConsent = pageOptions.requireConsent || config.require_consent;
    return window.ReplayInternals.Privacy.refusal(config, needsConsent && !consented());
  }

  function excluded(href) {
    return window.ReplayInternals.Privacy.excluded(config, href);
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
    batches.add(event);
  }

  /** The page moved within itself (navigation.js). */
  function noteNavigation(kind) {
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
        height: document.documentElement.scrollHeight,
      });
    }
  }

  function capture() {
    if (stopRecording) return;
    const privacy = window.ReplayInternals.Privacy;
    privacy.watchCardFields();
    window.ReplayInternals.Credentials.configure(config.credential_fields);
    recordingWith = JSON.stringify(config);
    started = true;
    const internals = window.ReplayInternals;
    const plugins = [internals.consolePlugin(config), internals.networkPlugin(config, server)];
    stopRecording = window.rrweb.record(Object.assign(privacy.recordOptions(config), {
      emit: onEvent,
      slimDOMOptions: 'all',
      recordCanvas: false,
      userTriggeredOnInput: true, // what the page's own script sets is not the user's input
      plugins: plugins.filter(Boolean), // what of the console and network the project captures
    }));
    // Listened to again, after the plugins' own listeners (a page's listeners run in the
    // order they were added): the plugins send what they hold before the batch is cut.
    window.removeEventListener('pagehide', onPageHide);
    window.addEventListener('pagehide', onPageHide);
    document.removeEventListener('visibilitychange', onHidden);
    document.addEventListener('visibilitychange', onHidden);
    // The page view's context, which rrweb's Meta does not carry; `load` tells a page load
    // from rrweb starting over on the same page.
    window.rrweb.record.addCustomEvent('replay/page', {
      referrer: document.referrer,
      title: document.title,
      height: document.documentElement.scrollHeight, // for scroll depth as a share
      load: !pageRecorded,
    });
    pageRecorded = true;
    for (const [tag, payload] of early.splice(0)) window.rrweb.record.addCustomEvent(tag, payload);
    batches.start();
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
    batches.stop();
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

  /** Recording, into a session the server has named (its first answer gave the secret;
   *  a session of an older recorder has none and was named long ago). */
  function named() {
    return started && state !== null && state.secret !== '';
  }

  function stop() {
    if (!state) return;
    stopRecordingOnly();
    if (transport) transport.end();
  }

  // A hidden tab may be discarded without pagehide (mobile browsers do): cut and keep
  // now (the batch as its events, as it cannot wait to be compressed).
  function onHidden() {
    if (document.visibilityState !== 'hidden') return;
    batches.cut();
    persist();
  }

  function onPageHide() {
    if (!transport) return;
    batches.cut();
    persist();
    unloading = true;
    transport.beacon();
  }

  function customEvent(tag, payload) {
    if (stopRecording) window.rrweb.record.addCustomEvent(tag, payload);
    else if (transport && early.length < 100) early.push([tag, payload]);
  }

  const ready = window.ReplayInternals.Privacy.fetchConfig(server, key)
    .then((fetched) => {
      config = fetched;
    })
    .then(() => {
      window.ReplayInternals.watchNavigation(noteNavigation);
      window.ReplayInternals.watchErrors((payload) => customEvent('replay/error', payload));
      const note = (tag) => (payload) => customEvent(tag, payload);
      window.ReplayInternals.watchClickListeners(listened, note('replay/clickable'));
      window.ReplayInternals.watchClickPositions(note('replay/click'));
      window.ReplayInternals.watchScrolling(note('replay/scroller'));
      window.addEventListener('pagehide', onPageHide);
      window.addEventListener('pageshow', (event) => {
        if (event.persisted) unloading = false;
      });
      document.addEventListener('visibilitychange', onHidden);
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
    experiment(name, variant) {
      return this.track('$exposure', { experiment: String(name), variant: String(variant) });
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
      return named() ? state.session : null;
    },
    replayUrl() {
      if (!named()) return null;
      const seconds = state.startedAt ? Math.max(0, (Date.now() - state.startedAt) / 1000) : 0;
      return server + '/sessions/' + state.session + '?t=' + seconds.toFixed(1);
    },
    flush() {
      return ready.then(() => {
        if (!transport) return undefined;
        batches.cut();
        return transport.whenAcked();
      });
    },
  };
})();
