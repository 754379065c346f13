/*
 * The page's console, for the recording: an rrweb record plugin, `rrweb/console@1`, in
 * the format of rrweb's own console plugin, {level, payload, trace}:
 *
 * - level is log, info, warn, error, debug or assert (console.assert only when its
 *   condition is falsy); uncaught errors and unhandled rejections are errors, with a
 *   payload like "Uncaught TypeError: ..." and the error's stack as the trace;
 * - payload holds each argument as JSON text, as arguments.js writes it (at most 2,000
 *   characters, objects three levels deep, DOM nodes described and not walked); an
 *   error's stack becomes the trace;
 * - trace holds the caller's stack frames ("at f (https://x/app.js:3:9)"), at most 10.
 *
 * At most 100 messages a minute in a tab: the rest are counted, and the count is
 * recorded as a custom event `replay/console-dropped` {count} when the minute ends,
 * recording stops, or the page goes or is hidden. The page's console works exactly as
 * before: every call reaches the original method with the same arguments and returns
 * what it returns, whatever fails here. The recorder's own messages ("[replay] ...")
 * are not recorded. rrweb calls the observer when recording starts and its result when
 * recording stops, which puts the console back as it was. Part of recorder.js
 * (recorder-entry.js).
 */
(function () {
  'use strict';

  const NAME = 'rrweb/console@1';
  const LEVELS = ['log', 'info', 'warn', 'error', 'debug', 'assert'];
  const PER_MINUTE = 100;
  const MINUTE_MS = 60000;
  const ARGUMENTS = 20;
  const FRAMES = 10;
  const FRAME_CHARS = 300;
  const RECORDER_PREFIX = '[replay]';
  // Frames of this file are ours, not the page's: left out of traces.
  const ownScript = document.currentScript ? document.currentScript.src : '';
  const objectTag = Object.prototype.toString;

  // -- stack traces --

  function isError(value) {
    return value instanceof Error || (value !== null && typeof value === 'object' &&
      objectTag.call(value) === '[object Error]');
  }

  /** The frames of a stack, without its first line(s), the message. */
  function frames(stack, header) {
    if (typeof stack !== 'string') return [];
    const body = header && stack.startsWith(header) ? stack.slice(header.length) : stack;
    const found = [];
    for (const line of body.split('\n')) {
      const frame = line.trim();
      if (!frame || (ownScript && frame.includes(ownScript))) continue;
      found.push(frame.slice(0, FRAME_CHARS));
      if (found.length === FRAMES) break;
    }
    return found;
  }

  function errorFrames(error) {
    try {
      return frames(error.stack, String(error));
    } catch (err) {
      return [];
    }
  }

  /** The frames of whoever called `wrapper` (V8 leaves ours out as it captures them,
   *  which spares formatting them: the stack is most of what a message costs). */
  function callerFrames(wrapper) {
    const limit = Error.stackTraceLimit;
    const holder = {};
    try {
      if (Error.captureStackTrace) {
        Error.stackTraceLimit = FRAMES;
        Error.captureStackTrace(holder, wrapper);
      } else {
        Error.stackTraceLimit = FRAMES + 3; // ours are left out below
        holder.stack = new Error().stack;
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
    return frames(holder.stack, 'Error');
  }

  // -- at most PER_MINUTE messages a minute in this tab, whichever recording takes them --

  // A minute starts with its first message; past the budget a call only counts.
  const minute = { used: 0, dropped: 0, timer: null };

  function reportDropped() {
    if (!minute.dropped) return;
    try {
      window.rrweb.record.addCustomEvent('replay/console-dropped', { count: minute.dropped });
      minute.dropped = 0;
    } catch (err) {
      // Not recording now: the count is reported with the next one.
    }
  }

  function endMinute() {
    minute.timer = null;
    minute.used = 0;
    reportDropped();
  }

  /** Whether a call to console[level] with these first two arguments is a message of
   *  the page's: not a console.assert whose condition holds, nor the recorder's own. */
  function isMessage(level, first, second) {
    if (level === 'assert' && first) return false; // its condition holds
    const head = level === 'assert' ? second : first;
    return !(typeof head === 'string' && head.startsWith(RECORDER_PREFIX));
  }

  function admitted() {
    if (minute.used < PER_MINUTE) {
      if (minute.timer === null) minute.timer = setTimeout(endMinute, MINUTE_MS);
      minute.used += 1;
      return true;
    }
    minute.dropped += 1;
    return false;
  }

  // -- the plugin --

  let busy = false; // inside our own handling: a console call from there is not recorded

  function observe(callback, win) {
    // arguments.js, beside this one in recorder.js or loaded as a script of its own.
    const { serialize, errorText } = window.ReplayInternals.ConsoleArguments;
    const record = (level, payload, trace) => {
      try {
        callback({ level: level, payload: payload, trace: trace });
      } catch (err) {
        // Whatever the recording does with it, the page's console goes on.
      }
    };

    // Nothing is allocated before a message is admitted.
    const noteCall = (level, args, wrapper) => {
      if (!isMessage(level, args[0], args[1]) || !admitted()) return;
      const first = level === 'assert' ? 1 : 0;
      let shown = Array.prototype.slice.call(args, first, first + ARGUMENTS);
      if (first && !shown.length) shown = ['Assertion failed'];
      const error = shown.find(isError);
      record(level, shown.map(serialize), error ? errorFrames(error) : callerFrames(wrapper));
    };

    const noteUncaught = (text, error) => {
      if (!admitted()) return;
      record('error', [serialize(text)], isError(error) ? errorFrames(error) : []);
    };

    const onError = (event) => {
      if (busy || (!event.message && !event.error)) return; // no error: a resource failed
      busy = true;
      try {
        const error = event.error;
        let text = event.message || (isError(error) ? errorText(error) : String(error));
        if (!text.startsWith('Uncaught')) text = 'Uncaught ' + text;
        noteUncaught(text, error);
      } catch (err) {
        // nothing of the page's depends on this
      }
      busy = false;
    };

    const onRejection = (event) => {
      if (busy) return;
      busy = true;
      try {
        const reason = event.reason;
        const what = isError(reason) ? errorText(reason)
          : typeof reason === 'string' ? reason : serialize(reason);
        noteUncaught('Uncaught (in promise) ' + what, reason);
      } catch (err) {
        // nothing of the page's depends on this
      }
      busy = false;
    };

    const restores = LEVELS.map((level) => {
      const target = win.console;
      const original = target && target[level];
      if (typeof original !== 'function') return () => {};
      let on = true;
      const wrapper = function () {
        if (on && !busy) {
          if (minute.used < PER_MINUTE) {
            busy = true;
            try {
              noteCall(level, arguments, wrapper);
            } catch (err) {
              // The page's console must work whatever fails here.
            }
            busy = false;
          } else if (isMessage(level, arguments[0], arguments[1])) {
            // Past the budget a call only counts, and costs the page next to nothing.
            minute.dropped += 1;
          }
        }
        return original.apply(this, arguments);
      };
      target[level] = wrapper;
      // Someone who wrapped the method after us keeps their wrapper, around ours,
      // which from now on only passes calls on.
      return () => {
        on = false;
        if (target[level] === wrapper) target[level] = original;
      };
    });
    win.addEventListener('error', onError);
    win.addEventListener('unhandledrejection', onRejection);
    // Before the recorder's own listeners cut its batch as the page goes or is hidden
    // (recorder-main.js adds them again after its plugins start).
    const hidden = () => {
      if (win.document.visibilityState === 'hidden') reportDropped();
    };
    win.addEventListener('pagehide', reportDropped, true);
    win.document.addEventListener('visibilitychange', hidden, true);

    return () => {
      restores.forEach((restore) => restore());
      win.removeEventListener('error', onError);
      win.removeEventListener('unhandledrejection', onRejection);
      win.removeEventListener('pagehide', reportDropped, true);
      win.document.removeEventListener('visibilitychange', hidden, true);
      reportDropped();
    };
  }

  /** The plugin for rrweb.record's `plugins`, or null if the project does not capture
   *  the console. */
  function consolePlugin(config) {
    return config.capture_console ? { name: NAME, observer: observe, options: {} } : null;
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.consolePlugin = consolePlugin;
})();
