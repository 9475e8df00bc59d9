// supabase/functions/dispatch-worker — entrypoint written by `supadispatch init`.
// `npx supadispatch gen` writes what it imports: the library (_shared/supadispatch) and the registry.

import * as registry from '../_generated/registry.ts';
import { serve } from '../_shared/supadispatch/worker.ts';

Deno.serve(serve(registry));
