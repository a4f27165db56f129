import { inject } from 'vitest';
import { UpstashLimitStore } from '../../src/limits/upstash-store';
import { limitStoreContract } from './contract';

limitStoreContract('Upstash', () => new UpstashLimitStore({ url: inject('upstashUrl'), token: inject('upstashToken') }));
