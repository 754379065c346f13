/*
 * What goes wrong in the page, for the session's records (README, "Event tracking"):
 * uncaught errors, unhandled promise rejections and console.error calls, each reported
 * once as {kind, message, source, line, column, stack}. Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const MESSAGE_CHARS = 1000;
  const STACK_CHARS = 4000;
  const PER_MINUTE = 60; // a page throwing in a loop must not flood the recording

  function text(value) {
    if (value instanceof Error) return value.message || String(value);
    if (typeof value === 'string') return value;
    try {
      return JSON.stringify(value);
    } catch (err) {
      return String(value);
    }
  }

  /** An uncaught error, or null for a resource that failed to load. */
  function uncaught(event) {
    if (!event.message && !event.error) return null;
    return {
      kind: 'error',
      message: event.message || text(event.error),
      source: event.filename || '',
      line: event.lineno || 0,
      column: event.colno || 0,
      stack: event.error && event.error.stack,
    };
  }

  function rejected(event) {
    const reason = event.reason;
    return { kind: 'rejection', message: text(reason), stack: reason && reason.stack };
  }

  function logged(args) {
    const list = Array.prototype.slice.call(args);
    const error = list.find((arg) => arg instanceof Error);
    return { kind: 'console', message: list.map(text).join(' '), stack: error && error.stack };
  }

  function watchErrors(report) {
    let budget = PER_MINUTE;
    setInterval(() => {
      budget = PER_MINUTE;
    }, 60000);
    /** Reports what `build(input)` makes of an error while the minute's budget lasts:
     *  past it, a call costs the page one comparison. Never an error in the page's
     *  console for the recording's sake: what cannot be written as text (a value whose
     *  toString throws) is not reported. */
    const send = (build, input) => {
      if (budget <= 0) return;
      try {
        const payload = build(input);
        if (payload === null) return;
        payload.message = String(payload.message || '').slice(0, MESSAGE_CHARS);
        if (payload.stack) payload.stack = String(payload.stack).slice(0, STACK_CHARS);
        budget -= 1;
        report(payload);
      } catch (err) {
        // not reported
      }
    };
    window.addEventListener('error', (event) => send(uncaught, event));
    window.addEventListener('unhandledrejection', (event) => send(rejected, event));
    const original = console.error;
    console.error = function () {
      send(logged, arguments);
      return original.apply(this, arguments);
    };
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.watchErrors = watchErrors;
})();
