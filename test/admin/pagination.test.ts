// Cursor pagination of GET /admin/keys: newest first, never skipping or repeating a key,
// whatever the page sizes and whatever is created or deleted between pages.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { admin, createKey } from '../harness/gateway';

interface Page {
  keys: { id: string; owner: string | null; type: string }[];
  next_cursor: string | null;
}

const uniq = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;

async function page(query: string): Promise<Page> {
  const res = await admin(`/keys?${query}`);
  expect(res.status, query).toBe(200);
  return (await res.json()) as Page;
}

/**
 * Walks every page for `filter`, with page sizes taken in turn from `sizes`, calling
 * `between` after each page that has a successor. Returns the ids in the order served.
 */
async function walk(filter: string, sizes: number[], between: (pageIndex: number) => Promise<void> = async () => {}): Promise<{ ids: string[]; pages: Page[] }> {
  const ids: string[] = [];
  const pages: Page[] = [];
  let cursor: string | null = null;
  for (let i = 0; ; i++) {
    if (i > 500) throw new Error('pagination did not terminate');
    const limit = sizes[i % sizes.length]!;
    const p = await page(`${filter}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(p.keys.length, `page ${i}`).toBeLessThanOrEqual(limit);
    pages.push(p);
    ids.push(...p.keys.map((k) => k.id));
    if (p.next_cursor === null) break;
    // The cursor is the last key served: the next page starts strictly after it.
    expect(p.next_cursor).toBe(p.keys[p.keys.length - 1]?.id);
    cursor = p.next_cursor;
    await between(i);
  }
  return { ids, pages };
}

const newestFirst = (ids: string[]) => [...ids].sort().reverse();

describe('cursor pagination', () => {
  const owner = uniq('paged owner');
  const filter = `owner=${encodeURIComponent(owner)}`;
  const originals: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 25; i++) originals.push((await createKey({ owner, name: `paged ${i}` })).id);
  });

  it('serves 25 keys in pages of 7 (7, 7, 7, 4) newest first, ending with a null cursor', async () => {
    const { ids, pages } = await walk(filter, [7]);
    expect(pages.map((p) => p.keys.length)).toEqual([7, 7, 7, 4]);
    expect(pages.at(-1)!.next_cursor).toBeNull();
    // Creation order is id order, newest first.
    expect(ids).toEqual([...originals].reverse());
  });

  it('never skips or repeats a key, and never serves keys created between pages', async () => {
    const created: string[] = [];
    const { ids } = await walk(filter, [7], async () => {
      created.push((await createKey({ owner, name: 'created between pages' })).id);
      created.push((await createKey({ owner, name: 'created between pages' })).id);
    });
    expect(created).toHaveLength(6);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => created.includes(id))).toEqual([]);
    expect([...ids].sort()).toEqual([...originals].sort());
    expect(ids).toEqual(newestFirst(ids));
    // The new keys are there, on a fresh first page.
    const fresh = await page(`${filter}&limit=6`);
    expect(fresh.keys.map((k) => k.id).sort()).toEqual([...created].sort());
    for (const id of created) expect((await admin(`/keys/${id}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('keeps going after the key used as the cursor is deleted', async () => {
    const small = uniq('small owner');
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await createKey({ owner: small })).id);
    const newest = [...made].reverse();
    const f = `owner=${encodeURIComponent(small)}`;
    const first = await page(`${f}&limit=3`);
    expect(first.keys.map((k) => k.id)).toEqual(newest.slice(0, 3));
    // Delete the cursor key itself and the key that would open the next page.
    expect((await admin(`/keys/${first.next_cursor}`, { method: 'DELETE' })).status).toBe(200);
    expect((await admin(`/keys/${newest[3]}`, { method: 'DELETE' })).status).toBe(200);
    const second = await page(`${f}&limit=3&cursor=${first.next_cursor}`);
    expect(second.keys.map((k) => k.id)).toEqual(newest.slice(4, 7));
    expect(second.next_cursor).toBeNull();
  });

  it('pages through filtered results without leaking other keys', async () => {
    const typed = uniq('typed owner');
    const services: string[] = [];
    for (let i = 0; i < 9; i++) {
      const k = await createKey({ owner: typed, type: i % 3 === 0 ? 'service' : 'user' });
      if (i % 3 === 0) services.push(k.id);
    }
    const { ids, pages } = await walk(`owner=${encodeURIComponent(typed)}&type=service`, [2]);
    expect(ids).toEqual([...services].reverse());
    expect(pages.flatMap((p) => p.keys).every((k) => k.type === 'service' && k.owner === typed)).toBe(true);
  });

  it('property: for any sequence of page sizes, with keys created between pages, every original key is served exactly once in order', async () => {
    const expected = [...originals].reverse();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
        async (sizes, createAfter) => {
          const created: string[] = [];
          const { ids } = await walk(filter, sizes, async (i) => {
            if (i < 3 && createAfter[i % createAfter.length]) created.push((await createKey({ owner, name: 'property insert' })).id);
          });
          // Clean up first so a failing run does not poison the next.
          for (const id of created) await admin(`/keys/${id}`, { method: 'DELETE' });
          expect(ids).toEqual(expected);
        },
      ),
      { numRuns: 30 },
    );
  });
});
