// The usage panel under a key's row: its limit windows, budget and credits as bars, its owner's
// shared windows and budget when it has an owner with a policy, then its activity.

import { api, ApiError } from './api';
import { renderActivity } from './analytics';
import { h } from './dom';
import { fmtIn, fmtNum, fmtUsd, fmtWindow } from './format';
import { COLUMNS } from './key-list';
import type { KeyUsage } from './types';
import { handle } from './views';

function meter(label: string, used: number, limit: number, figures: string, foot: string): HTMLDivElement {
  const ratio = limit > 0 ? Math.min(1, Math.max(0, used / limit)) : used > 0 ? 1 : 0;
  const fill = h('div', { class: 'fill' + (ratio >= 1 ? ' full' : ratio >= 0.8 ? ' warn' : '') });
  fill.style.width = (ratio * 100).toFixed(1) + '%';
  return h('div', { class: 'meter' },
    h('div', { class: 'meter-head' }, h('span', { class: 'label' }, label), h('b', { class: 'figures' }, figures)),
    h('div', { class: 'bar', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': limit, 'aria-valuenow': used }, fill),
    h('div', { class: 'meter-foot' }, foot));
}

function usageMeters(u: KeyUsage): HTMLDivElement[] {
  const items = (u.windows || []).map((w) =>
    meter(w.name + ' \u00b7 ' + w.kind, w.used, w.limit, fmtNum(w.used) + ' / ' + fmtNum(w.limit),
      fmtNum(w.remaining) + ' left per ' + fmtWindow(w.window_seconds) + ', resets ' + fmtIn(w.reset)));
  if (u.budget) {
    const b = u.budget;
    items.push(meter('budget \u00b7 ' + b.period, b.spent_usd, b.usd, fmtUsd(b.spent_usd) + ' / ' + fmtUsd(b.usd),
      fmtUsd(b.remaining_usd) + ' left, ' + (b.reset ? 'resets ' + fmtIn(b.reset) : 'never resets')));
  }
  if (u.credits) {
    items.push(h('div', { class: 'meter' },
      h('div', { class: 'meter-head' }, h('span', { class: 'label' }, 'credits'), h('b', { class: 'figures' }, fmtNum(u.credits.remaining))),
      h('div', { class: 'meter-foot' }, u.credits.refill_at ? 'refills ' + fmtIn(u.credits.refill_at) : 'no refill')));
  }
  return items;
}

/** The owner's shared windows, when the key has an owner with a policy (404: none). */
async function ownerUsage(owner: string | null): Promise<HTMLDivElement[]> {
  if (!owner) return [];
  try {
    const u = await api<KeyUsage>('GET', '/owners/' + encodeURIComponent(owner) + '/usage');
    const items = usageMeters(u);
    return items.length
      ? [h('div', { class: 'row usage-head' }, h('strong', null, 'Owner ' + owner), h('span', { class: 'sub' }, 'shared by its keys')), h('div', { class: 'usage' }, items)]
      : [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

async function renderUsage(cell: HTMLTableCellElement, id: string, owner: string | null): Promise<void> {
  try {
    const u = await api<KeyUsage>('GET', '/keys/' + encodeURIComponent(id) + '/usage');
    const items = usageMeters(u);
    const shared = await ownerUsage(owner);
    const activity = h('div', { class: 'activity', 'data-activity-for': id }, h('div', { class: 'sub' }, 'Loading activity\u2026'));
    cell.replaceChildren(
      h('div', { class: 'row usage-head' },
        h('strong', null, 'Usage'),
        h('span', { class: 'sub' }, 'store: ' + u.store),
        h('button', { type: 'button', class: 'small', onclick: () => renderUsage(cell, id, owner) }, 'Refresh')),
      items.length ? h('div', { class: 'usage' }, items) : h('div', { class: 'sub' }, 'No limits or budget apply to this key.'),
      ...shared,
      activity);
    void renderActivity(activity, id);
  } catch (err) {
    cell.replaceChildren(h('div', { class: 'sub' }, 'Usage unavailable.'));
    handle(err);
  }
}

/** Opens the usage panel under a key's row, or closes it when open. */
export function toggleUsage(row: HTMLTableRowElement, id: string, owner: string | null): void {
  const next = row.nextElementSibling;
  if (next && next.classList.contains('usage-row')) {
    next.remove();
    return;
  }
  const cell = h('td', { colspan: COLUMNS }, h('div', { class: 'sub' }, 'Loading usage\u2026'));
  row.after(h('tr', { class: 'usage-row', 'data-usage-for': id }, cell));
  void renderUsage(cell, id, owner);
}
