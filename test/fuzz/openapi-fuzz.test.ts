// A short, seeded run of the fuzz suite (test/fuzz/*.mjs; `npm run fuzz` runs it longer):
// requests for every operation of /admin/openapi.json from its schemas, and random proxied
// requests, with the invariants of session.mjs checked after every request and batch.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors';
import type { Env } from '../../src/env';
import { admin, call, testEnv, upstreamOrigin } from '../harness/gateway';
import { failureReport } from './report.mjs';
import { adminRequest, anyRequest, fuzzRoutes, operations, opLabel, proxyRequest, type FuzzRequest } from './requests.mjs';
import { toCurl } from './curl.mjs';
import { startSession, type Answer, type Session } from './session.mjs';

const SEED = 15;
const ADMIN_TOKEN = 'test-admin-token';
// The run is bounded by its number of runs, not by time: the document's operations grow with
// every admin route, and a busy 2-core machine runs them slowly.
const FUZZ_TIMEOUT_MS = 300_000;

let env: Env;
let doc: { paths: Record<string, unknown> };
let session: Session;

async function send(method: string, path: string, headers: [string, string][], body: string | Uint8Array | undefined): Promise<Answer> {
  const bodyless = method.toUpperCase() === 'GET' || method.toUpperCase() === 'HEAD';
  let init: RequestInit;
  try {
    init = { method, headers: new Headers(headers), body: bodyless ? undefined : body };
    new Request(`https://gw.test${path}`, init);
  } catch (err) {
    // Not a request a client could send (workerd's fetch refuses it): nothing to check.
    return { status: 0, headers: new Headers(), text: `unsendable: ${String(err)}` };
  }
  const res = await call(path, init, { env });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function fuzz(arb: fc.Arbitrary<FuzzRequest>, numRuns: number, maxBatch = 4) {
  const details = await fc.check(session.property(arb, maxBatch), { seed: SEED, numRuns, endOnFailure: false });
  const report = failureReport(details);
  if (report !== null) throw new Error(report);
}

beforeAll(async () => {
  env = testEnv({ ROUTES: fuzzRoutes(upstreamOrigin()) as Env['ROUTES'] });
  const res = await admin('/openapi.json', {}, { env });
  expect(res.status).toBe(200);
  doc = (await res.json()) as typeof doc;
  session = await startSession(send, ADMIN_TOKEN);
  session.errors = ERRORS;
});

describe('fuzzing the admin API from its OpenAPI document', () => {
  it('generates requests for every operation the document lists', () => {
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThanOrEqual(14);
    for (const op of ops) {
      const [req] = fc.sample(adminRequest(op, doc), { seed: SEED, numRuns: 1 });
      expect(req?.label).toBe(opLabel(op));
      expect(req?.method).toBe(op.method);
    }
  });

  it('every operation holds the invariants under valid, boundary and invalid inputs', async () => {
    for (const op of operations(doc)) await fuzz(adminRequest(op, doc), 6, 3);
  }, FUZZ_TIMEOUT_MS);
});

describe('fuzzing the proxy', () => {
  it('random methods, encoded paths, headers and metered bodies hold the invariants', async () => {
    await fuzz(proxyRequest(), 30);
  }, FUZZ_TIMEOUT_MS);

  it('admin and proxy requests mixed hold the invariants', async () => {
    await fuzz(anyRequest(doc), 20);
  }, FUZZ_TIMEOUT_MS);
});

describe('a failing case prints as a curl', () => {
  it('with the secrets as shell variables and bodies that survive the shell', () => {
    const req: FuzzRequest = {
      label: 'proxy /llm',
      method: 'POST',
      path: "/llm/fz/it's?q=%zz",
      headers: [['authorization', 'Bearer {{METERED}}'], ['x-long', 'a'.repeat(100)]],
      body: { bytes: [0x7b, 0xff, 0x27, 0x7d] },
    };
    expect(toCurl(req)).toBe(
      `printf '{\\377\\047}' | curl -sS -i -X 'POST' --path-as-is "$GW"'/llm/fz/it'\\''s?q=%zz' -H 'authorization: Bearer '"$METERED_KEY" -H 'x-long: '"$(printf 'a%.0s' $(seq 100))" --data-binary @-`,
    );
  });
});
