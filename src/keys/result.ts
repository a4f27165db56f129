// The tagged result of a key lifecycle operation (domain code: the admin API maps failures
// to the error table in one place, src/admin/key-service.ts).

export type ServiceFailure = { ok: false; code: 'not_found' | 'conflict' | 'bad_request'; message?: string };
export type ServiceResult<T> = { ok: true; value: T } | ServiceFailure;

/**
 * Whether what follows a D1 commit (KV snapshot, revocation marker) is written: `pending`
 * means the outbox holds the change and keygate retries it (next admin call, cron).
 */
export type SyncState = 'done' | 'pending';
