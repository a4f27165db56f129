import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { TEST_IDENTITY_KEY, TEST_IDENTITY_KEY_PREVIOUS, TEST_SECRETS_MASTER_KEY } from './test/harness/test-secrets.mjs';

const migrations = await readD1Migrations('./migrations');

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: migrations,
          ADMIN_TOKEN: 'test-admin-token',
          SECRETS_MASTER_KEY: TEST_SECRETS_MASTER_KEY,
          IDENTITY_SIGNING_KEY: JSON.stringify(TEST_IDENTITY_KEY),
          IDENTITY_SIGNING_KEY_PREVIOUS: JSON.stringify(TEST_IDENTITY_KEY_PREVIOUS),
        },
      },
    }),
  ],
  test: {
    // Property tests and 300-request concurrency tests are slow on a busy 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    globalSetup: ['./test/harness/global-setup.ts'],
    setupFiles: ['./test/harness/apply-migrations.ts'],
  },
});
