/** The core SQL the generator embeds in a migration, with the hash the lock file records. */
import { createHash } from 'node:crypto';
import { readCoreSql } from '../../assets.ts';

export interface CoreSql {
  version: string;
  sql: string;
  hash: string;
}

export async function loadCore(): Promise<CoreSql> {
  const { version, sql } = await readCoreSql();
  return { version, sql, hash: sha256(sql) };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
