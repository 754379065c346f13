/*
 * The HTTP batch endpoint's paths of transport.js (see README, "HTTP fallback"), as
 * methods of its Transport: `post()`, which sends batches one by one where WebSockets
 * never open, and `beacon()`, which hands the unacknowledged tail to sendBeacon as the
 * page goes. Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  // sendBeacon has a shared in-flight allowance of about 64 KB per page.
  const BEACON_MAX_BYTES = 60000;

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.TransportOverHttp = {
    /** What the batch endpoint takes to store `batch` (README, "HTTP fallback"). */
    endpointBody(batch) {
      return {
        key: this.options.key,
        session: this.state.session,
        secret: this.state.secret,
        tab: this.state.tab,
        seq: batch.seq,
        events: batch.events,
        page: this.options.page(),
      };
    },

    /** HTTP mode: post the oldest unacknowledged batch; the answer says what the
     *  server holds, and the next batch follows. Failures back off like reconnects. */
    post() {
      // The endpoint takes batches only: the server records a dropped range as a hole.
      this.state.gaps = [];
      const batch = this.state.unacked[0];
      if (this.posting || this.stopped || this.reconnectTimer || !batch) return;
      this.posting = true;
      if (!batch.events) {
        // Kept by an earlier page as its frame: the endpoint takes its events.
        window.ReplayInternals.BatchFrames.events(this.frameOf(batch).bytes)
          .then((events) => {
            batch.events = events;
          }, () => {
            this.state.unacked.shift(); // unreadable: the server records the hole
            this.options.persist();
          })
          .then(() => {
            this.posting = false;
            this.post();
          });
        return;
      }
      const body = JSON.stringify(Object.assign(this.endpointBody(batch), {
        user: this.state.user || undefined,
      }));
      fetch(this.options.batchUrl, {
        method: 'POST',
        body: body,
        headers: { 'Content-Type': 'text/plain' }, // no CORS preflight
        credentials: 'omit',
      })
        .then((response) => response.json().then((answer) => ({ ok: response.ok, answer: answer })))
        .then(({ ok, answer }) => {
          this.posting = false;
          if (ok) {
            this.attempts = 0;
            const replaced = this.adopt(answer.session, answer.secret);
            this.acknowledge(answer.acked);
            if (replaced) this.options.resync();
            this.post();
          } else if (answer.error && answer.error.retry === false) {
            this.stop();
            this.options.onStop('the server will not take more of this session: ' + answer.error.reason, false);
          } else {
            this.scheduleReconnect(1);
          }
        })
        .catch(() => {
          this.posting = false;
          this.scheduleReconnect(1);
        });
    },

    /** pagehide: hand the unacknowledged tail to sendBeacon, which outlives the page.
     *  What does not fit stays in sessionStorage for the next page of this tab. */
    beacon() {
      // Nothing to hand over before the server has named this tab's session: a beacon's
      // answer is never read, so it could not learn the name.
      if (this.state.secret === '') return;
      let budget = BEACON_MAX_BYTES;
      for (const batch of this.state.unacked) {
        // One kept by an earlier page as its frame stays kept, with what follows it.
        if (!batch.events) break;
        const body = JSON.stringify(this.endpointBody(batch));
        if (body.length > budget) break;
        if (!navigator.sendBeacon(this.options.batchUrl, new Blob([body], { type: 'text/plain' }))) break;
        budget -= body.length;
      }
    },
  };
})();
