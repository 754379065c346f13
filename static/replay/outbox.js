/*
 * The page's requests on their way out of network.js, for the recording: each a
 * REQUEST (see network.js) matched with its resource timing entry, which tells its size
 * and when its body ended, and sent together every half second (one event per request
 * costs the page more than all the rest of its handling). Part of recorder.js (recorder-entry.js).
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

  /** A request with what every request has; the rest of REQUEST (see network.js) is
   *  set only once known, and `method` not at all when null. */
  function blank(url, method, initiatorType, startTime) {
    const request = {
      url: url,
      initiatorType: initiatorType,
      status: 0,
      startTime: startTime, // page time until sent, then epoch milliseconds
      endTime: startTime,
    };
    if (method !== null) request.method = String(method || 'GET').toUpperCase();
    return request;
  }

  /** A finished request as sent: page times made epoch milliseconds, and a field that
   *  holds its default left out (the server reads a missing field so: a third of the
   *  bytes to pack, compress and keep). */
  function sent(request, timeOrigin) {
    const out = {
      url: request.url,
      initiatorType: request.initiatorType,
      status: request.status,
      startTime: Math.round(timeOrigin + request.startTime),
      endTime: Math.round(timeOrigin + request.endTime),
    };
    keep(out, 'method', request.method, null);
    keep(out, 'requestSize', request.requestSize, null);
    keep(out, 'responseSize', request.responseSize, null);
    keep(out, 'failed', request.failed, false);
    keep(out, 'aborted', request.aborted, false);
    keep(out, 'error', request.error, null);
    if (request.requestHeaders && !isEmpty(request.requestHeaders)) out.requestHeaders = request.requestHeaders;
    if (request.responseHeaders && !isEmpty(request.responseHeaders)) out.responseHeaders = request.responseHeaders;
    keep(out, 'requestBody', request.requestBody, null);
    keep(out, 'responseBody', request.responseBody, null);
    return out;
  }

  /** out[name] = value, unless value is missing or `unset` (its default). */
  function keep(out, name, value, unset) {
    if (value !== undefined && value !== unset) out[name] = value;
  }

  function isEmpty(object) {
    for (const name in object) return false;
    return true;
  }

  /** What the recording uses of a resource timing entry, read once (each of the
   *  entry's fields is a call into the browser, hence its status is read only for a
   *  request known from its entry alone): its body's size is null when the browser
   *  hides it (another origin without Timing-Allow-Origin). */
  function timing(entry) {
    const size = entry.encodedBodySize;
    const name = entry.name;
    return {
      name: name,
      key: withoutHash(name),
      initiatorType: entry.initiatorType,
      startTime: entry.startTime,
      responseEnd: entry.responseEnd,
      size: size > 0 || entry.responseStart > 0 ? size : null,
      raw: entry,
    };
  }

  /** A request known only from its timing (which has no method: a fetch or XHR that did
   *  not go through our wrappers has none here either). */
  function fromEntry(entry) {
    const type = entry.initiatorType;
    const method = WRAPPED.includes(type) ? null : type === 'beacon' ? 'POST' : 'GET';
    const request = blank(entry.name, method, type, entry.startTime);
    request.endTime = entry.responseEnd;
    request.status = entry.raw.responseStatus || 0;
    request.responseSize = entry.size;
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
  function outbox(win, report, drain) {
    const perf = win.performance;
    const outgoing = []; // finished, in page time
    const waiting = []; // {request, key, until}
    const unclaimed = []; // {entry, key, until}
    const gaveUp = []; // {request, key, until}: sent without their entry
    let timer = null;
    let open = true;

    // A request and its entry: the same URL and kind, the entry started at most when
    // the request did.
    const belong = (request, entry) =>
      request.initiatorType === entry.initiatorType && entry.startTime >= request.startTime - 1;

    // Plain loops, no closure made for each search: they run for every request.

    /** Where in `list` ({request, key} items) the request that `entry` belongs to is. */
    function find(list, key, entry) {
      for (let i = 0; i < list.length; i++) {
        if (list[i].key === key && belong(list[i].request, entry)) return i;
      }
      return -1;
    }

    /** Where in `unclaimed` the entry that belongs to `request` is. */
    function findEntry(key, request) {
      for (let i = 0; i < unclaimed.length; i++) {
        if (unclaimed[i].key === key && belong(request, unclaimed[i].entry)) return i;
      }
      return -1;
    }

    /** The request with what its entry tells; its declared size (`declared()`, or
     *  null) only if the entry has none. */
    function withEntry(request, entry, declared) {
      if (entry) request.endTime = Math.max(request.endTime, entry.responseEnd);
      if (entry && entry.size !== null) request.responseSize = entry.size;
      else if (declared) request.responseSize = declared();
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
      drain();
      const now = perf.now();
      const due = (item) => all || item.until <= now;
      while (waiting.length && due(waiting[0])) {
        const { request, key, declared } = waiting.shift();
        outgoing.push(withEntry(request, null, declared));
        const copy = { initiatorType: request.initiatorType, startTime: request.startTime };
        gaveUp.push({ request: copy, key: key, until: now + UNCLAIMED_MS });
      }
      while (unclaimed.length && due(unclaimed[0])) outgoing.push(fromEntry(unclaimed.shift().entry));
      while (gaveUp.length && due(gaveUp[0])) gaveUp.shift();
      const requests = outgoing.splice(0).map((request) => sent(request, perf.timeOrigin));
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
      wake: schedule,
      close() {
        sweep(true);
        open = false;
        clearTimeout(timer);
      },
      /** A request that ended; `declared()` its size as its response declared it. */
      finished(request, declared) {
        if (!open) return;
        if (request.failed || request.aborted) {
          send(request); // no entry comes
          return;
        }
        const key = withoutHash(request.url);
        const at = findEntry(key, request);
        if (at >= 0) {
          send(withEntry(request, unclaimed.splice(at, 1)[0].entry, declared));
          return;
        }
        const until = perf.now() + ENTRY_WAIT_MS;
        waiting.push({ request: request, key: key, until: until, declared: declared });
        schedule();
      },
      /** A resource timing entry of a fetch or XHR, as `timing` read it. */
      entry(entry) {
        const key = entry.key;
        let at = find(waiting, key, entry);
        if (at >= 0) {
          const found = waiting.splice(at, 1)[0];
          send(withEntry(found.request, entry, found.declared));
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
    timing: timing,
    fromEntry: fromEntry,
    outbox: outbox,
  };
})();
