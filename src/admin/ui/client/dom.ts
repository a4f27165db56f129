// DOM building for the admin page: strings always become text nodes. The page's CSP enforces
// Trusted Types with no policy, so an HTML string sink (innerHTML) would throw anyway.

type Child = Node | string | number | null | undefined | false | readonly Child[];
type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => unknown);

/** `h('tr', { class: 'x', onclick: fn }, ...children)`: an element with attributes and text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, AttrValue> | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (typeof value === 'function') {
        if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
        continue;
      }
      if (name === 'class') el.className = String(value);
      else el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** The element with `id`, checked to be of the expected kind (the markup is in page.ts). */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`admin page: #${id} is missing or not a ${kind.name}`);
  return el;
}

/** The page's fixed elements, looked up once. */
export const els = {
  error: byId('error', HTMLDivElement),
  whoami: byId('whoami', HTMLSpanElement),
  signout: byId('signout', HTMLButtonElement),
  signinView: byId('signin-view', HTMLElement),
  signinForm: byId('signin-form', HTMLFormElement),
  signinToken: byId('signin-token', HTMLInputElement),
  appView: byId('app-view', HTMLElement),
  overview: byId('overview', HTMLDivElement),
  filters: byId('filters', HTMLFormElement),
  filtersReset: byId('filters-reset', HTMLButtonElement),
  newKey: byId('new-key', HTMLButtonElement),
  body: byId('keys-body', HTMLTableSectionElement),
  empty: byId('keys-empty', HTMLDivElement),
  more: byId('more', HTMLButtonElement),
  createDialog: byId('create-dialog', HTMLDialogElement),
  createForm: byId('create-form', HTMLFormElement),
  secretDialog: byId('secret-dialog', HTMLDialogElement),
  secretLead: byId('secret-lead', HTMLParagraphElement),
  secretValue: byId('secret-value', HTMLInputElement),
  secretCopy: byId('secret-copy', HTMLButtonElement),
  signingSecret: byId('signing-secret', HTMLDivElement),
  signingSecretValue: byId('signing-secret-value', HTMLInputElement),
  signingSecretCopy: byId('signing-secret-copy', HTMLButtonElement),
  secretCopied: byId('secret-copied', HTMLDivElement),
  secretDone: byId('secret-done', HTMLButtonElement),
  revokeDialog: byId('revoke-dialog', HTMLDialogElement),
  revokeForm: byId('revoke-form', HTMLFormElement),
  revokeLead: byId('revoke-lead', HTMLParagraphElement),
  rotateDialog: byId('rotate-dialog', HTMLDialogElement),
  rotateForm: byId('rotate-form', HTMLFormElement),
  rotateLead: byId('rotate-lead', HTMLParagraphElement),
};
