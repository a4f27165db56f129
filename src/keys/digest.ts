// Keys are stored and looked up only by their SHA-256 digest (lower-case hex).

const encoder = new TextEncoder();

export async function digestKey(plaintext: string): Promise<string> {
  const buf = await crypto.subtle.digest('SHA-256', encoder.encode(plaintext));
  let hex = '';
  for (const b of new Uint8Array(buf)) hex += b.toString(16).padStart(2, '0');
  return hex;
}
