/*
 * The page's resource timing entries as they come, for network.js, read cheaply: from
 * the page's own buffer of entries (`performance.getEntriesByType('resource')`) at each
 * sweep of the outbox and every POLL_MS, rather than from a PerformanceObserver, whose
 * callback Chromium runs as a task of its own for nearly every entry (on a page making
 * 200 fetches, 145 tasks that cost it more than all our reading of the entries).
 *
 * The buffer can lose entries that an observer would see, so the reading turns to an
 * observer (for good, on that page) before it could:
 *
 * - once the buffer holds OBSERVE_AT entries (it keeps 250 unless the page says
 *   otherwise, and drops what comes after until it is cleared);
 * - when the page sets the buffer's size (`setResourceTimingBufferSize`) or the buffer
 *   fills anyway (`resourcetimingbufferfull`: a burst of more than 100 resources between
 *   two readings);
 * - when the page clears the buffer other than through `performance.clearResourceTimings`
 *   (which reads what is new before it clears), found by entries read before being gone:
 *   what came between that reading and the clearing is lost then, the one case that is.
 *
 * The buffer lists its entries by start time, not in the order they came: a request that
 * started before others and ended after them comes in among entries already read. So
 * each reading looks through the whole buffer for the entries it has not taken (a few
 * hundred at most: past OBSERVE_AT, the observer takes over).
 *
 * Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const POLL_MS = 2000;
  const OBSERVE_AT = 150;

  /**
   * Reads the entries of `win` that come from now on (and those already in its buffer)
   * into `take(entries)`. `patch(target, name, wrap)` replaces a method of the page and
   * returns what puts it back (network.js's). Returns {read(), stop()}: `read` takes
   * what is new now (the outbox calls it when it sweeps), `stop` takes the rest and
   * puts everything back.
   */
  function watch(win, take, wake, patch) {
    const perf = win.performance;
    const undo = [];
    // Entries of the buffer read, until the observer takes over or the buffer is cleared
    // (so, until then, what the buffer held at the last reading). Held, not weakly: an
    // engine may drop an entry's wrapper and make a new one.
    const taken = new Set();
    let observer = null;
    const arrived = []; // lists of entries the observer gave, not yet taken
    let timer = null;
    let on = true;

    function fromBuffer() {
      const entries = perf.getEntriesByType('resource');
      const held = taken.size;
      const fresh = [];
      // An indexed loop: this runs over the whole buffer at every reading, in code run too
      // seldom to be optimized, where for-of allocates at each step.
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i];
        if (taken.has(entry)) continue;
        taken.add(entry);
        fresh.push(entry);
      }
      if (entries.length - fresh.length < held) observe(); // cleared behind our back
      if (observer) taken.clear(); // the buffer is not read again
      if (fresh.length) safely(() => take(fresh));
    }

    function observe() {
      if (observer || !on || typeof win.PerformanceObserver !== 'function') return;
      clearTimeout(timer);
      observer = new win.PerformanceObserver((list) => {
        arrived.push(list.getEntries());
        wake();
      });
      // Not `buffered`: what the buffer holds is read as the observer starts (in the
      // same task: no entry comes in between).
      observer.observe({ type: 'resource' });
    }

    function readNow() {
      if (!observer) {
        fromBuffer();
        if (!observer && taken.size >= OBSERVE_AT) {
          observe();
          fromBuffer();
        }
        return;
      }
      while (arrived.length) {
        const list = arrived.shift();
        safely(() => take(list));
      }
    }

    function safely(step) {
      try {
        step();
      } catch (err) {
        // never an error in the page's console for the recording's sake
      }
    }

    function tick() {
      timer = null;
      safely(readNow);
      if (on && !observer) timer = setTimeout(tick, POLL_MS);
    }

    // Once observing, the buffer holds nothing the observer has not given (read again,
    // its entries would be recorded twice).
    const turn = () => safely(() => {
      if (observer) return;
      observe();
      fromBuffer();
    });
    undo.push(patch(perf, 'clearResourceTimings', (original) => function clearResourceTimings() {
      if (on && !observer) safely(fromBuffer);
      const result = original.apply(this, arguments);
      taken.clear();
      return result;
    }));
    undo.push(patch(perf, 'setResourceTimingBufferSize', (original) => function setResourceTimingBufferSize() {
      if (on) turn();
      return original.apply(this, arguments);
    }));
    perf.addEventListener('resourcetimingbufferfull', turn);
    undo.push(() => perf.removeEventListener('resourcetimingbufferfull', turn));
    tick();

    return {
      read: readNow,
      stop() {
        if (!on) return;
        if (observer) arrived.push(observer.takeRecords());
        safely(readNow);
        on = false;
        clearTimeout(timer);
        if (observer) observer.disconnect();
        undo.forEach((step) => safely(step));
      },
    };
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.ResourceTimings = { watch: watch };
})();
