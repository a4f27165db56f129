// GET /_keygate/jwks.json: the public keys that verify x-gateway-identity, current first,
// then the previous one during its grace period. Public: no credential, cacheable.

import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { identitySigner, IdentityKeyError } from './signing-key';

export async function jwks(c: Context<AppEnv>): Promise<Response> {
  try {
    const signer = await identitySigner(c.env);
    return c.json(signer.jwks, 200, { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
  } catch (error) {
    if (error instanceof IdentityKeyError) throw new GatewayError('config_invalid', `Invalid configuration: ${error.message}`);
    throw error;
  }
}
