// One fuzz session against a running keygate: its keys, sending fuzz requests, the
// invariants checked after every request and every batch, and curls for failures.
// `send` is the only thing that differs between the workerd test (the Worker called in
// process) and `npm run fuzz` (keygate over HTTP).
import fc from 'fast-check';
import { KNOWN, TARGET_KEYS } from './requests.mjs';

/**
 * The checks' own client address. Fuzzed requests fail admin authentication by the thousand,
 * and keygate then throttles their address (429 even with the right token, by design); the
 * checks come from another client, as an operator's would.
 * @type {[string, string]}
 */
const OBSERVER = ['cf-connecting-ip', '192.0.2.201'];

/**
 * @typedef {import('./requests.mjs').FuzzRequest} FuzzRequest
 * @typedef {{ status: number, headers: Headers, text: string }} Answer
 * @typedef {(method: string, path: string, headers: [string, string][], body: string | Uint8Array | undefined) => Promise<Answer>} Send
 * @typedef {{ kind: string, label: string, detail: string }} Violation
 * @typedef {Record<string, { status: number }>} ErrorTable
 */

/** The 5xx statuses keygate documents (upstream unreachable, store unavailable, upstream timeout). */
export const DOCUMENTED_5XX = [502, 503, 504];

/** Thrown by a failing batch: what broke, per request. */
export class InvariantError extends Error {
  /** @param {Violation[]} violations */
  constructor(violations) {
    super(violations.map((v) => `${v.kind} (${v.label}): ${v.detail}`).join('\n'));
    this.violations = violations;
  }
}

/**
 * Creates the session's keys through the admin API.
 * @param {Send} send
 * @param {string} adminToken
 */
export async function startSession(send, adminToken) {
  /** @type {Record<string, string>} */
  const vars = { ADMIN: adminToken };
  /** @param {Record<string, unknown>} body */
  const create = async (body) => {
    const res = await send('POST', '/admin/keys', [['authorization', `Bearer ${adminToken}`], ['content-type', 'application/json'], OBSERVER], JSON.stringify(body));
    if (res.status !== 201) throw new Error(`fuzz setup: POST /admin/keys answered ${res.status}: ${res.text.slice(0, 300)}`);
    return /** @type {{ id: string, key: string }} */ (JSON.parse(res.text));
  };
  const known = await create({ name: 'fuzz: the key that must keep working' });
  const metered = await create({ name: 'fuzz: metered key', budget: { usd: 1000, period: 'total' } });
  vars.KEY = known.key;
  vars.KEY_ID = known.id;
  vars.METERED = metered.key;
  vars.METERED_ID = metered.id;
  for (let i = 0; i < TARGET_KEYS; i++) {
    const target = await create({ name: `fuzz: admin target ${i}`, owner: `fuzz-target-${i}`, tags: ['fuzz'] });
    vars[`ID${i}`] = target.id;
  }
  return new Session(send, vars);
}

export class Session {
  /** @param {Send} send @param {Record<string, string>} vars */
  constructor(send, vars) {
    this.send = send;
    this.vars = vars;
    /** @type {ErrorTable} */
    this.errors = {};
  }

  /** @param {string} s */
  fill(s) {
    return s.replace(/\{\{(\w+)\}\}/g, (m, name) => this.vars[name] ?? m);
  }

  /** @param {FuzzRequest} req */
  async run(req) {
    const body = materialize(req.body);
    return this.send(req.method, this.fill(req.path), req.headers.map(([n, v]) => [n, this.fill(v)]), typeof body === 'string' ? this.fill(body) : body);
  }

  /**
   * Sends one fuzz request and checks its answer. A proxied request refused by the gateway
   * with the metered key must leave the key's usage as it was.
   * @param {FuzzRequest} req
   * @returns {Promise<Violation[]>}
   */
  async check(req) {
    const metered = req.label.startsWith('proxy') && req.headers.some(([, v]) => v.includes('{{METERED}}'));
    const before = metered ? await this.usageTotals() : null;
    const res = await this.run(req);
    const violations = checkAnswer(req, res, this.errors);
    if (before !== null && violations.length === 0) {
      const refusal = gatewayError(res);
      // A store call that misses its timeout can still commit after the gateway gave up on
      // it, so a 503 store_unavailable on a busy machine may have been charged: that depends
      // on timing, not on the request.
      const exempt = (KNOWN.refusedPathCharged && refusal?.code === 'invalid_path') || refusal?.code === 'store_unavailable';
      if (refusal !== null && !exempt) {
        const after = await this.usageTotals();
        if (charged(before, after)) violations.push({ kind: `refused with ${refusal.code} but charged`, label: req.label, detail: `${res.status} ${refusal.code}; usage went from ${before} to ${after}` });
      }
    }
    return violations;
  }

  /** used counters and spend of the metered key, as one comparable string */
  async usageTotals() {
    const res = await this.run({ label: 'usage', method: 'GET', path: '/admin/keys/{{METERED_ID}}/usage', headers: [['authorization', 'Bearer {{ADMIN}}'], OBSERVER] });
    if (res.status !== 200) return `status ${res.status}`;
    const u = JSON.parse(res.text);
    return JSON.stringify([u.windows?.map((/** @type {any} */ w) => [w.name, w.used, w.reset]), u.budget?.spent_usd]);
  }

  /**
   * What must hold after any batch: the key list and audit log answer, the known key still
   * works through the proxy, and every usage counter is a finite non-negative number.
   * @returns {Promise<Violation[]>}
   */
  async checkHealth() {
    /** @type {Violation[]} */
    const out = [];
    const admin = /** @type {[string, string][]} */ ([['authorization', 'Bearer {{ADMIN}}'], OBSERVER]);
    /** @param {string} label @param {FuzzRequest} req @param {(a: Answer) => string | null} ok */
    const expect = async (label, req, ok) => {
      const res = await this.run(req);
      const problem = ok(res);
      if (problem !== null) out.push({ kind: 'health', label, detail: problem });
    };
    const is200 = (/** @type {Answer} */ a) => (a.status === 200 ? null : `answered ${a.status}: ${a.text.slice(0, 300)}`);
    await expect('key list', { label: 'health', method: 'GET', path: '/admin/keys?limit=100', headers: admin }, is200);
    await expect('audit log', { label: 'health', method: 'GET', path: '/admin/audit?limit=200', headers: admin }, is200);
    await expect('known key through the proxy', { label: 'health', method: 'GET', path: '/demo/fz/alive', headers: [['authorization', 'Bearer {{KEY}}']] }, is200);
    const ids = ['KEY_ID', 'METERED_ID', ...Array.from({ length: TARGET_KEYS }, (_, i) => `ID${i}`)];
    for (const id of ids) {
      const mustExist = id === 'KEY_ID' || id === 'METERED_ID';
      await expect(`usage of {{${id}}}`, { label: 'health', method: 'GET', path: `/admin/keys/{{${id}}}/usage`, headers: admin }, (a) =>
        a.status === 200 ? usageProblem(a.text) : storeBusy(a) || (!mustExist && a.status === 404) ? null : `answered ${a.status}: ${a.text.slice(0, 300)}`,
      );
    }
    await expect('/_keygate/usage', { label: 'health', method: 'GET', path: '/_keygate/usage', headers: [['authorization', 'Bearer {{METERED}}']] }, (a) =>
      a.status === 200 ? usageProblem(a.text) : storeBusy(a) ? null : `answered ${a.status}: ${a.text.slice(0, 300)}`,
    );
    return out;
  }

  /**
   * The property: a batch of requests, each answer checked, then the health checks.
   * @param {fc.Arbitrary<FuzzRequest>} request
   * @param {number} [maxBatch]
   * @param {Set<string>} [ignore] violation signatures already reported (a long run goes on past them)
   */
  property(request, maxBatch = 6, ignore = new Set()) {
    return fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: maxBatch }), async (batch) => {
      /** @type {Violation[]} */
      const violations = [];
      for (const req of batch) violations.push(...(await this.check(req)));
      violations.push(...(await this.checkHealth()));
      const fresh = violations.filter((v) => !ignore.has(violationSignature(v)));
      if (fresh.length > 0) throw new InvariantError(fresh);
    });
  }
}

/**
 * The documented answer when the limit store misses its timeout (a busy machine): there are
 * no counters to check then, and it is not a failure.
 * @param {Answer} a
 */
function storeBusy(a) {
  return a.status === 503 && gatewayError(a)?.code === 'store_unavailable';
}

/** @param {Violation} v */
export const violationSignature = (v) => `${v.kind} @ ${v.label}`;

/** @param {import('./requests.mjs').Body | undefined} body */
function materialize(body) {
  if (body === undefined || typeof body === 'string') return body;
  if ('bytes' in body) return new Uint8Array(body.bytes);
  return body.repeat.repeat(body.count);
}

/**
 * The gateway's own error, when the answer is one.
 * @param {Answer} res
 * @returns {{ code: string } | null}
 */
function gatewayError(res) {
  if (res.status < 400) return null;
  try {
    const e = JSON.parse(res.text)?.error;
    return e && typeof e.code === 'string' && typeof e.request_id === 'string' ? e : null;
  } catch {
    return null;
  }
}

/**
 * One answer's invariants: no undocumented 5xx, and every error in the one shape
 * (src/errors.ts) with the status of its code, unless it is the upstream's own answer.
 * @param {FuzzRequest} req
 * @param {Answer} res
 * @param {ErrorTable} errors
 * @returns {Violation[]}
 */
export function checkAnswer(req, res, errors) {
  /** @type {Violation[]} */
  const out = [];
  const v = (/** @type {string} */ kind, /** @type {string} */ detail) => out.push({ kind, label: req.label, detail });
  // -1: the connection failed or hung (only the HTTP sender reports it).
  if (res.status === -1) v('no answer', res.text);
  if (res.status >= 500 && !DOCUMENTED_5XX.includes(res.status)) v(`status ${res.status}`, res.text.slice(0, 300));
  if (res.status < 400 || req.method.toUpperCase() === 'HEAD') return out;
  /** @type {any} */
  let json;
  try {
    json = JSON.parse(res.text);
  } catch {
    if (!upstreamAnswer(req, res, undefined)) v('error shape', `${res.status} with a body that is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`);
    return out;
  }
  const e = json?.error;
  if (e && typeof e === 'object' && typeof e.code === 'string' && Object.hasOwn(errors, e.code)) {
    const extra = Object.keys(json).filter((k) => k !== 'error').concat(Object.keys(e).filter((k) => !['code', 'message', 'request_id', 'details'].includes(k)));
    if (errors[e.code]?.status !== res.status) v('error shape', `code ${e.code} with status ${res.status}, the table says ${errors[e.code]?.status}`);
    if (typeof e.message !== 'string' || typeof e.request_id !== 'string' || e.request_id === '') v('error shape', `missing message or request_id: ${res.text.slice(0, 200)}`);
    if (e.request_id !== res.headers.get('x-request-id')) v('error shape', `request_id ${e.request_id} but x-request-id ${res.headers.get('x-request-id')}`);
    if (extra.length > 0) v('error shape', `unexpected fields ${extra.join(', ')}`);
    return out;
  }
  if (!upstreamAnswer(req, res, json)) v('error shape', `${res.status} not in the one error shape: ${res.text.slice(0, 200)}`);
  return out;
}

/**
 * The demo upstream's own refusals of a chat body (OpenAI or Anthropic shaped), passed
 * through by the metered route as they are.
 * @param {FuzzRequest} req
 * @param {Answer} res
 * @param {any} json
 */
function upstreamAnswer(req, res, json) {
  if (!req.label.startsWith('proxy')) return false;
  // Node's HTTP server answers an Expect it does not know with an empty 417 itself.
  if (res.status === 417 && res.text === '' && req.headers.some(([n]) => n.toLowerCase() === 'expect')) return true;
  // ... and an empty 431 to request headers over its 16 KiB limit.
  if (res.status === 431 && res.text === '' && req.headers.reduce((n, [name, value]) => n + name.length + value.length + 4, 0) > 8 * 1024) return true;
  if (res.status !== 400 && res.status !== 413) return false;
  return json?.error?.type === 'invalid_request_error' || (json?.type === 'error' && typeof json?.error?.type === 'string');
}

/**
 * Every usage number must be a finite, non-negative number.
 * @param {string} text
 * @returns {string | null}
 */
export function usageProblem(text) {
  /** @type {any} */
  let u;
  try {
    u = JSON.parse(text);
  } catch {
    return `usage is not JSON: ${text.slice(0, 200)}`;
  }
  const bad = (/** @type {unknown} */ n) => typeof n !== 'number' || !Number.isFinite(n) || n < 0;
  for (const w of u.windows ?? []) {
    for (const f of ['limit', 'used', 'remaining', 'window_seconds']) if (bad(w[f])) return `window ${w.name}: ${f} is ${JSON.stringify(w[f])}`;
  }
  if (u.budget !== null && u.budget !== undefined) {
    for (const f of ['usd', 'spent_usd', 'remaining_usd']) if (bad(u.budget[f])) return `budget: ${f} is ${JSON.stringify(u.budget[f])}`;
  }
  if (!Array.isArray(u.windows)) return `usage without windows: ${text.slice(0, 200)}`;
  return null;
}

/**
 * Whether usage grew between two snapshots of usageTotals(): a window that kept its reset time
 * counts more, or more was spent. A window that rolled over in between starts again from
 * zero, which is no charge.
 * @param {string} before
 * @param {string} after
 */
export function charged(before, after) {
  if (before === after) return false;
  if (before.startsWith('status') || after.startsWith('status')) return true;
  const [windowsBefore, spentBefore] = JSON.parse(before);
  const [windowsAfter, spentAfter] = JSON.parse(after);
  if ((spentAfter ?? 0) > (spentBefore ?? 0)) return true;
  /** @type {Map<string, [number, string]>} */
  const earlier = new Map((windowsBefore ?? []).map((/** @type {[string, number, string]} */ [name, used, reset]) => [name, [used, reset]]));
  for (const [name, used, reset] of windowsAfter ?? []) {
    const was = earlier.get(name);
    if (was === undefined || was[1] !== reset) continue;
    if (used > was[0]) return true;
  }
  return false;
}
