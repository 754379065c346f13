/*
 * The page's requests on their way out of network.js, for the recording: each a
 * REQUEST (see network.js) matched with its resource timing entry, which tells its size
 * and when its body ended, and sent together every half second (one event per request
 * costs the page more than all the rest of its handling). Loaded by recorder.js.
 */
(function () {
  'use strict';

  const ENTRY_WAIT_MS = 2000;
  const UNCLAIMED_MS = 10000;
  const UNCLAIMED_MAX = 200;
  const PER_EVENT = 50; // requests in one event
  const TICK_MS = 500;
  const WRAPPED = ['fetch', 'xmlhttprequest'];

  function withoutHash(url) {
    const at = url.indexOf('#');
    return at < 0 ? url : url.slice(0, at);
  }

  function blank(url, method, initiatorType, startTime) {
    return {
      url: url,
      method: String(method || 'GET').toUpperCase(),
      initiatorType: initiatorType,
      status: 0,
      startTime: startTime, // page time until sent, then epoch milliseconds
      endTime: startTime,
      requestSize: null,
      responseSize: null,
      failed: false,
      aborted: false,
      error: null,
      requestHeaders: {},
      responseHeaders: {},
      requestBody: null,
      responseBody: null,
    };
  }

  /** The size of a resource timing entry's body, unless the browser hides it (another
   *  origin without Timing-Allow-Origin). */
  function entrySize(entry) {
    return entry.responseStart > 0 || entry.encodedBodySize > 0 ? entry.encodedBodySize : null;
  }

  /** A request known only from its resource timing entry (which has no method: a
   *  fetch or XHR that did not go through our wrappers has none here either). */
  function fromEntry(entry) {
    const method = entry.initiatorType === 'beacon' ? 'POST' : 'GET';
    const request = blank(entry.name, method, entry.initiatorType, entry.startTime);
    if (WRAPPED.includes(entry.initiatorType)) request.method = null;
    request.endTime = entry.responseEnd;
    request.status = entry.responseStatus || 0;
    request.responseSize = entrySize(entry);
    return request;
  }

  /**
   * The requests of one window on their way out, sent together every TICK_MS (one event
   * per request costs the page more than all the rest of its handling here). A finished
   * fetch or XHR first waits (up to ENTRY_WAIT_MS) for its resource timing entry, which
   * tells its size and when its body ended; an entry that comes first waits (up to
   * UNCLAIMED_MS) for its request, and is reported on its own if none comes (a fetch the
   * page called through a reference it kept from before our wrapper). An entry whose
   * request stopped waiting is dropped.
   */
  function outbox(win, report) {
    const perf = win.performance;
    const outgoing = []; // finished, in page time
    const waiting = []; // {request, key, until}
    const unclaimed = []; // {entry, key, until}
    const gaveUp = []; // {request, key, until}: sent without their entry
    let timer = null;
    let open = true;

    // The request of an entry: the same URL and kind, started at most when it did.
    function find(list, key, entry) {
      for (let i = 0; i < list.length; i++) {
        const request = list[i].request;
        if (list[i].key === key && request.initiatorType === entry.initiatorType &&
            entry.startTime >= request.startTime - 1) return i;
      }
      return -1;
    }

    function findEntry(key, request) {
      for (let i = 0; i < unclaimed.length; i++) {
        const entry = unclaimed[i].entry;
        if (unclaimed[i].key === key && request.initiatorType === entry.initiatorType &&
            entry.startTime >= request.startTime - 1) return i;
      }
      return -1;
    }

    function withEntry(request, entry) {
      request.endTime = Math.max(request.endTime, entry.responseEnd);
      const size = entrySize(entry);
      if (size !== null) request.responseSize = size;
      return request;
    }

    function schedule() {
      if (timer === null && open) {
        timer = setTimeout(() => {
          timer = null;
          try {
            sweep(false);
          } catch (err) {
            // never an error in the page's console for the recording's sake
          }
        }, TICK_MS);
      }
    }

    function send(request) {
      outgoing.push(request);
      schedule();
    }

    /** Sends what is due (everything, if `all`), and keeps ticking while anything waits. */
    function sweep(all) {
      const now = perf.now();
      const due = (item) => all || item.until <= now;
      while (waiting.length && due(waiting[0])) {
        const { request, key } = waiting.shift();
        outgoing.push(request);
        const copy = { initiatorType: request.initiatorType, startTime: request.startTime };
        gaveUp.push({ request: copy, key: key, until: now + UNCLAIMED_MS });
      }
      while (unclaimed.length && due(unclaimed[0])) outgoing.push(fromEntry(unclaimed.shift().entry));
      while (gaveUp.length && due(gaveUp[0])) gaveUp.shift();
      const requests = outgoing.splice(0);
      for (const request of requests) {
        request.startTime = Math.round(perf.timeOrigin + request.startTime);
        request.endTime = Math.round(perf.timeOrigin + request.endTime);
      }
      for (let i = 0; open && i < requests.length; i += PER_EVENT) {
        try {
          report({ requests: requests.slice(i, i + PER_EVENT) });
        } catch (err) {
          // the page's requests are unaffected whatever the recording does
        }
      }
      if (waiting.length || unclaimed.length || gaveUp.length) schedule();
    }

    return {
      send: send,
      sweep: sweep,
      close() {
        sweep(true);
        open = false;
        clearTimeout(timer);
      },
      finished(request) {
        if (!open) return;
        if (request.failed || request.aborted) {
          send(request); // no entry comes
          return;
        }
        const key = withoutHash(request.url);
        const at = findEntry(key, request);
        if (at >= 0) {
          send(withEntry(request, unclaimed.splice(at, 1)[0].entry));
          return;
        }
        waiting.push({ request: request, key: key, until: perf.now() + ENTRY_WAIT_MS });
        schedule();
      },
      entry(entry) {
        const key = withoutHash(entry.name);
        let at = find(waiting, key, entry);
        if (at >= 0) {
          send(withEntry(waiting.splice(at, 1)[0].request, entry));
          return;
        }
        at = find(gaveUp, key, entry);
        if (at >= 0) {
          gaveUp.splice(at, 1);
          return;
        }
        unclaimed.push({ entry: entry, key: key, until: perf.now() + UNCLAIMED_MS });
        if (unclaimed.length > UNCLAIMED_MAX) send(fromEntry(unclaimed.shift().entry));
        schedule();
      },
    };
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.NetworkOutbox = {
    WRAPPED: WRAPPED,
    blank: blank,
    fromEntry: fromEntry,
    outbox: outbox,
  };
})();
