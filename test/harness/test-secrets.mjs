// Test-only key material (never used outside the test runtime): the master key that seals
// signing secrets and the identity signing keys. Shared by vitest.config.ts (Worker bindings)
// and test/harness/global-setup.ts (the demo upstream verifies identity tokens with them).

export const TEST_SECRETS_MASTER_KEY = 'bLyUUd81MNzdOsD/XrW3GtjuiYXL9g6Uns7NlfhCdWs=';

/** Current identity key (private JWK), as IDENTITY_SIGNING_KEY holds it. */
export const TEST_IDENTITY_KEY = {"crv":"Ed25519","d":"u204R7pPSZ3_SuBqhykcInhNQYX3x405OKsbx9LYtxQ","x":"-LyL029idhIlHGvUjwo2g_pHUYFnGMz4cNC-GvmTPMQ","kty":"OKP","kid":"test-identity-1","alg":"EdDSA"};
/** The key before rotation, as IDENTITY_SIGNING_KEY_PREVIOUS holds it. */
export const TEST_IDENTITY_KEY_PREVIOUS = {"crv":"Ed25519","d":"3NJqVqpBd_LdEuhETQ4f0YjPfz8EYaQ66omglFYDrcs","x":"jAhxiaJZIJMu7Gp233iYENemBwpPsrKUHq_ClYm5DaI","kty":"OKP","kid":"test-identity-0","alg":"EdDSA"};

/** The public JWKS the gateway serves for these keys. */
export function testIdentityJwks() {
  return { keys: [TEST_IDENTITY_KEY, TEST_IDENTITY_KEY_PREVIOUS].map(({ d: _d, ...pub }) => pub) };
}
