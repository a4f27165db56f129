// Starts a throwaway redis-server (from PATH) on 127.0.0.1 for tests, benchmarks and
// local development: no persistence, its own temp dir, killed when this process exits.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const NOT_FOUND = 'redis-server not found on PATH: install it (Debian: apt-get install -y redis-server)';

function findRedisServer() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(NOT_FOUND);
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** @param {number} port @returns {Promise<boolean>} */
function ping(port) {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (/** @type {boolean} */ ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

/**
 * Spawns redis-server and waits until it answers PING.
 * @param {{ port?: number }} [opts] port 0 picks a free port
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export async function startRedisServer({ port = 0 } = {}) {
  const bin = findRedisServer();
  // A port picked by freePort can be taken before redis binds it; try a few times.
  const attempts = port === 0 ? 3 : 1;
  let lastError;
  for (let i = 0; i < attempts; i++) {
    try {
      return await launch(bin, port || (await freePort()));
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** @param {string} bin @param {number} port */
async function launch(bin, port) {
  const dir = await mkdtemp(join(tmpdir(), 'keygate-redis-'));
  const child = spawn(
    bin,
    ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  // PING alone could be answered by another server that already holds the port.
  let listening = false;
  const keep = (/** @type {Buffer} */ chunk) => {
    output = (output + chunk.toString()).slice(-4000);
    listening ||= output.includes('Ready to accept connections');
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  /** @type {Promise<void>} */
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  let spawnError = /** @type {Error | undefined} */ (undefined);
  child.once('error', (err) => { spawnError = err; });
  // Never leave an orphaned redis-server behind if the parent exits without calling close().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const close = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (spawnError) {
      await close();
      throw new Error(`could not start redis-server (${bin}): ${/** @type {Error} */ (spawnError).message}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      await close();
      throw new Error(`redis-server exited during startup on port ${port}:\n${output}`);
    }
    if (listening && (await ping(port))) return { port, close };
    await new Promise((r) => setTimeout(r, 50));
  }
  await close();
  throw new Error(`redis-server did not answer PING on port ${port} within 10 s:\n${output}`);
}
