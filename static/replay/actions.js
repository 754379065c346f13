/**
 * The actions page: lists the project's actions with their 30-day counts, and edits one
 * (name and matchers, any of which may match) with a live preview: as the matchers
 * change, the server counts what they match and shows the latest examples, each a link
 * into the player. The server checks everything; its 400 answers name the field.
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('actions-config').textContent);
  const $ = (id) => document.getElementById(id);
  const call = window.replayApi.call;
  // The fields each kind of matcher takes, as the API names them.
  const FIELDS = {
    pageview: [['url', 'URL pattern, e.g. /checkout/*']],
    click: [['selector', 'CSS selector, e.g. #buy'], ['text', 'element text (optional)']],
    input: [['selector', 'CSS selector, e.g. form input[name=email]']],
    custom: [['name', 'event name'], ['props', 'props as JSON (optional), e.g. {"plan": "pro"}']],
    error: [['message', 'message contains']],
    friction: [['name', null]],
  };
  const LABELS = {
    pageview: 'Page view', click: 'Click', input: 'Input', custom: 'Custom event',
    error: 'Error', friction: 'Friction',
  };
  let actions = [];
  let editing = null; // the action's id, or null for a new one
  let previewTimer = null;
  let previewAsked = 0;


  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderList() {
    const body = $('actions-body');
    body.textContent = '';
    $('list-note').textContent = actions.length ? '' : 'No actions yet. Define the first on the right.';
    $('list-note').hidden = actions.length > 0;
    $('actions-table').hidden = actions.length === 0;
    for (const action of actions) {
      const row = document.createElement('tr');
      row.dataset.id = String(action.id);
      if (action.id === editing) row.className = 'selected';
      row.append(
        cell(action.name),
        cell(action.records_30d.toLocaleString(), 'num'),
        cell(action.sessions_30d.toLocaleString(), 'num'),
      );
      row.addEventListener('click', () => edit(action));
      body.append(row);
    }
  }

  async function loadList() {
    try {
      actions = (await call('GET', config.actionsUrl)).actions;
    } catch (err) {
      $('list-note').textContent = 'Could not load the actions: ' + err.message;
      return;
    }
    renderList();
  }

  function fieldInput(kind, name, placeholder, value) {
    if (kind === 'friction') {
      const select = document.createElement('select');
      select.dataset.field = name;
      for (const detector of config.detectors) {
        const option = document.createElement('option');
        option.value = detector;
        option.textContent = detector.replace(/_/g, ' ');
        select.append(option);
      }
      if (value) select.value = value;
      select.addEventListener('change', schedulePreview);
      return select;
    }
    const input = document.createElement('input');
    input.dataset.field = name;
    input.placeholder = placeholder;
    input.value = value === undefined ? '' : name === 'props' ? JSON.stringify(value) : value;
    input.addEventListener('input', schedulePreview);
    return input;
  }

  function addMatcher(matcher) {
    const item = document.createElement('li');
    item.className = 'matcher';
    if ($('matchers').children.length) {
      const or = document.createElement('p');
      or.className = 'or';
      or.textContent = 'or';
      item.append(or);
    }
    const kind = document.createElement('select');
    kind.className = 'kind';
    for (const name of config.kinds) {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = LABELS[name] || name;
      kind.append(option);
    }
    kind.value = matcher.kind;
    const fields = document.createElement('span');
    fields.className = 'fields';
    fields.style.display = 'contents';
    function showFields(values) {
      fields.textContent = '';
      for (const [name, placeholder] of FIELDS[kind.value]) {
        fields.append(fieldInput(kind.value, name, placeholder, values[name]));
      }
    }
    kind.addEventListener('change', () => {
      showFields({});
      schedulePreview();
    });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.title = 'Remove this matcher';
    remove.setAttribute('aria-label', 'Remove this matcher');
    remove.textContent = '×';
    remove.addEventListener('click', () => {
      item.remove();
      const first = $('matchers').firstElementChild;
      const or = first && first.querySelector('.or');
      if (or) or.remove();
      schedulePreview();
    });
    item.append(kind, fields, remove);
    showFields(matcher);
    $('matchers').append(item);
  }

  /** The matchers as the form has them, or a problem to show. */
  function readMatchers() {
    const matchers = [];
    for (const item of $('matchers').children) {
      const matcher = { kind: item.querySelector('.kind').value };
      for (const field of item.querySelectorAll('[data-field]')) {
        const value = field.value.trim();
        if (!value) continue;
        if (field.dataset.field === 'props') {
          try {
            matcher.props = JSON.parse(value);
          } catch (err) {
            return { problem: 'props: not JSON (' + err.message + ')' };
          }
        } else {
          matcher[field.dataset.field] = value;
        }
      }
      matchers.push(matcher);
    }
    return { matchers: matchers };
  }

  function clock(ts) {
    return new Date(ts).toLocaleString(undefined, {
      month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  function kindOf(example) {
    if (example.kind === 'friction') return (example.name || 'friction').replace(/_/g, ' ');
    return LABELS[example.kind] || example.kind;
  }

  function showPreview(answer) {
    $('preview-records').textContent = answer.records_30d.toLocaleString();
    $('preview-sessions').textContent = answer.sessions_30d.toLocaleString();
    $('preview-records-word').textContent = answer.records_30d === 1 ? 'record' : 'records';
    $('preview-sessions-word').textContent = answer.sessions_30d === 1 ? 'session' : 'sessions';
    const list = $('examples');
    list.textContent = '';
    for (const example of answer.examples) {
      const item = document.createElement('li');
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = clock(example.ts);
      const what = document.createElement('span');
      what.className = 'what ' + example.kind;
      what.textContent = kindOf(example);
      const about = document.createElement('span');
      about.className = 'about';
      const named = example.kind === 'friction' ? example.selector : example.selector || example.name;
      about.textContent = [named, example.text, example.url].filter(Boolean).join(' · ');
      about.title = about.textContent;
      const link = document.createElement('a');
      link.href = example.link;
      link.textContent = 'Play ▸';
      item.append(when, what, about, link);
      list.append(item);
    }
  }

  function problem(text) {
    $('preview-problem').textContent = text || '';
    $('preview-problem').hidden = !text;
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 350);
  }

  async function preview() {
    const read = readMatchers();
    if (read.problem) return problem(read.problem);
    if (!read.matchers.length) {
      problem('Add a matcher to see what it matches.');
      return;
    }
    const asked = ++previewAsked;
    try {
      const answer = await call('POST', config.previewUrl, { matchers: read.matchers });
      if (asked !== previewAsked) return; // a later edit asked again
      problem('');
      showPreview(answer);
    } catch (err) {
      if (asked === previewAsked) problem(err.message);
    }
    document.getElementById('preview').dataset.ready = 'true';
  }

  function edit(action) {
    editing = action ? action.id : null;
    $('editor-title').textContent = action ? 'Edit “' + action.name + '”' : 'New action';
    $('action-name').value = action ? action.name : '';
    $('matchers').textContent = '';
    const matchers = action ? action.matchers : [{ kind: 'click' }];
    for (const matcher of matchers) addMatcher(matcher);
    $('delete').hidden = !action;
    $('saved-note').textContent = '';
    $('preview-records').textContent = '–';
    $('preview-sessions').textContent = '–';
    $('examples').textContent = '';
    renderList();
    schedulePreview();
  }

  async function save() {
    const read = readMatchers();
    if (read.problem) return problem(read.problem);
    const body = { name: $('action-name').value, matchers: read.matchers };
    try {
      const saved = editing === null
        ? await call('POST', config.actionsUrl, body)
        : await call('PATCH', config.actionsUrl + '/' + editing, body);
      problem('');
      $('saved-note').textContent = 'Saved.';
      await loadList();
      edit(saved);
      $('saved-note').textContent = 'Saved.';
    } catch (err) {
      problem(err.message);
    }
  }

  async function remove() {
    if (editing === null) return;
    const action = actions.find((a) => a.id === editing);
    if (!window.confirm('Delete the action “' + (action ? action.name : '') + '”? Recordings stay as they are.')) return;
    try {
      await call('DELETE', config.actionsUrl + '/' + editing);
    } catch (err) {
      return problem(err.message);
    }
    await loadList();
    edit(null);
  }

  $('new-action').addEventListener('click', () => edit(null));
  $('add-matcher').addEventListener('click', () => {
    addMatcher({ kind: 'click' });
    schedulePreview();
  });
  $('save').addEventListener('click', save);
  $('delete').addEventListener('click', remove);
  loadList().then(() => edit(null));
})();
