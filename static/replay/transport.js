/*
 * Transport for one recording session: protocol v1 over a WebSocket, with the HTTP
 * batch endpoint as the pagehide path (sendBeacon) and the fallback (both in http.js);
 * frames.js packs the frames. Part of recorder.js (recorder-entry.js).
 *
 * Guarantees: every batch gets the next sequence number and stays in `state.unacked`
 * (mirrored to sessionStorage through `persist`) until the server acknowledges it as
 * durably stored. After a reconnect the server's `welcome` says what it holds, and
 * everything above that is sent again; the server stores each sequence number once.
 * Batches the recorder has to give up on are announced with a `gap` frame.
 *
 * Where WebSockets never open (a proxy or firewall that blocks them), the transport
 * falls back to posting each batch to the HTTP endpoint after three failed attempts;
 * the guarantees are the same, the server answers each post with what it holds.
 *
 * The unacknowledged tail is bounded (options.maxBufferBytes of encoded batches): while
 * the server cannot store (4503, offline), new batches beyond the bound are dropped and
 * reported as a gap, and once the server holds everything kept the recorder takes a
 * fresh full snapshot (options.resync) so that what follows the gap replays correctly.
 */
(function () {
  'use strict';

  const { encode, ENCODING, plainFrame, compressed, toText, fromText } = window.ReplayInternals.BatchFrames;
  const utf8 = new TextEncoder();

  // Close codes after which reconnecting cannot help (see README, "Close codes"); the
  // server also says so with `retry: false` in its error frame.
  const FATAL = new Set([4401, 4403, 4409]);
  // The server refused a frame itself: sending the same batch again would loop.
  const REJECTED = new Set([4400, 4413]);
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  // WebSocket attempts that never opened before batches go over plain HTTP instead.
  const HTTP_AFTER_FAILED_OPENS = 3;

  class Transport {
    /**
     * options: wsUrl, batchUrl, key, maxBufferBytes,
     *   state: {session, tab, nextSeq, acked, unacked: [{seq, events} or {seq, frame}],
     *     gaps: [], user},
     *   page(): {url, referrer, viewport}, persist(), resync(),
     *   onReady(config): the server took the session (its privacy options, from the
     *     welcome) or batches go over HTTP (null),
     *   onStop(reason, takenOver): the server will not take more on this session
     */
    constructor(options) {
      this.options = options;
      this.state = options.state;
      this.state.gaps = this.state.gaps || [];
      this.needsSnapshot = false;
      this.lastError = null;
      this.everOpened = false;
      this.failedOpens = 0;
      this.http = false; // posting batches instead of streaming them
      this.posting = false;
      this.ws = null;
      this.ready = false;
      this.welcomed = false; // a welcome came on this page (recording has started)
      this.stopped = false;
      this.ending = false;
      this.attempts = 0;
      this.reconnectTimer = null;
      this.lastSentSeq = -1;
      this.waiters = [];
      this.limits = { max_frame_bytes: 4 * 1024 * 1024, max_batch_events: 10000 };
    }

    connect() {
      if (this.stopped || this.ws || this.http) return;
      let ws;
      try {
        ws = new WebSocket(this.options.wsUrl);
      } catch (err) {
        this.scheduleReconnect(1);
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      this.lastError = null;
      let opened = false;
      ws.onopen = () => {
        opened = this.everOpened = true;
        this.send(this.hello());
      };
      ws.onmessage = (message) => this.receive(message.data);
      ws.onclose = (event) => this.closed(event.code, opened);
      ws.onerror = () => {}; // onclose follows and decides what to do
    }

    hello() {
      const frame = {
        type: 'hello',
        key: this.options.key,
        session: this.state.session,
        tab: this.state.tab,
        acked: this.state.acked,
        page: this.options.page(),
        sdk: 'replay-js/1',
      };
      if (this.state.user) frame.user = this.state.user;
      // A session started by a recorder older than secrets has none, and says so by
      // sending none.
      if (typeof this.state.secret === 'string') frame.secret = this.state.secret;
      return frame;
    }

    /** The session the server's answer names (see SessionStore.adopt); true when it
     *  replaced one this tab had recorded into, whose page must be snapshot again. */
    adopt(session, secret) {
      const store = window.ReplayInternals.SessionStore;
      const replaced = store.adopt(this.state, session, secret, this.http);
      if (replaced !== null) this.options.persist();
      return replaced === true;
    }

    receive(data) {
      let frame;
      try {
        frame = window.MessagePack.decode(new Uint8Array(data));
      } catch (err) {
        return;
      }
      if (frame.type === 'welcome') {
        const replaced = this.adopt(frame.session, frame.secret);
        this.ready = true;
        this.welcomed = true;
        this.attempts = 0;
        if (frame.limits) Object.assign(this.limits, frame.limits);
        this.lastSentSeq = Math.max(frame.acked, -1);
        this.acknowledge(frame.acked);
        this.pump();
        this.resyncWhenDrained();
        this.options.onReady(frame.config || null);
        if (replaced) this.options.resync();
      } else if (frame.type === 'ack') {
        this.acknowledge(frame.seq);
      } else if (frame.type === 'snapshot') {
        this.options.resync(); // the server cannot synthesize a keyframe on its own
      } else if (frame.type === 'error') {
        this.lastError = frame;
      }
    }

    acknowledge(seq) {
      if (typeof seq !== 'number') return;
      if (seq > this.state.acked) this.state.acked = seq;
      const before = this.state.unacked.length;
      this.state.unacked = this.state.unacked.filter((batch) => batch.seq > this.state.acked);
      if (this.state.unacked.length !== before) this.options.persist();
      this.waiters = this.waiters.filter((waiter) => {
        if (waiter.seq <= this.state.acked) waiter.resolve();
        return waiter.seq > this.state.acked;
      });
      if (this.ending && this.state.unacked.length === 0) this.finish();
      this.resyncWhenDrained();
    }

    /** What the unacknowledged batches weigh as they are (or will be) sent. */
    bufferedBytes() {
      let total = 0;
      for (const batch of this.state.unacked) total += this.frameOf(batch).size;
      return total;
    }

    /** A batch kept from an earlier page goes as the frame it was kept as, or, kept by
     *  an older recorder as its events, as plain msgpack. */
    frameOf(batch) {
      if (batch.size === undefined) {
        batch.bytes = batch.bytes ||
          (batch.frame ? fromText(batch.frame) : plainFrame(batch.seq, batch.events));
        batch.size = batch.bytes.byteLength;
      }
      return batch;
    }

    resyncWhenDrained() {
      // After a drop, wait until the server holds everything kept, then snapshot.
      if (this.needsSnapshot && (this.ready || this.http) && this.state.unacked.length === 0) {
        this.needsSnapshot = false;
        this.options.resync();
      }
    }

    addGap(seq, reason) {
      const last = this.state.gaps[this.state.gaps.length - 1];
      if (last && last.to === seq - 1 && last.reason === reason) last.to = seq;
      else this.state.gaps.push({ from: seq, to: seq, reason: reason });
      this.needsSnapshot = true;
    }

    /** Turn events into numbered batches that fit the server's limits, and send them. */
    enqueue(events) {
      const maxEvents = this.limits.max_batch_events;
      for (let i = 0; i < events.length; i += maxEvents) this.number(events.slice(i, i + maxEvents));
      // A batch being compressed is kept once it is, as its frame (its JSON would be 2.5
      // to 11 times the text, and writing sessionStorage costs the page by the
      // character); until then it is written out only with something else (as events).
      if (!this.state.unacked.some((batch) => batch.compressing)) this.options.persist();
      this.pump();
    }

    number(events) {
      if (!events.length) return;
      const seq = this.state.nextSeq;
      // The server's frame limit holds for the events as it reads them: the inflated
      // JSON of a compressed batch, or the plain frame.
      const json = JSON.stringify(events);
      const text = ENCODING ? utf8.encode(json) : null;
      const bytes = ENCODING ? null : plainFrame(seq, events);
      const size = ENCODING ? text.byteLength : bytes.byteLength;
      if (size > this.limits.max_frame_bytes) {
        if (events.length > 1) {
          const middle = Math.ceil(events.length / 2);
          this.number(events.slice(0, middle));
          this.number(events.slice(middle));
        } else {
          // One event larger than any frame the server takes: give up on it, openly.
          this.state.nextSeq += 1;
          this.addGap(seq, 'event larger than the frame limit');
        }
        return;
      }
      this.state.nextSeq += 1;
      const drained = this.state.unacked.length === 0;
      const resumes = events.some((event) => event.type === 2);
      // A snapshot into an empty buffer is always taken, however large: without it
      // nothing after it could be replayed.
      const full =
        !(resumes && drained) && this.bufferedBytes() + size > this.options.maxBufferBytes;
      if (full || (this.needsSnapshot && !resumes)) {
        // The server has not stored what came before (offline, storage down): keep the
        // oldest, which hold the page's snapshot, and drop this batch, openly. After a
        // drop, changes are meaningless without a new snapshot, so they go too until
        // the recorder has taken one.
        this.addGap(seq, 'recorder buffer full');
        return;
      }
      // `json` is what persist() keeps (with seq) until the batch is compressed, then
      // `frame`, the compressed frame as text; `bytes` and `size`, the frame and what it
      // weighs, are for this page only.
      const batch = { seq: seq, events: events, json: json, bytes: bytes, size: size };
      this.state.unacked.push(batch);
      if (ENCODING) {
        // Sent once compressed (batches leave in order: pump waits for this one).
        batch.compressing = compressed(seq, text).then(
          (frame) => {
            batch.bytes = frame;
            batch.size = frame.byteLength;
            batch.compressing = null;
            try {
              batch.frame = toText(frame);
              batch.json = null;
            } catch (err) {
              // kept as its events
            }
            this.options.persist(); // kept before it is sent
            this.pump();
          },
          () => {
            batch.bytes = plainFrame(seq, events); // sent and kept as it is
            batch.size = batch.bytes.byteLength;
            batch.compressing = null;
            this.options.persist();
            this.pump();
          },
        );
      }
    }

    /** Send gaps, then every unacknowledged batch not yet sent on this connection. */
    pump() {
      if (this.http) {
        this.post();
        return;
      }
      if (!this.ready) {
        this.connect();
        return;
      }
      const gaps = this.state.gaps.splice(0);
      for (const gap of gaps) this.send({ type: 'gap', from: gap.from, to: gap.to, reason: gap.reason });
      if (gaps.length) this.options.persist();
      for (const batch of this.state.unacked) {
        if (batch.seq <= this.lastSentSeq) continue;
        if (batch.compressing) break; // pumped again when it is ready
        this.ws.send(this.frameOf(batch).bytes);
        this.lastSentSeq = batch.seq;
      }
    }

    send(frame) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(encode(frame));
    }

    closed(code, opened) {
      this.ws = null;
      this.ready = false;
      if (this.stopped) return;
      if (!opened && !this.everOpened && ++this.failedOpens >= HTTP_AFTER_FAILED_OPENS) {
        this.http = true;
        this.options.onReady(null); // with the options fetched before recording
        this.post();
        return;
      }
      const error = this.lastError;
      if (FATAL.has(code) || (error && error.retry === false)) {
        this.stop();
        const reason = (error && error.reason) || 'closed with ' + code;
        this.options.onStop('the server will not take more of this session: ' + reason, code === 4409);
        return;
      }
      if (REJECTED.has(code) && this.state.unacked.length) {
        // The server refused the batch after its last ack; drop that one so the rest
        // can follow, and say so.
        const first = this.state.unacked.shift();
        this.addGap(first.seq, 'rejected by the server: ' + code);
        this.options.persist();
      }
      if (this.welcomed && !this.state.unacked.length && !this.state.gaps.length) {
        // Nothing to deliver (an idle close): reconnect when there is. Before the first
        // welcome, keep trying: recording waits for it.
        this.attempts = 0;
        return;
      }
      this.scheduleReconnect(code === 4429 ? 4 : 1);
    }

    scheduleReconnect(factor) {
      if (this.stopped || this.reconnectTimer) return;
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempts) * factor;
      this.attempts += 1;
      // Jitter keeps a fleet of recorders from reconnecting in lockstep after an outage.
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (this.http) this.post();
        else this.connect();
      }, delay);
    }

    /** A promise resolved once every batch numbered so far is acknowledged. */
    whenAcked() {
      const last = this.state.nextSeq - 1;
      if (last <= this.state.acked) return Promise.resolve();
      return new Promise((resolve) => this.waiters.push({ seq: last, resolve: resolve }));
    }

    /** End the session on purpose: once everything is acknowledged, send `end`. */
    end() {
      this.ending = true;
      if (this.state.unacked.length === 0 && this.ready) this.finish();
      else this.pump();
    }

    finish() {
      if (!this.ready) return;
      this.send({ type: 'end' });
      this.stopped = true;
      clearTimeout(this.reconnectTimer);
    }

    stop() {
      this.stopped = true;
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
    }
  }

  // post() and beacon(), the batch endpoint's paths (http.js).
  Object.assign(Transport.prototype, window.ReplayInternals.TransportOverHttp);

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.Transport = Transport;
})();
