/*
 * Where the player's events come from: the session's manifest, then one keyframe and
 * the segments after it, never the whole recording. Opening a moment loads the last
 * keyframe at or before it (a synthesized full snapshot the server stores every few
 * seconds of recording) and the segments from there to a little past the moment;
 * playing on loads the next segments ahead of the playhead.
 */
(function () {
  'use strict';

  const AHEAD_MS = 15000; // how far past the playhead segments are loaded

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
    }

    async init() {
      const manifest = await getJSON(this.manifestUrl, this);
      this.start = manifest.start;
      this.end = manifest.end;
      this.segments = manifest.segments;
      this.keyframes = manifest.keyframes;
      return this;
    }

    /** The last keyframe at or before `at` (ms since the epoch), or null. */
    keyframeBefore(at) {
      let found = null;
      for (const frame of this.keyframes) if (frame.timestamp <= at) found = frame;
      return found;
    }

    /** The last segment holding a real full snapshot (a page load) at or before `at`. */
    snapshotBefore(at) {
      let found = -1;
      this.segments.forEach((segment, index) => {
        if (segment.keyframe && segment.first_ts !== null && segment.first_ts <= at) found = index;
      });
      return found;
    }

    /** Events to open `at` with: the keyframe before it (or the page load before it,
     *  when that is later), then segments to a little past it. */
    async open(at) {
      let frame = this.keyframeBefore(at);
      const loaded = this.snapshotBefore(at);
      if (frame && loaded >= 0 && this.segments[loaded].first_ts > frame.timestamp) frame = null;
      const events = frame ? await getJSON(frame.url, this) : [];
      const after = frame ? frame.after_seq : -1;
      this.next = frame
        ? this.segments.findIndex((segment) => segment.seq_end > after)
        : Math.max(0, loaded);
      if (this.next < 0) this.next = this.segments.length;
      this.loadedUntil = frame ? frame.timestamp : this.start;
      return events.concat(await this.more(at + AHEAD_MS));
    }

    /** The events of the next segments, up to those starting after `until`. */
    async more(until) {
      const urls = [];
      while (this.next < this.segments.length) {
        const segment = this.segments[this.next];
        if (urls.length && segment.first_ts !== null && segment.first_ts > until) break;
        urls.push(segment.url);
        this.next += 1;
        if (segment.last_ts !== null) this.loadedUntil = Math.max(this.loadedUntil, segment.last_ts);
      }
      const parts = await Promise.all(urls.map((url) => getJSON(url, this)));
      return [].concat(...parts);
    }

    get complete() {
      return this.next >= this.segments.length;
    }
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.SessionSource = SessionSource;
  window.ReplayInternals.AHEAD_MS = AHEAD_MS;
})();
