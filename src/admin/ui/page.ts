// The admin web page served at GET /admin/ui: one self-contained HTML document with inline
// CSS and JS (no external assets, works offline). The markup below holds no data; the script
// (src/admin/ui/client, bundled with uPlot into generated/client-bundle.ts by
// `npm run build:ui`) fills the page by building DOM nodes (textContent only), so nothing
// from the API is ever parsed as HTML. `renderAdminPage(nonce)` stamps the per-response CSP
// nonce.

import { ADMIN_UI_SCRIPT, UPLOT_CSS } from './generated/client-bundle';
import { ADMIN_UI_CSS } from './styles';

const NONCE = '__KEYGATE_CSP_NONCE__';

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<link rel="icon" href="data:,">
<title>keygate admin</title>
<style nonce="${NONCE}">${UPLOT_CSS}
${ADMIN_UI_CSS}</style>
</head>
<body>
<header class="top">
  <h1>keygate <span>admin</span></h1>
  <div class="spacer"></div>
  <span id="whoami" class="sub" hidden>Signed in</span>
  <button type="button" id="signout" hidden>Sign out</button>
</header>
<main>
  <div id="error" class="error" role="alert" hidden></div>

  <section id="signin-view" class="panel signin">
    <h2>Sign in</h2>
    <p>Use the ADMIN_TOKEN or an API key with the <code>admin</code> scope. It is kept in this page's memory only: signing out, reloading or closing the tab forgets it.</p>
    <form id="signin-form" class="stack" autocomplete="off">
      <label>Admin credential
        <input id="signin-token" name="token" type="password" required autocomplete="off" spellcheck="false" autofocus>
      </label>
      <button type="submit" class="primary">Sign in</button>
    </form>
  </section>

  <section id="app-view" class="panel" hidden>
    <div id="overview" class="overview" aria-live="polite"></div>
    <form id="filters" class="toolbar" autocomplete="off">
      <label class="grow">Search name <input name="q" type="search" maxlength="200" placeholder="Name contains..."></label>
      <label>Status
        <select name="status"><option value="">Any</option><option>active</option><option>inactive</option><option>revoked</option><option>expired</option></select>
      </label>
      <label>Type
        <select name="type"><option value="">Any</option><option>user</option><option>service</option><option>system</option></select>
      </label>
      <label>Owner <input name="owner" maxlength="200"></label>
      <label>Tag <input name="tag" maxlength="64"></label>
      <button type="submit">Apply</button>
      <button type="button" id="filters-reset">Reset</button>
      <div class="spacer"></div>
      <button type="button" id="new-key" class="primary">New key</button>
    </form>
    <div class="table-wrap">
      <table id="keys-table">
        <thead><tr>
          <th>Name</th><th>Key</th><th>Owner / type</th><th>Status</th><th>Scopes / tags</th><th>Expires (UTC)</th><th>Actions</th>
        </tr></thead>
        <tbody id="keys-body"></tbody>
      </table>
    </div>
    <div id="keys-empty" class="empty" hidden>No keys match.</div>
    <div class="more"><button type="button" id="more" hidden>More</button></div>
  </section>
</main>

<dialog id="create-dialog" aria-labelledby="create-title">
  <form id="create-form" autocomplete="off">
    <h2 id="create-title">New key</h2>
    <p class="lead">The plaintext key is shown once after creation.</p>
    <div class="error dialog-error" role="alert" hidden></div>
    <div class="grid">
      <label>Name <input name="name" maxlength="200" required></label>
      <label><span>Owner <span class="hint">(optional)</span></span><input name="owner" maxlength="200"></label>
      <label>Type
        <select name="type"><option>user</option><option>service</option><option>system</option></select>
      </label>
      <label><span>Scopes <span class="hint">(comma-separated)</span></span><input name="scopes" value="read, write"></label>
      <label class="wide"><span>Tags <span class="hint">(comma-separated)</span></span><input name="tags"></label>
      <label><span>Expires at <span class="hint">(local time, optional)</span></span><input name="expires_at" type="datetime-local"></label>
      <label><span>or TTL seconds <span class="hint">(optional)</span></span><input name="ttl_seconds" type="number" min="1" step="1"></label>
      <fieldset class="wide">
        <legend>Limits (optional)</legend>
        <div class="grid4">
          <label>Requests / min <input name="rpm" type="number" min="0" step="1"></label>
          <label>Requests / day <input name="rpd" type="number" min="0" step="1"></label>
          <label>Tokens / min <input name="tpm" type="number" min="0" step="1"></label>
          <label>Tokens / day <input name="tpd" type="number" min="0" step="1"></label>
        </div>
      </fieldset>
      <fieldset class="wide">
        <legend>Budget (optional)</legend>
        <div class="grid">
          <label>USD <input name="budget_usd" type="number" min="0" step="0.01"></label>
          <label>Period
            <select name="budget_period"><option>day</option><option>month</option><option>total</option></select>
          </label>
        </div>
      </fieldset>
    </div>
    <div class="actions-bar">
      <button type="button" data-close>Cancel</button>
      <button type="submit" class="primary">Create key</button>
    </div>
  </form>
</dialog>

<dialog id="secret-dialog" aria-labelledby="secret-title">
  <div class="body">
    <h2 id="secret-title">Your new key</h2>
    <p class="lead" id="secret-lead"></p>
    <p class="warning" role="note"><strong>Copy this key now.</strong> It is shown only this once and cannot be shown again: keygate stores only a digest of it.</p>
    <div class="secret">
      <input id="secret-value" type="text" readonly spellcheck="false" aria-label="New key">
      <button type="button" id="secret-copy" class="primary">Copy</button>
    </div>
    <div id="signing-secret" hidden>
      <p class="lead">The new key's signing secret, for signed requests (also shown only this once):</p>
      <div class="secret">
        <input id="signing-secret-value" type="text" readonly spellcheck="false" aria-label="New signing secret">
        <button type="button" id="signing-secret-copy">Copy</button>
      </div>
    </div>
    <div id="secret-copied" class="copied" aria-live="polite"></div>
    <div class="actions-bar">
      <button type="button" id="secret-done">I have stored it</button>
    </div>
  </div>
</dialog>

<dialog id="revoke-dialog" aria-labelledby="revoke-title">
  <form id="revoke-form" autocomplete="off">
    <h2 id="revoke-title">Revoke key</h2>
    <p class="lead" id="revoke-lead"></p>
    <div class="error dialog-error" role="alert" hidden></div>
    <p class="warning">Revoking is permanent: the key stops working everywhere and cannot be re-activated.</p>
    <label>Reason <textarea name="reason" maxlength="500" required></textarea></label>
    <div class="actions-bar">
      <button type="button" data-close>Cancel</button>
      <button type="submit" class="danger solid">Revoke key</button>
    </div>
  </form>
</dialog>

<dialog id="rotate-dialog" aria-labelledby="rotate-title">
  <form id="rotate-form" autocomplete="off">
    <h2 id="rotate-title">Rotate key</h2>
    <p class="lead" id="rotate-lead"></p>
    <div class="error dialog-error" role="alert" hidden></div>
    <p>A new key with the same settings is issued. The current key keeps working for the grace period, then stops.</p>
    <label>Grace period (seconds) <input name="grace_seconds" type="number" min="0" max="2592000" step="1" value="0" required></label>
    <div class="actions-bar">
      <button type="button" data-close>Cancel</button>
      <button type="submit" class="primary">Rotate</button>
    </div>
  </form>
</dialog>

<script nonce="${NONCE}">${ADMIN_UI_SCRIPT}</script>
</body>
</html>
`;

/** The page with `nonce` on its one <style> and one <script> element. */
export function renderAdminPage(nonce: string): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce)) throw new RangeError('invalid CSP nonce');
  return HTML.replaceAll(NONCE, nonce);
}
