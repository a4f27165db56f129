// The README's error table and configuration reference are checked against the code
// (src/errors.ts, the zod schemas in src/config/schema.ts), so neither can drift.
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import readme from '../README.md?raw';
import storage from '../docs/storage.md?raw';
import { ConfigSchema, RouteSchema } from '../src/config/schema';
import { ERRORS } from '../src/errors';
import { digestKey } from '../src/keys/digest';
import { KV_PREFIX } from '../src/keys/key-store';
import { createKey, testEnv } from './harness/gateway';

type Field = { name: string; required: boolean; default?: unknown };

/** Every field of an object schema, with nested objects as `parent.child` (records stay one field). */
function fields(schema: z.ZodType, prefix = ''): Field[] {
  const out: Field[] = [];
  const shape = (schema as unknown as { shape: Record<string, z.ZodType> }).shape;
  for (const [key, raw] of Object.entries(shape)) {
    let s: z.ZodType = raw;
    let required = true;
    let hasDefault = false;
    let value: unknown;
    // Peel wrappers: default, optional, and pipes from .transform() (their input side is documented).
    for (;;) {
      const def = s.def as unknown as { type: string; innerType?: z.ZodType; in?: z.ZodType; defaultValue?: unknown };
      if (def.type === 'default') {
        hasDefault = true;
        required = false;
        value = def.defaultValue;
        s = def.innerType as z.ZodType;
      } else if (def.type === 'optional') {
        required = false;
        s = def.innerType as z.ZodType;
      } else if (def.type === 'pipe') {
        s = def.in as z.ZodType;
      } else break;
    }
    const name = `${prefix}${key}`;
    out.push(hasDefault ? { name, required, default: value } : { name, required });
    if ((s.def as unknown as { type: string }).type === 'object') out.push(...fields(s, `${name}.`));
  }
  return out;
}

/** A default as TOML would write it: `[]`, `true`, `1024`, `{ input = 10, output = 30 }`. */
function toml(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(toml).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    return entries.length ? `{ ${entries.map(([k, x]) => `${k} = ${toml(x)}`).join(', ')} }` : '{}';
  }
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Quotes and backticks do not matter in a Default cell: `kg_live` and `"kg_live"` agree. */
const norm = (s: string) => s.replace(/[`"]/g, '').replace(/\s+/g, ' ').trim();

/**
 * The rows of the first table after `heading`: every backticked name in the first cell, with
 * the row's Default cell.
 */
function table(heading: string, doc = readme): Map<string, string> {
  const start = doc.indexOf(heading);
  expect(start, `the doc has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows = new Map<string, string>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [nameCell = '', defaultCell = ''] = line.split(/(?<!\\)\|/).slice(1).map((c) => c.trim());
    for (const m of nameCell.matchAll(/`([^`]+)`/g)) rows.set(m[1] as string, defaultCell);
  }
  return rows;
}

function checkReference(heading: string, schemaFields: Field[]) {
  const rows = table(heading);
  const documented = [...rows.keys()].sort();
  expect(documented, `the "${heading}" table names exactly the schema's fields`).toEqual(schemaFields.map((f) => f.name).sort());
  for (const f of schemaFields) {
    const cell = rows.get(f.name) ?? '';
    if ('default' in f) expect(norm(cell), `default of ${f.name}`).toBe(norm(toml(f.default)));
    else if (f.required) expect(cell, `${f.name} has no default`).toBe('required');
    else expect(cell, `${f.name} is optional: its Default cell says what happens when it is unset`).not.toBe('required');
  }
}

describe('documentation matches the code', () => {
  it('the README error table lists exactly the codes and statuses of the error table', () => {
    const section = readme.split('<!-- error-table:start -->')[1]?.split('<!-- error-table:end -->')[0] ?? '';
    const rows = [...section.matchAll(/^\| `(\w+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    expect(rows).toEqual(Object.entries(ERRORS).map(([code, e]) => [code, e.status, e.message]));
  });

  it('every [vars] setting is in the README Vars table, with the default the schema applies', () => {
    checkReference('### Vars (`[vars]`)', fields(ConfigSchema));
  });

  it('every route field, nested ones included, is in the README route table, with its schema default', () => {
    const routeFields = fields(RouteSchema);
    // The walk itself must reach the nested objects, or the check would pass vacuously.
    expect(routeFields.map((f) => f.name)).toEqual(expect.arrayContaining(['metering.max_body_bytes', 'on_store_error.requests', 'budget.period']));
    checkReference('### Route fields (`[[vars.ROUTES]]`)', routeFields);
  });

  it('docs/storage.md lists exactly the columns of the D1 keys table', async () => {
    const { results } = await testEnv().DB.prepare('PRAGMA table_info(keys)').all<{ name: string }>();
    expect([...table('### `keys`', storage).keys()].flatMap((n) => n.split(/`?,\s*`?/)).sort()).toEqual(results.map((c) => c.name).sort());
  });

  it('docs/storage.md lists exactly the fields of the KV key snapshot', async () => {
    const { key } = await createKey({ name: 'storage doc', owner: 'docs', limits: { rpm: 5 } });
    const snapshot = await testEnv().KEYS.get<Record<string, unknown>>(KV_PREFIX + (digestKey(key)), 'json');
    expect(snapshot).not.toBeNull();
    expect([...table('| Field | D1 column | Notes |', storage).keys()].sort()).toEqual(Object.keys(snapshot ?? {}).sort());
  });
});
