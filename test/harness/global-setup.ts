// Node-side test fixtures: a real HTTP upstream and a real redis-server behind the
// project's Upstash REST bridge, all on 127.0.0.1. Workers under test reach them by port.
import type { TestProject } from 'vitest/node';
import { startDemoUpstream } from '../../scripts/demo-upstream.mjs';
import { startUpstashStack } from '../../scripts/upstash-stack.mjs';
import { startHostileUpstream } from '../hostile/hostile-upstream.mjs';
import { startRealApiUpstream } from './real-api-upstream.mjs';
import { startJsonServer } from './json-server.mjs';
import { startWebhookReceiver } from './webhook-receiver.mjs';
import { testIdentityJwks } from './test-secrets.mjs';
import { makeIdpKeys, publicJwk } from './idp-keys.mjs';

export default async function setup(project: TestProject) {
  // The gateway's identity keys as its /_keygate/jwks.json serves them (the Worker under test
  // is not on a port): the demo upstream verifies x-gateway-identity against them.
  const identityJwks = await startJsonServer(() => testIdentityJwks());
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0, identityJwksUrl: `${identityJwks.url}/_keygate/jwks.json`, identityIssuer: 'https://gw.test' });
  // An identity provider's JWKS for admin sign-in (keys made per run; tests sign with the private ones).
  const idp = await startIdpJwks();
  project.provide('idpJwksUrl', `${idp.server.url}/jwks.json`);
  project.provide('idpKeys', idp.keys);
  const upstash = await startUpstashStack();
  const realApi = await startRealApiUpstream();
  const hostile = await startHostileUpstream({ host: '127.0.0.1', port: 0 });
  const receiver = await startWebhookReceiver();
  project.provide('realApiPort', realApi.port);
  project.provide('upstreamPort', upstream.port);
  project.provide('upstashUrl', upstash.url);
  project.provide('upstashToken', upstash.token);
  project.provide('hostileUpstreamPort', hostile.port);
  project.provide('webhookReceiverPort', receiver.port);
  return async () => {
    await upstream.close();
    await identityJwks.close();
    await idp.server.close();
    await upstash.close();
    await realApi.close();
    await hostile.close();
    await receiver.close();
  };
}

declare module 'vitest' {
  interface ProvidedContext {
    upstreamPort: number;
    upstashUrl: string;
    upstashToken: string;
    realApiPort: number;
    hostileUpstreamPort: number;
    /** test/harness/webhook-receiver.mjs: records every POST; GET /received?path= lists them. */
    webhookReceiverPort: number;
    idpJwksUrl: string;
    /** Private JWKs of the test identity provider: `rs` (RS256, published), `es` (ES256, published), `rogue` (RS256, not published). */
    idpKeys: Record<'rs' | 'es' | 'rogue', Record<string, unknown>>;
  }
}

async function startIdpJwks() {
  const keys = makeIdpKeys();
  const server = await startJsonServer(() => ({ keys: [publicJwk(keys.rs), publicJwk(keys.es)] }));
  return { server, keys };
}
