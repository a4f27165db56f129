// Secrets keygate must be able to read back (HMAC signing secrets), sealed with AES-256-GCM
// under a master key from the secret SECRETS_MASTER_KEY (32 bytes, base64 or base64url).
// Each sealed value names the master that sealed it by a fingerprint (its "version"), so a
// master can be rotated: set the new one as SECRETS_MASTER_KEY and the old one as
// SECRETS_MASTER_KEY_PREVIOUS; values sealed under either still open, new ones use the new.
// The additional data binds a sealed value to its owner (a key id): moved to another row, it
// does not open.

export interface Sealed {
  sealed: string;
  version: string;
}

interface Master {
  version: string;
  key: CryptoKey;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fromBase64(text: string): Uint8Array | null {
  const b64 = text.trim().replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  try {
    return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function masterOf(text: string): Promise<Master> {
  const raw = fromBase64(text);
  if (raw === null || raw.length !== 32) throw new SecretBoxError('must be 32 bytes, base64-encoded (openssl rand -base64 32)');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
  const version = toBase64Url(digest.slice(0, 6));
  const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { version, key };
}

/** A master key that is missing or malformed: a configuration error, never a client's. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}

/** The current master (seals and opens) and the previous one (only opens). */
export class SecretBox {
  private constructor(
    private readonly current: Master,
    private readonly previous: Master | null,
  ) {}

  static async create(currentText: unknown, previousText: unknown): Promise<SecretBox> {
    if (typeof currentText !== 'string' || currentText.trim() === '') throw new SecretBoxError('SECRETS_MASTER_KEY is not set');
    const current = await masterOf(currentText).catch((e: unknown) => {
      throw new SecretBoxError(`SECRETS_MASTER_KEY ${e instanceof Error ? e.message : 'is invalid'}`);
    });
    let previous: Master | null = null;
    if (typeof previousText === 'string' && previousText.trim() !== '') {
      previous = await masterOf(previousText).catch((e: unknown) => {
        throw new SecretBoxError(`SECRETS_MASTER_KEY_PREVIOUS ${e instanceof Error ? e.message : 'is invalid'}`);
      });
    }
    return new SecretBox(current, previous);
  }

  get version(): string {
    return this.current.version;
  }

  /** The previous master's version: values sealed under it open, and are worth re-sealing. */
  get previousVersion(): string | null {
    return this.previous?.version ?? null;
  }

  async seal(plaintext: string, owner: string): Promise<Sealed> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(owner) }, this.current.key, encoder.encode(plaintext)));
    const out = new Uint8Array(iv.length + ct.length);
    out.set(iv);
    out.set(ct, iv.length);
    return { sealed: toBase64Url(out), version: this.current.version };
  }

  /** The plaintext, or null when no configured master sealed it or it fails authentication. */
  async open(value: Sealed, owner: string): Promise<string | null> {
    const master = value.version === this.current.version ? this.current : value.version === this.previous?.version ? this.previous : null;
    if (master === null) return null;
    const bytes = fromBase64(value.sealed);
    if (bytes === null || bytes.length < 12 + 16) return null;
    try {
      const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: encoder.encode(owner) }, master.key, bytes.slice(12));
      return decoder.decode(pt);
    } catch {
      return null;
    }
  }
}

// One box per pair of master values (env strings are stable within an isolate).
let memo: { current: unknown; previous: unknown; box: Promise<SecretBox> } | undefined;

/** The isolate's SecretBox for these env values; rejects with SecretBoxError when misconfigured. */
export function secretBoxFor(env: { SECRETS_MASTER_KEY?: unknown; SECRETS_MASTER_KEY_PREVIOUS?: unknown }): Promise<SecretBox> {
  const current = env.SECRETS_MASTER_KEY;
  const previous = env.SECRETS_MASTER_KEY_PREVIOUS;
  if (memo && memo.current === current && memo.previous === previous) return memo.box;
  const box = SecretBox.create(current, previous);
  memo = { current, previous, box };
  return box;
}
