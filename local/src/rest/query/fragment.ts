/**
 * The pieces every query under query/ is built from. Identifiers reach SQL only through `ident()`
 * after being looked up in the schema cache (or are names the planner generates, like "t0"); every
 * value supplied by the client (filter values, JSON keys, aliases, bodies, limits) is a bound
 * parameter added through `Params`.
 */

export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const qualified = (schema: string, name: string): string => `${ident(schema)}.${ident(name)}`;

export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  text(value: string): string {
    return `${this.add(value)}::text`;
  }
}
