/**
 * The funnels page: steps from the project's actions or quick matchers, the order,
 * window, count and breakdown; the bars with conversions and times between steps; the
 * converted or dropped part of a bar opens the sessions behind it, each playing at its
 * moment; funnels are saved under a name and opened again. The server checks every
 * field; its 400 answers name the field.
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('funnels-config').textContent);
  const $ = (id) => document.getElementById(id);
  const call = window.replayApi.call;
  const QUICK = {
    pageview: ['Page view', 'url', '/checkout/*'],
    click: ['Click', 'selector', '#buy'],
    custom: ['Custom event', 'name', 'signup'],
    error: ['Error', 'message', 'message contains'],
    friction: ['Friction', 'name', null],
  };
  let actions = [];
  let saved = [];


  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function option(value, text) {
    const node = element('option', '', text);
    node.value = value;
    return node;
  }

  /** A step row: a choice of action or quick matcher kind, and the quick one's value. */
  function addStep(step) {
    const item = element('li', 'step');
    const number = element('span', 'step-number');
    const choice = element('select', 'step-choice');
    const group = element('optgroup');
    group.label = 'Actions';
    for (const action of actions) group.append(option('action:' + action.id, action.name));
    if (actions.length) choice.append(group);
    const quick = element('optgroup');
    quick.label = 'Quick';
    for (const [kind, [label]] of Object.entries(QUICK)) quick.append(option('quick:' + kind, label));
    choice.append(quick);
    const value = element('span', 'step-value');
    value.style.display = 'contents';
    function showValue(given) {
      value.textContent = '';
      const [source, kind] = choice.value.split(':');
      if (source !== 'quick') {
        value.append(element('span', 'step-note', 'an action'));
        return;
      }
      const [, field, placeholder] = QUICK[kind];
      let input;
      if (kind === 'friction') {
        input = element('select');
        for (const detector of config.detectors) input.append(option(detector, detector.replace(/_/g, ' ')));
      } else {
        input = element('input');
        input.placeholder = placeholder;
      }
      input.dataset.field = field;
      if (given !== undefined) input.value = given;
      value.append(input);
    }
    if (step && step.action !== undefined) choice.value = 'action:' + step.action;
    else if (step && step.kind) choice.value = 'quick:' + step.kind;
    choice.addEventListener('change', () => showValue());
    const remove = element('button', 'remove', '×');
    remove.type = 'button';
    remove.title = 'Remove this step';
    remove.setAttribute('aria-label', 'Remove this step');
    remove.addEventListener('click', () => {
      item.remove();
      numberSteps();
    });
    item.append(number, choice, value, remove);
    const field = step && step.kind ? QUICK[step.kind][1] : null;
    showValue(field ? step[field] : undefined);
    $('steps').append(item);
    numberSteps();
  }

  function numberSteps() {
    Array.from($('steps').children).forEach((item, index) => {
      item.querySelector('.step-number').textContent = String(index + 1);
    });
  }

  function definition() {
    const steps = Array.from($('steps').children).map((item) => {
      const [source, kind] = item.querySelector('.step-choice').value.split(':');
      if (source === 'action') return { action: Number(kind) };
      const input = item.querySelector('[data-field]');
      const step = { kind: kind };
      step[input.dataset.field] = input.value.trim();
      return step;
    });
    const body = { steps: steps, order: $('order').value, count: $('count').value };
    if ($('window').value === 'session') body.window = 'session';
    else body.window_seconds = Number($('window').value);
    const breakdown = $('breakdown').value;
    if (breakdown === 'prop') body.breakdown = 'prop:' + $('prop').value.trim();
    else if (breakdown) body.breakdown = breakdown;
    return body;
  }

  function load(body) {
    $('steps').textContent = '';
    for (const step of body.steps || []) addStep(step);
    $('order').value = body.order || 'sequential';
    $('window').value = body.window === 'session' ? 'session' : String(body.window_seconds || 604800);
    $('count').value = body.count || 'sessions';
    const breakdown = body.breakdown || '';
    $('breakdown').value = breakdown.startsWith('prop:') ? 'prop' : breakdown;
    $('prop').value = breakdown.startsWith('prop:') ? breakdown.slice(5) : '';
    $('prop-label').hidden = $('breakdown').value !== 'prop';
  }

  function percent(share) {
    return (share * 100).toFixed(share < 0.1 && share > 0 ? 1 : 0) + '%';
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '';
    if (seconds < 60) return Math.round(seconds) + ' s';
    if (seconds < 3600) return Math.round(seconds / 60) + ' min';
    if (seconds < 86400) return (seconds / 3600).toFixed(1) + ' h';
    return (seconds / 86400).toFixed(1) + ' d';
  }

  function problem(text) {
    $('funnel-problem').textContent = text || '';
    $('funnel-problem').hidden = !text;
  }

  function renderBars(steps, noun) {
    const bars = $('bars');
    bars.textContent = '';
    const first = steps.length ? steps[0].count : 0;
    for (const step of steps) {
      const column = element('div', 'bar');
      const head = element('div', 'bar-head');
      head.append(element('span', 'bar-index', String(step.index)), element('span', 'bar-label', step.label));
      const track = element('div', 'bar-track');
      // From the top: those lost before the step before, those lost between the two
      // (the dropped part, opening who they are), those who reached it.
      const before = step.index > 1 ? steps[step.index - 2].count : step.count;
      const dropped = first ? (before - step.count) / first : 0;
      const gone = element('div', 'bar-gone');
      gone.style.height = (first ? (100 * (first - before)) / first : 0) + '%';
      const lost = element('button', 'bar-dropped');
      lost.type = 'button';
      lost.style.height = 100 * dropped + '%';
      lost.title = step.dropped ? 'Who dropped off before this step' : '';
      lost.disabled = !step.dropped || dropped === 0;
      const kept = element('button', 'bar-converted');
      kept.type = 'button';
      kept.style.height = (first ? (100 * step.count) / first : 0) + '%';
      kept.title = 'Who reached this step';
      kept.disabled = step.count === 0;
      kept.addEventListener('click', () => openList(step.converted, step.count + ' ' + noun + ' reached “' + step.label + '”'));
      lost.addEventListener('click', () => openList(step.dropped, 'Dropped off before “' + step.label + '”'));
      track.append(gone, lost, kept);
      const figures = element('div', 'bar-figures');
      figures.append(
        element('strong', 'bar-count', step.count.toLocaleString()),
        element('span', 'bar-percent', percent(step.conversion_from_first)),
      );
      const detail = element('div', 'bar-detail');
      if (step.index > 1) {
        detail.append(element('span', '', percent(step.conversion_from_previous) + ' of the step before'));
        if (step.median_seconds_from_previous !== null) {
          detail.append(element('span', '', 'median ' + duration(step.median_seconds_from_previous) +
            ' · p90 ' + duration(step.p90_seconds_from_previous)));
        }
        if (dropped > 0 && step.dropped) {
          const lostCount = (steps[step.index - 2].count - step.count).toLocaleString();
          const link = element('button', 'link-like dropped-link', lostCount + ' dropped off');
          link.type = 'button';
          link.addEventListener('click', () => openList(step.dropped, 'Dropped off before “' + step.label + '”'));
          detail.append(link);
        }
      }
      column.append(head, track, figures, detail);
      bars.append(column);
    }
  }

  function renderBreakdown(groups, labels) {
    const holder = $('breakdown-table');
    holder.textContent = '';
    if (!groups.length) return;
    const table = element('table', 'breakdown');
    const head = element('tr');
    head.append(element('th', '', 'Breakdown'));
    labels.forEach((label, index) => head.append(element('th', 'num', (index + 1) + '. ' + label)));
    table.append(element('thead'));
    table.firstChild.append(head);
    const body = element('tbody');
    for (const group of groups) {
      const row = element('tr');
      row.append(element('td', '', group.value));
      for (const step of group.steps) {
        const cell = element('td', 'num');
        const link = element('button', 'link-like', step.count.toLocaleString());
        link.type = 'button';
        link.disabled = step.count === 0;
        link.addEventListener('click', () => openList(step.converted, group.value + ': reached “' + step.label + '”'));
        cell.append(link, element('span', 'muted', ' ' + percent(step.conversion_from_first)));
        row.append(cell);
      }
      body.append(row);
    }
    table.append(body);
    holder.append(table);
  }

  async function openList(url, title) {
    if (!url) return;
    $('people-title').textContent = title;
    $('people-list').textContent = '';
    $('people').hidden = false;
    await more(url);
    $('people').scrollIntoView({ block: 'nearest' });
  }

  async function more(url) {
    let answer;
    try {
      answer = await call('GET', url);
    } catch (err) {
      $('people-list').append(element('li', 'problem', 'Could not load them: ' + err.message));
      return;
    }
    for (const item of answer.sessions) {
      const row = element('li');
      const when = new Date(item.ts).toLocaleString(undefined, {
        month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
      });
      const who = item.entity !== item.session ? item.entity + ' · ' : '';
      row.append(element('span', 'when', when), element('span', 'about', who + item.session));
      const play = element('a', '', 'Play at step ' + item.step + ' ▸');
      play.href = item.link;
      row.append(play);
      $('people-list').append(row);
    }
    $('people-more').hidden = !answer.next;
    $('people-more').onclick = () => more(answer.next);
    $('people').dataset.ready = 'true';
  }

  async function run() {
    problem('');
    $('people').hidden = true;
    const body = definition();
    // The range is the page's, not the saved funnel's: a saved funnel counts the days
    // before each time it is opened.
    const days = $('started-in');
    body.since = new Date(Date.now() - Number(days.value) * 86400000).toISOString();
    const period = days.options[days.selectedIndex].textContent;
    $('results-note').textContent = 'Counting…';
    let answer;
    try {
      answer = await call('POST', config.funnelUrl, body);
    } catch (err) {
      $('results-note').textContent = '';
      problem(err.message);
      return;
    }
    const noun = body.count === 'users' ? 'users' : 'sessions';
    const first = answer.steps[0].count;
    const last = answer.steps[answer.steps.length - 1];
    $('results-note').textContent = first
      ? first.toLocaleString() + ' ' + noun + ' started; ' + percent(last.conversion_from_first) + ' reached the last step. Click a bar to see who.'
      : 'Nobody started this funnel in ' + period + '.';
    $('range').textContent = '· ' + period + ' · ' + noun;
    renderBars(answer.steps, noun);
    renderBreakdown(answer.breakdown, answer.steps.map((s) => s.label));
    $('results').dataset.ready = 'true';
  }

  async function loadSaved() {
    saved = (await call('GET', config.savedUrl)).funnels;
    const select = $('saved');
    select.textContent = '';
    select.append(option('', saved.length ? 'Open a saved funnel…' : 'No saved funnels yet'));
    for (const funnel of saved) select.append(option(String(funnel.id), funnel.name));
  }

  async function save() {
    const name = $('funnel-name').value.trim();
    try {
      await call('POST', config.savedUrl, { name: name, definition: definition() });
    } catch (err) {
      problem(err.message);
      return;
    }
    problem('');
    $('saved-funnel-note').textContent = 'Saved as “' + name + '”.';
    await loadSaved();
  }

  $('add-step').addEventListener('click', () => addStep({ kind: 'pageview' }));
  $('run').addEventListener('click', run);
  $('save-funnel').addEventListener('click', save);
  $('people-close').addEventListener('click', () => ($('people').hidden = true));
  $('breakdown').addEventListener('change', () => ($('prop-label').hidden = $('breakdown').value !== 'prop'));
  $('saved').addEventListener('change', () => {
    const funnel = saved.find((f) => String(f.id) === $('saved').value);
    if (!funnel) return;
    load(funnel.definition);
    $('funnel-name').value = funnel.name;
    run();
  });

  (async function start() {
    try {
      actions = (await call('GET', config.actionsUrl)).actions;
      await loadSaved();
    } catch (err) {
      problem('Could not load the actions: ' + err.message);
    }
    addStep({ kind: 'pageview' });
    addStep({ kind: 'custom' });
    document.body.dataset.ready = 'true';
  })();
})();
