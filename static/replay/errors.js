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

  function watchErrors(report) {
    let budget = PER_MINUTE;
    setInterval(() => {
      budget = PER_MINUTE;
    }, 60000);
    const send = (payload) => {
      budget -= 1;
      payload.message = String(payload.message || '').slice(0, MESSAGE_CHARS);
      if (payload.stack) payload.stack = String(payload.stack).slice(0, STACK_CHARS);
      report(payload);
    };
    // Never an error in the page's console for the recording's sake: what cannot be
    // written as text (a value whose toString throws) is not reported.
    const safely = (listener) => (event) => {
      try {
        listener(event);
      } catch (err) {
        // not reported
      }
    };
    window.addEventListener('error', safely((event) => {
      if (budget <= 0 || (!event.message && !event.error)) return; // or a resource that failed to load
      send({
        kind: 'error',
        message: event.message || text(event.error),
        source: event.filename || '',
        line: event.lineno || 0,
        column: event.colno || 0,
        stack: event.error && event.error.stack,
      });
    }));
    window.addEventListener('unhandledrejection', safely((event) => {
      if (budget <= 0) return;
      const reason = event.reason;
      send({ kind: 'rejection', message: text(reason), stack: reason && reason.stack });
    }));
    // Past the budget a call costs the page one comparison; within it, whatever its
    // arguments do when written as text, the page's console.error works as before.
    const original = console.error;
    console.error = function () {
      if (budget > 0) {
        try {
          const args = Array.prototype.slice.call(arguments);
          const error = args.find((arg) => arg instanceof Error);
          send({ kind: 'console', message: args.map(text).join(' '), stack: error && error.stack });
        } catch (err) {
          // not reported: an argument that cannot be written as text
        }
      }
      return original.apply(this, arguments);
    };
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.watchErrors = watchErrors;
})();
