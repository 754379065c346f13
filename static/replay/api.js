/**
 * The JSON API as the analytics pages call it: same-origin, with Django's CSRF token, the
 * body as JSON, and an answer that is not OK thrown as an Error carrying the server's
 * `error` (which names the field at fault).
 */
(function () {
  'use strict';

  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || '';

  async function call(method, url, body) {
    const response = await fetch(url, {
      method: method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const answer = text ? JSON.parse(text) : {};
    if (!response.ok) throw new Error(answer.error || 'status ' + response.status);
    return answer;
  }

  window.replayApi = { call: call };
})();
