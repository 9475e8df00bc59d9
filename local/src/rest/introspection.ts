import type pg from 'pg';
import {
  type Column,
  type Fn,
  type FnParam,
  type ForeignKey,
  qualifiedKey,
  type Relation,
  type SchemaCache,
} from './schema-cache.ts';

/** The catalog queries that fill the schema cache, for the exposed schemas only (PostgREST's querySchemaCache). */

const relationsSql = `
select n.nspname::text as schema, c.relname::text as name, c.relkind::text as kind,
  coalesce(json_agg(json_build_object(
    'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'typname', t.typname,
    'category', t.typcategory, 'notNull', a.attnotnull,
    'hasDefault', a.atthasdef or a.attidentity <> '' or a.attgenerated <> '')
    order by a.attnum) filter (where a.attnum is not null), '[]') as columns
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
left join pg_type t on t.oid = a.atttypid
where n.nspname = any($1::text[]) and c.relkind in ('r', 'v', 'm', 'f', 'p')
group by n.nspname, c.relname, c.relkind`;

const constraintsSql = `
select con.conname::text as name, con.contype::text as type, n.nspname::text as schema, c.relname::text as table,
  array(select a.attname::text from unnest(con.conkey) with ordinality k(num, ord)
        join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord) as columns,
  fn.nspname::text as ref_schema, fc.relname::text as ref_table,
  array(select a.attname::text from unnest(con.confkey) with ordinality k(num, ord)
        join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.ord) as ref_columns
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where con.contype in ('p', 'u', 'f') and n.nspname = any($1::text[])`;

const functionsSql = `
select n.nspname::text as schema, p.proname::text as name, p.provolatile::text as volatility,
  p.proretset as returns_set, p.pronargs as nargs, p.pronargdefaults as ndefaults,
  coalesce(p.proargnames::text[], '{}') as arg_names,
  coalesce(p.proargmodes::text[], '{}') as arg_modes,
  array(select format_type(x.t, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality x(t, o) order by x.o) as arg_types,
  array(select ty.typname::text from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality x(t, o)
        join pg_type ty on ty.oid = x.t order by x.o) as arg_typnames,
  rt.typname::text as ret_typname, rt.typtype::text as ret_typtype, format_type(p.prorettype, null) as ret_type,
  rn.nspname::text as ret_rel_schema, rc.relname::text as ret_rel_name, rc.relkind::text as ret_rel_kind,
  coalesce((select json_agg(json_build_object(
      'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'typname', at.typname,
      'category', at.typcategory, 'notNull', a.attnotnull, 'hasDefault', false) order by a.attnum)
    from pg_attribute a join pg_type at on at.oid = a.atttypid
    where a.attrelid = rt.typrelid and a.attnum > 0 and not a.attisdropped), '[]') as ret_columns
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_type rt on rt.oid = p.prorettype
left join pg_class rc on rc.oid = rt.typrelid
left join pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = any($1::text[]) and p.prokind = 'f'`;

const roleSettingsSql = `
select r.rolname::text as role, c.setting
from pg_db_role_setting s
join pg_roles r on r.oid = s.setrole
cross join lateral unnest(s.setconfig) as c(setting)
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
order by s.setdatabase`;

/** Base-table columns each view reads directly (same name in the view: a pass-through column). */
const viewColumnsSql = `
select distinct v.nspname::text as view_schema, vc.relname::text as view_name,
  tn.nspname::text as table_schema, tc.relname::text as table_name, ta.attname::text as column_name
from pg_class vc
join pg_namespace v on v.oid = vc.relnamespace
join pg_rewrite rw on rw.ev_class = vc.oid
join pg_depend d on d.objid = rw.oid and d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
join pg_class tc on tc.oid = d.refobjid and tc.oid <> vc.oid and tc.relkind in ('r', 'p', 'v', 'm', 'f')
join pg_namespace tn on tn.oid = tc.relnamespace
join pg_attribute ta on ta.attrelid = tc.oid and ta.attnum = d.refobjsubid
join pg_attribute va on va.attrelid = vc.oid and va.attname = ta.attname and not va.attisdropped
where vc.relkind in ('v', 'm') and v.nspname = any($1::text[])`;

/**
 * PostgREST infers relationships of views from their definition. Here: a view column that reads a
 * base-table column of the same name stands for it, so the table's FKs (both directions) and key
 * carry over when all their columns pass through.
 */
function addViewRelationships(
  relations: Map<string, Relation>,
  foreignKeys: ForeignKey[],
  rows: Row[],
): void {
  const passThrough = new Map<string, { view: Relation; tableKey: string; columns: Set<string> }>();
  for (const row of rows) {
    const view = relations.get(qualifiedKey(row.view_schema as string, row.view_name as string));
    if (!view) continue;
    const tableKey = qualifiedKey(row.table_schema as string, row.table_name as string);
    const key = `${qualifiedKey(view.schema, view.name)}\u0001${tableKey}`;
    const entry = passThrough.get(key) ?? { view, tableKey, columns: new Set<string>() };
    entry.columns.add(row.column_name as string);
    passThrough.set(key, entry);
  }
  const base = [...foreignKeys];
  for (const { view, tableKey, columns } of passThrough.values()) {
    const table = relations.get(tableKey);
    if (!table) continue;
    const all = (cols: string[]) => cols.length > 0 && cols.every((c) => columns.has(c));
    if (view.pk.length === 0 && all(table.pk)) view.pk = table.pk;
    for (const u of table.uniques) if (all(u)) view.uniques.push(u);
    for (const fk of base) {
      if (qualifiedKey(fk.schema, fk.table) === tableKey && all(fk.columns)) {
        foreignKeys.push({ ...fk, schema: view.schema, table: view.name });
      }
      if (qualifiedKey(fk.refSchema, fk.refTable) === tableKey && all(fk.refColumns)) {
        foreignKeys.push({ ...fk, refSchema: view.schema, refTable: view.name });
      }
    }
  }
}

type Row = Record<string, unknown>;

function toRelation(row: Row): Relation {
  const columns = row.columns as Column[];
  return {
    schema: row.schema as string,
    name: row.name as string,
    kind: row.kind as string,
    columns,
    columnMap: new Map(columns.map((c) => [c.name, c])),
    pk: [],
    uniques: [],
  };
}

function toFunction(row: Row): Fn {
  const names = row.arg_names as string[];
  const modes = row.arg_modes as string[];
  const types = row.arg_types as string[];
  const typnames = row.arg_typnames as string[];
  const nargs = row.nargs as number;
  const ndefaults = row.ndefaults as number;
  const params: FnParam[] = [];
  const outColumns: Column[] = [];
  let inputIndex = 0;
  types.forEach((type, i) => {
    const mode = modes[i] ?? 'i';
    const name = names[i] ?? '';
    if (mode === 'i' || mode === 'b' || mode === 'v') {
      params.push({ name, type, typname: typnames[i], hasDefault: inputIndex >= nargs - ndefaults });
      inputIndex++;
    }
    if (mode === 'o' || mode === 'b' || mode === 't') {
      outColumns.push({ name, type, typname: typnames[i], category: '', notNull: false, hasDefault: false });
    }
  });
  const retTypname = row.ret_typname as string;
  const retTyptype = row.ret_typtype as string;
  let returnKind: Fn['returnKind'] = 'scalar';
  let returnColumns: Column[] = [];
  let returnRelation: Fn['returnRelation'];
  if (retTypname === 'void') returnKind = 'void';
  else if (retTyptype === 'c') {
    returnKind = 'composite';
    returnColumns = row.ret_columns as Column[];
    if (row.ret_rel_kind && row.ret_rel_kind !== 'c') {
      returnRelation = { schema: row.ret_rel_schema as string, name: row.ret_rel_name as string };
    }
  } else if (retTypname === 'record' && outColumns.length > 0) {
    returnKind = 'composite';
    returnColumns = outColumns;
  }
  return {
    schema: row.schema as string,
    name: row.name as string,
    params,
    volatility: row.volatility as Fn['volatility'],
    returnsSet: row.returns_set as boolean,
    returnKind,
    returnColumns,
    returnRelation,
  };
}

export async function loadSchemaCache(pool: pg.Pool, schemas: string[]): Promise<SchemaCache> {
  const [rels, cons, fns, settings, viewUsage] = await Promise.all([
    pool.query(relationsSql, [schemas]),
    pool.query(constraintsSql, [schemas]),
    pool.query(functionsSql, [schemas]),
    pool.query(roleSettingsSql),
    pool.query(viewColumnsSql, [schemas]),
  ]);
  const roleSettings = new Map<string, [string, string][]>();
  for (const row of settings.rows as { role: string; setting: string }[]) {
    const i = row.setting.indexOf('=');
    const name = row.setting.slice(0, i);
    if (i <= 0 || name === 'search_path' || name === 'role' || name === 'session_authorization') continue;
    roleSettings.set(row.role, [...(roleSettings.get(row.role) ?? []), [name, row.setting.slice(i + 1)]]);
  }
  const relations = new Map<string, Relation>();
  for (const row of rels.rows) {
    const rel = toRelation(row);
    relations.set(qualifiedKey(rel.schema, rel.name), rel);
  }
  const foreignKeys: ForeignKey[] = [];
  for (const row of cons.rows) {
    const rel = relations.get(qualifiedKey(row.schema, row.table));
    if (row.type === 'p' && rel) rel.pk = row.columns;
    if ((row.type === 'p' || row.type === 'u') && rel) rel.uniques.push(row.columns);
    if (row.type === 'f') {
      foreignKeys.push({
        name: row.name,
        schema: row.schema,
        table: row.table,
        columns: row.columns,
        refSchema: row.ref_schema,
        refTable: row.ref_table,
        refColumns: row.ref_columns,
      });
    }
  }
  addViewRelationships(relations, foreignKeys, viewUsage.rows);
  const functions = new Map<string, Fn[]>();
  for (const row of fns.rows) {
    const fn = toFunction(row);
    const key = qualifiedKey(fn.schema, fn.name);
    functions.set(key, [...(functions.get(key) ?? []), fn]);
  }
  const computed = new Map<string, Map<string, Fn>>();
  for (const fns of functions.values()) {
    for (const fn of fns) {
      const [first, ...rest] = fn.params;
      if (!first || fn.returnsSet || fn.returnKind === 'void' || rest.some((p) => !p.hasDefault)) continue;
      const relKey = qualifiedKey(fn.schema, first.typname);
      if (!relations.has(relKey)) continue;
      const byName = computed.get(relKey) ?? new Map<string, Fn>();
      byName.set(fn.name, fn);
      computed.set(relKey, byName);
    }
  }
  return { relations, foreignKeys, functions, computed, roleSettings };
}
