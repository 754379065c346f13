/*
 * A tab's recording session as the recorder keeps it in sessionStorage, so that the
 * next page of the tab continues it with the same sequence numbers: reading it, starting
 * a fresh one, knowing when it has expired (30 minutes idle, 12 hours in all), and saving
 * it with the batches the server has not acknowledged yet, each as an item of its own.
 * Part of recorder.js (recorder-entry.js).
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

  // Each unacknowledged batch is kept as an item of its own beside the state, under
  // `<key>:batch:<run>:<seq>` (`run`: the state's `batches`, drawn anew whenever sequence
  // numbers start over), as "F" and its compressed frame as text (BatchFrames.toText)
  // or, while it is being compressed or where the browser does not compress, "E" and its
  // events' JSON, the text the transport made for the wire. An item is written once in
  // each form and removed once acknowledged: a batch costs the page one write of itself,
  // where rewriting everything kept with each batch cost 25 ms a megabyte in Chromium,
  // every second through an outage. The state lists the batches kept (`kept`).
  const ITEM = ':batch:';
  // What is kept at most, in characters: about half of what a tab's sessionStorage
  // holds (5 million), the rest left to the page. The oldest batches are kept (a later
  // page resends from the first one the server lacks); those past it only in memory.
  const KEEP_CHARS = 2500000;
  // The items this page knows to be in sessionStorage, by state key: item key -> form.
  const inStorage = new Map();

  function itemsOf(key) {
    if (!inStorage.has(key)) inStorage.set(key, new Map());
    return inStorage.get(key);
  }

  /** A kept batch read back, marked `unreadable` if its item is not what was written
   *  (the page's own script wrote over it or removed it). */
  function readItem(name, seq) {
    const text = sessionStorage.getItem(name);
    if (typeof text === 'string' && text[0] === 'F') return readFrame({ seq: seq, frame: text.slice(1) });
    try {
      const events = typeof text === 'string' && text[0] === 'E' ? JSON.parse(text.slice(1)) : null;
      if (Array.isArray(events)) return { seq: seq, events: events };
    } catch (err) {
      // not JSON: unreadable
    }
    return { seq: seq, unreadable: true };
  }

  /** The items under `key` that `known` does not name: left by a page that went while
   *  it saved, or by an earlier run of sequence numbers. */
  function removeStray(key, known) {
    const stray = [];
    for (let i = 0; i < sessionStorage.length; i++) {
      const name = sessionStorage.key(i);
      if (name && name.startsWith(key + ITEM) && !known.has(name)) stray.push(name);
    }
    for (const name of stray) sessionStorage.removeItem(name);
  }

  function read(key) {
    let state;
    try {
      state = JSON.parse(sessionStorage.getItem(key) || 'null');
    } catch (err) {
      return null;
    }
    if (!state || typeof state !== 'object') return null;
    state.gaps = state.gaps || [];
    const items = itemsOf(key);
    items.clear();
    let kept = [];
    if (Array.isArray(state.unacked)) {
      // Kept inline by an older recorder, each batch as {seq, frame} or {seq, events}.
      kept = state.unacked.map((batch) => (typeof batch.frame === 'string'
        ? readFrame(batch) : batch));
      state.batches = randomId();
    } else if (Array.isArray(state.kept) && typeof state.batches === 'string') {
      for (const seq of state.kept) {
        const name = key + ITEM + state.batches + ':' + seq;
        const batch = readItem(name, seq);
        kept.push(batch);
        if (!batch.unreadable) items.set(name, batch.frame ? 'F' : 'E');
      }
    } else {
      state.batches = randomId();
    }
    try {
      removeStray(key, items);
    } catch (err) {
      // storage unavailable: nothing to tidy
    }
    // A batch not kept as written is given up, openly, as a gap.
    state.unacked = kept.filter((batch) => {
      if (!batch.unreadable) return true;
      state.gaps.push({ from: batch.seq, to: batch.seq, reason: 'kept batch unreadable' });
      return false;
    });
    delete state.kept;
    return state;
  }

  /** A batch kept as its frame's text (inline by an older recorder, or as an item),
   *  read back. */
  function readFrame(batch) {
    try {
      batch.bytes = window.ReplayInternals.BatchFrames.fromText(batch.frame);
      return batch;
    } catch (err) {
      return { seq: batch.seq, unreadable: true };
    }
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
      batches: randomId(), // names this run of sequence numbers' kept batches
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

  /** Keeps `state`: each unacknowledged batch not kept yet in its present form as its
   *  item, up to KEEP_CHARS, then the state listing them, then what it no longer lists
   *  is removed (a page that goes in between leaves only strays, removed as read). */
  function save(key, state) {
    const items = itemsOf(key);
    const prefix = key + ITEM + state.batches + ':';
    const kept = [];
    const listed = new Set();
    let chars = 0;
    try {
      for (const batch of state.unacked) {
        const form = batch.frame ? 'F' : 'E';
        if (form === 'E' && !batch.json) batch.json = JSON.stringify(batch.events);
        const text = form === 'F' ? batch.frame : batch.json;
        chars += text.length;
        if (chars > KEEP_CHARS && kept.length) break; // the first is tried, however large
        const name = prefix + batch.seq;
        if (items.get(name) !== form) {
          items.delete(name);
          sessionStorage.setItem(name, form + text);
          items.set(name, form);
        }
        kept.push(batch.seq);
        listed.add(name);
      }
    } catch (err) {
      // Over quota: the batches kept so far stay listed; if this page goes away before
      // the server acknowledges the rest, the server records them as a gap.
    }
    try {
      sessionStorage.setItem(key, JSON.stringify(Object.assign({}, state, { unacked: undefined, kept: kept })));
      for (const name of items.keys()) {
        if (listed.has(name)) continue;
        sessionStorage.removeItem(name);
        items.delete(name);
      }
    } catch (ignored) {
      /* storage unavailable: the session simply ends with this page */
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
      state.batches = randomId();
      state.gaps = [];
      state.nextSeq = 0;
      state.acked = -1;
    }
    return replaced;
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.SessionStore = { read, fresh, expired, save, adopt };
})();
