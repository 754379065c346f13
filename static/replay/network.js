/*
 * The page's requests, for the recording: an rrweb record plugin, `rrweb/network@1`,
 * reporting {requests: [REQUEST, ...]} every half second with the requests that finished
 * (at most 50 in one event; at once when recording stops or the page goes): fetch and
 * XMLHttpRequest, which it wraps, and other resources (scripts, images, stylesheets...:
 * the page's resource timing entries, as timings.js reads them), where REQUEST is
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

  /** A URL of the page made absolute (`absolute(url)`), against its base URL as it is
   *  at the time; the origin of the base is worked out once for each base seen. */
  function resolver(win) {
    let base = null;
    let origin = null; // of `base`, if http or https
    return function absolute(url) {
      const text = String(url);
      if (text.startsWith('https://') || text.startsWith('http://')) return new URL(text).href;
      const current = win.document.baseURI;
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

  function patchFetch(win, settings, live, out) {
    const perf = win.performance;
    const { pickHeaders, requestBody, numberOrNull, textual, readText } = Bodies;

    const RequestClass = typeof win.Request === 'function' ? win.Request : null;

    function begin(input, init) {
      const isRequest = RequestClass !== null && input instanceof RequestClass;
      const url = settings.absolute(isRequest ? input.url : input);
      if (!settings.records(url)) return null;
      const request = Outbox.blank(url, (init && init.method) || (isRequest && input.method), 'fetch', perf.now());
      const headers = init && init.headers !== undefined ? init.headers : isRequest ? input.headers : null;
      if (settings.headers.size) request.requestHeaders = pickHeaders(headers, settings.headers);
      if (init && init.body !== undefined) {
        const type = settings.bodies ? pickHeaders(headers, CONTENT_TYPE)['content-type'] : '';
        const sent = requestBody(init.body, type, settings.bodies);
        request.requestSize = sent.size;
        request.requestBody = sent.text;
      } else {
        request.requestSize = isRequest && input.body !== null ? null : 0; // a Request's own body is not read
      }
      const signal = (init && init.signal) || (isRequest ? input.signal : null);
      return { request: request, signal: signal };
    }

    function answered(request, response) {
      request.endTime = perf.now();
      request.status = response.status;
      // Its size as declared is read only if its timing entry does not tell it (each
      // header read is a call into the browser).
      const declared = () => numberOrNull(response.headers.get('content-length'));
      if (settings.headers.size) request.responseHeaders = pickHeaders(response.headers, settings.headers);
      if (!settings.bodies || response.type === 'opaque' || !response.body ||
          !textual(response.headers.get('content-type'))) {
        out.finished(request, declared);
        return;
      }
      // Nothing of ours may reach the page as an unhandled rejection.
      let size = declared;
      readText(response.clone())
        .then((read) => {
          request.responseBody = read.text;
          size = () => {
            const value = declared();
            return value === null ? read.bytes : value;
          };
        }, noop)
        .then(() => out.finished(request, size))
        .catch(noop);
    }

    function refused(request, signal, error) {
      request.endTime = perf.now();
      request.aborted = Boolean(signal && signal.aborted) || (error && error.name) === 'AbortError';
      request.failed = !request.aborted;
      request.error = errorText(error);
      out.finished(request);
    }

    return patch(win, 'fetch', (original) => function fetch(input) {
      let watched = null;
      if (live.on) {
        try {
          watched = begin(input, arguments[1]);
        } catch (err) {
          watched = null; // an input fetch itself will refuse, or one we cannot read
        }
      }
      const promise = original.apply(this, arguments);
      // Watched beside the page's own reactions: the page gets the very promise fetch
      // gave, settled when it would be, and an error of ours never reaches it.
      if (watched && promise && typeof promise.then === 'function') {
        const { request, signal } = watched;
        promise.then((response) => {
          try {
            answered(request, response);
          } catch (err) {
            // the page's request is unaffected whatever happens here
          }
        }, (error) => {
          try {
            refused(request, signal, error);
          } catch (err) {
            // the page's request is unaffected whatever happens here
          }
        });
      }
      return promise;
    });
  }

  /** Other resources (and fetches and XHRs that did not go through our wrappers), from
   *  resource timing entries (timings.js reads them); entries of wrapped requests go to
   *  their request. */
  function observeResources(win, settings, out, patchedAt, resources) {
    const perf = win.performance;
    if (!perf || typeof perf.getEntriesByType !== 'function') return noop;
    // Entries from before this run only on the first run of a page that has not moved
    // (a single-page app may have passed through an excluded page in between).
    const navigation = perf.getEntriesByType('navigation')[0];
    const earlier = !observedBefore.has(win) && navigation && navigation.name === win.location.href;
    observedBefore.add(win);
    const since = earlier ? 0 : patchedAt;

    const take = (entries) => {
      for (const found of entries) {
        const entry = Outbox.timing(found);
        if (entry.startTime < since || !settings.records(entry.name)) continue;
        if (Outbox.WRAPPED.includes(entry.initiatorType) && entry.startTime >= patchedAt) {
          out.entry(entry);
          continue;
        }
        out.send(Outbox.fromEntry(entry));
      }
    };
    const timings = window.ReplayInternals.ResourceTimings.watch(win, take, out.wake, patch);
    resources.drain = timings.read;
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
    const resources = { drain: noop };
    const out = Outbox.outbox(win, callback, () => resources.drain());
    const patchedAt = win.performance.now();
    const undo = [];
    const flush = () => out.sweep(true); // the page is going: send what waits
    try {
      undo.push(patchFetch(win, settings, live, out));
      undo.push(window.ReplayInternals.patchXHR(win, settings, live, out, patch));
      undo.push(observeResources(win, settings, out, patchedAt, resources));
      // Capturing, to run before the recorder's own pagehide listener sends the tail.
      win.addEventListener('pagehide', flush, true);
      undo.push(() => win.removeEventListener('pagehide', flush, true));
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
