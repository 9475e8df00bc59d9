/** The core's pgTAP tests (`sql/test/*.sql`, see README.md), one node test per file. */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgtapTests } from './pgtap.ts';

pgtapTests([dirname(fileURLToPath(import.meta.url))]);
