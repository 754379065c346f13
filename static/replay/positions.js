/*
 * What heatmaps and scroll maps need that rrweb does not record (README, "Heatmaps"):
 *
 * - where a click fell inside the clicked element, as fractions of its box (0 at the
 *   left or top edge, 1 at the right or bottom), reported as {id, fx, fy} with the rrweb
 *   id of the element: one getBoundingClientRect per click, nothing else. A click made
 *   with the keyboard (Enter or Space on a button) has no place and is not reported;
 *
 * - which element scrolls the page: the document, or, when the document does not
 *   scroll, the scrolling container that fills most of the viewport (an app whose main
 *   content scrolls inside a <main>). Reported as {id, height, viewport} (the rrweb id of
 *   the container, or 0 for the document; its scrollable height and its visible height,
 *   in CSS pixels) when the page first scrolls and whenever one of them changes.
 *
 * Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const ROUND = 10000; // fractions to four decimals
  const MAIN_SHARE = 0.5; // a container is the page's if it is at least half the viewport

  function rrwebId(node) {
    const mirror = window.rrweb && window.rrweb.record && window.rrweb.record.mirror;
    return mirror ? mirror.getId(node) : -1;
  }

  function fraction(offset, size) {
    return Math.round(Math.min(1, Math.max(0, offset / size)) * ROUND) / ROUND;
  }

  function watchClickPositions(report) {
    document.addEventListener('click', (event) => {
      if (event.detail === 0) return; // from the keyboard: no place
      const target = event.composedPath ? event.composedPath()[0] : event.target;
      if (!(target instanceof Element)) return;
      const id = rrwebId(target);
      if (id <= 0) return;
      const box = target.getBoundingClientRect();
      if (!(box.width > 0 && box.height > 0)) return;
      report({
        id: id,
        fx: fraction(event.clientX - box.left, box.width),
        fy: fraction(event.clientY - box.top, box.height),
      });
    }, { capture: true, passive: true });
  }

  function documentScrolls(root) {
    return root.scrollHeight > root.clientHeight + 1;
  }

  function watchScrolling(report) {
    let last = '';
    document.addEventListener('scroll', (event) => {
      const root = document.scrollingElement || document.documentElement;
      const scroller = event.target === document ? root : event.target;
      if (!(scroller instanceof Element)) return;
      let id = 0;
      if (scroller !== root) {
        if (documentScrolls(root)) return; // the page scrolls: an inner box is not it
        if (scroller.clientHeight < innerHeight * MAIN_SHARE ||
            scroller.clientWidth < innerWidth * MAIN_SHARE) return;
        id = rrwebId(scroller);
        if (id <= 0) return;
      }
      const viewport = scroller === root ? innerHeight : scroller.clientHeight;
      const payload = { id: id, height: scroller.scrollHeight, viewport: viewport };
      const key = JSON.stringify(payload);
      if (key === last) return;
      last = key;
      report(payload);
    }, { capture: true, passive: true });
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.watchClickPositions = watchClickPositions;
  window.ReplayInternals.watchScrolling = watchScrolling;
})();
