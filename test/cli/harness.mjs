// Shared helpers of the Node end-to-end suites (CLI, quickstart, npm run dev, deploy): ports,
// waiting, and process groups. Kept in one file so a tooling change touches one place.
import { createServer } from 'node:net';

/** A port nothing listens on right now. @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Minute windows are fixed: a test that counts in one must not straddle its end. Waits for
 * the next minute when fewer than `marginMs` are left in this one (as awayFromMinuteEdge in
 * test/limits/stores.ts, which these Node suites cannot import).
 * @param {number} [marginMs]
 */
export async function awayFromMinuteEdge(marginMs = 3_000) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await sleep(left + 100);
}

/** Whether any process of the group still runs. @param {number} pgid */
export function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
