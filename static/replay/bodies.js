/*
 * What of a request's headers and bodies network.js and xhr.js keep, and what their
 * sizes are: only the headers the project names, bodies only of JSON and text types,
 * with the values of credential fields redacted (credentials.js), at most BODY_CHARS
 * characters each (a cut body ends with …), and a response's text read from a clone of
 * it, never from the page's own. Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const BODY_CHARS = 10240;
  const BODY_WAIT_MS = 2000;
  const noop = () => {};

  const lower = (name) => String(name).toLowerCase();

  function textual(type) {
    const mime = lower(type || '').split(';')[0].trim();
    return mime === 'application/json' || mime.endsWith('+json') || mime.startsWith('text/') ||
      mime === 'application/x-www-form-urlencoded';
  }

  /** A body's text as kept: credentials redacted, then cut to BODY_CHARS. */
  function kept(text) {
    const credentials = window.ReplayInternals.Credentials;
    const clean = credentials ? credentials.redact(text, BODY_CHARS) : text;
    return clean.length > BODY_CHARS ? clean.slice(0, BODY_CHARS - 1) + '…' : clean;
  }

  function utf8Bytes(text) {
    let bytes = text.length;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdfff) bytes += 1; // half of a 4-byte pair
      else if (code > 0x7ff) bytes += 2;
      else if (code > 0x7f) bytes += 1;
    }
    return bytes;
  }

  function numberOrNull(text) {
    const value = text === null || text === '' ? NaN : Number(text);
    return Number.isFinite(value) ? value : null;
  }

  /** The headers named in `names` (lower case) of a fetch's headers (Headers, pairs or a
   *  plain object), reading no other and consuming no iterator the page passed. */
  function pickHeaders(source, names) {
    if (!names.size || !source || typeof source !== 'object') return {};
    const picked = new Map();
    const add = (name, value) => {
      const key = lower(name);
      if (!names.has(key)) return;
      picked.set(key, picked.has(key) ? picked.get(key) + ', ' + value : String(value));
    };
    if (typeof source.get === 'function' && typeof source.append === 'function') { // Headers
      names.forEach((name) => {
        const value = source.get(name);
        if (value !== null) picked.set(name, value);
      });
    } else if (Array.isArray(source)) {
      for (const pair of source) if (pair && pair.length === 2) add(pair[0], pair[1]);
    } else if (!(Symbol.iterator in source)) {
      for (const key of Object.keys(source)) if (names.has(lower(key))) add(key, source[key]);
    }
    return Object.fromEntries(picked); // own properties even for a header named __proto__
  }

  /** A request body's size in bytes (null if unknown) and its text, if it is text the
   *  project records. */
  function requestBody(body, type, bodies) {
    if (body === undefined || body === null) return { size: 0, text: null };
    let text = null;
    let size = null;
    if (typeof body === 'string') text = body;
    else if (body instanceof URLSearchParams) text = body.toString();
    if (text !== null) size = utf8Bytes(text);
    else if (body instanceof Blob) size = body.size;
    else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) size = body.byteLength;
    const implied = typeof body === 'string' ? 'text/plain' : 'application/x-www-form-urlencoded';
    const shown = bodies && text !== null && textual(type || implied) ? kept(text) : null;
    return { size: size, text: shown };
  }

  /** Up to BODY_CHARS of a response's text, from a clone, and its size when read to the
   *  end; waits BODY_WAIT_MS at most (a stream may never end). */
  function readText(clone) {
    return new Promise((resolve) => {
      const reader = clone.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      let bytes = 0;
      let settled = false;
      const settle = (complete) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!complete) reader.cancel().catch(noop); // our branch only: the page's goes on
        resolve({ text: kept(text), bytes: complete ? bytes : null });
      };
      const timer = setTimeout(() => settle(false), BODY_WAIT_MS);
      const pump = () => reader.read().then(({ done, value }) => {
        if (settled) return;
        if (done) {
          text += decoder.decode();
          settle(true);
          return;
        }
        bytes += value.byteLength;
        text += decoder.decode(value, { stream: true });
        if (text.length > BODY_CHARS) settle(false);
        else pump();
      }).catch(() => settle(false));
      pump();
    });
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.RequestBodies = {
    lower: lower,
    textual: textual,
    kept: kept,
    numberOrNull: numberOrNull,
    pickHeaders: pickHeaders,
    requestBody: requestBody,
    readText: readText,
  };
})();
