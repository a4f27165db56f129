// The README's error table is generated from src/errors.ts; this keeps them from drifting.
import { describe, expect, it } from 'vitest';
import readme from '../README.md?raw';
import { ERRORS } from '../src/errors';

describe('documentation matches the code', () => {
  it('the README error table lists exactly the codes and statuses of the error table', () => {
    const section = readme.split('<!-- error-table:start -->')[1]?.split('<!-- error-table:end -->')[0] ?? '';
    const rows = [...section.matchAll(/^\| `(\w+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    expect(rows).toEqual(Object.entries(ERRORS).map(([code, e]) => [code, e.status, e.message]));
  });
});
