// Store timeouts by purpose, derived from STORE_TIMEOUT_MS (the hot-path admission's own
// budget). Reads of many counters and admin writes are rare and may wait longer; settlement
// runs after the response, where waiting costs the client nothing.

export interface StoreTimeouts {
  /** One admission (proxy, /admin/verify with consume). */
  admit: number;
  /** A revocation-marker read outside the proxy (admin keys, key holders, verify). */
  marker: number;
  /** A usage view (every window and the budget). */
  usage: number;
  /** An admin change's marker write. */
  markerWrite: number;
  /** Post-response settlement. */
  settle: number;
}

export function storeTimeouts(storeTimeoutMs: number): StoreTimeouts {
  return {
    admit: storeTimeoutMs,
    marker: storeTimeoutMs,
    usage: storeTimeoutMs * 4,
    markerWrite: Math.max(storeTimeoutMs * 4, 1000),
    settle: storeTimeoutMs * 8,
  };
}
