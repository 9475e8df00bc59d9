import { CacheMissError, type RestError } from '../errors.ts';
import type { Field } from '../parse/scanner.ts';
import { qualifiedKey, type Relation } from '../schema-cache.ts';
import { ident, type Params, qualified } from './fragment.ts';
import type { Level, Planner } from './plan.ts';

/** A field of a level as SQL: a column or a computed field, then its JSON path. */

export function columnNotFound(rel: Relation, name: string): RestError {
  return new CacheMissError(400, '42703', `column ${rel.name}.${name} does not exist`);
}

export function columnExpr(level: Level, field: Field, params: Params, planner?: Planner): string {
  let expr: string;
  if (level.rel.columnMap.has(field.name)) {
    expr = `${ident(level.alias)}.${ident(field.name)}`;
  } else {
    const fn = planner?.cache.computed.get(qualifiedKey(level.rel.schema, level.rel.name))?.get(field.name);
    if (!fn) throw columnNotFound(level.rel, field.name);
    // Computed field: `fn(row)`; the cast lets a CTE/record source pass as the table's row type.
    expr = `${qualified(fn.schema, fn.name)}(${ident(level.alias)}::${qualified(level.rel.schema, level.rel.name)})`;
  }
  for (const step of field.path) {
    expr += `${step.arrow}${step.index ? `${params.add(step.key)}::int` : params.text(step.key)}`;
  }
  return expr;
}
