import { CacheMissError, RestError } from '../errors.ts';
import type { LevelParams } from '../parse/level-params.ts';
import type { EmbedItem, SelectItem } from '../parse/select.ts';
import { type Relationship, relationshipsOf } from '../relationships.ts';
import type { Relation, SchemaCache } from '../schema-cache.ts';
import { qualified } from './fragment.ts';

/**
 * The read plan (PostgREST's Plan/ReadPlan.hs): the requested relation and, for each embed of the
 * select, the relationship it goes through, as a tree of levels each with its own filters, order
 * and paging. The SQL is written from this tree by rows.ts.
 */

export interface Embed {
  item: EmbedItem;
  key: string;
  rel: Relationship;
  level: Level;
  joinAlias: string;
}

export interface Level {
  rel: Relation;
  /** SQL of the source (a qualified table, a CTE name or a parenthesised subquery). */
  from: string;
  alias: string;
  items: SelectItem[];
  params: LevelParams;
  embeds: Embed[];
}

export interface Planner {
  cache: SchemaCache;
  /** Resolved `::type` casts: text as written → SQL type from format_type(). */
  casts: Map<string, string>;
  counter: { n: number };
}

function resolveRelationship(planner: Planner, parent: Relation, item: EmbedItem): Relationship {
  const all = relationshipsOf(planner.cache, parent);
  let candidates = all.filter((r) => r.target.name === item.name);
  if (candidates.length === 0) {
    // Embedding through a FK column or a constraint name (`owner_id(*)`, `todos_owner_fkey(*)`).
    candidates = all.filter(
      (r) =>
        r.name === item.name ||
        (r.cardinality === 'many-to-one' && r.pairs.length === 1 && r.pairs[0][0] === item.name),
    );
  }
  if (item.hint) {
    const hint = item.hint;
    candidates = candidates.filter(
      (r) =>
        r.name === hint ||
        r.pairs.some(([p, t]) => p === hint || t === hint) ||
        (r.cardinality === 'many-to-one' && r.target.name === hint) ||
        (r.junction && (r.fk.name === hint || r.junction.fk2.name === hint)),
    );
  }
  if (candidates.length === 0) {
    throw new CacheMissError(
      400,
      'PGRST200',
      `Could not find a relationship between '${parent.name}' and '${item.name}' in the schema cache`,
      `Searched for a foreign key relationship between '${parent.name}' and '${item.name}'${
        item.hint ? ` using the hint '${item.hint}'` : ''
      } in the schema '${parent.schema}', but no matches were found.`,
    );
  }
  if (candidates.length > 1) {
    const fmt = (cols: string[]) => `(${cols.join(', ')})`;
    throw new RestError(
      300,
      'PGRST201',
      `Could not embed because more than one relationship was found for '${parent.name}' and '${item.name}'`,
      candidates.map((r) => ({
        cardinality: r.cardinality,
        embedding: `${parent.name} with ${r.target.name}`,
        relationship: r.junction
          ? `${r.name} using ${r.fk.name}${fmt(r.junction.source.map((p) => p[0]))} and ${r.junction.fk2.name}${fmt(
              r.junction.target.map((p) => p[0]),
            )}`
          : `${r.name} using ${parent.name}${fmt(r.pairs.map((p) => p[0]))} and ${r.target.name}${fmt(
              r.pairs.map((p) => p[1]),
            )}`,
      })),
      `Try changing '${item.name}' to one of the following: ${candidates
        .map((r) => `'${item.name}!${r.name}'`)
        .join(', ')}. Find the desired relationship in the 'details' key.`,
    );
  }
  return candidates[0];
}

/** Builds the tree of levels (the relation and its embeds) and attaches per-level parameters. */
export function planLevel(
  planner: Planner,
  rel: Relation,
  from: string,
  items: SelectItem[],
  levelParams: Map<string, LevelParams>,
  path: string[] = [],
  used: Set<string> = new Set(),
): Level {
  const pathKey = path.join('\u0000');
  used.add(pathKey);
  const level: Level = {
    rel,
    from,
    alias: `t${planner.counter.n++}`,
    items,
    params: levelParams.get(pathKey) ?? { conds: [] },
    embeds: [],
  };
  for (const item of items) {
    if (item.kind !== 'embed') continue;
    const relationship = resolveRelationship(planner, rel, item);
    const key = item.alias ?? item.name;
    const child = planLevel(
      planner,
      relationship.target,
      qualified(relationship.target.schema, relationship.target.name),
      item.items,
      levelParams,
      [...path, key],
      used,
    );
    if (
      item.spread &&
      (relationship.cardinality === 'one-to-many' || relationship.cardinality === 'many-to-many')
    ) {
      throw new RestError(
        400,
        'PGRST127',
        'Feature not implemented',
        'spreading a to-many embedded resource is not supported by the local stack',
      );
    }
    level.embeds.push({ item, key, rel: relationship, level: child, joinAlias: `j${planner.counter.n++}` });
  }
  if (path.length === 0) {
    for (const key of levelParams.keys()) {
      if (!used.has(key)) {
        const name = key.split('\u0000').pop() ?? key;
        throw new RestError(
          400,
          'PGRST108',
          `'${name}' is not an embedded resource in this request`,
          null,
          `Verify that '${name}' is included in the 'select' query parameter.`,
        );
      }
    }
  }
  return level;
}
