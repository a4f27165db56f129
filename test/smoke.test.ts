import { exports, env } from 'cloudflare:workers';
import { inject, it, expect } from 'vitest';
it('works', async () => {
  const r = await exports.default.fetch('http://x/');
  expect(await r.text()).toBe('ok');
  expect(inject('upstreamPort')).toBe(1234);
  const row = await env.DB.prepare('select count(*) as n from keys').first();
  expect(row).toEqual({ n: 0 });
});
