// Node-side test fixtures: a real HTTP upstream and a real redis-server behind the
// project's Upstash REST bridge, all on 127.0.0.1. Workers under test reach them by port.
import type { TestProject } from 'vitest/node';
import { startDemoUpstream } from '../../scripts/demo-upstream.mjs';
import { startUpstashStack } from '../../scripts/upstash-stack.mjs';
import { startHostileUpstream } from '../hostile/hostile-upstream.mjs';
import { startRealApiUpstream } from './real-api-upstream.mjs';

export default async function setup(project: TestProject) {
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  const upstash = await startUpstashStack();
  const realApi = await startRealApiUpstream();
  const hostile = await startHostileUpstream({ host: '127.0.0.1', port: 0 });
  project.provide('realApiPort', realApi.port);
  project.provide('upstreamPort', upstream.port);
  project.provide('upstashUrl', upstash.url);
  project.provide('upstashToken', upstash.token);
  project.provide('hostileUpstreamPort', hostile.port);
  return async () => {
    await upstream.close();
    await upstash.close();
    await realApi.close();
    await hostile.close();
  };
}

declare module 'vitest' {
  interface ProvidedContext {
    upstreamPort: number;
    upstashUrl: string;
    upstashToken: string;
    realApiPort: number;
    hostileUpstreamPort: number;
  }
}
