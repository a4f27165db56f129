// The admin page's script, inlined in a <script nonce> element. Plain browser JavaScript
// kept as a string (a stringified TS function would pick up bundler helpers).
//
// Rules this script keeps:
//   - the admin credential lives in sessionStorage only (never localStorage or cookies) and
//     is sent as `Authorization: Bearer` to the same origin's /admin API;
//   - every piece of data is rendered with text nodes (the CSP also enforces Trusted Types,
//     so an innerHTML assignment would throw);
//   - a plaintext key is shown once in the secret dialog and cleared when it closes.
// Written without template literals so it can sit inside a TS template string.

export const ADMIN_UI_SCRIPT = String.raw`
(() => {
  'use strict';

  const STORAGE_KEY = 'keygate.admin.credential';
  const API = '/admin';
  const PAGE_SIZE = 20;
  const COLUMNS = 7;
  const DASH = '\u2014';

  const $ = (id) => document.getElementById(id);
  const els = {
    error: $('error'),
    whoami: $('whoami'),
    signout: $('signout'),
    signinView: $('signin-view'),
    signinForm: $('signin-form'),
    signinToken: $('signin-token'),
    appView: $('app-view'),
    filters: $('filters'),
    filtersReset: $('filters-reset'),
    newKey: $('new-key'),
    body: $('keys-body'),
    empty: $('keys-empty'),
    more: $('more'),
    createDialog: $('create-dialog'),
    createForm: $('create-form'),
    secretDialog: $('secret-dialog'),
    secretLead: $('secret-lead'),
    secretValue: $('secret-value'),
    secretCopy: $('secret-copy'),
    secretCopied: $('secret-copied'),
    secretDone: $('secret-done'),
    revokeDialog: $('revoke-dialog'),
    revokeForm: $('revoke-form'),
    revokeLead: $('revoke-lead'),
    rotateDialog: $('rotate-dialog'),
    rotateForm: $('rotate-form'),
    rotateLead: $('rotate-lead'),
  };

  const state = { filters: {}, cursor: null, listSeq: 0, keys: new Map(), target: null, idempotencyKey: null };

  // ---------------------------------------------------------------------------------------
  // DOM building: strings always become text nodes.
  // ---------------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [name, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (name === 'class') el.className = value;
        else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
        else el.setAttribute(name, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // ---------------------------------------------------------------------------------------
  // Credential and API calls.
  // ---------------------------------------------------------------------------------------

  function credential() {
    try { return sessionStorage.getItem(STORAGE_KEY); } catch { return null; }
  }
  function forgetCredential() {
    try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* storage disabled */ }
  }

  class ApiError extends Error {
    constructor(status, error) {
      const e = error && typeof error === 'object' ? error : {};
      super(typeof e.message === 'string' ? e.message : 'The request failed.');
      this.status = status;
      this.code = typeof e.code === 'string' ? e.code : 'http_' + status;
      this.requestId = typeof e.request_id === 'string' ? e.request_id : null;
      this.details = e.details;
    }
  }
  const clientError = (message) => new ApiError(0, { code: 'invalid_input', message });

  async function api(method, path, body, headers) {
    const cred = credential();
    if (!cred) throw new ApiError(401, { code: 'unauthorized', message: 'Sign in first.' });
    const init = {
      method,
      headers: Object.assign({ accept: 'application/json', authorization: 'Bearer ' + cred }, headers || {}),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch {
      throw new ApiError(0, { code: 'network_error', message: 'The admin API could not be reached.' });
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (res.ok && data !== null) return data;
    if (res.ok) throw new ApiError(res.status, { code: 'bad_response', message: 'The admin API sent an unreadable response.' });
    throw new ApiError(res.status, data && data.error ? data.error : { message: res.statusText || 'The request failed.' });
  }

  // ---------------------------------------------------------------------------------------
  // Errors: code and message in a visible area; 401 sends you back to the sign-in form.
  // ---------------------------------------------------------------------------------------

  function showError(err, box) {
    const target = box || els.error;
    const e = err instanceof ApiError ? err : new ApiError(0, { code: 'client_error', message: String((err && err.message) || err) });
    const parts = [h('strong', { class: 'code' }, e.code), h('span', { class: 'message' }, e.message)];
    if (e.requestId) parts.push(h('span', { class: 'rid' }, '(request ' + e.requestId + ')'));
    if (Array.isArray(e.details) && e.details.length) {
      parts.push(h('ul', null, e.details.slice(0, 20).map((d) =>
        h('li', null, d && typeof d === 'object' && 'message' in d ? (d.path ? d.path + ': ' : '') + String(d.message) : JSON.stringify(d)))));
    }
    target.replaceChildren(...parts);
    target.hidden = false;
  }

  function clearErrors() {
    for (const box of document.querySelectorAll('.error')) {
      box.hidden = true;
      box.replaceChildren();
    }
  }

  function handle(err, box) {
    if (err instanceof ApiError && err.status === 401) {
      signOut();
      showError(err);
      return;
    }
    showError(err, box);
  }

  // ---------------------------------------------------------------------------------------
  // Views.
  // ---------------------------------------------------------------------------------------

  function closeDialogs() {
    for (const d of document.querySelectorAll('dialog')) if (d.open) d.close();
  }

  function showApp() {
    const cred = credential() || '';
    els.whoami.textContent = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_[A-Za-z0-9]{38,}$/.test(cred) ? 'Signed in with an admin key' : 'Signed in with the admin token';
    els.signinView.hidden = true;
    els.appView.hidden = false;
    els.whoami.hidden = false;
    els.signout.hidden = false;
  }

  function showSignIn() {
    closeDialogs();
    els.appView.hidden = true;
    els.whoami.hidden = true;
    els.signout.hidden = true;
    els.body.replaceChildren();
    state.keys.clear();
    state.cursor = null;
    els.more.hidden = true;
    els.signinView.hidden = false;
    els.signinToken.value = '';
    els.signinToken.focus();
  }

  function signOut() {
    forgetCredential();
    showSignIn();
  }

  function openDialog(dialog) {
    if (!dialog.open) dialog.showModal();
  }
  const dialogError = (dialog) => dialog.querySelector('.dialog-error');

  async function busy(container, fn) {
    const buttons = [...container.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    try { return await fn(); } finally { for (const b of buttons) b.disabled = false; }
  }

  // ---------------------------------------------------------------------------------------
  // Formatting.
  // ---------------------------------------------------------------------------------------

  function fmtDate(iso, none) {
    if (!iso) return none || DASH;
    const d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 16).replace('T', ' ');
  }
  function fmtIn(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    const s = Math.round((d.getTime() - Date.now()) / 1000);
    if (s <= 0) return 'now';
    if (s < 120) return 'in ' + s + ' s';
    if (s < 7200) return 'in ' + Math.round(s / 60) + ' min';
    if (s < 172800) return 'in ' + Math.round(s / 3600) + ' h';
    return 'in ' + Math.round(s / 86400) + ' days';
  }
  function fmtWindow(seconds) {
    const names = { 1: 'second', 60: 'minute', 3600: 'hour', 86400: 'day' };
    return names[seconds] || seconds + ' s';
  }
  const fmtNum = (n) => Number(n).toLocaleString('en-US');
  const fmtUsd = (n) => '$' + Number(n).toFixed(n > 0 && n < 0.01 ? 4 : 2);
  const describe = (k) => (k.name || '(unnamed)') + ' ' + DASH + ' ' + k.display + ' (' + k.id + ')';

  // ---------------------------------------------------------------------------------------
  // Key list.
  // ---------------------------------------------------------------------------------------

  function actionButtons(k) {
    const b = (label, action, cls) => h('button', { type: 'button', class: 'small' + (cls ? ' ' + cls : ''), 'data-action': action }, label);
    const out = [b('Usage', 'usage')];
    if (k.status !== 'revoked') {
      out.push(k.is_active ? b('Deactivate', 'deactivate') : b('Activate', 'activate'));
      out.push(b('Rotate', 'rotate'));
      out.push(b('Revoke', 'revoke', 'danger'));
    }
    return out;
  }

  function keyRow(k) {
    state.keys.set(k.id, k);
    const chips = [
      ...(k.scopes || []).map((s) => h('span', { class: 'chip scope', title: 'scope' }, s)),
      ...(k.tags || []).map((t) => h('span', { class: 'chip tag', title: 'tag' }, '#' + t)),
    ];
    const status = String(k.status).replace(/[^a-z]/g, '');
    return h('tr', { class: 'key-row', 'data-key-id': k.id, 'data-status': status },
      h('td', { class: 'name' },
        h('div', { class: 'title' }, k.name || '(unnamed)'),
        h('div', { class: 'sub mono' }, k.id),
        k.description ? h('div', { class: 'sub' }, k.description) : null,
        k.rotated_to ? h('div', { class: 'sub' }, 'Rotated to ' + k.rotated_to) : null,
        k.revoked_reason ? h('div', { class: 'sub revoked-reason' }, 'Revoked: ' + k.revoked_reason) : null),
      h('td', null, h('code', { class: 'display' }, k.display)),
      h('td', null, h('div', { class: 'owner' }, k.owner || DASH), h('div', { class: 'sub type' }, k.type)),
      h('td', null, h('span', { class: 'badge status status-' + status }, k.status)),
      h('td', null, chips.length ? chips : DASH),
      h('td', { class: 'when' },
        h('div', { class: 'expires' }, fmtDate(k.expires_at, 'never')),
        h('div', { class: 'sub last-used' }, 'used ' + fmtDate(k.last_used_at, 'never'))),
      h('td', { class: 'actions' }, actionButtons(k)));
  }

  function findRow(id) {
    for (const tr of els.body.querySelectorAll('tr.key-row')) if (tr.dataset.keyId === id) return tr;
    return null;
  }

  function replaceRow(k) {
    const row = findRow(k.id);
    if (row) row.replaceWith(keyRow(k));
  }

  function readFilters() {
    const fd = new FormData(els.filters);
    const out = {};
    for (const name of ['q', 'status', 'type', 'owner', 'tag']) {
      const v = String(fd.get(name) || '').trim();
      if (v) out[name] = v;
    }
    return out;
  }

  async function loadKeys(reset) {
    const seq = ++state.listSeq;
    const params = new URLSearchParams(state.filters);
    params.set('limit', String(PAGE_SIZE));
    if (!reset && state.cursor) params.set('cursor', state.cursor);
    els.more.disabled = true;
    try {
      const data = await api('GET', '/keys?' + params.toString());
      if (seq !== state.listSeq) return; // a newer listing replaced this one
      if (reset) {
        els.body.replaceChildren();
        state.keys.clear();
      }
      for (const k of data.keys) els.body.append(keyRow(k));
      state.cursor = data.next_cursor;
      els.more.hidden = !data.next_cursor;
      els.empty.hidden = els.body.querySelector('tr.key-row') !== null;
    } finally {
      els.more.disabled = false;
    }
  }
  const refreshList = () => loadKeys(true).catch((err) => handle(err));

  // ---------------------------------------------------------------------------------------
  // Usage panel.
  // ---------------------------------------------------------------------------------------

  function meter(label, used, limit, figures, foot) {
    const ratio = limit > 0 ? Math.min(1, Math.max(0, used / limit)) : used > 0 ? 1 : 0;
    const fill = h('div', { class: 'fill' + (ratio >= 1 ? ' full' : ratio >= 0.8 ? ' warn' : '') });
    fill.style.width = (ratio * 100).toFixed(1) + '%';
    return h('div', { class: 'meter' },
      h('div', { class: 'meter-head' }, h('span', { class: 'label' }, label), h('b', { class: 'figures' }, figures)),
      h('div', { class: 'bar', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': limit, 'aria-valuenow': used }, fill),
      h('div', { class: 'meter-foot' }, foot));
  }

  async function renderUsage(cell, id) {
    try {
      const u = await api('GET', '/keys/' + encodeURIComponent(id) + '/usage');
      const items = (u.windows || []).map((w) =>
        meter(w.name + ' \u00b7 ' + w.kind, w.used, w.limit, fmtNum(w.used) + ' / ' + fmtNum(w.limit),
          fmtNum(w.remaining) + ' left per ' + fmtWindow(w.window_seconds) + ', resets ' + fmtIn(w.reset)));
      if (u.budget) {
        const b = u.budget;
        items.push(meter('budget \u00b7 ' + b.period, b.spent_usd, b.usd, fmtUsd(b.spent_usd) + ' / ' + fmtUsd(b.usd),
          fmtUsd(b.remaining_usd) + ' left, ' + (b.reset ? 'resets ' + fmtIn(b.reset) : 'never resets')));
      }
      cell.replaceChildren(
        h('div', { class: 'row usage-head' },
          h('strong', null, 'Usage'),
          h('span', { class: 'sub' }, 'store: ' + u.store),
          h('button', { type: 'button', class: 'small', onclick: () => renderUsage(cell, id) }, 'Refresh')),
        items.length ? h('div', { class: 'usage' }, items) : h('div', { class: 'sub' }, 'No limits or budget apply to this key.'));
    } catch (err) {
      cell.replaceChildren(h('div', { class: 'sub' }, 'Usage unavailable.'));
      handle(err);
    }
  }

  function toggleUsage(row, id) {
    const next = row.nextElementSibling;
    if (next && next.classList.contains('usage-row')) {
      next.remove();
      return;
    }
    const cell = h('td', { colspan: COLUMNS }, h('div', { class: 'sub' }, 'Loading usage\u2026'));
    row.after(h('tr', { class: 'usage-row', 'data-usage-for': id }, cell));
    renderUsage(cell, id);
  }

  // ---------------------------------------------------------------------------------------
  // Key actions.
  // ---------------------------------------------------------------------------------------

  async function setActive(id, action, button) {
    clearErrors();
    button.disabled = true;
    try {
      replaceRow(await api('POST', '/keys/' + encodeURIComponent(id) + '/' + action));
    } catch (err) {
      button.disabled = false;
      handle(err);
    }
  }

  function newIdempotencyKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return 'ui-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function openRevoke(k) {
    clearErrors();
    state.target = k;
    els.revokeForm.reset();
    els.revokeLead.textContent = describe(k);
    openDialog(els.revokeDialog);
  }

  function openRotate(k) {
    clearErrors();
    state.target = k;
    state.idempotencyKey = newIdempotencyKey(); // reused if this dialog's request is retried
    els.rotateForm.reset();
    els.rotateLead.textContent = describe(k);
    openDialog(els.rotateDialog);
  }

  function showSecret(plaintext, lead) {
    els.secretLead.textContent = lead;
    els.secretValue.value = plaintext;
    els.secretCopied.textContent = '';
    openDialog(els.secretDialog);
    els.secretValue.focus();
    els.secretValue.select();
  }

  async function copySecret() {
    const value = els.secretValue.value;
    if (!value) return;
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(value);
        ok = true;
      }
    } catch { ok = false; }
    if (!ok) {
      els.secretValue.focus();
      els.secretValue.select();
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    els.secretCopied.textContent = ok ? 'Copied to the clipboard.' : 'Copy failed: the key is selected, copy it by hand.';
  }

  function intField(fd, name, label) {
    const s = String(fd.get(name) || '').trim();
    if (!s) return undefined;
    const v = Number(s);
    if (!Number.isSafeInteger(v) || v < 0) throw clientError(label + ' must be a whole number.');
    return v;
  }

  function createBody(fd) {
    const str = (name) => String(fd.get(name) || '').trim();
    const list = (name) => str(name).split(/[\s,]+/).filter(Boolean);
    const body = { name: str('name'), type: str('type') || 'user', scopes: list('scopes'), tags: list('tags') };
    const owner = str('owner');
    if (owner) body.owner = owner;
    const expires = str('expires_at');
    const ttl = intField(fd, 'ttl_seconds', 'TTL');
    if (expires && ttl !== undefined) throw clientError('Give an expiry date or a TTL, not both.');
    if (expires) {
      const d = new Date(expires);
      if (isNaN(d.getTime())) throw clientError('The expiry date is not valid.');
      body.expires_at = d.toISOString();
    }
    if (ttl !== undefined) body.ttl_seconds = ttl;
    const limits = {};
    for (const [name, label] of [['rpm', 'Requests / min'], ['rpd', 'Requests / day'], ['tpm', 'Tokens / min'], ['tpd', 'Tokens / day']]) {
      const v = intField(fd, name, label);
      if (v !== undefined) limits[name] = v;
    }
    if (Object.keys(limits).length) body.limits = limits;
    const usd = str('budget_usd');
    if (usd) {
      const v = Number(usd);
      if (!Number.isFinite(v) || v < 0) throw clientError('Budget USD must be a number >= 0.');
      body.budget = { usd: v, period: str('budget_period') || 'day' };
    }
    return body;
  }

  // ---------------------------------------------------------------------------------------
  // Wiring.
  // ---------------------------------------------------------------------------------------

  els.signinForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const token = els.signinToken.value.trim();
    els.signinToken.value = '';
    if (!token) return;
    try {
      sessionStorage.setItem(STORAGE_KEY, token);
    } catch {
      showError(new ApiError(0, { code: 'storage_unavailable', message: 'Session storage is disabled in this browser.' }));
      return;
    }
    await busy(els.signinForm, async () => {
      try {
        state.filters = readFilters();
        await loadKeys(true);
        showApp();
      } catch (err) {
        signOut();
        showError(err);
      }
    });
  });

  els.signout.addEventListener('click', () => {
    clearErrors();
    signOut();
  });

  els.filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearErrors();
    state.filters = readFilters();
    refreshList();
  });
  els.filtersReset.addEventListener('click', () => {
    els.filters.reset();
    clearErrors();
    state.filters = {};
    refreshList();
  });
  els.more.addEventListener('click', () => {
    clearErrors();
    loadKeys(false).catch((err) => handle(err));
  });

  els.body.addEventListener('click', (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest('button[data-action]') : null;
    const row = button ? button.closest('tr.key-row') : null;
    const key = row ? state.keys.get(row.dataset.keyId) : null;
    if (!button || !row || !key) return;
    switch (button.dataset.action) {
      case 'usage': toggleUsage(row, key.id); break;
      case 'activate':
      case 'deactivate': setActive(key.id, button.dataset.action, button); break;
      case 'rotate': openRotate(key); break;
      case 'revoke': openRevoke(key); break;
    }
  });

  for (const button of document.querySelectorAll('[data-close]')) {
    button.addEventListener('click', () => button.closest('dialog').close());
  }

  els.newKey.addEventListener('click', () => {
    clearErrors();
    els.createForm.reset();
    openDialog(els.createDialog);
  });

  els.createForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const box = dialogError(els.createDialog);
    clearErrors();
    let body;
    try { body = createBody(new FormData(els.createForm)); } catch (err) { showError(err, box); return; }
    await busy(els.createForm, async () => {
      try {
        const created = await api('POST', '/keys', body);
        els.createDialog.close();
        els.createForm.reset();
        showSecret(created.key, 'Created ' + describe(created) + '.');
        refreshList();
      } catch (err) {
        handle(err, box);
      }
    });
  });

  els.revokeForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const box = dialogError(els.revokeDialog);
    clearErrors();
    const k = state.target;
    const reason = String(new FormData(els.revokeForm).get('reason') || '').trim();
    if (!k) return;
    if (!reason) { showError(clientError('Give a reason for the revocation.'), box); return; }
    await busy(els.revokeForm, async () => {
      try {
        replaceRow(await api('POST', '/keys/' + encodeURIComponent(k.id) + '/revoke', { reason }));
        els.revokeDialog.close();
      } catch (err) {
        handle(err, box);
      }
    });
  });

  els.rotateForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const box = dialogError(els.rotateDialog);
    clearErrors();
    const k = state.target;
    if (!k) return;
    let grace;
    try { grace = intField(new FormData(els.rotateForm), 'grace_seconds', 'Grace period') || 0; } catch (err) { showError(err, box); return; }
    await busy(els.rotateForm, async () => {
      try {
        const out = await api('POST', '/keys/' + encodeURIComponent(k.id) + '/rotate', { grace_seconds: grace }, { 'idempotency-key': state.idempotencyKey });
        els.rotateDialog.close();
        showSecret(out.key, 'Rotated ' + describe(out.previous) + '. New key: ' + out.id + (out.replayed ? ' (repeat of an earlier request)' : '') + '.');
        refreshList();
      } catch (err) {
        handle(err, box);
      }
    });
  });

  els.secretCopy.addEventListener('click', copySecret);
  // Clear before closing: the dialog's close event fires a task later, and the key must not
  // outlive the moment the dialog disappears.
  els.secretDone.addEventListener('click', () => {
    els.secretValue.value = '';
    els.secretDialog.close();
  });
  // Escape must not dismiss the only view of a new key by accident.
  els.secretDialog.addEventListener('cancel', (ev) => ev.preventDefault());
  els.secretDialog.addEventListener('close', () => {
    els.secretValue.value = '';
    els.secretLead.textContent = '';
    els.secretCopied.textContent = '';
  });

  if (credential()) {
    showApp();
    refreshList();
  } else {
    showSignIn();
  }
})();
`;
