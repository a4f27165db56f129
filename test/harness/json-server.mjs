// A local HTTP server answering every GET with one JSON document (a JWKS in the tests), and
// counting its requests at /__hits (to see a JWKS cache at work).
import { createServer } from 'node:http';
import { listenLocal } from './listen.mjs';

/**
 * @param {() => unknown} body
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function startJsonServer(body) {
  let hits = 0;
  const server = createServer((req, res) => {
    if (req.url === '/__hits') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ hits }));
      return;
    }
    hits++;
    const text = JSON.stringify(body());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  const { port, close } = await listenLocal(server, 'json server');
  return { url: `http://127.0.0.1:${port}`, close };
}
