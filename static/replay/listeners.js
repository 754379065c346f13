/*
 * Which clicks land on something the page listens to, for dead-click detection (README,
 * "Event tracking and friction"): elements given a click, mousedown, mouseup or
 * pointerdown/up listener after recorder.js ran (`noteClickListeners`, which
 * recorder-main.js calls as the script runs), or an onclick handler. A click on one of them, or on
 * something up to four levels inside one, is reported as {id: the rrweb id of the
 * clicked node}. The page's root containers, where frameworks listen for every click, do
 * not count for what is inside them. Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const DEPTH = 5; // the clicked node and four ancestors

  // Where frameworks listen for every click of the page: the document's root elements,
  // and a container right under <body> (React's #root) seen from inside it.
  function rootLike(element, depth) {
    return element === document.body || element === document.documentElement ||
      (depth > 0 && element.parentElement === document.body);
  }

  /** The elements given a click-like listener from now on (a WeakSet that fills as the
   *  page adds listeners). */
  function noteClickListeners() {
    const listened = new WeakSet();
    const addListener = EventTarget.prototype.addEventListener;
    EventTarget.prototype.addEventListener = function (type, listener, options) {
      if (/^(click|mouse(down|up)|pointer(down|up))$/.test(type) && this instanceof Element) {
        listened.add(this);
      }
      return addListener.call(this, type, listener, options);
    };
    return listened;
  }

  function watchClickListeners(listened, report) {
    document.addEventListener('click', (event) => {
      const target = event.composedPath ? event.composedPath()[0] : event.target;
      let element = target instanceof Element ? target : null;
      for (let depth = 0; element && depth < DEPTH; depth++, element = element.parentElement) {
        if (rootLike(element, depth)) return;
        if (listened.has(element) || typeof element.onclick === 'function') {
          const mirror = window.rrweb && window.rrweb.record && window.rrweb.record.mirror;
          const id = mirror ? mirror.getId(target) : -1;
          if (id > 0) report({ id: id });
          return;
        }
      }
    }, { capture: true, passive: true });
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.noteClickListeners = noteClickListeners;
  window.ReplayInternals.watchClickListeners = watchClickListeners;
})();
