// The route fields of the proxy-fidelity work, as `npm run check` and the Worker read them.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';

const route = (extra: Record<string, unknown>) => ({ ROUTES: [{ path: '/web', upstream: 'https://api.example.com', ...extra }] });

describe('route fields cors, preflight and allow_service_worker', () => {
  it('defaults: no cors, preflights need a key, service-worker fetches refused', () => {
    const r = parseConfig(route({}));
    expect(r.ok && r.config.ROUTES[0]).toMatchObject({ preflight: 'key', allow_service_worker: false });
    expect(r.ok && r.config.ROUTES[0]?.cors).toBeUndefined();
  });

  it('cors fills its defaults and lower-cases origins', () => {
    const r = parseConfig(route({ cors: { origins: ['https://App.Example.com:8443'] } }));
    expect(r.ok && r.config.ROUTES[0]?.cors).toEqual({ origins: ['https://app.example.com:8443'], expose_headers: [], credentials: false, max_age: 600 });
  });

  it.each([
    [{ cors: { origins: ['https://app.example.com/'] } }, 'cors.origins'],
    [{ cors: { origins: ['app.example.com'] } }, 'cors.origins'],
    [{ cors: { origins: [] } }, 'cors.origins'],
    [{ cors: { origins: ['*'], credentials: true } }, 'cors.credentials'],
    [{ cors: { origins: ['*'], max_age: -1 } }, 'cors.max_age'],
    [{ cors: { origins: ['*'], extra: 1 } }, 'cors'],
    [{ cors: { origins: ['*'] }, preflight: 'upstream' }, 'preflight'],
    [{ preflight: 'always' }, 'preflight'],
    [{ allow_service_worker: 'yes' }, 'allow_service_worker'],
  ])('refuses %j, naming %s', (extra, field) => {
    const r = parseConfig(route(extra));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(`ROUTES[0].${field}`);
  });
});
