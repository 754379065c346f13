/*
 * Credentials redacted in the page, before anything leaves it: the values of fields named
 * like a password, a secret, a token, an API key, a one-time code or a card's security
 * code, in the objects the page logs (arguments.js) and in the request and response
 * bodies a project records (bodies.js): JSON members (a whole body, one cut at its size
 * limit, JSON text logged as a string or held in a JSON string) and form-encoded pairs
 * (`user=jane&pwd=...`).
 * Each such value becomes "[redacted]"; the rest is kept as it was written. The names are
 * the server's (replay/credentials.py), sent with the recording options as
 * `credential_fields`; until they come, nothing is redacted here, and the server redacts
 * again whatever it receives (from other rrweb clients too). Part of recorder.js
 * (recorder-entry.js).
 */
(function () {
  'use strict';

  const REDACTED = '[redacted]';
  // A JSON member whose value is a string, a number or a literal: its name (escapes and
  // all), the colon, the value. The server's pattern.
  const MEMBER = /"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)/g;
  const FORM = /^[^=&\s]+=[^&\s]*(?:&[^=&\s]+=[^&\s]*)*$/;
  // Read past where the caller will cut, so that a member the cut falls in is whole.
  const MARGIN = 1000;
  let names = null; // the credential field names, once configured

  /** Takes the server's `credential_fields` ({names, short}: the names matched anywhere
   *  in a field's name, and those that must be the whole of it), or none. */
  function configure(fields) {
    names = null;
    if (!fields || typeof fields.names !== 'string' || typeof fields.short !== 'string') return;
    try {
      names = new RegExp('(?:' + fields.names + ')|^(?:' + fields.short + ')$', 'i');
    } catch (err) {
      names = null; // the server redacts all the same
    }
  }

  function isCredential(name) {
    return names !== null && names.test(name);
  }

  function formName(raw) {
    try {
      return decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch (err) {
      return raw;
    }
  }

  /** The text with the values of its credential fields redacted; given `keep`, the
   *  characters the caller keeps at most, only its head is read and returned (a page
   *  may log or fetch megabytes: the caller cuts them anyway). */
  function redact(text, keep) {
    if (names === null || typeof text !== 'string') return text;
    if (keep !== undefined && text.length > keep + MARGIN) text = text.slice(0, keep + MARGIN);
    if (FORM.test(text)) {
      return text.split('&').map((pair) => {
        const at = pair.indexOf('=');
        return isCredential(formName(pair.slice(0, at))) ? pair.slice(0, at + 1) + REDACTED : pair;
      }).join('&');
    }
    if (text.indexOf('"') < 0) return text;
    return text.replace(MEMBER, (member, name, colon, value) => {
      if (isCredential(name)) return '"' + name + '"' + colon + '"' + REDACTED + '"';
      if (value[0] !== '"' || value.indexOf('\\"') < 0) return member;
      let inner; // JSON text in a string (an API echoing what it was sent)
      try {
        inner = JSON.parse(value);
      } catch (err) {
        return member;
      }
      const cleaned = redact(inner);
      return cleaned === inner ? member : '"' + name + '"' + colon + JSON.stringify(cleaned);
    });
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.Credentials = {
    REDACTED: REDACTED,
    configure: configure,
    isCredential: isCredential,
    redact: redact,
  };
})();
