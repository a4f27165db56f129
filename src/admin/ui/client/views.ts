// Which view is showing (sign-in form or the app), dialogs, and the error areas: an error's
// code and message in a visible box; a 401 sends you back to the sign-in form.

import { ApiError, credential, forgetCredential } from './api';
import { els, h } from './dom';
import { state } from './state';

export function showError(err: unknown, box?: HTMLElement | null): void {
  const target = box || els.error;
  const e = err instanceof ApiError ? err : new ApiError(0, { code: 'client_error', message: messageOf(err) });
  const parts: Node[] = [h('strong', { class: 'code' }, e.code), h('span', { class: 'message' }, e.message)];
  if (e.requestId) parts.push(h('span', { class: 'rid' }, '(request ' + e.requestId + ')'));
  if (Array.isArray(e.details) && e.details.length) {
    parts.push(h('ul', null, e.details.slice(0, 20).map((d: unknown) => h('li', null, detailText(d)))));
  }
  target.replaceChildren(...parts);
  target.hidden = false;
}

function messageOf(err: unknown): string {
  const message = err && typeof err === 'object' && 'message' in err ? err.message : null;
  return String(message || err);
}

/** One validation detail: "path: message", or its JSON when it has no message. */
function detailText(d: unknown): string {
  if (d && typeof d === 'object' && 'message' in d) {
    const path = 'path' in d && d.path ? String(d.path) + ': ' : '';
    return path + String(d.message);
  }
  return JSON.stringify(d);
}

export function clearErrors(): void {
  for (const box of document.querySelectorAll<HTMLElement>('.error')) {
    box.hidden = true;
    box.replaceChildren();
  }
}

/** Shows an error from an action; a refused credential (401) signs out first. */
export function handle(err: unknown, box?: HTMLElement | null): void {
  if (err instanceof ApiError && err.status === 401) {
    signOut();
    showError(err);
    return;
  }
  showError(err, box);
}

export function closeDialogs(): void {
  for (const d of document.querySelectorAll('dialog')) if (d.open) d.close();
}

const ADMIN_KEY_FORMAT = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_[A-Za-z0-9]{38,}$/;

/** Shows the app view (the caller loads its data). */
export function showApp(): void {
  els.whoami.textContent = ADMIN_KEY_FORMAT.test(credential() || '') ? 'Signed in with an admin key' : 'Signed in with the admin token';
  els.signinView.hidden = true;
  els.appView.hidden = false;
  els.whoami.hidden = false;
  els.signout.hidden = false;
}

/** Shows the sign-in form and drops every key the page showed. */
export function showSignIn(): void {
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

export function signOut(): void {
  forgetCredential();
  showSignIn();
}

export function openDialog(dialog: HTMLDialogElement): void {
  if (!dialog.open) dialog.showModal();
}

export const dialogError = (dialog: HTMLDialogElement): HTMLElement | null => dialog.querySelector<HTMLElement>('.dialog-error');

/** Runs `fn` with the container's buttons disabled. */
export async function busy<T>(container: HTMLElement, fn: () => Promise<T>): Promise<T> {
  const buttons = [...container.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  try {
    return await fn();
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}
