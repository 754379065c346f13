/*
 * What the player gives rrweb's Replayer of a crowded stretch of recording. The Replayer
 * queues an action for every event, each slower to take off the queue the longer it is;
 * it also draws the mouse's tail anew at every position, over every position still on
 * the tail. A recording with thousands of positions, scrolls, inputs, custom events or
 * attribute changes a second (a hostile client's; rrweb samples the pointer every 50 ms
 * and scrolls every 100 ms) would hang the viewer's tab or crawl. A screen shows one
 * state a frame, so the player is given, of each FRAME_MS:
 *
 * - the last pointer position;
 * - the last scroll and the last input of each element (each only ever replaced by the
 *   next), of at most PER_FRAME elements;
 * - at most PER_FRAME custom and as many plugin events (which change nothing on the
 *   page: the player reads what they say from the server's records);
 * - in a frame of more than PER_FRAME DOM changes, each run of changes to attributes and
 *   texts only, one after the other, as one change (the last value of each), as long as
 *   they can be told as one (a style attribute changed property by property after it
 *   was set or removed whole cannot).
 *
 * Recordings made by rrweb's recorder are given as they are. Used by source.js.
 */
(function () {
  'use strict';

  const FRAME_MS = 16;
  const PER_FRAME = 500;
  const MOVES = [1, 6, 12]; // MouseMove, TouchMove, Drag
  const LAST_WINS = [3, 5]; // Scroll, Input
  const INERT = [5, 6]; // Custom, Plugin
  const MUTATION = 0;

  function isMove(event) {
    const data = event.type === 3 ? event.data : null;
    return Boolean(data) && MOVES.includes(data.source) && Array.isArray(data.positions);
  }

  /** The events with at most a pointer position, a scroll and an input of each element,
   *  and PER_FRAME custom and plugin events a frame; the same array when nothing is left
   *  out. */
  function thinOut(events) {
    const lastPosition = new Map(); // frame -> its last pointer position
    const lastOf = new Map(); // kind, frame and element -> its last scroll or input
    const counted = new Map(); // kind and frame -> elements or events let in
    const left = new Set(); // events left out
    let crowded = false;
    const admit = (group) => {
      const seen = counted.get(group) || 0;
      counted.set(group, seen + 1);
      return seen < PER_FRAME;
    };
    for (const event of events) {
      if (isMove(event)) {
        for (const position of event.data.positions) {
          if (!position) continue;
          const frame = Math.floor((event.timestamp + (position.timeOffset || 0)) / FRAME_MS);
          crowded = crowded || lastPosition.has(frame);
          lastPosition.set(frame, position);
        }
        continue;
      }
      const frame = Math.floor(event.timestamp / FRAME_MS);
      if (INERT.includes(event.type)) {
        if (!admit(event.type + ':' + frame)) left.add(event);
        continue;
      }
      const data = event.type === 3 ? event.data : null;
      if (!data || !LAST_WINS.includes(data.source)) continue;
      const group = '3.' + data.source + ':' + frame;
      const key = group + ':' + data.id;
      const before = lastOf.get(key);
      if (before) {
        left.add(before);
      } else if (!admit(group)) {
        left.add(event);
        continue;
      }
      lastOf.set(key, event);
    }
    if (!crowded && !left.size) return events;
    const kept = new Set(lastPosition.values());
    const thinned = [];
    for (const event of events) {
      if (isMove(event)) {
        const positions = event.data.positions.filter((position) => kept.has(position));
        if (positions.length) {
          thinned.push(Object.assign({}, event, { data: Object.assign({}, event.data, { positions }) }));
        }
      } else if (!left.has(event)) {
        thinned.push(event);
      }
    }
    return thinned;
  }

  const isEmpty = (list) => !Array.isArray(list) || list.length === 0;
  const isStyleDiff = (value) => value !== null && typeof value === 'object';

  /** Whether an event changes only attributes and texts. */
  function onlyChanges(event) {
    const data = event.type === 3 ? event.data : null;
    return Boolean(data) && data.source === MUTATION && isEmpty(data.adds) && isEmpty(data.removes);
  }

  /** A run of attribute and text changes being told as one. */
  class Run {
    constructor(event) {
      this.event = event;
      this.texts = new Map(); // id -> value
      this.attributes = new Map(); // id -> {name: value}
    }

    /** Takes in the event's changes, unless one cannot be told with those before. */
    take(event) {
      const changes = event.data.attributes || [];
      for (const change of changes) {
        const held = this.attributes.get(change.id);
        if (!held || !change.attributes) continue;
        for (const name of Object.keys(change.attributes)) {
          if (isStyleDiff(change.attributes[name]) && name in held && !isStyleDiff(held[name])) return false;
        }
      }
      for (const text of event.data.texts || []) this.texts.set(text.id, text.value);
      for (const change of changes) {
        const held = this.attributes.get(change.id) || {};
        for (const name of Object.keys(change.attributes || {})) {
          const value = change.attributes[name];
          held[name] = isStyleDiff(value) && isStyleDiff(held[name]) ? Object.assign({}, held[name], value) : value;
        }
        this.attributes.set(change.id, held);
      }
      this.event = event;
      return true;
    }

    /** The one change the run tells, at the time of its last event. */
    toEvent() {
      const texts = Array.from(this.texts, ([id, value]) => ({ id: id, value: value }));
      const attributes = Array.from(this.attributes, ([id, changed]) => ({ id: id, attributes: changed }));
      const data = { source: MUTATION, adds: [], removes: [], texts: texts, attributes: attributes };
      return Object.assign({}, this.event, { data: data });
    }
  }

  /** The events with each run of attribute and text changes in a crowded frame told as
   *  one; the same array when no frame is crowded. */
  function mergeChanges(events) {
    const counted = new Map(); // frame -> DOM changes
    let crowded = false;
    for (const event of events) {
      if (event.type !== 3 || !event.data || event.data.source !== MUTATION) continue;
      const frame = Math.floor(event.timestamp / FRAME_MS);
      const seen = (counted.get(frame) || 0) + 1;
      counted.set(frame, seen);
      crowded = crowded || seen > PER_FRAME;
    }
    if (!crowded) return events;
    const merged = [];
    let run = null;
    let runFrame = null;
    const close = () => {
      if (run !== null) merged.push(run.toEvent());
      run = null;
    };
    for (const event of events) {
      const frame = Math.floor(event.timestamp / FRAME_MS);
      if (!onlyChanges(event) || counted.get(frame) <= PER_FRAME) {
        close();
        merged.push(event);
        continue;
      }
      if (run !== null && runFrame === frame && run.take(event)) continue;
      close();
      run = new Run(event);
      runFrame = frame;
      run.take(event);
    }
    close();
    return merged;
  }

  /** What the Replayer is given of these events (above): the events as they are should
   *  any of them be malformed here (the Replayer then meets them as recorded). */
  function thinCrowded(events) {
    try {
      return mergeChanges(thinOut(events));
    } catch (err) {
      return events;
    }
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.thinCrowded = thinCrowded;
})();
