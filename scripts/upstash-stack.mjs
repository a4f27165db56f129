// A throwaway redis-server with the Upstash REST bridge in front of it: what tests,
// benchmarks and `npm run dev:upstash` point UPSTASH_REDIS_REST_URL/TOKEN at.
import { randomBytes } from 'node:crypto';
import { startBridge } from './upstash-bridge.mjs';
import { startRedisServer } from './redis-server.mjs';

/**
 * @param {{ token?: string }} [opts] token defaults to a random one
 */
export async function startUpstashStack({ token = randomBytes(24).toString('hex') } = {}) {
  const redis = await startRedisServer();
  let bridge;
  try {
    bridge = await startBridge({ redisPort: redis.port, token });
  } catch (err) {
    await redis.close();
    throw err;
  }
  const started = bridge;
  return {
    url: started.url,
    token,
    redisPort: redis.port,
    bridge: started,
    async close() {
      await started.close();
      await redis.close();
    },
  };
}
