// What the key actions do: activate/deactivate in place, and the create, revoke, rotate and
// secret dialogs. A plaintext key is shown once in the secret dialog and cleared when it closes.

import { api, clientError } from './api';
import { els } from './dom';
import { describe } from './format';
import { createBody, intField, type CreateKeyBody } from './key-form';
import { refreshList, replaceRow } from './key-list';
import { state } from './state';
import type { CreatedKey, KeyRecord, RotatedKey } from './types';
import { busy, clearErrors, dialogError, handle, openDialog, showError } from './views';

export async function setActive(id: string, action: 'activate' | 'deactivate', button: HTMLButtonElement): Promise<void> {
  clearErrors();
  button.disabled = true;
  try {
    replaceRow(await api<KeyRecord>('POST', '/keys/' + encodeURIComponent(id) + '/' + action));
  } catch (err) {
    button.disabled = false;
    handle(err);
  }
}

function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'ui-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function openCreate(): void {
  clearErrors();
  els.createForm.reset();
  openDialog(els.createDialog);
}

export function openRevoke(k: KeyRecord): void {
  clearErrors();
  state.target = k;
  els.revokeForm.reset();
  els.revokeLead.textContent = describe(k);
  openDialog(els.revokeDialog);
}

export function openRotate(k: KeyRecord): void {
  clearErrors();
  state.target = k;
  state.idempotencyKey = newIdempotencyKey(); // reused if this dialog's request is retried
  els.rotateForm.reset();
  els.rotateLead.textContent = describe(k);
  openDialog(els.rotateDialog);
}

function showSecret(plaintext: string, lead: string, signingSecret?: string): void {
  els.secretLead.textContent = lead;
  els.secretValue.value = plaintext;
  els.signingSecretValue.value = signingSecret ?? '';
  els.signingSecret.hidden = !signingSecret;
  els.secretCopied.textContent = '';
  openDialog(els.secretDialog);
  els.secretValue.focus();
  els.secretValue.select();
}

async function copySecret(field: HTMLInputElement): Promise<void> {
  const value = field.value;
  if (!value) return;
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(value);
      ok = true;
    }
  } catch {
    ok = false;
  }
  if (!ok) {
    field.focus();
    field.select();
    try {
      // The fallback for pages without the async clipboard (plain http on a LAN address).
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
  }
  const what = field === els.secretValue ? 'key' : 'signing secret';
  els.secretCopied.textContent = ok ? `Copied the ${what} to the clipboard.` : `Copy failed: the ${what} is selected, copy it by hand.`;
}

async function submitCreate(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const box = dialogError(els.createDialog);
  clearErrors();
  let body: CreateKeyBody;
  try {
    body = createBody(new FormData(els.createForm));
  } catch (err) {
    showError(err, box);
    return;
  }
  await busy(els.createForm, async () => {
    try {
      const created = await api<CreatedKey>('POST', '/keys', body);
      els.createDialog.close();
      els.createForm.reset();
      showSecret(created.key, 'Created ' + describe(created) + '.', created.signing_secret);
      void refreshList();
    } catch (err) {
      handle(err, box);
    }
  });
}

async function submitRevoke(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const box = dialogError(els.revokeDialog);
  clearErrors();
  const k = state.target;
  const reason = String(new FormData(els.revokeForm).get('reason') || '').trim();
  if (!k) return;
  if (!reason) {
    showError(clientError('Give a reason for the revocation.'), box);
    return;
  }
  await busy(els.revokeForm, async () => {
    try {
      replaceRow(await api<KeyRecord>('POST', '/keys/' + encodeURIComponent(k.id) + '/revoke', { reason }));
      els.revokeDialog.close();
    } catch (err) {
      handle(err, box);
    }
  });
}

async function submitRotate(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const box = dialogError(els.rotateDialog);
  clearErrors();
  const k = state.target;
  if (!k) return;
  let grace: number;
  try {
    grace = intField(new FormData(els.rotateForm), 'grace_seconds', 'Grace period') || 0;
  } catch (err) {
    showError(err, box);
    return;
  }
  const headers: Record<string, string> = state.idempotencyKey ? { 'idempotency-key': state.idempotencyKey } : {};
  await busy(els.rotateForm, async () => {
    try {
      const out = await api<RotatedKey>('POST', '/keys/' + encodeURIComponent(k.id) + '/rotate', { grace_seconds: grace }, headers);
      els.rotateDialog.close();
      showSecret(out.key, 'Rotated ' + describe(out.previous) + '. New key: ' + out.id + (out.replayed ? ' (repeat of an earlier request)' : '') + '.', out.signing_secret);
      void refreshList();
    } catch (err) {
      handle(err, box);
    }
  });
}

/** Wires the dialogs' forms and buttons; called once at start. */
export function wireKeyDialogs(): void {
  for (const button of document.querySelectorAll('[data-close]')) {
    button.addEventListener('click', () => button.closest('dialog')?.close());
  }
  els.createForm.addEventListener('submit', submitCreate);
  els.revokeForm.addEventListener('submit', submitRevoke);
  els.rotateForm.addEventListener('submit', submitRotate);

  els.secretCopy.addEventListener('click', () => copySecret(els.secretValue));
  // Clear before closing: the dialog's close event fires a task later, and the key must not
  // outlive the moment the dialog disappears.
  els.signingSecretCopy.addEventListener('click', () => copySecret(els.signingSecretValue));
  els.secretDone.addEventListener('click', () => {
    els.secretValue.value = '';
    els.signingSecretValue.value = '';
    els.secretDialog.close();
  });
  // Escape must not dismiss the only view of a new key by accident.
  els.secretDialog.addEventListener('cancel', (ev) => ev.preventDefault());
  els.secretDialog.addEventListener('close', () => {
    els.secretValue.value = '';
    els.signingSecretValue.value = '';
    els.signingSecret.hidden = true;
    els.secretLead.textContent = '';
    els.secretCopied.textContent = '';
  });
}
