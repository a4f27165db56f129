// Part of the admin page script (see script.ts): the key list and the usage panel.

export const ADMIN_UI_KEY_LIST = String.raw`
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

  function usageMeters(u) {
    const items = (u.windows || []).map((w) =>
      meter(w.name + ' \u00b7 ' + w.kind, w.used, w.limit, fmtNum(w.used) + ' / ' + fmtNum(w.limit),
        fmtNum(w.remaining) + ' left per ' + fmtWindow(w.window_seconds) + ', resets ' + fmtIn(w.reset)));
    if (u.budget) {
      const b = u.budget;
      items.push(meter('budget \u00b7 ' + b.period, b.spent_usd, b.usd, fmtUsd(b.spent_usd) + ' / ' + fmtUsd(b.usd),
        fmtUsd(b.remaining_usd) + ' left, ' + (b.reset ? 'resets ' + fmtIn(b.reset) : 'never resets')));
    }
    if (u.credits) {
      items.push(h('div', { class: 'meter' }, h('div', { class: 'meter-head' }, h('span', { class: 'label' }, 'credits'), h('b', { class: 'figures' }, fmtNum(u.credits.remaining))),
        h('div', { class: 'meter-foot' }, u.credits.refill_at ? 'refills ' + fmtIn(u.credits.refill_at) : 'no refill')));
    }
    return items;
  }

  // The owner's shared windows, when the key has an owner with a policy (404: none).
  async function ownerUsage(owner) {
    if (!owner) return [];
    try {
      const u = await api('GET', '/owners/' + encodeURIComponent(owner) + '/usage');
      const items = usageMeters(u);
      return items.length ? [h('div', { class: 'row usage-head' }, h('strong', null, 'Owner ' + owner), h('span', { class: 'sub' }, 'shared by its keys')), h('div', { class: 'usage' }, items)] : [];
    } catch (err) {
      if (err && err.status === 404) return [];
      throw err;
    }
  }

  async function renderUsage(cell, id, owner) {
    try {
      const u = await api('GET', '/keys/' + encodeURIComponent(id) + '/usage');
      const items = usageMeters(u);
      const shared = await ownerUsage(owner);
      cell.replaceChildren(
        h('div', { class: 'row usage-head' },
          h('strong', null, 'Usage'),
          h('span', { class: 'sub' }, 'store: ' + u.store),
          h('button', { type: 'button', class: 'small', onclick: () => renderUsage(cell, id, owner) }, 'Refresh')),
        items.length ? h('div', { class: 'usage' }, items) : h('div', { class: 'sub' }, 'No limits or budget apply to this key.'),
        ...shared);
    } catch (err) {
      cell.replaceChildren(h('div', { class: 'sub' }, 'Usage unavailable.'));
      handle(err);
    }
  }

  function toggleUsage(row, id, owner) {
    const next = row.nextElementSibling;
    if (next && next.classList.contains('usage-row')) {
      next.remove();
      return;
    }
    const cell = h('td', { colspan: COLUMNS }, h('div', { class: 'sub' }, 'Loading usage\u2026'));
    row.after(h('tr', { class: 'usage-row', 'data-usage-for': id }, cell));
    renderUsage(cell, id, owner);
  }

`;
