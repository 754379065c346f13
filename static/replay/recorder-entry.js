/*
 * What recorder.js is made of, in the order it runs: `make` bundles this file with
 * esbuild into one minified script (build/static/replay/recorder.js, served as
 * /static/replay/recorder.js), from the packages in package-lock.json. The modules are
 * plain scripts that register themselves on window.ReplayInternals; recorder-main.js,
 * last, starts recording. A page that loads the recorder twice runs it once (the bundle
 * is guarded, see Makefile).
 */
import './recorder-vendor.js';
import './session.js';
import './frames.js';
import './http.js';
import './transport.js';
import './privacy.js';
import './errors.js';
import './listeners.js';
import './positions.js';
import './navigation.js';
import './credentials.js';
import './arguments.js';
import './console.js';
import './outbox.js';
import './timings.js';
import './bodies.js';
import './xhr.js';
import './network.js';
import './recorder-main.js';
