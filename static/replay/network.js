/*
 * The page's requests, for the recording: an rrweb record plugin, `rrweb/network@1`,
 * reporting {requests: [REQUEST, ...]} every half second with the requests that finished
 * (at most 50 in one event; at once when recording stops, the page goes or the tab is
 * hidden): fetch and XMLHttpRequest, which it wraps, and other resources (scripts,
 * images, stylesheets...: the page's timing entries, as timings.js reads them), where
 * REQUEST is
 *
 *   {url, method, initiatorType, status, startTime, endTime, requestSize, responseSize,
 *    failed, aborted, error, requestHeaders, responseHeaders, requestBody, responseBody}
 *
 * - times in epoch milliseconds; status 0 when no response came: `failed` (a network
 *   error, CORS) or `aborted` (the page's AbortSignal, xhr.abort()), with `error` a
 *   short text of why;
 * - sizes in bytes when known: the request body's, and the response's encoded body from
 *   its resource timing entry (a finished fetch or XHR waits up to 2 s for it), else its
 *   Content-Length, else the length of a body read here;
 * - method null for a fetch known only from its timing entry (one the page called through
 *   a reference it kept from before our wrapper);
 * - a field at its default is left out (method, sizes, error, bodies: null; failed,
 *   aborted: false; headers: {}), which the server reads as that default;
 * - only the headers the project names (`network_headers`), and never Authorization,
 *   Cookie, Set-Cookie or Proxy-Authorization, whatever it names; bodies only with
 *   `capture_network_bodies`, only JSON and text (string and URLSearchParams request
 *   bodies, never Blob, FormData or streams), at most 10,240 characters each;
 * - the recorder's own traffic (the replay server's /ingest/ and /static/replay/) is
 *   left out; URLs are recorded whole (the server scrubs their query values).
 *
 * The page's fetch and XMLHttpRequest behave as before: fetch returns the very promise
 * the browser's gave, and a response body is read from a clone, never from the page's
 * own. rrweb calls the observer when recording starts and its result when recording
 * stops, which puts them back (or, if the page wrapped them since, leaves ours passing
 * calls on). XMLHttpRequest's wrapper is in xhr.js, what of headers and bodies is kept is
 * bodies.js's, and requests leave through outbox.js. Part of recorder.js
 * (recorder-entry.js).
 */
(function () {
  'use strict';

  // The modules this one uses (outbox.js, bodies.js, xhr.js, timings.js), beside it in
  // recorder.js or loaded as scripts of their own in any order: found when recording
  // starts.
  let Outbox = null;
  let Bodies = null;

  const NAME = 'rrweb/network@1';
  const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];
  const CONTENT_TYPE = new Set(['content-type']);
  const ERROR_CHARS = 200;
  // Windows observed by an earlier rrweb run: what was loaded before this run started
  // was reported then, or happened while nothing was to be recorded (an excluded page).
  const observedBefore = new WeakSet();
  const noop = () => {};

  function errorText(error) {
    const text = error && typeof error === 'object' && 'message' in error
      ? String(error.name || 'Error') + ': ' + String(error.message)
      : String(error);
    return text.slice(0, ERROR_CHARS);
  }

  /** Replaces target[name] by wrap(original); the result puts the original back, unless
   *  someone wrapped ours since (theirs stays, and ours, told to stop, passes calls on). */
  function patch(target, name, wrap) {
    const original = target && target[name];
    if (typeof original !== 'function') return noop;
    const wrapper = wrap(original);
    target[name] = wrapper;
    return () => {
      if (target[name] === wrapper) target[name] = original;
    };
  }

  // A path of plain characters (no dot segment, nothing the URL parser would encode or
  // change) put after its base's origin is the URL as the parser would resolve it, made
  // without its cost (a few microseconds a request, a fair part of ours).
  const PLAIN_PATH = /^\/[\w\-.~!$&()*+,;=:@/?%]*$/;
  const NOT_PLAIN = /^\/\/|\/\.|%2e/i;

  /** A URL of the page made absolute (`absolute(url, base)`), against `base` or, when
   *  none is given, the page's base URL as it is at the time; the origin of the base is
   *  worked out once for each base seen. */
  function resolver(win) {
    let base = null;
    let origin = null; // of `base`, if http or https
    return function absolute(url, given) {
      const text = String(url);
      if (text.startsWith('https://') || text.startsWith('http://')) return new URL(text).href;
      const current = given || win.document.baseURI;
      if (current !== base) {
        base = current;
        const web = current.startsWith('https://') || current.startsWith('http://');
        const end = web ? current.indexOf('/', current.indexOf('//') + 2) : -1;
        origin = !web ? null : end < 0 ? current : current.slice(0, end);
      }
      if (origin !== null && PLAIN_PATH.test(text) && !NOT_PLAIN.test(text)) return origin + text;
      return new URL(text, current).href;
    };
  }

  /**
   * fetch, wrapped: {undo(), settle()}. As the page calls fetch, only what it could change
   * afterwards is read (the URL, method, and the headers and body the project keeps); as
   * the call settles, its time and its response or error (and the body, from a clone, if
   * the project keeps bodies). The rest is done by `settle`, which the outbox calls as
   * it sweeps, for every call settled since, together: done for each request as it
   * happened, between the page's own tasks, the same work cost the page about four times
   * as much (timed in the page on 200 fetches: 40 µs a request, against 9 together).
   */
  function patchFetch(win, settings, live, out) {
    const perf = win.performance;
    const { pickHeaders, requestBody, numberOrNull, textual, readText } = Bodies;
    const RequestClass = typeof win.Request === 'function' ? win.Request : null;
    const ended = []; // calls settled since the last sweep

    function begin(input, init, start) {
      const isRequest = RequestClass !== null && input instanceof RequestClass;
      const url = isRequest ? input.url : String(input);
      const headers = init && init.headers !== undefined ? init.headers : isRequest ? input.headers : null;
      const call = {
        url: url,
        // A relative URL is resolved against the base it had when called.
        base: url.startsWith('https://') || url.startsWith('http://') ? null : win.document.baseURI,
        method: (init && init.method) || (isRequest && input.method),
        start: start,
        end: start,
        headers: settings.headers.size ? pickHeaders(headers, settings.headers) : null,
        size: 0,
        body: null,
        signal: (init && init.signal) || (isRequest ? input.signal : null),
        response: null,
        read: null, // {text, bytes} of the response body, when kept
        error: null,
        aborted: false,
      };
      if (init && init.body !== undefined) {
        const type = settings.bodies ? pickHeaders(headers, CONTENT_TYPE)['content-type'] : '';
        const sent = requestBody(init.body, type, settings.bodies);
        call.size = sent.size;
        call.body = sent.text;
      } else if (isRequest && input.body !== null) {
        call.size = null; // a Request's own body is not read
      }
      return call;
    }

    /** A call that settled, with its response read as far as it is now. */
    function settled(call) {
      if (!live.on) return; // recording stopped: the outbox is closed
      ended.push(call);
      out.wake();
    }

    function answered(call, response) {
      call.end = perf.now();
      call.response = response;
      // A body is read from a clone now, before the page reads its own.
      if (!settings.bodies || response.type === 'opaque' || !response.body ||
          !settings.records(settings.absolute(call.url, call.base)) ||
          !textual(response.headers.get('content-type'))) {
        settled(call);
        return;
      }
      // Nothing of ours may reach the page as an unhandled rejection.
      readText(response.clone())
        .then((read) => {
          call.read = read;
        }, noop)
        .then(() => settled(call))
        .catch(noop);
    }

    function refused(call, error) {
      call.end = perf.now();
      call.error = error;
      call.aborted = Boolean(call.signal && call.signal.aborted) || (error && error.name) === 'AbortError';
      settled(call);
    }

    /** The request a settled call made, to the outbox. */
    function finish(call) {
      const url = settings.absolute(call.url, call.base);
      if (!settings.records(url)) return;
      const request = Outbox.blank(url, call.method, 'fetch', call.start);
      request.endTime = call.end;
      if (call.headers !== null) request.requestHeaders = call.headers;
      request.requestSize = call.size;
      request.requestBody = call.body;
      const response = call.response;
      if (response === null) {
        request.aborted = call.aborted;
        request.failed = !call.aborted;
        request.error = errorText(call.error);
        out.finished(request);
        return;
      }
      request.status = response.status;
      if (settings.headers.size) request.responseHeaders = pickHeaders(response.headers, settings.headers);
      // Its size as declared is read only if its timing entry does not tell it (each
      // header read is a call into the browser).
      const declared = () => numberOrNull(response.headers.get('content-length'));
      const read = call.read;
      if (read === null) {
        out.finished(request, declared);
        return;
      }
      request.responseBody = read.text;
      out.finished(request, () => {
        const value = declared();
        return value === null ? read.bytes : value;
      });
    }

    const unpatch = patch(win, 'fetch', (original) => function fetch(input) {
      let call = null;
      if (live.on) {
        try {
          call = begin(input, arguments[1], perf.now());
        } catch (err) {
          call = null; // an input fetch itself will refuse, or one we cannot read
        }
      }
      const promise = original.apply(this, arguments);
      // Watched beside the page's own reactions: the page gets the very promise fetch
      // gave, settled when it would be, and an error of ours never reaches it.
      if (call !== null && promise && typeof promise.then === 'function') {
        promise.then((response) => {
          try {
            answered(call, response);
          } catch (err) {
            // the page's request is unaffected whatever happens here
          }
        }, (error) => {
          try {
            refused(call, error);
          } catch (err) {
            // the page's request is unaffected whatever happens here
          }
        });
      }
      return promise;
    });
    return {
      undo: unpatch,
      settle() {
        const calls = ended.splice(0);
        for (let i = 0; i < calls.length; i++) {
          try {
            finish(calls[i]);
          } catch (err) {
            // one we cannot read: the others are reported all the same
          }
        }
      },
    };
  }

  /** Other resources (and fetches and XHRs that did not go through our wrappers), from
   *  resource timing entries (timings.js reads them); entries of wrapped requests go to
   *  their request. */
  function observeResources(win, settings, out, patchedAt, early) {
    const perf = win.performance;
    if (!perf || typeof perf.getEntriesByType !== 'function') return noop;
    // Entries from before this run only on the first run of a page that has not moved
    // (a single-page app may have passed through an excluded page in between).
    const navigation = perf.getEntriesByType('navigation')[0];
    const earlier = !observedBefore.has(win) && navigation && navigation.name === win.location.href;
    observedBefore.add(win);
    const since = earlier ? 0 : patchedAt;

    const take = (entries) => {
      for (let i = 0; i < entries.length; i++) {
        const entry = Outbox.timing(entries[i]);
        if (entry.startTime < since || !settings.records(entry.name)) continue;
        if (Outbox.WRAPPED.includes(entry.initiatorType) && entry.startTime >= patchedAt) {
          out.entry(entry);
          continue;
        }
        out.send(Outbox.fromEntry(entry));
      }
    };
    const timings = window.ReplayInternals.ResourceTimings.watch(win, take, out.wake, patch);
    early.resources = timings.read;
    return timings.stop; // the outbox, closed next, sends what it took
  }

  function observe(callback, win, options) {
    Outbox = window.ReplayInternals.NetworkOutbox;
    Bodies = window.ReplayInternals.RequestBodies;
    const ingest = options.server + '/ingest/';
    const scripts = options.server + '/static/replay/';
    const names = (options.headers || []).map(Bodies.lower).filter((n) => !SECRET_HEADERS.includes(n));
    const settings = {
      absolute: resolver(win),
      headers: new Set(names),
      bodies: options.bodies === true,
      // URLs here are resolved, so their scheme is in lower case.
      records: (url) => (url.startsWith('https:') || url.startsWith('http:')) &&
        !url.startsWith(ingest) && !url.startsWith(scripts),
    };
    const live = { on: true };
    // What the outbox takes in first as it sweeps: the fetches that settled since, then
    // the resource timing entries that came.
    const early = { fetches: noop, resources: noop };
    const out = Outbox.outbox(win, callback, () => {
      early.fetches();
      early.resources();
    });
    const patchedAt = win.performance.now();
    const undo = [];
    const flush = () => out.sweep(true); // the page is going: send what waits
    // A hidden tab may be discarded without pagehide: what waits goes then too (a request
    // still waiting for its timing entry goes without it).
    const hidden = () => {
      if (win.document.visibilityState === 'hidden') flush();
    };
    try {
      const fetches = patchFetch(win, settings, live, out);
      early.fetches = fetches.settle;
      undo.push(fetches.undo);
      undo.push(window.ReplayInternals.patchXHR(win, settings, live, out, patch));
      undo.push(observeResources(win, settings, out, patchedAt, early));
      // Before the recorder's own listeners cut its batch (recorder-main.js adds them
      // again after its plugins start).
      win.addEventListener('pagehide', flush, true);
      win.document.addEventListener('visibilitychange', hidden, true);
      undo.push(() => {
        win.removeEventListener('pagehide', flush, true);
        win.document.removeEventListener('visibilitychange', hidden, true);
      });
    } catch (err) {
      // recording goes on without (some of) the network
    }
    return () => {
      live.on = false;
      for (const step of [...undo, out.close]) {
        try {
          step();
        } catch (err) {
          // the rest is put back all the same
        }
      }
    };
  }

  /** The plugin for rrweb.record's `plugins`, or null if the project does not capture
   *  the network. `server` is the replay server's origin, whose traffic is ours. */
  function networkPlugin(config, server) {
    if (!config.capture_network) return null;
    return {
      name: NAME,
      observer: observe,
      options: {
        server: server,
        headers: config.network_headers || [],
        bodies: config.capture_network_bodies === true,
      },
    };
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.networkPlugin = networkPlugin;
})();
