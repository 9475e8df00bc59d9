/** Small readers of raw (not yet validated) config values, shared by the checks of every part. */

/** How a value is named in a message: `null`, `an array`, `an object`, `number 42`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** A sql`...` fragment (what `sql` in types.ts makes): an object with a `sql` string and nothing else. */
export function isRaw(v: unknown): v is { sql: string } {
  return (
    !!v &&
    typeof v === 'object' &&
    typeof (v as { sql?: unknown }).sql === 'string' &&
    Object.keys(v).length === 1
  );
}

/** One value or a list of them (`on: 'update'` or `on: ['update']`), as a list. */
export function toArray<T>(v: T | readonly T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? [...v] : [v as T];
}

/** A copy with its keys in order, so the normalized config does not depend on how it was written. */
export function sortKeys<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) as T;
}
