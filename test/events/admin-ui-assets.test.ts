// The admin page carries its script and uPlot inline (no CDN): the committed bundle
// (src/admin/ui/generated/client-bundle.ts, written by `npm run build:ui`; `npm run check`
// fails while it is stale) holds the installed uplot, and it sits inside the page's one
// nonced script, which loads nothing from elsewhere.

import { describe, expect, it } from 'vitest';
import { renderAdminPage } from '../../src/admin/ui/page';
import { ADMIN_UI_SCRIPT, UPLOT_CSS, UPLOT_VERSION } from '../../src/admin/ui/generated/client-bundle';
import pkg from '../../node_modules/uplot/package.json';

describe('admin page charts', () => {
  it('bundles exactly the installed uplot (run npm run build:ui after an upgrade)', () => {
    expect(UPLOT_VERSION).toBe(pkg.version);
    // Vite turns a CSS import into styles, so the stylesheet is checked by its content.
    expect(UPLOT_CSS).toMatch(/^\.uplot, \.uplot \*/);
    expect(ADMIN_UI_SCRIPT).toContain(`/*! uPlot v${pkg.version} `);
  });

  it('inlines the page script, uPlot included, in the one nonced script and loads no external asset', () => {
    const html = renderAdminPage('abcdefghijklmnopqrstuvwx');
    expect(html.match(/<script\b/g)).toHaveLength(1);
    expect(html).toContain(`<script nonce="abcdefghijklmnopqrstuvwx">${ADMIN_UI_SCRIPT}</script>`);
    expect(html).toContain(UPLOT_CSS);
    expect(html).not.toMatch(/\b(?:src|href)=["']?(?:https?:)?\/\//i);
  });

  it('the page script keeps the credential out of Web Storage and cookies and writes no HTML strings', () => {
    expect(ADMIN_UI_SCRIPT).not.toMatch(/localStorage|sessionStorage|document\.cookie|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(ADMIN_UI_SCRIPT).not.toMatch(/<\/script|<!--/i);
  });
});
