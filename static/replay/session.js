/*
 * A tab's recording session as the recorder keeps it in sessionStorage, so that the
 * next page of the tab continues it with the same sequence numbers: reading it, starting
 * a fresh one, knowing when it has expired (30 minutes idle, 12 hours in all), and saving
 * it. Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const SESSION_IDLE_MS = 30 * 60 * 1000;
  const SESSION_MAX_MS = 12 * 60 * 60 * 1000;

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, '');
    let id = '';
    for (let i = 0; i < 32; i++) id += Math.floor(Math.random() * 16).toString(16);
    return id;
  }

  function read(key) {
    let state;
    try {
      state = JSON.parse(sessionStorage.getItem(key) || 'null');
    } catch (err) {
      return null;
    }
    if (!state || !Array.isArray(state.unacked)) return state;
    // A batch kept as its frame is read back now: one that is not a frame's text (the
    // page's own script wrote over it) is given up, openly, as a gap.
    state.gaps = state.gaps || [];
    state.unacked = state.unacked.filter((batch) => {
      if (typeof batch.frame !== 'string') return true;
      try {
        batch.bytes = window.ReplayInternals.BatchFrames.fromText(batch.frame);
        return true;
      } catch (err) {
        state.gaps.push({ from: batch.seq, to: batch.seq, reason: 'kept batch unreadable' });
        return false;
      }
    });
    return state;
  }

  function fresh(previous) {
    return {
      // The server names a new session and gives the secret that continues it (the
      // first welcome); until then the id is only this tab's placeholder.
      session: randomId(),
      secret: '',
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

  /** The state as JSON text, its unacknowledged batches as {seq, frame}, the compressed
   *  frame the transport sends, as text (BatchFrames.toText), or, while a batch is being
   *  compressed or where the browser does not compress, as {seq, events} from the JSON of
   *  its events the transport made for the wire (not written out twice). */
  function stateText(state, unacked) {
    const rest = JSON.stringify(Object.assign({}, state, { unacked: undefined }));
    const batches = unacked.map((batch) => {
      if (batch.frame) return '{"seq":' + batch.seq + ',"frame":"' + batch.frame + '"}';
      batch.json = batch.json || JSON.stringify(batch.events);
      return '{"seq":' + batch.seq + ',"events":' + batch.json + '}';
    });
    const open = rest === '{}' ? '{' : rest.slice(0, -1) + ',';
    return open + '"unacked":[' + batches.join(',') + ']}';
  }

  function save(key, state) {
    try {
      sessionStorage.setItem(key, stateText(state, state.unacked));
    } catch (err) {
      // Over quota: keep the session going without the tail; if this page goes away
      // before the server acknowledges it, the server records the hole as a gap.
      try {
        sessionStorage.setItem(key, stateText(state, []));
      } catch (ignored) {
        /* storage unavailable: the session simply ends with this page */
      }
    }
  }

  /**
   * The server's answer names the session this tab records into. A different one than
   * `state` holds is a new session (the tab's first, or one the server started because
   * it could not continue ours, deleted meanwhile): keep its secret, the only thing
   * that lets a later page of this tab continue it. Returns null when nothing changed,
   * else whether it replaced a session this tab had recorded into.
   */
  function adopt(state, session, secret, overHttp) {
    if (!session || session === state.session) return null;
    const replaced = state.nextSeq > 0;
    state.session = session;
    state.secret = secret || '';
    state.startedAt = null;
    if (replaced && !overHttp) {
      // What was numbered for the old session cannot join the new one, which starts
      // empty, from a fresh snapshot. (Over HTTP the answer already stored the batch
      // posted into the new session; numbering goes on.)
      state.unacked = [];
      state.gaps = [];
      state.nextSeq = 0;
      state.acked = -1;
    }
    return replaced;
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.SessionStore = { read, fresh, expired, save, adopt };
})();
