// Constant-time comparison for secrets (admin token). Digests both sides first so the
// comparison time depends on neither the secret's length nor its content.

const encoder = new TextEncoder();

export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  // workerd provides crypto.subtle.timingSafeEqual.
  return (crypto.subtle as SubtleCrypto & { timingSafeEqual(a: ArrayBuffer, b: ArrayBuffer): boolean }).timingSafeEqual(da, db);
}
