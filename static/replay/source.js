/*
 * Where the player's events come from: the session's manifest, then one keyframe and
 * the segments after it, never the whole recording. Opening a moment loads the last
 * keyframe at or before it (a synthesized full snapshot the server stores every few
 * seconds of recording) and the segments from there to a little past the moment;
 * playing on loads the next segments ahead of the playhead, and `trim` lets go of what
 * is far behind it by starting over from a later keyframe or page load. What of a
 * segment's events rrweb's Replayer is given is crowded.js's.
 */
(function () {
  'use strict';

  const AHEAD_MS = 15000; // how far past the playhead segments are loaded
  // How much a playing Replayer keeps behind the playhead before it lets go of older
  // events (the player reads it on every try, so a page or a test may change it).
  const KEEP_BEHIND_MS = 60000;

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
      const thin = window.ReplayInternals.thinCrowded; // crowded.js
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
