// `npm run dev:upstash`: `npm run dev` against a local redis-server behind the Upstash
// REST bridge. Extra arguments are passed on to scripts/dev.mjs.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startUpstashStack } from './upstash-stack.mjs';

const stack = await startUpstashStack();
console.log(`Upstash REST bridge: ${stack.url} (redis-server on 127.0.0.1:${stack.redisPort})`);

const devScript = fileURLToPath(new URL('./dev.mjs', import.meta.url));
const child = spawn(
  process.execPath,
  [
    devScript,
    '--var', `UPSTASH_REDIS_REST_URL:${stack.url}`,
    '--var', `UPSTASH_REDIS_REST_TOKEN:${stack.token}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => child.kill(signal));
}

child.once('error', async (err) => {
  console.error(`could not start scripts/dev.mjs: ${err.message}`);
  await stack.close();
  process.exit(1);
});
child.once('exit', async (code, signal) => {
  await stack.close();
  process.exit(code ?? (signal ? 1 : 0));
});
