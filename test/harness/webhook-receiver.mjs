// A webhook receiver for tests that keeps what arrived instead of judging it: every POST is
// recorded (path, the webhook-* headers, the raw body) and answered 204; GET
// /received?path=<path> lists those for one path. Tests verify signatures themselves, with the
// secret they hold, so tests running at once share no secret or up/down switch.
import { createServer } from 'node:http';
import { listenLocal } from './listen.mjs';

const KEEP = 500;

/** @returns {Promise<{ port: number, close: () => Promise<void> }>} */
export async function startWebhookReceiver() {
  /** @type {{ path: string, headers: Record<string, string>, body: string }[]} */
  const received = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (req.method === 'GET' && url.pathname === '/received') {
      const path = url.searchParams.get('path');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received: received.filter((r) => r.path === path) }));
      return;
    }
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      /** @type {Record<string, string>} */
      const headers = {};
      for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        const v = req.headers[name];
        if (typeof v === 'string') headers[name] = v;
      }
      received.push({ path: url.pathname, headers, body: Buffer.concat(chunks).toString('utf8') });
      if (received.length > KEEP) received.shift();
      res.writeHead(204).end();
    });
  });
  return listenLocal(server, 'webhook receiver');
}
