// The admin page carries uPlot inline (no CDN): the vendored copy is the installed package's,
// and it sits inside the page's one nonced script, which loads nothing from elsewhere.

import { describe, expect, it } from 'vitest';
import pkgJs from '../../node_modules/uplot/dist/uPlot.iife.min.js?raw';
import { renderAdminPage } from '../../src/admin/ui/page';
import { UPLOT_CSS, UPLOT_JS, UPLOT_VERSION } from '../../src/admin/ui/vendor-uplot';
import pkg from '../../node_modules/uplot/package.json';

describe('admin page charts', () => {
  it('vendors exactly the installed uplot (run node scripts/vendor-uplot.mjs after an upgrade)', () => {
    expect(UPLOT_JS).toBe(pkgJs);
    expect(UPLOT_VERSION).toBe(pkg.version);
    // Vite turns a CSS import into styles, so the stylesheet is checked by its content.
    expect(UPLOT_CSS).toMatch(/^\.uplot, \.uplot \*/);
  });

  it('inlines uPlot in the one nonced script and loads no external asset', () => {
    const html = renderAdminPage('abcdefghijklmnopqrstuvwx');
    expect(html.match(/<script\b/g)).toHaveLength(1);
    expect(html).toContain(UPLOT_JS);
    expect(html).not.toMatch(/\b(?:src|href)=["']?(?:https?:)?\/\//i);
  });
});
