/*
 * The project's privacy options in the page (README, "Privacy options"): asking the
 * server for them, deciding where and when nothing may be recorded, and turning them into
 * rrweb's record options. Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  // rrweb's list for maskAllInputs, plus hidden fields (rrweb looks options up by type).
  const INPUT_TYPES = [
    'color', 'date', 'datetime-local', 'email', 'month', 'number', 'range', 'search', 'tel',
    'text', 'time', 'url', 'week', 'textarea', 'select', 'password', 'hidden',
  ];
  // Card fields are masked even where inputs are not: rrweb masks a field carrying
  // data-rr-is-password as a password, whatever its type.
  const CARD_NAME = /(^|[^a-z])(cc|card|cvc|cvv|csc)([^a-z]|$)|cardnum|creditcard|cc-?num/i;
  let cardObserver = null;

  /** GET /ingest/config, retried with backoff: nothing is recorded until it answers. */
  function fetchConfig(server, key, attempt) {
    attempt = attempt || 0;
    const url = server + '/ingest/config?key=' + encodeURIComponent(key);
    return fetch(url, { credentials: 'omit' })
      .then((response) => response.json().then((body) => ({ status: response.status, body: body })))
      .then(({ status, body }) => {
        if (status === 200) return body;
        const error = (body && body.error) || {};
        if (error.retry === false) {
          throw Object.assign(new Error(error.reason || 'refused'), { final: true });
        }
        throw new Error('status ' + status);
      })
      .catch((err) => {
        if (err.final) throw err;
        const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
        return new Promise((resolve) => setTimeout(resolve, delay))
          .then(() => fetchConfig(server, key, attempt + 1));
      });
  }

  function doNotTrack() {
    return navigator.doNotTrack === '1' || window.doNotTrack === '1' || navigator.globalPrivacyControl === true;
  }

  function globMatches(pattern, text) {
    const pieces = pattern.split('*');
    if (pieces.length === 1) return pattern === text;
    const first = pieces[0];
    const last = pieces[pieces.length - 1];
    if (!text.startsWith(first) || !text.endsWith(last)) return false;
    let at = first.length;
    const end = text.length - last.length;
    for (const piece of pieces.slice(1, -1)) {
      const found = text.indexOf(piece, at);
      if (found < 0 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return at <= end;
  }

  /** A page where nothing is recorded: patterns with :// match the whole URL, others
   *  the path and query. */
  function excluded(config, href) {
    const url = new URL(href);
    const local = url.pathname + url.search;
    return (config.excluded_urls || []).some((pattern) =>
      globMatches(pattern, pattern.includes('://') ? url.href : local));
  }

  function selectorsParse(config) {
    const probe = document.createDocumentFragment();
    for (const selector of [config.block_selector, config.mask_selector, config.ignore_selector]) {
      if (!selector) continue;
      try {
        probe.querySelector(selector);
      } catch (err) {
        return false;
      }
    }
    return true;
  }

  /** Why nothing may be recorded in this tab now, or null. */
  function refusal(config, waitingForConsent) {
    if (config.respect_dnt && doNotTrack()) return 'the browser asks not to be tracked';
    if (waitingForConsent) return 'no consent yet';
    // A mask that does not apply must not leak what it was for.
    if (!selectorsParse(config)) return "a selector in the project's options does not parse";
    return null;
  }

  function markCardField(element) {
    if (element.tagName !== 'INPUT' || element.hasAttribute('data-rr-is-password')) return;
    const autocomplete = element.getAttribute('autocomplete') || '';
    if (autocomplete.startsWith('cc-') || CARD_NAME.test(element.name || '') || CARD_NAME.test(element.id || '')) {
      element.setAttribute('data-rr-is-password', '');
    }
  }

  /** Mark card fields now and as they come. Call before rrweb starts: this observer is
   *  then created before rrweb's and runs first, so a new card field is marked before
   *  rrweb serializes it. */
  function watchCardFields() {
    if (cardObserver) return;
    document.querySelectorAll('input').forEach(markCardField);
    cardObserver = new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === 'attributes') markCardField(record.target);
        for (const node of record.addedNodes || []) {
          if (node.nodeType !== 1) continue;
          markCardField(node);
          node.querySelectorAll('input').forEach(markCardField);
        }
      }
    });
    cardObserver.observe(document.documentElement, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ['autocomplete', 'name', 'id'],
    });
  }

  function selectors(own, extra) {
    return extra ? own + ', ' + extra : own;
  }

  /** rrweb's masking, blocking and ignoring options for the project's options. */
  function recordOptions(config) {
    const maskInputOptions = { password: true, hidden: true };
    if (config.mask_all_inputs) for (const type of INPUT_TYPES) maskInputOptions[type] = true;
    return {
      maskAllInputs: false, // rrweb's own list leaves hidden fields out: ours is above
      maskInputOptions: maskInputOptions,
      blockSelector: selectors('[data-replay-block]', config.block_selector),
      maskTextSelector: config.mask_all_text ? '*' : selectors('[data-replay-mask]', config.mask_selector),
      ignoreSelector: selectors('[data-replay-ignore]', config.ignore_selector),
    };
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.Privacy = { fetchConfig, excluded, refusal, watchCardFields, recordOptions };
})();
