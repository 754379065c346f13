/*
 * The page's console, for the recording: an rrweb record plugin, `rrweb/console@1`, in
 * the format of rrweb's own console plugin, {level, payload, trace}:
 *
 * - level is log, info, warn, error, debug or assert (console.assert only when its
 *   condition is falsy); uncaught errors and unhandled rejections are errors, with a
 *   payload like "Uncaught TypeError: ..." and the error's stack as the trace;
 * - payload holds each argument as JSON text (a string `hi` becomes `"hi"`), at most
 *   2,000 characters and valid JSON even when cut (a cut string ends with …); objects
 *   three levels deep at most ("[Object]", "[Array]" below), cycles as "[Circular]",
 *   DOM nodes described and not walked ("<button#buy.primary>"), errors as
 *   "TypeError: message" (their stack becomes the trace), functions as "[Function f]";
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
  const ARGUMENT_CHARS = 2000;
  const CLOSING_CHARS = 40; // room kept for the brackets that close a cut object
  const DEPTH = 3;
  const FRAMES = 10;
  const FRAME_CHARS = 300;
  const RECORDER_PREFIX = '[replay]';
  // Frames of this file are ours, not the page's: left out of traces.
  const ownScript = document.currentScript ? document.currentScript.src : '';
  const hasOwn = Object.prototype.hasOwnProperty;
  const objectTag = Object.prototype.toString;

  // -- one argument as JSON text --

  function errorText(error) {
    const name = String(error.name || 'Error');
    const message = String(error.message || '');
    return message ? name + ': ' + message : name;
  }

  function nodeText(node) {
    if (node.nodeType !== 1) return node.nodeName;
    let text = '<' + String(node.tagName).toLowerCase();
    if (node.id) text += '#' + node.id;
    const classes = (node.getAttribute('class') || '').trim();
    if (classes) text += '.' + classes.split(/\s+/).join('.');
    return text.slice(0, 200) + '>';
  }

  /** What a value that is no plain object or array is written as, or null. */
  function described(value) {
    if (value.window === value) return '[Window]';
    if (typeof value.nodeType === 'number' && typeof value.nodeName === 'string') {
      return nodeText(value);
    }
    const tag = objectTag.call(value).slice(8, -1);
    if (value instanceof Error || tag === 'Error' || tag === 'DOMException') return errorText(value);
    if (tag === 'Date') return isNaN(value) ? 'Invalid Date' : value.toISOString();
    if (tag === 'RegExp') return String(value);
    if (tag === 'Map' || tag === 'Set') return tag + '(' + value.size + ')';
    if (tag === 'ArrayBuffer') return 'ArrayBuffer(' + value.byteLength + ')';
    if (ArrayBuffer.isView(value)) return tag + '(' + (value.length ?? value.byteLength) + ')';
    if (/^(Promise|WeakMap|WeakSet|WeakRef)$/.test(tag)) return '[' + tag + ']';
    if (value instanceof Event) return '[' + tag + ' ' + value.type + ']';
    return null;
  }

  /** A value of a flat object or array as JSON text: a string, finite number, boolean or
   *  null; otherwise null. */
  function flatItem(item) {
    const type = typeof item;
    if (type === 'string') return JSON.stringify(item);
    if (type === 'boolean' || (type === 'number' && Number.isFinite(item))) return String(item);
    return item === null ? 'null' : null;
  }

  /** The JSON text of a plain object or array whose values are all strings, finite
   *  numbers, booleans or null, if it is at most `budget` long: what `serialize`'s walk
   *  writes for it, at a fraction of the cost (the common argument, as in
   *  `console.log('saved', item)`). Null for anything else, which the walk writes. */
  function flatJSON(value, budget) {
    const array = Array.isArray(value);
    const proto = Object.getPrototypeOf(value);
    if (array ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) return null;
    // What `described` would write instead: a node-like object, a tagged one.
    if (typeof value.nodeType === 'number' || value[Symbol.toStringTag] !== undefined) return null;
    let json = array ? '[' : '{';
    if (array) {
      for (let i = 0; i < value.length && json.length <= budget; i++) {
        const text = flatItem(value[i]);
        if (text === null) return null;
        json += (i ? ',' : '') + text;
      }
    } else {
      for (const key in value) {
        if (!hasOwn.call(value, key)) return null;
        const text = flatItem(value[key]);
        if (text === null) return null;
        json += (json.length > 1 ? ',' : '') + JSON.stringify(key) + ':' + text;
        if (json.length > budget) return null;
      }
    }
    json += array ? ']' : '}';
    return json.length <= budget ? json : null;
  }

  /** The JSON text of one argument, at most ARGUMENT_CHARS long and valid JSON. */
  function serialize(value) {
    const budget = ARGUMENT_CHARS - CLOSING_CHARS;
    // Most arguments are short strings and numbers: written as the walk below would
    // write them, without setting it up (serializing was 24 of the 58 µs a recorded
    // message cost the page).
    const type = typeof value;
    if (type === 'string' && value.length <= budget) {
      const json = JSON.stringify(value);
      if (json.length <= budget) return json;
    } else if ((type === 'number' && Number.isFinite(value)) || type === 'boolean') {
      return String(value);
    } else if (type === 'object' && value !== null) {
      let flat = null;
      try {
        flat = flatJSON(value, budget);
      } catch (err) {
        // a getter that throws, a revoked proxy...: the walk tells them
      }
      if (flat !== null) return flat;
    }
    const parts = [];
    const ancestors = [];
    let size = 0;
    const put = (text) => {
      parts.push(text);
      size += text.length;
    };
    // A string cut to the room left, ending with … when cut (escapes can make its
    // JSON longer than the string, hence the loop).
    const quoted = (text) => {
      const room = Math.max(3, budget - size);
      let json = text.length > room ? null : JSON.stringify(text);
      if (json === null || json.length > room) {
        let keep = Math.min(text.length, room - 3);
        json = JSON.stringify(text.slice(0, keep) + '…');
        while (json.length > room && keep > 0) {
          keep = Math.max(0, keep - (json.length - room));
          json = JSON.stringify(text.slice(0, keep) + '…');
        }
      }
      put(json);
    };
    const read = (object, key) => {
      try {
        return object[key];
      } catch (err) {
        return '[getter threw]';
      }
    };
    const walk = (item, depth) => {
      const type = typeof item;
      if (type === 'string') return quoted(item);
      if (type === 'number') return Number.isFinite(item) ? put(String(item)) : quoted(String(item));
      if (type === 'boolean') return put(String(item));
      if (item === null) return put('null');
      if (type === 'undefined') return quoted('undefined');
      if (type === 'bigint') return quoted(item + 'n');
      if (type === 'symbol') return quoted(item.toString());
      if (type === 'function') return quoted('[Function ' + (item.name || 'anonymous') + ']');
      if (ancestors.includes(item)) return quoted('[Circular]');
      const description = described(item);
      if (description !== null) return quoted(description);
      const array = Array.isArray(item);
      if (depth >= DEPTH) return quoted(array ? '[Array]' : '[Object]');
      ancestors.push(item);
      put(array ? '[' : '{');
      let count = 0;
      if (array) {
        for (let i = 0; i < item.length; i++) {
          if (count++) put(',');
          if (size >= budget) {
            put('"…"');
            break;
          }
          walk(read(item, i), depth + 1);
        }
      } else {
        for (const key in item) {
          if (!hasOwn.call(item, key)) continue;
          if (count++) put(',');
          if (size >= budget) {
            put('"…":"…"');
            break;
          }
          quoted(key);
          put(':');
          walk(read(item, key), depth + 1);
        }
      }
      put(array ? ']' : '}');
      ancestors.pop();
      return undefined;
    };
    try {
      walk(value, 0);
    } catch (err) {
      return JSON.stringify('[Object]'); // a revoked proxy, a cross-origin object...
    }
    const text = parts.join('');
    return text.length <= ARGUMENT_CHARS ? text : text.slice(0, ARGUMENT_CHARS - 1) + '…';
  }

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
