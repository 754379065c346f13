/*
 * The devtools drawer's rows (devtools.js keeps them in step with the replay): which
 * console messages, requests and errors a filter keeps, and the DOM of each row and of
 * a request's details. Everything here comes from recorded pages, so it is put in the
 * DOM as text (textContent), never as markup. Times in items are ms from the session's
 * start; the server's entries carry epoch ms.
 */
(function () {
  'use strict';

  const ICONS = { error: '✕', assert: '✕', warn: '!', info: 'i', debug: '', log: '' };
  // The level chip that keeps each level (assertions that failed are errors).
  const CHIP = { error: 'error', assert: 'error', warn: 'warn', info: 'info', debug: 'debug', log: 'log' };

  function clock(ms, precise) {
    const whole = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = String(whole % 60).padStart(2, '0');
    const text = h ? h + ':' + String(m).padStart(2, '0') + ':' + s : m + ':' + s;
    return precise ? text + '.' + String(Math.max(0, Math.floor(ms % 1000))).padStart(3, '0') : text;
  }

  function size(bytes) {
    if (bytes === null || bytes === undefined) return '—';
    if (bytes < 1000) return Math.round(bytes) + ' B';
    if (bytes < 1e6) return (bytes / 1e3).toFixed(1) + ' kB';
    return (bytes / 1e6).toFixed(1) + ' MB';
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return '—';
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(2) + ' s';
  }

  /** What a request's status column says. */
  function statusText(request) {
    if (request.aborted) return '(aborted)';
    if (request.failed) return '(failed)';
    return request.status === null ? '—' : String(request.status);
  }

  function isFailed(request) {
    return request.problem === 'failed' || request.problem === 'status';
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function matches(text, needle) {
    return !needle || String(text || '').toLowerCase().includes(needle);
  }

  function shortUrl(url) {
    try {
      const parsed = new URL(url);
      return { host: parsed.host, path: parsed.pathname + parsed.search };
    } catch (err) {
      return { host: '', path: url };
    }
  }

  /** Where a stack frame or source points, short: `file.js:12:3`. */
  function place(text) {
    const found = String(text || '').match(/([^/\s()]+:\d+(?::\d+)?)\)?\s*$/);
    return found ? found[1] : '';
  }

  // -- what each list shows --

  /** Console messages kept by the filter (levels: a Set of chip names; text: lower
   *  case), identical consecutive ones as one item, with the dropped notes at their time. */
  function consoleItems(data, start, levels, text) {
    const items = [];
    for (const entry of data.console) {
      if (!levels.has(CHIP[entry.level] || 'log') || !matches(entry.message, text)) continue;
      const last = items[items.length - 1];
      if (last && last.kind === 'console' && same(last.entries[0], entry)) last.entries.push(entry);
      else items.push({ kind: 'console', ts: entry.ts - start, entries: [entry] });
    }
    for (const note of data.dropped) items.push({ kind: 'dropped', ts: note.ts - start, note: note });
    return items.sort((a, b) => a.ts - b.ts); // stable: a note after the messages of its moment
  }

  function same(a, b) {
    return a.level === b.level && a.message === b.message && a.trace.join('\n') === b.trace.join('\n');
  }

  function networkItems(data, start, status, text) {
    return data.network
      .filter((r) => (status === 'failed' ? isFailed(r) : status === 'slow' ? r.slow : true))
      .filter((r) => matches(r.url, text))
      .map((r) => ({ kind: 'request', ts: r.ts - start, request: r }));
  }

  function errorItems(data, start, text) {
    return data.errors
      .filter((e) => matches(e.message, text) || matches(e.source, text) || matches(e.kind, text))
      .map((e) => ({ kind: 'error', ts: e.ts - start, error: e }));
  }

  // -- rows --

  function row(item, className) {
    const li = el('li', 'dt-row ' + className);
    li.tabIndex = 0;
    li.dataset.ts = String(item.ts);
    li.append(el('span', 'dt-time', clock(item.ts)));
    li.firstChild.title = clock(item.ts, true);
    return li;
  }

  /** A caret that shows or hides what `more()` builds (once) under the row. */
  function expander(li, more) {
    const caret = el('button', 'dt-expand', '▸');
    caret.type = 'button';
    caret.setAttribute('aria-label', 'Show details');
    caret.setAttribute('aria-expanded', 'false');
    caret.addEventListener('click', (event) => {
      event.stopPropagation(); // expanding does not seek
      let box = li.querySelector('.dt-more');
      if (!box) {
        box = el('div', 'dt-more');
        box.append(...more());
        li.append(box);
      }
      const open = !li.classList.contains('expanded');
      li.classList.toggle('expanded', open);
      box.hidden = !open;
      caret.setAttribute('aria-expanded', String(open));
    });
    return caret;
  }

  function pretty(text) {
    try {
      const value = JSON.parse(text);
      if (value !== null && typeof value === 'object') return JSON.stringify(value, null, 2);
    } catch (err) {
      // not JSON: shown as it is
    }
    return text;
  }

  function section(title, content) {
    const box = el('div', 'dt-section');
    box.append(el('h4', null, title), content);
    return box;
  }

  function consoleRow(item) {
    if (item.kind === 'dropped') {
      const li = row(item, 'dropped');
      const count = item.note.count;
      const text = count + (count === 1 ? ' message' : ' messages') + ' not recorded: over 100 a minute';
      li.prepend(el('span')); // where a message's caret is
      li.append(el('span', 'dt-icon', '⋯'), el('span', 'dt-msg', text));
      return li;
    }
    const entry = item.entries[0];
    const li = row(item, 'console level-' + entry.level);
    const icon = el('span', 'dt-icon', ICONS[entry.level]);
    icon.title = entry.level;
    const message = el('span', 'dt-msg', entry.message || '(empty)');
    const repeat = el('span', 'dt-repeat', item.entries.length);
    repeat.hidden = item.entries.length < 2;
    repeat.title = 'Repeated ' + item.entries.length + ' times in a row';
    const where = el('span', 'dt-where', place(entry.trace[0]));
    where.title = entry.trace[0] || '';
    const more = () => {
      const parts = [];
      if (entry.args.length > 1 || entry.args.some((a) => pretty(a) !== a)) {
        const args = el('div', 'dt-args');
        args.append(...entry.args.map((a) => el('pre', 'dt-code', pretty(a))));
        parts.push(section('Arguments', args));
      }
      if (item.entries.length > 1) {
        const origin = entry.ts - item.ts;
        const times = item.entries.map((e) => clock(e.ts - origin, true)).join(', ');
        parts.push(section('Times', el('p', 'dt-mono', times)));
      }
      const trace = entry.trace.join('\n');
      parts.push(section('Stack trace', trace ? el('pre', 'dt-code', trace) : el('p', 'dt-none', 'No trace recorded')));
      return parts;
    };
    li.prepend(expander(li, more));
    li.append(icon, message, repeat, where);
    return li;
  }

  /** A request's row; `range` is {from, span} in epoch ms, for its waterfall bar. */
  function networkRow(item, range) {
    const r = item.request;
    const classes = ['request'];
    if (isFailed(r)) classes.push('bad');
    if (r.slow) classes.push('slow');
    if (r.aborted) classes.push('aborted');
    const li = row(item, classes.join(' '));
    const url = shortUrl(r.url);
    const name = el('span', 'dt-name');
    name.title = r.url;
    name.append(el('span', 'dt-path', url.path || '/'), el('span', 'dt-host', url.host));
    const fall = el('span', 'dt-fall');
    const bar = el('span', 'dt-bar');
    bar.style.left = ((r.ts - range.from) / range.span) * 100 + '%';
    bar.style.width = Math.max(0.6, ((r.end - r.ts) / range.span) * 100) + '%';
    bar.title = duration(r.duration_ms);
    fall.append(bar);
    li.append(
      el('span', 'dt-method', r.method),
      name,
      el('span', 'dt-status', statusText(r)),
      el('span', 'dt-type', r.initiator || '—'),
      el('span', 'dt-num', size(r.response_size)),
      el('span', 'dt-num dt-duration', duration(r.duration_ms)),
      fall
    );
    return li;
  }

  function errorRow(item) {
    const e = item.error;
    const li = row(item, 'error-entry');
    let source = e.source;
    if (source && e.line !== null) source += ':' + e.line + (e.column !== null ? ':' + e.column : '');
    const where = el('span', 'dt-where', place(source));
    where.title = source;
    const more = () => [
      section('Source', el('p', 'dt-mono', source || 'not recorded')),
      section('Stack', e.stack ? el('pre', 'dt-code', e.stack) : el('p', 'dt-none', 'No stack recorded')),
    ];
    li.prepend(expander(li, more));
    li.append(el('span', 'dt-kind', e.kind), el('span', 'dt-msg', e.message || '(no message)'), where);
    return li;
  }

  // -- a request's details --

  function facts(pairs) {
    const dl = el('dl', 'dt-facts');
    for (const [name, value] of pairs) dl.append(el('dt', null, name), el('dd', null, value));
    return dl;
  }

  function headers(values) {
    const names = Object.keys(values || {});
    if (!names.length) return el('p', 'dt-none', 'not captured');
    return facts(names.sort().map((name) => [name, values[name]]));
  }

  function body(text) {
    if (text === null || text === undefined) return el('p', 'dt-none', 'not captured');
    return el('pre', 'dt-code', pretty(text));
  }

  /** The details of a request, `start` the session's start (epoch ms). */
  function requestDetails(r, start) {
    const head = el('header', 'dt-details-head');
    const name = el('span', 'dt-name');
    name.append(el('span', 'dt-path', shortUrl(r.url).path || '/'));
    const status = el('span', 'dt-status' + (isFailed(r) ? ' bad' : ''), statusText(r));
    head.append(el('span', 'dt-method', r.method), name, status);
    const close = el('button', 'dt-close', '×');
    close.type = 'button';
    close.dataset.close = 'true';
    close.setAttribute('aria-label', 'Close the details');
    head.append(close);
    const general = [
      ['URL', r.url],
      ['Status', statusText(r) + (r.error ? ' ' + r.error : '')],
      ['Type', r.initiator || '—'],
      ['Started', clock(r.ts - start, true)],
      ['Ended', clock(r.end - start, true)],
      ['Duration', duration(r.duration_ms) + (r.slow ? ' (slow)' : '')],
      ['Request size', size(r.request_size)],
      ['Response size', size(r.response_size)],
    ];
    const parts = el('div', 'dt-details-body');
    parts.append(
      section('General', facts(general)),
      section('Request headers', headers(r.request_headers)),
      section('Request body', body(r.request_body)),
      section('Response headers', headers(r.response_headers)),
      section('Response body', body(r.response_body))
    );
    return [head, parts];
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.devtoolsRows = {
    clock: clock,
    statusText: statusText,
    isFailed: isFailed,
    chipOf: (level) => CHIP[level] || 'log',
    consoleItems: consoleItems,
    networkItems: networkItems,
    errorItems: errorItems,
    consoleRow: consoleRow,
    networkRow: networkRow,
    errorRow: errorRow,
    requestDetails: requestDetails,
  };
})();
