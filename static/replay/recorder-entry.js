/*
 * What recorder.js is made of, in the order it runs: `make` bundles this file with
 * esbuild into one minified script (build/static/replay/recorder.js, served as
 * /static/replay/recorder.js), from the packages in package-lock.json. The modules are
 * plain scripts that register themselves on window.ReplayInternals; recorder-main.js,
 * last, starts recording. A page that loads the recorder twice runs it once (the bundle
 * is guarded, see Makefile).
 *
 * The wrappers of the page's console, XMLHttpRequest and fetch come first, ahead of
 * rrweb: whenever the page logs, Chromium's V8 notes where the call into the console was
 * made, the line and column of our wrapper, and finds them by reading the script from its
 * start up to that place (V8 keeps no index of a script's lines unless something, such
 * as DevTools, asked it for one). Placed after rrweb, 120,000 characters in, each
 * console call cost the page about 9 µs more than unwrapped (timed in the page over
 * 1,000 calls); placed first, under 1 µs.
 */
import './console.js';
import './xhr.js';
import './network.js';
import './recorder-vendor.js';
import './session.js';
import './frames.js';
import './batches.js';
import './http.js';
import './transport.js';
import './privacy.js';
import './errors.js';
import './listeners.js';
import './positions.js';
import './navigation.js';
import './credentials.js';
import './arguments.js';
import './outbox.js';
import './timings.js';
import './bodies.js';
import './recorder-main.js';
