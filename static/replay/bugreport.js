/*
 * The devtools drawer's "Copy bug report": a Markdown report of the moment on screen
 * (a link to it, the page, browser, user, the time, and the last errors and failed
 * requests before the playhead), and copying text to the clipboard where the
 * Clipboard API is missing (pages served over plain HTTP) or refuses.
 */
(function () {
  'use strict';

  const { clock, statusText } = window.ReplayInternals.devtoolsRows;
  const MAX_TEXT = 300;

  /** Recorded text as a Markdown code span, so nothing in it becomes a link, an image
   *  or markup wherever the report is pasted. */
  function code(text) {
    const flat = String(text === null || text === undefined ? '' : text).replace(/\s+/g, ' ').trim();
    const shown = flat.length > MAX_TEXT ? flat.slice(0, MAX_TEXT - 1) + '…' : flat;
    if (!shown) return '—';
    const longest = Math.max(0, ...(shown.match(/`+/g) || []).map((run) => run.length));
    const fence = '`'.repeat(longest + 1);
    const pad = shown.startsWith('`') || shown.endsWith('`') ? ' ' : '';
    return fence + pad + shown + pad + fence;
  }

  /**
   * facts: {session, project, user, userAgent, atMs, totalMs, link, page, start,
   * errors, requests}; errors and requests are the server's entries (epoch ms), the
   * last ones before the playhead, oldest first.
   */
  function report(facts) {
    const lines = [
      '## Bug report: session ' + facts.session + ' at ' + clock(facts.atMs),
      '',
      '- **Replay:** ' + facts.link,
      '- **Page:** ' + (facts.page ? code(facts.page) : 'unknown'),
      '- **Browser:** ' + (facts.userAgent ? code(facts.userAgent) : 'unknown'),
      '- **User:** ' + (facts.user ? code(facts.user) : 'anonymous'),
      '- **Time in session:** ' + clock(facts.atMs) + ' of ' + clock(facts.totalMs),
      '',
      '### Last errors',
      '',
    ];
    for (const e of facts.errors) {
      const kind = e.kind.replace(/[^\w.]/g, ''); // recorded: kept to a word
      const about = kind && kind !== 'error' ? ' (' + kind + ')' : '';
      lines.push('- ' + clock(e.ts - facts.start) + ' ' + code(e.message) + about);
    }
    if (!facts.errors.length) lines.push('None before this moment.');
    lines.push('', '### Last failed requests', '');
    for (const r of facts.requests) {
      const status = statusText(r) + (r.error ? ' ' + code(r.error) : '');
      lines.push('- ' + clock(r.ts - facts.start) + ' ' + code(r.method + ' ' + r.url) + ' → ' + status);
    }
    if (!facts.requests.length) lines.push('None before this moment.');
    return lines.join('\n') + '\n';
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch (err) {
      // No Clipboard API here, or it refused: the older way below.
    }
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'dt-offscreen';
    document.body.append(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    if (!copied) throw new Error('the browser would not copy');
  }

  window.ReplayInternals.bugReport = { report: report, copyText: copyText, code: code };
})();
