/*
 * The events rrweb emits, cut into batches for the transport: a batch about every
 * second, at once for a full snapshot or 500 events, and whenever the recorder asks
 * (the tab hidden, the page going, a flush). A batch of nothing but rrweb plugin events
 * (what the console and network capture report) waits up to 3 seconds for more: a page
 * that polls or logs while nobody touches it sends a batch every few seconds, not every
 * second (each batch costs the page its compression, its frame, its keeping in
 * sessionStorage and its ack). Part of recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const INTERVAL_MS = 1000;
  const MAX_EVENTS = 500;
  const PLUGIN_WAIT_MS = 3000;
  const FULL_SNAPSHOT = 2; // rrweb's EventType.FullSnapshot
  const PLUGIN = 6; // rrweb's EventType.Plugin

  /** Batches for `transport()`, the transport to enqueue them on (null while there is
   *  none: the events wait). */
  function batches(transport) {
    let buffer = [];
    let since = 0; // when the first event in the buffer came
    let waits = true; // the buffer holds only plugin events, which can wait
    let timer = null;

    function cut() {
      const target = transport();
      if (!buffer.length || !target) return;
      const events = buffer;
      buffer = [];
      waits = true;
      target.enqueue(events);
    }

    function tick() {
      if (buffer.length && (!waits || Date.now() - since >= PLUGIN_WAIT_MS)) cut();
    }

    return {
      add(event) {
        if (!buffer.length) since = Date.now();
        if (event.type !== PLUGIN) waits = false;
        buffer.push(event);
        // A full snapshot is worth sending at once: nothing replays without it.
        if (event.type === FULL_SNAPSHOT || buffer.length >= MAX_EVENTS) cut();
      },
      cut: cut,
      start() {
        clearInterval(timer);
        timer = setInterval(tick, INTERVAL_MS);
      },
      /** No more ticks; what the buffer holds is cut. */
      stop() {
        clearInterval(timer);
        timer = null;
        cut();
      },
    };
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.batches = batches;
})();
