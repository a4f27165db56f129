// The system under test for `npm run fuzz`: keygate bundled as it would deploy
// (`wrangler deploy --dry-run`), run over HTTP by the Miniflare API with fresh local KV, D1 and
// Durable Objects, routed to a demo upstream in this process (bench/workers.mjs does the same).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyMigrations, bundleKeygate, readWranglerConfig, startWorker } from '../../bench/workers.mjs';
import { fuzzRoutes } from '../../test/fuzz/requests.mjs';
import { startDemoUpstream } from '../demo-upstream.mjs';

/** A master key for signing secrets and an Ed25519 identity key, as a deployment holds them. */
function workerSecrets() {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return {
    SECRETS_MASTER_KEY: randomBytes(32).toString('base64'),
    IDENTITY_SIGNING_KEY: JSON.stringify({ ...jwk, kid: `fuzz-${randomBytes(4).toString('hex')}`, alg: 'EdDSA' }),
  };
}

/**
 * @returns {Promise<{ url: string, adminToken: string, upstreamUrl: string, close: () => Promise<void> }>}
 */
export async function startFuzzTarget() {
  const outdir = await mkdtemp(join(tmpdir(), 'keygate-fuzz-'));
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  try {
    const scriptPath = await bundleKeygate(outdir);
    const { compatibilityDate, compatibilityFlags, vars } = await readWranglerConfig();
    const adminToken = `fuzz-${randomBytes(12).toString('hex')}`;
    const { mf, url } = await startWorker({
      scriptPath,
      compatibilityDate,
      compatibilityFlags,
      storage: true,
      // The secrets a deployment has (npm run deploy generates the same two), fresh per run.
      bindings: { ...vars, ROUTES: fuzzRoutes(upstream.url), ADMIN_TOKEN: adminToken, ...workerSecrets() },
    });
    await applyMigrations(mf);
    return {
      url,
      adminToken,
      upstreamUrl: upstream.url,
      close: async () => {
        await mf.dispose().catch(() => {});
        await upstream.close();
        await rm(outdir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await upstream.close();
    await rm(outdir, { recursive: true, force: true });
    throw err;
  }
}
