// Part of the admin page script (see script.ts): key actions and the wiring that starts the page.

export const ADMIN_UI_KEY_ACTIONS = String.raw`
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
    adminCredential = token;
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
      case 'usage': toggleUsage(row, key.id, key.owner); break;
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

  // The credential is never stored, so every page load starts at the sign-in form.
  showSignIn();
})();
`;
