/*
 * The page's XMLHttpRequests, for network.js's plugin: open, setRequestHeader and send
 * are wrapped to note each request as REQUEST (see network.js), finished on `loadend`
 * and handed to the outbox. The page's XHRs behave as before. Part of recorder.js
 * (recorder-entry.js).
 */
(function () {
  'use strict';

  const noop = () => {};

  /** Wraps the XHR methods of `win` (with network.js's `patch`); returns what puts them
   *  back. `settings`, `live` and `out` are network.js's: what is recorded, whether
   *  recording is on, and the outbox. */
  function patchXHR(win, settings, live, out, patch) {
    const Outbox = window.ReplayInternals.NetworkOutbox;
    const { lower, textual, kept, numberOrNull, requestBody } = window.ReplayInternals.RequestBodies;
    const proto = win.XMLHttpRequest && win.XMLHttpRequest.prototype;
    if (!proto) return noop;
    const perf = win.performance;
    const calls = new WeakMap(); // xhr → {method, url, headers, type, watch}

    function finish(xhr, call, request, outcome) {
      request.endTime = perf.now();
      request.status = xhr.status;
      if (outcome === 'abort') {
        request.aborted = true;
        request.error = 'aborted';
      } else if (outcome || xhr.status === 0) {
        request.failed = true;
        request.error = outcome === 'timeout' ? 'timeout' : 'network error';
      } else {
        if (settings.headers.size) {
          const picked = new Map();
          settings.headers.forEach((name) => {
            const value = xhr.getResponseHeader(name);
            if (value !== null) picked.set(name, value);
          });
          request.responseHeaders = Object.fromEntries(picked);
        }
        const type = xhr.responseType;
        if (settings.bodies && textual(xhr.getResponseHeader('content-type'))) {
          if (type === '' || type === 'text') request.responseBody = kept(xhr.responseText);
          else if (type === 'json' && xhr.response !== null) {
            request.responseBody = kept(JSON.stringify(xhr.response));
          }
        }
      }
      // Read now: the page may reuse this XHR before the timing entry comes.
      const length = numberOrNull(xhr.getResponseHeader('content-length'));
      out.finished(request, () => length);
    }

    function watch(xhr, call, body) {
      const request = Outbox.blank(call.url, call.method, 'xmlhttprequest', perf.now());
      request.requestHeaders = Object.fromEntries(call.headers);
      const bodyless = request.method === 'GET' || request.method === 'HEAD';
      const sent = requestBody(bodyless ? null : body, call.type, settings.bodies);
      request.requestSize = sent.size;
      request.requestBody = sent.text;
      let outcome = null;
      let done = false;
      const types = ['abort', 'error', 'timeout', 'loadend'];
      const stop = () => types.forEach((type) => xhr.removeEventListener(type, listener));
      const complete = () => {
        if (done) return;
        done = true;
        stop();
        try {
          finish(xhr, call, request, outcome);
        } catch (err) {
          // nothing of the page's depends on this
        }
      };
      const listener = (event) => {
        if (event.type === 'loadend') complete();
        else outcome = event.type;
      };
      types.forEach((type) => xhr.addEventListener(type, listener));
      return {
        complete: complete,
        drop() {
          done = true;
          stop();
        },
      };
    }

    const restores = [
      patch(proto, 'open', (original) => function open(method, url) {
        if (live.on) {
          try {
            const previous = calls.get(this);
            // Opened again from one of its own handlers: the finished request is
            // read before open() forgets it; an unfinished one is simply cut off.
            if (previous && previous.watch) {
              if (this.readyState === 4) previous.watch.complete();
              else previous.watch.drop();
            }
            const target = settings.absolute(url);
            const call = { method: method, url: target, headers: new Map(), type: '', watch: null };
            if (settings.records(target)) calls.set(this, call);
            else calls.delete(this);
          } catch (err) {
            calls.delete(this);
          }
        }
        return original.apply(this, arguments);
      }),
      patch(proto, 'setRequestHeader', (original) => function setRequestHeader(name, value) {
        const result = original.apply(this, arguments);
        const call = live.on && calls.get(this);
        if (call && !call.watch) {
          const key = lower(name);
          if (key === 'content-type') call.type = String(value);
          if (settings.headers.has(key)) {
            const before = call.headers.get(key);
            call.headers.set(key, before === undefined ? String(value) : before + ', ' + value);
          }
        }
        return result;
      }),
      patch(proto, 'send', (original) => function send() {
        const call = live.on && calls.get(this);
        let watched = null;
        if (call && !call.watch) {
          try {
            watched = call.watch = watch(this, call, arguments[0]);
          } catch (err) {
            watched = null;
          }
        }
        try {
          return original.apply(this, arguments);
        } catch (err) {
          if (watched) watched.drop(); // never sent
          throw err;
        }
      }),
    ];
    return () => restores.forEach((restore) => restore());
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.patchXHR = patchXHR;
})();
