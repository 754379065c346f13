/*
 * One argument of a console call as JSON text, for console.js: at most 2,000 characters
 * and valid JSON even when cut (a cut string ends with …; a string `hi` becomes `"hi"`);
 * objects three levels deep at most ("[Object]", "[Array]" below), cycles as
 * "[Circular]", DOM nodes described and not walked ("<button#buy.primary>"), errors as
 * "TypeError: message", functions as "[Function f]". Getters are read (one that throws
 * is written "[getter threw]"); only own enumerable properties are. Credentials are
 * redacted (credentials.js): a field named like a password is written "[redacted]", and
 * so are such fields in JSON or form text logged as a string. Part of recorder.js
 * (recorder-entry.js).
 */
(function () {
  'use strict';

  const ARGUMENT_CHARS = 2000;
  const CLOSING_CHARS = 40; // room kept for the brackets that close a cut object
  const DEPTH = 3;
  const hasOwn = Object.prototype.hasOwnProperty;
  const objectTag = Object.prototype.toString;
  const NO_CREDENTIALS = { isCredential: () => false, redact: (text) => text, REDACTED: '' };

  /** credentials.js's, found when a message is written (it may load after this file). */
  function credentials() {
    return window.ReplayInternals.Credentials || NO_CREDENTIALS;
  }

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
    if (type === 'string') return JSON.stringify(credentials().redact(item, ARGUMENT_CHARS));
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
      const { isCredential, REDACTED } = credentials();
      for (const key in value) {
        if (!hasOwn.call(value, key)) return null;
        const text = isCredential(key) ? JSON.stringify(REDACTED) : flatItem(value[key]);
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
    const { isCredential, redact, REDACTED } = credentials();
    if (type === 'string' && value.length <= budget) {
      const json = JSON.stringify(redact(value));
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
      if (type === 'string') return quoted(redact(item, ARGUMENT_CHARS));
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
          if (isCredential(key)) quoted(REDACTED);
          else walk(read(item, key), depth + 1);
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

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.ConsoleArguments = { serialize: serialize, errorText: errorText };
})();
