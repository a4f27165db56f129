// The key table: one row per key with its action buttons, filters, paging.

import { api } from './api';
import { els, h } from './dom';
import { DASH, fmtDate } from './format';
import { state, type Filters } from './state';
import type { KeyList, KeyRecord } from './types';
import { handle } from './views';

export const PAGE_SIZE = 20;
/** Columns of the key table (a usage row spans them all). */
export const COLUMNS = 7;

export type KeyAction = 'usage' | 'activate' | 'deactivate' | 'rotate' | 'revoke';

function actionButtons(k: KeyRecord): HTMLButtonElement[] {
  const b = (label: string, action: KeyAction, cls?: string) =>
    h('button', { type: 'button', class: 'small' + (cls ? ' ' + cls : ''), 'data-action': action }, label);
  const out = [b('Usage', 'usage')];
  if (k.status !== 'revoked') {
    out.push(k.is_active ? b('Deactivate', 'deactivate') : b('Activate', 'activate'));
    out.push(b('Rotate', 'rotate'));
    out.push(b('Revoke', 'revoke', 'danger'));
  }
  return out;
}

function keyRow(k: KeyRecord): HTMLTableRowElement {
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

function findRow(id: string): HTMLTableRowElement | null {
  for (const tr of els.body.querySelectorAll<HTMLTableRowElement>('tr.key-row')) if (tr.dataset.keyId === id) return tr;
  return null;
}

/** Redraws the row of a key an action changed. */
export function replaceRow(k: KeyRecord): void {
  const row = findRow(k.id);
  if (row) row.replaceWith(keyRow(k));
}

/** The filter form as query parameters (empty fields left out). */
export function readFilters(): Filters {
  const fd = new FormData(els.filters);
  const out: Filters = {};
  for (const name of ['q', 'status', 'type', 'owner', 'tag']) {
    const v = String(fd.get(name) || '').trim();
    if (v) out[name] = v;
  }
  return out;
}

/** Loads the first page (`reset`) or the next one; rejects with the API's error. */
export async function loadKeys(reset: boolean): Promise<void> {
  const seq = ++state.listSeq;
  const params = new URLSearchParams(state.filters);
  params.set('limit', String(PAGE_SIZE));
  if (!reset && state.cursor) params.set('cursor', state.cursor);
  els.more.disabled = true;
  // aria-busy tells assistive tech, and the browser tests, that the rows shown are not yet the
  // answer to the latest filters; only the newest listing clears it.
  els.body.setAttribute('aria-busy', 'true');
  try {
    const data = await api<KeyList>('GET', '/keys?' + params.toString());
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
    if (seq === state.listSeq) els.body.removeAttribute('aria-busy');
  }
}

export const refreshList = (): Promise<void> => loadKeys(true).catch((err: unknown) => handle(err));
