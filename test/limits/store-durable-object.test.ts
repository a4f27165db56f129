import { env } from 'cloudflare:workers';
import { DurableObjectLimitStore } from '../../src/limits/durable-object-store';
import { limitStoreContract } from './contract';

limitStoreContract('Durable Object', () => new DurableObjectLimitStore(env.LIMITER));
