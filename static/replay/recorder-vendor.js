/*
 * The npm packages the recorder uses, for the modules of recorder.js (see
 * recorder-entry.js), which find them where rrweb's and msgpack's own browser builds put
 * them: window.rrweb.record (rrweb's recording side only: @rrweb/record) and
 * window.MessagePack.
 */
import { record } from '@rrweb/record';
import { decode, encode } from '@msgpack/msgpack';

window.rrweb = { record: record };
window.MessagePack = { encode: encode, decode: decode };
