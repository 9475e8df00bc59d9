import { type ForeignKey, qualifiedKey, type Relation, type SchemaCache } from './schema-cache.ts';

/** Relationships between relations, as PostgREST infers them from foreign keys for embedding. */

/** A relationship usable for embedding, seen from the parent (the relation being selected). */
export interface Relationship {
  /** Constraint name (for many-to-many: the junction table's name). */
  name: string;
  cardinality: 'many-to-one' | 'one-to-many' | 'one-to-one' | 'many-to-many';
  target: Relation;
  /** Pairs [parent column, target column] to join on (empty for many-to-many). */
  pairs: [string, string][];
  /** For PGRST201's details. */
  fk: ForeignKey;
  /** Many-to-many: the junction table and its column pairs [junction col, parent/target col]. */
  junction?: { rel: Relation; source: [string, string][]; target: [string, string][]; fk2: ForeignKey };
}

function isUnique(rel: Relation, columns: string[]): boolean {
  return rel.uniques.some((u) => u.length === columns.length && u.every((c) => columns.includes(c)));
}

/** Every FK relationship between `parent` and relations in its schema (both directions). */
export function relationshipsOf(cache: SchemaCache, parent: Relation): Relationship[] {
  const out: Relationship[] = [];
  for (const fk of cache.foreignKeys) {
    if (fk.schema === parent.schema && fk.table === parent.name) {
      const target = cache.relations.get(qualifiedKey(fk.refSchema, fk.refTable));
      if (target) {
        out.push({
          name: fk.name,
          cardinality: 'many-to-one',
          target,
          pairs: fk.columns.map((c, i) => [c, fk.refColumns[i]]),
          fk,
        });
      }
    }
    if (fk.refSchema === parent.schema && fk.refTable === parent.name) {
      const target = cache.relations.get(qualifiedKey(fk.schema, fk.table));
      if (target) {
        out.push({
          name: fk.name,
          cardinality: isUnique(target, fk.columns) ? 'one-to-one' : 'one-to-many',
          target,
          pairs: fk.refColumns.map((c, i) => [c, fk.columns[i]]),
          fk,
        });
      }
    }
  }
  // Many-to-many through a junction table that references both sides.
  for (const fk1 of cache.foreignKeys) {
    if (fk1.refSchema !== parent.schema || fk1.refTable !== parent.name) continue;
    const junction = cache.relations.get(qualifiedKey(fk1.schema, fk1.table));
    // As PostgREST: the junction's FK columns must be part of its primary key.
    const inPk = (cols: string[]) => junction !== undefined && cols.every((c) => junction.pk.includes(c));
    if (!junction || junction.schema !== parent.schema || !inPk(fk1.columns)) continue;
    for (const fk2 of cache.foreignKeys) {
      if (fk2 === fk1 || fk2.schema !== fk1.schema || fk2.table !== fk1.table) continue;
      const target = cache.relations.get(qualifiedKey(fk2.refSchema, fk2.refTable));
      if (!target || target.schema !== parent.schema || !inPk(fk2.columns)) continue;
      out.push({
        name: junction.name,
        cardinality: 'many-to-many',
        target,
        pairs: [],
        fk: fk1,
        junction: {
          rel: junction,
          source: fk1.columns.map((c, i) => [c, fk1.refColumns[i]]),
          target: fk2.columns.map((c, i) => [c, fk2.refColumns[i]]),
          fk2,
        },
      });
    }
  }
  return out;
}

export const isToMany = (rel: Relationship): boolean =>
  rel.cardinality === 'one-to-many' || rel.cardinality === 'many-to-many';
