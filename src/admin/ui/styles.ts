// The admin page's stylesheet, inlined in a <style nonce> element. No external fonts or
// images: the page must work offline and under `default-src 'none'`.

export const ADMIN_UI_CSS = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --text: #1d2330; --muted: #667085; --line: #e3e6eb;
  --accent: #2f5bea; --accent-text: #ffffff; --danger: #c62d2d; --warn: #b7791f; --ok: #16803c;
  --chip: #eef1f5; --bar: #e8ebf0; --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 1px 3px rgba(16, 24, 40, .08);
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --panel: #1a1f26; --text: #e6e8eb; --muted: #98a2b3; --line: #2b323c;
    --accent: #5b7cff; --chip: #252c36; --bar: #2b323c; --shadow: none;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; background: var(--bg); color: var(--text); }
header.top { min-height: 56px; display: flex; align-items: center; gap: 12px; padding: 10px 24px; background: var(--panel); border-bottom: 1px solid var(--line); }
header.top h1 { font-size: 17px; margin: 0; letter-spacing: .2px; }
header.top h1 span { color: var(--muted); font-weight: 500; }
header.top .spacer { flex: 1; }
main { max-width: 1440px; margin: 0 auto; padding: 20px 24px 48px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; box-shadow: var(--shadow); }
.signin { max-width: 420px; margin: 64px auto; padding: 24px; }
.signin h2 { margin: 0 0 6px; font-size: 18px; }
.signin p { margin: 0 0 16px; color: var(--muted); }
label { display: flex; flex-direction: column; gap: 4px; font-size: 12px; font-weight: 600; color: var(--muted); }
input, select, textarea { font: inherit; color: var(--text); background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; min-width: 0; }
input:focus, select:focus, textarea:focus, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
textarea { resize: vertical; min-height: 64px; }
button { font: inherit; font-weight: 600; cursor: pointer; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--text); padding: 6px 12px; }
button:hover { border-color: var(--muted); }
button:disabled { opacity: .55; cursor: progress; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
button.danger { color: var(--danger); }
button.danger.solid { background: var(--danger); border-color: var(--danger); color: #fff; }
button.small { padding: 3px 8px; font-size: 12px; }
.stack { display: flex; flex-direction: column; gap: 12px; }
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.error { margin: 0 0 16px; padding: 10px 14px; border: 1px solid var(--danger); border-left-width: 4px; border-radius: 6px; background: color-mix(in srgb, var(--danger) 8%, var(--panel)); color: var(--text); }
.error strong { color: var(--danger); font-family: var(--mono); margin-right: 6px; }
.error ul { margin: 6px 0 0; padding-left: 18px; }
.error .rid { color: var(--muted); font-size: 12px; margin-left: 6px; }
.toolbar { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 10px; padding: 14px 16px; border-bottom: 1px solid var(--line); }
.toolbar label { width: 150px; }
.toolbar label.grow { flex: 1; min-width: 180px; }
.toolbar .spacer { flex: 1; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 9px 12px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 11px; text-transform: uppercase; letter-spacing: .5px; color: var(--muted); font-weight: 600; white-space: nowrap; }
tbody tr.key-row:hover { background: color-mix(in srgb, var(--accent) 4%, transparent); }
td.name { min-width: 200px; }
td.name .title { font-weight: 600; word-break: break-word; }
td .owner { word-break: break-word; }
code.display { white-space: nowrap; }
td .revoked-reason { color: var(--danger); }
td .sub { color: var(--muted); font-size: 12px; }
code, .mono { font-family: var(--mono); font-size: 12.5px; }
td.when { white-space: nowrap; font-size: 12.5px; }
td.actions { white-space: nowrap; }
td.actions button { margin: 0 4px 4px 0; }
.chip { display: inline-block; background: var(--chip); border-radius: 4px; padding: 0 6px; margin: 0 4px 3px 0; font-size: 12px; font-family: var(--mono); }
.badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.badge.status-active { color: var(--ok); }
.badge.status-inactive { color: var(--warn); }
.badge.status-revoked { color: var(--danger); }
.badge.status-expired { color: var(--muted); }
.empty { padding: 28px; text-align: center; color: var(--muted); }
.more { padding: 12px; text-align: center; }
tr.usage-row > td { background: color-mix(in srgb, var(--accent) 3%, var(--panel)); }
.usage { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px 24px; padding: 4px 0; }
.usage .meter-head { display: flex; justify-content: space-between; gap: 8px; font-size: 12.5px; }
.usage .meter-head b { font-family: var(--mono); }
.bar { height: 10px; background: var(--bar); border-radius: 999px; overflow: hidden; margin: 4px 0 2px; }
.bar .fill { height: 100%; width: 0; background: var(--ok); border-radius: 999px; transition: width .25s ease; }
.bar .fill.warn { background: var(--warn); }
.bar .fill.full { background: var(--danger); }
.usage .meter-foot { color: var(--muted); font-size: 12px; }
dialog { border: 1px solid var(--line); border-radius: 12px; padding: 0; width: min(620px, calc(100vw - 32px)); background: var(--panel); color: var(--text); box-shadow: 0 20px 50px rgba(0, 0, 0, .25); }
dialog::backdrop { background: rgba(15, 20, 30, .45); }
dialog form, dialog .body { padding: 20px 22px; }
dialog h2 { margin: 0 0 4px; font-size: 17px; }
dialog .lead { margin: 0 0 14px; color: var(--muted); }
dialog .error { margin: 0 0 12px; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px 14px; }
.grid .wide { grid-column: 1 / -1; }
.grid4 { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px; }
fieldset { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 12px; margin: 0; }
legend { font-size: 12px; font-weight: 600; color: var(--muted); padding: 0 4px; }
.hint { font-weight: 400; color: var(--muted); }
.actions-bar { display: flex; justify-content: flex-end; gap: 8px; margin-top: 16px; }
.warning { padding: 10px 12px; border-radius: 6px; border: 1px solid var(--warn); background: color-mix(in srgb, var(--warn) 10%, var(--panel)); margin: 0 0 12px; }
.secret { display: flex; gap: 8px; }
.secret input { flex: 1; font-family: var(--mono); font-size: 13px; }
.copied { color: var(--ok); font-size: 12px; min-height: 1.4em; margin-top: 6px; }
.overview { margin: 0 0 16px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; margin: 8px 0 12px; align-items: flex-start; }
.chart-title { font-size: 12px; color: var(--muted); margin-bottom: 4px; }
.top-keys ol { margin: 6px 0 0; padding-left: 20px; font-size: 13px; }
.activity { margin-top: 12px; }
.log-table { width: 100%; font-size: 12px; margin-top: 6px; }
.log-table td, .log-table th { padding: 3px 6px; text-align: left; }
`;
