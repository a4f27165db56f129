// GET /admin/ui: the admin web page. It is served WITHOUT admin authentication (you sign in
// inside the page, which then calls the /admin API with a Bearer credential), so src/admin/app.ts
// registers it before its adminAuth() middleware:
//
//   adminApp.get('/ui', adminUi);
//   adminApp.use('*', adminAuth());
//
// Each response gets a fresh CSP nonce for its one inline <style> and one inline <script>;
// nothing else may load, frame, or be framed.

import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { renderAdminPage } from './ui/page';

function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function adminUiCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    // The page builds DOM nodes only; with Trusted Types on, any HTML string sink throws.
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

export function adminUi(c: Context<AppEnv>): Response {
  const nonce = newNonce();
  return c.body(renderAdminPage(nonce), 200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': adminUiCsp(nonce),
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  });
}
