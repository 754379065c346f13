/*
 * How a batch of events goes on the wire (protocol v1; see README, "Wire protocol"), for
 * transport.js: `encode(frame)` packs any frame as msgpack. Batches go compressed where
 * the browser compresses (`compressed(seq, text)`), else as plain msgpack
 * (`plainFrame(seq, events)`), which is also how a batch an older recorder kept as its
 * events goes. A compressed frame is what sessionStorage keeps of a batch (`toText`,
 * `fromText`: base64), and what a later page of the tab sends as it is; `events(frame)`
 * reads a frame's events back for the HTTP endpoint, which takes only events. Part of
 * recorder.js (recorder-entry.js).
 */
(function () {
  'use strict';

  const MessagePack = window.MessagePack;
  // rrweb leaves `undefined` in some fields (rootId, isSVG); JSON drops such keys, and
  // so must the wire, or the export would differ from what the page produced.
  const encode = (frame) => MessagePack.encode(frame, { ignoreUndefined: true });

  // Batches go compressed where the browser compresses (CompressionStream: no bytes of
  // JavaScript for it): the frame names its `encoding` and `format: 'json'`, and its
  // `events` are the JSON text of the events, deflated. JSON because the browser
  // writes it natively, several times faster than msgpack in JavaScript, and because
  // the same text is what sessionStorage keeps (session.js). Elsewhere, and for batches
  // kept from an earlier page of the tab, they go as plain msgpack, which the server
  // takes as well.
  const ENCODING = (() => {
    for (const format of ['deflate-raw', 'gzip']) {
      try {
        new CompressionStream(format); // eslint-disable-line no-new
        return format;
      } catch (err) {
        // not this format, or no CompressionStream at all
      }
    }
    return null;
  })();
  const noop = () => {};

  const BIN_32 = 0xc6;

  /** A batch frame: `fields` packed with nil for its events (its last field), the nil
   *  cut off, and `events` appended, packed already, or, if `binary`, bytes to go as
   *  msgpack's bin 32 (written here: packing them with the rest would copy them over and
   *  over as the packer's buffer grows). */
  function batchFrame(fields, events, binary) {
    const head = encode(Object.assign({ type: 'batch' }, fields, { events: null }));
    const at = head.byteLength - 1;
    const start = binary ? at + 5 : at;
    const frame = new Uint8Array(start + events.byteLength);
    frame.set(head.subarray(0, at));
    if (binary) {
      frame[at] = BIN_32;
      new DataView(frame.buffer).setUint32(at + 1, events.byteLength);
    }
    frame.set(events, start);
    return frame;
  }

  /** A batch frame in plain msgpack. */
  function plainFrame(seq, events) {
    return batchFrame({ seq: seq }, encode(events), false);
  }

  /** The compressed frame of a batch whose events' JSON is `text` (UTF-8 bytes). */
  function compressed(seq, text) {
    const stream = new CompressionStream(ENCODING);
    const writer = stream.writable.getWriter();
    // A failure shows in the readable side, which the caller handles.
    writer.write(text).catch(noop);
    writer.close().catch(noop);
    return new Response(stream.readable).arrayBuffer().then((deflated) => batchFrame(
      { seq: seq, encoding: ENCODING, format: 'json' }, new Uint8Array(deflated), true));
  }

  /** A frame's bytes as text sessionStorage keeps (base64), and back. */
  function toText(bytes) {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function fromText(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  /** The events of a batch frame, compressed or plain (a promise). */
  function events(bytes) {
    const frame = MessagePack.decode(bytes);
    if (!frame.encoding) return Promise.resolve(frame.events);
    const stream = new DecompressionStream(frame.encoding);
    const writer = stream.writable.getWriter();
    writer.write(frame.events).catch(noop);
    writer.close().catch(noop);
    return new Response(stream.readable).text().then((text) => JSON.parse(text));
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.BatchFrames = {
    encode: encode,
    ENCODING: ENCODING,
    plainFrame: plainFrame,
    compressed: compressed,
    toText: toText,
    fromText: fromText,
    events: events,
  };
})();
