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

export function newRequestId(): string {
  // randomUUID is one native call; request ids need uniqueness, not ordering, and must not
  // reveal how many requests an isolate has served (a counter would).
  return `req_${crypto.randomUUID().replaceAll('-', '')}`;
}

/** A one-off token for optimistic-concurrency stamps (see keys/repository.ts replaceStatement). */
export function writeToken(): string {
  return crypto.randomUUID();
}
