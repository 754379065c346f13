/*
 * The page's moves within itself, for recorder-main.js: `watchNavigation(moved)` calls
 * moved(kind) whenever the page's URL changes without a page load, where kind is
 * pushState or replaceState (the page's script changed it: single-page apps),
 * popstate (back, forward) or hashchange. A call that leaves the URL as it was (a
 * replaceState of the same URL, to keep state) is no move. Part of recorder.js
 * (recorder-entry.js).
 */
(function () {
  'use strict';

  function watchNavigation(moved) {
    let lastHref = location.href;
    const noted = (kind) => {
      if (location.href === lastHref) return;
      lastHref = location.href;
      moved(kind);
    };
    for (const name of ['pushState', 'replaceState']) {
      const original = history[name];
      history[name] = function () {
        const result = original.apply(this, arguments);
        noted(name);
        return result;
      };
    }
    window.addEventListener('popstate', () => noted('popstate'));
    window.addEventListener('hashchange', () => noted('hashchange'));
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.watchNavigation = watchNavigation;
})();
