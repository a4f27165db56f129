// The demo upstream's webhook receiver: POST /webhooks/<anything> verifies the Standard
// Webhooks signature with KEYGATE_WEBHOOK_SECRET (the whsec_ secret keygate returned when the
// endpoint was created) and logs what arrived; GET /webhooks/received lists the last 100.
// Without the secret it logs deliveries as unverified and still answers 204.
// For tests and demos: PUT /webhooks/secret (body: the whsec_ secret) sets the secret, and
// PUT /webhooks/down (body: true or false) makes the receiver answer 503 as if it were down.

import { Webhook } from 'standardwebhooks';

/** @type {{ at: string, id: string, type: string, verified: boolean }[]} */
const received = [];
const KEEP = 100;
let secretOverride = '';
let down = false;

/** @param {import('node:http').IncomingMessage} req */
async function readText(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1024 * 1024) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {string} path
 */
export async function webhookReceiver(req, res, path) {
  if (req.method === 'GET' && path === '/webhooks/received') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received }));
    return;
  }
  if (req.method === 'PUT' && (path === '/webhooks/secret' || path === '/webhooks/down')) {
    const text = ((await readText(req)) ?? '').trim();
    if (path === '/webhooks/secret') secretOverride = text;
    else down = text === 'true';
    res.writeHead(204).end();
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const body = await readText(req);
  if (body === null) {
    res.writeHead(413).end();
    return;
  }
  if (down) {
    res.writeHead(503).end();
    return;
  }
  const headers = {
    'webhook-id': String(req.headers['webhook-id'] ?? ''),
    'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
    'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
  };
  const secret = secretOverride || process.env.KEYGATE_WEBHOOK_SECRET;
  let verified = false;
  let type = 'unknown';
  try {
    type = String(JSON.parse(body).type ?? 'unknown');
  } catch {
    // not JSON: recorded as unknown
  }
  if (secret) {
    try {
      new Webhook(secret).verify(body, headers);
      verified = true;
    } catch {
      console.log(`[demo-webhooks] REJECTED ${headers['webhook-id']} ${type}: bad signature`);
      res.writeHead(401).end();
      return;
    }
  }
  received.push({ at: new Date().toISOString(), id: headers['webhook-id'], type, verified });
  if (received.length > KEEP) received.shift();
  console.log(`[demo-webhooks] ${verified ? 'verified' : 'unverified (set KEYGATE_WEBHOOK_SECRET)'} ${headers['webhook-id']} ${type}`);
  res.writeHead(204).end();
}
