// Time-ordered identifiers (ULID layout: 48-bit ms timestamp + 80 random bits, Crockford
// base32), so ids sort by creation time and cursor pagination can use them directly.

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function ulid(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = '';
  for (const b of crypto.getRandomValues(new Uint8Array(16))) rand += CROCKFORD[b & 31];
  return time + rand;
}

export function newKeyId(now?: number): string {
  return `key_${ulid(now)}`;
}

// Request ids: a random 64-bit prefix per isolate and a counter, as 32 hex characters. Unique
// without a random draw per request (ids correlate logs; nothing trusts them).
// The prefix is drawn on first use: Workers refuse random values in global scope.
let requestIdPrefix = '';
let requestCounter = 0;

export function newRequestId(): string {
  if (requestIdPrefix === '') requestIdPrefix = `req_${[...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  requestCounter = (requestCounter + 1) % Number.MAX_SAFE_INTEGER;
  return requestIdPrefix + requestCounter.toString(16).padStart(16, '0');
}

/** A one-off token for optimistic-concurrency stamps (see keys/repository.ts replaceStatement). */
export function writeToken(): string {
  return crypto.randomUUID();
}
