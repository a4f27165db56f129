// The admin page's script, inlined in a <script nonce> element. Plain browser JavaScript
// kept as a string (a stringified TS function would pick up bundler helpers).
//
// Rules this script keeps:
//   - the admin credential lives in this script's memory only (no Web Storage, no cookies:
//     a script on the same origin, e.g. one a proxied upstream serves, could read those
//     later) and is sent as `Authorization: Bearer` to the same origin's /admin API; a
//     reload or a closed tab signs out;
//   - every piece of data is rendered with text nodes (the CSP also enforces Trusted Types,
//     so an innerHTML assignment would throw);
//   - a plaintext key is shown once in the secret dialog and cleared when it closes.
// Written without template literals so it can sit inside a TS template string.
//
// Split by concern into three strings that run as ONE closure: this file (setup, DOM, API,
// errors, views, formatting), script-key-list.ts (key list, usage panel) and
// script-key-actions.ts (key actions, wiring). Function declarations are hoisted across them.

import { ADMIN_UI_ANALYTICS } from './script-analytics';
import { ADMIN_UI_KEY_ACTIONS } from './script-key-actions';
import { ADMIN_UI_KEY_LIST } from './script-key-list';

const SETUP = String.raw`
(() => {
  'use strict';

  let adminCredential = null;
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
    return adminCredential;
  }
  function forgetCredential() {
    adminCredential = null;
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
    renderOverview();
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

`;

export const ADMIN_UI_SCRIPT = SETUP + ADMIN_UI_KEY_LIST + ADMIN_UI_ANALYTICS + ADMIN_UI_KEY_ACTIONS;
