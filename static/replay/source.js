/*
 * Where the player's events come from: the session's manifest, then one keyframe and
 * the segments after it, never the whole recording. Opening a moment loads the last
 * keyframe at or before it (a synthesized full snapshot the server stores every few
 * seconds of recording) and the segments from there to a little past the moment;
 * playing on loads the next segments ahead of the playhead, and `trim` lets go of what
 * is far behind it by starting over from a later keyframe or page load.
 */
(function () {
  'use strict';

  const AHEAD_MS = 15000; // how far past the playhead segments are loaded
  // How much a playing Replayer keeps behind the playhead before it lets go of older
  // events (the player reads it on every try, so a page or a test may change it).
  const KEEP_BEHIND_MS = 60000;

  // rrweb's Replayer queues an action for every event, each slower to take off the queue
  // the longer it is; it also draws the mouse's tail anew at every position, over every
  // position still on the tail. A recording with thousands of positions, scrolls, inputs
  // or custom events a second (a hostile client's; rrweb samples the pointer every 50 ms
  // and scrolls every 100 ms) would hang the viewer's tab or crawl. A screen shows one
  // state a frame, so the player is given, of each FRAME_MS: the last pointer position;
  // the last scroll and the last input of each element (each only ever replaced by the
  // next), of at most PER_FRAME elements; and at most PER_FRAME custom and as many plugin
  // events (which change nothing on the page: the player reads what they say from the
  // server's records).
  const FRAME_MS = 16;
  const PER_FRAME = 500;
  const MOVES = [1, 6, 12]; // MouseMove, TouchMove, Drag
  const LAST_WINS = [3, 5]; // Scroll, Input
  const INERT = [5, 6]; // Custom, Plugin

  function isMove(event) {
    const data = event.type === 3 ? event.data : null;
    return Boolean(data) && MOVES.includes(data.source) && Array.isArray(data.positions);
  }

  /** The events with what a frame shows of them (above); the same array when nothing
   *  is left out. */
  function thin(events) {
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

  async function getJSON(url, source) {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) throw new Error('the server answered ' + response.status + ' for ' + url);
    const text = await response.text();
    source.fetchedBytes += text.length;
    return JSON.parse(text);
  }

  class SessionSource {
    constructor(manifestUrl) {
      this.manifestUrl = manifestUrl;
      this.fetchedBytes = 0;
      this.next = 0; // index of the first segment not loaded yet
      this.loadedUntil = 0; // timestamp of the last loaded event
      this.chunks = []; // loaded segments, in order: {index, seqEnd, events}
      this.headAt = 0; // timestamp of the snapshot the loaded events start from
      this.opened = 0; // how many times open() ran
    }

    async init() {
      const manifest = await getJSON(this.manifestUrl, this);
      this.start = manifest.start;
      this.end = manifest.end;
      this.segments = manifest.segments;
      this.keyframes = manifest.keyframes;
      return this;
    }

    /** The last keyframe before `at` (ms since the epoch), or null. Strictly before:
     *  rrweb's Replayer shows an event only once the playhead is past its time, so at
     *  a keyframe's own time the page is still the one before it. */
    keyframeBefore(at) {
      let found = null;
      for (const frame of this.keyframes) if (frame.timestamp < at) found = frame;
      return found;
    }

    /** When a segment's real full snapshot (a page load) starts, its Meta: anywhere in
     *  the segment; null when it holds none. */
    snapshotAt(segment) {
      if (!segment.keyframe) return null;
      return segment.snapshot_ts !== undefined && segment.snapshot_ts !== null
        ? segment.snapshot_ts
        : segment.first_ts;
    }

    /** The last segment whose real full snapshot starts before `at`, or -1. */
    snapshotBefore(at) {
      let found = -1;
      this.segments.forEach((segment, index) => {
        const startsAt = this.snapshotAt(segment);
        if (startsAt !== null && startsAt < at) found = index;
      });
      return found;
    }

    /** Events to open `at` with: the keyframe before it (or the page load before it,
     *  when that is later), then segments to a little past it. */
    async open(at) {
      this.opened += 1;
      let frame = this.keyframeBefore(at);
      const loaded = this.snapshotBefore(at);
      const loadAt = loaded >= 0 ? this.snapshotAt(this.segments[loaded]) : null;
      if (frame && loadAt !== null && loadAt > frame.timestamp) frame = null;
      const events = frame ? await getJSON(frame.url, this) : [];
      const after = frame ? frame.after_seq : -1;
      this.next = frame
        ? this.segments.findIndex((segment) => segment.seq_end > after)
        : Math.max(0, loaded);
      if (this.next < 0) this.next = this.segments.length;
      this.loadedUntil = frame ? frame.timestamp : this.start;
      this.chunks = [];
      this.headAt = frame ? frame.timestamp : loadAt !== null ? loadAt : this.start;
      const following = await this.more(at + AHEAD_MS);
      if (frame || loadAt === null) return events.concat(following);
      // A page load: start at its Meta, which may come late in its segment, or be the
      // last event of the segment before.
      const rest = following.slice(this.chunks[0].events.length);
      const head = await this.fromMeta(this.chunks[0], loadAt);
      this.chunks[0] = Object.assign({}, this.chunks[0], { events: head });
      return head.concat(rest);
    }

    /** A loaded chunk's events from the Meta of the snapshot starting at `loadAt`,
     *  fetching that Meta from the segment before when the snapshot opens its own. */
    async fromMeta(chunk, loadAt) {
      const events = chunk.events;
      let from = events.findIndex((event) => event.type === 2 && event.timestamp >= loadAt);
      if (from > 0 && events[from - 1].type === 4) from -= 1;
      let head = events.slice(Math.max(0, from));
      if (head.length && head[0].type !== 4 && chunk.index > 0) {
        const before = await getJSON(this.segments[chunk.index - 1].url, this);
        const last = before[before.length - 1];
        if (last && last.type === 4) head = [last].concat(head);
      }
      return head;
    }

    /** The loaded events again, starting from the latest keyframe or page load at or
     *  before `at` that is later than where they start now; null when there is none.
     *  The events before it are dropped: the keyframe stands in for them. */
    async trim(at) {
      let cut = null; // index into this.chunks of the first chunk kept
      let frame = null;
      for (const candidate of this.keyframes) {
        if (candidate.timestamp <= this.headAt || candidate.timestamp > at) continue;
        const kept = this.chunks.findIndex((chunk) => chunk.seqEnd > candidate.after_seq);
        if (kept > 0 && this.chunks[kept - 1].seqEnd === candidate.after_seq) {
          cut = kept;
          frame = candidate;
        }
      }
      this.chunks.forEach((chunk, kept) => {
        const loadAt = this.snapshotAt(this.segments[chunk.index]);
        if (loadAt === null || loadAt <= this.headAt || loadAt > at) return;
        if (frame === null || loadAt > frame.timestamp) {
          cut = kept;
          frame = null;
        }
      });
      if (cut === null) return null;
      const opened = this.opened;
      const first = this.chunks[cut];
      const head = frame ? await getJSON(frame.url, this) : [];
      const start = frame ? null : await this.fromMeta(first, this.snapshotAt(this.segments[first.index]));
      if (opened !== this.opened) return null; // opened elsewhere meanwhile
      // Chunks only grow at the end meanwhile: those loaded since are kept too.
      this.chunks = this.chunks.slice(cut);
      if (start) this.chunks[0] = Object.assign({}, this.chunks[0], { events: start });
      this.headAt = frame ? frame.timestamp : this.chunks[0].events[0].timestamp;
      return head.concat(...this.chunks.map((chunk) => chunk.events));
    }

    /** The events of the next segments, up to those starting after `until`. */
    async more(until) {
      const wanted = [];
      while (this.next < this.segments.length) {
        const segment = this.segments[this.next];
        if (wanted.length && segment.first_ts !== null && segment.first_ts > until) break;
        wanted.push(this.next);
        this.next += 1;
        if (segment.last_ts !== null) this.loadedUntil = Math.max(this.loadedUntil, segment.last_ts);
      }
      const parts = await Promise.all(
        wanted.map((index) => getJSON(this.segments[index].url, this).then(thin)),
      );
      wanted.forEach((index, i) => {
        this.chunks.push({ index: index, seqEnd: this.segments[index].seq_end, events: parts[i] });
      });
      return [].concat(...parts);
    }

    get complete() {
      return this.next >= this.segments.length;
    }
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.SessionSource = SessionSource;
  window.ReplayInternals.AHEAD_MS = AHEAD_MS;
  window.ReplayInternals.KEEP_BEHIND_MS = KEEP_BEHIND_MS;
})();
