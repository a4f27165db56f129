// Sealed signing secrets: AES-GCM under the master key, bound to their owner, opened by the
// master that sealed them (current or previous), and by nothing else.

import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from '../../src/lib/secret-box';

const master = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

describe('secret box', () => {
  it('opens what it sealed, for the same owner only, and never holds the plaintext in the sealed form', async () => {
    const box = await SecretBox.create(master(), undefined);
    const sealed = await box.seal('kgs_secret-value', 'key_A');
    expect(sealed.sealed).not.toContain('secret-value');
    expect(sealed.version).toBe(box.version);
    expect(await box.open(sealed, 'key_A')).toBe('kgs_secret-value');
    expect(await box.open(sealed, 'key_B')).toBeNull();
  });

  it('refuses a tampered value and one sealed under an unknown master', async () => {
    const box = await SecretBox.create(master(), undefined);
    const sealed = await box.seal('kgs_x', 'key_A');
    const flipped = sealed.sealed.slice(0, -2) + (sealed.sealed.endsWith('A') ? 'B' : 'A') + sealed.sealed.slice(-1);
    expect(await box.open({ ...sealed, sealed: flipped }, 'key_A')).toBeNull();
    const other = await SecretBox.create(master(), undefined);
    expect(await other.open(sealed, 'key_A')).toBeNull();
  });

  it('after a master rotation, values sealed under the previous master still open; new ones use the new master', async () => {
    const oldMaster = master();
    const before = await SecretBox.create(oldMaster, undefined);
    const sealed = await before.seal('kgs_old', 'key_A');
    const after = await SecretBox.create(master(), oldMaster);
    expect(await after.open(sealed, 'key_A')).toBe('kgs_old');
    const fresh = await after.seal('kgs_new', 'key_A');
    expect(fresh.version).not.toBe(sealed.version);
    expect(await before.open(fresh, 'key_A')).toBeNull();
  });

  it('a missing or malformed master is a configuration error naming the setting', async () => {
    await expect(SecretBox.create(undefined, undefined)).rejects.toThrow(SecretBoxError);
    await expect(SecretBox.create('too-short', undefined)).rejects.toThrow(/SECRETS_MASTER_KEY must be 32 bytes/);
    await expect(SecretBox.create(master(), 'bad')).rejects.toThrow(/SECRETS_MASTER_KEY_PREVIOUS/);
  });
});
