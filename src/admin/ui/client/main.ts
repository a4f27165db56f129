// The admin page's script: wires the sign-in form, the key list and its actions, then shows
// the sign-in form. Bundled (with uPlot) by `npm run build:ui` into
// ../generated/client-bundle.ts, which page.ts inlines in the page's one nonced <script>.
//
// Rules the page keeps:
//   - the admin credential lives in memory only (api.ts); a reload signs out;
//   - every piece of data is rendered with text nodes (dom.ts; the CSP enforces Trusted
//     Types, so an HTML string sink would throw);
//   - a plaintext key is shown once and cleared when its dialog closes (key-actions.ts).
//
// Modules: api.ts (credential, /admin calls), dom.ts (elements, text-only DOM building),
// views.ts (sign-in/app views, errors, dialogs), key-list.ts, usage.ts, analytics.ts,
// key-actions.ts + key-form.ts. A new view is a module with its render function, wired here.

import { setCredential } from './api';
import { renderOverview } from './analytics';
import { els } from './dom';
import { openCreate, openRevoke, openRotate, setActive, wireKeyDialogs } from './key-actions';
import { loadKeys, readFilters, refreshList } from './key-list';
import { state } from './state';
import { toggleUsage } from './usage';
import { busy, clearErrors, handle, showApp, showError, showSignIn, signOut } from './views';

els.signinForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors();
  const token = els.signinToken.value.trim();
  els.signinToken.value = '';
  if (!token) return;
  setCredential(token);
  await busy(els.signinForm, async () => {
    try {
      state.filters = readFilters();
      await loadKeys(true);
      showApp();
      void renderOverview();
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
  void refreshList();
});
els.filtersReset.addEventListener('click', () => {
  els.filters.reset();
  clearErrors();
  state.filters = {};
  void refreshList();
});
els.more.addEventListener('click', () => {
  clearErrors();
  loadKeys(false).catch((err: unknown) => handle(err));
});

els.body.addEventListener('click', (ev) => {
  const button = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>('button[data-action]') : null;
  const row = button ? button.closest<HTMLTableRowElement>('tr.key-row') : null;
  const key = row && row.dataset.keyId !== undefined ? state.keys.get(row.dataset.keyId) : undefined;
  if (!button || !row || !key) return;
  const action = button.dataset.action;
  switch (action) {
    case 'usage': toggleUsage(row, key.id, key.owner); break;
    case 'activate':
    case 'deactivate': void setActive(key.id, action, button); break;
    case 'rotate': openRotate(key); break;
    case 'revoke': openRevoke(key); break;
  }
});

els.newKey.addEventListener('click', openCreate);
wireKeyDialogs();

// The credential is never stored, so every page load starts at the sign-in form.
showSignIn();
