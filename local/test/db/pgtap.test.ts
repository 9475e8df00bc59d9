/**
 * The local stack's own pgTAP tests (`local/src/db/test/*.sql`: the bootstrap), one node test per
 * file, with the core's runner (`sql/test/pgtap.ts`, which says the convention the files follow).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgtapTests } from '../../../sql/test/pgtap.ts';

pgtapTests([join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'db', 'test')]);
