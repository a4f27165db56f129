// Standard Webhooks signing (https://www.standardwebhooks.com) with the reference
// `standardwebhooks` package: webhook-id, webhook-timestamp, webhook-signature (v1, HMAC-SHA256).

import { Webhook } from 'standardwebhooks';

/** A new signing secret in the spec's format: whsec_ + base64 of 32 random bytes. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `whsec_${btoa(bin)}`;
}

/** The three headers that authenticate one delivery of `payload` as message `messageId`. */
export function signedHeaders(secret: string, messageId: string, payload: string, at: Date): Record<string, string> {
  const signature = new Webhook(secret).sign(messageId, at, payload);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}
