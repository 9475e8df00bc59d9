/** Runs the CLI in this process (the bin's entry in a source checkout; see bin/supadispatch.mjs). */
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
