// supabase/functions/dispatch-auth-email — entrypoint written by `supadispatch init`.
// `npx supadispatch gen` writes what it imports: the library (_shared/supadispatch) and the registry.

import * as registry from '../_generated/registry.ts';
import { serve } from '../_shared/supadispatch/auth-email.ts';

Deno.serve(serve(registry));
