// Runs inside Deno (not Node): the main module of one Edge Function's process.
//
// The local stack starts `deno run ... bootstrap.js` per function. This script takes its
// settings from SUPADISPATCH_INTERNAL_* variables (removed before user code runs), makes
// the function's `Deno.serve(handler)` listen on 127.0.0.1 on a free port whatever port the
// function asked for, reports that port to the parent on stdout, and turns an exception
// thrown by the handler into a 500 the parent recognises (it logs the stack and answers the
// client as Supabase's edge runtime does). Plain JavaScript so that neither tsc (Node types)
// nor Deno's type checker needs to know about the other runtime.

const entrypoint = Deno.env.get('SUPADISPATCH_INTERNAL_ENTRYPOINT');
const functionName = Deno.env.get('SUPADISPATCH_INTERNAL_FUNCTION') ?? 'function';
const readyMarker = Deno.env.get('SUPADISPATCH_INTERNAL_READY_MARKER') ?? '__supadispatch_ready__';
const errorHeader = Deno.env.get('SUPADISPATCH_INTERNAL_ERROR_HEADER') ?? 'x-supadispatch-function-error';
for (const key of Object.keys(Deno.env.toObject())) {
  if (key.startsWith('SUPADISPATCH_INTERNAL_')) Deno.env.delete(key);
}

// The parent holds our stdin open; when it goes away (even killed with SIGKILL) stdin
// reaches EOF and this process ends, so no Deno process outlives the stack.
(async () => {
  const buffer = new Uint8Array(256);
  try {
    while ((await Deno.stdin.read(buffer)) !== null) {
      // ignore input
    }
  } catch {
    // stdin closed or unreadable: same as EOF
  }
  Deno.exit(0);
})();

// Supabase's runtime global most functions touch: keep background work alive and log its failures.
if (!('EdgeRuntime' in globalThis)) {
  globalThis.EdgeRuntime = {
    waitUntil(promise) {
      return Promise.resolve(promise).catch((error) => console.error('EdgeRuntime.waitUntil:', error));
    },
  };
}

const encoder = new TextEncoder();
function writeStdout(text) {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

function describe(error) {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  try {
    return `Uncaught (non-Error value) ${typeof error === 'string' ? error : JSON.stringify(error)}`;
  } catch {
    return `Uncaught (non-Error value) ${String(error)}`;
  }
}

/** A 500 the parent recognises by its header: it logs `stack` and answers the client itself. */
function functionError(error) {
  return new Response(JSON.stringify({ stack: describe(error) }), {
    status: 500,
    headers: { 'content-type': 'application/json', [errorHeader]: '1' },
  });
}

function splitServeArgs(first, second) {
  if (typeof first === 'function') return { handler: first, options: second ?? {} };
  if (typeof second === 'function') return { handler: second, options: first ?? {} };
  if (first && typeof first.handler === 'function') return { handler: first.handler, options: first };
  throw new TypeError('Deno.serve: a handler function is required');
}

const originalServe = Deno.serve.bind(Deno);
let served = false;

function patchedServe(first, second) {
  const { handler, options } = splitServeArgs(first, second);
  const userOnError = typeof options.onError === 'function' ? options.onError : null;
  const wrapped = async (request, info) => {
    try {
      const response = await handler(request, info);
      if (!(response instanceof Response)) {
        throw new TypeError(
          'Return value from serve handler must be a response or a promise resolving to a response',
        );
      }
      return response;
    } catch (error) {
      if (userOnError) {
        try {
          return await userOnError(error);
        } catch (inner) {
          return functionError(inner);
        }
      }
      return functionError(error);
    }
  };
  const first_ = !served;
  served = true;
  return originalServe(
    {
      hostname: '127.0.0.1',
      port: 0,
      signal: options.signal,
      onError: functionError,
      onListen: ({ port }) => {
        if (first_) writeStdout(`\n${readyMarker} ${port}\n`);
        else
          console.warn(
            `[${functionName}] Deno.serve called more than once: only the first server gets requests`,
          );
      },
    },
    wrapped,
  );
}

Object.defineProperty(Deno, 'serve', {
  value: patchedServe,
  writable: true,
  configurable: true,
  enumerable: true,
});

try {
  if (!entrypoint) throw new Error('SUPADISPATCH_INTERNAL_ENTRYPOINT is not set');
  const module = await import(entrypoint);
  if (!served && module.default && typeof module.default.fetch === 'function') {
    const target = module.default;
    patchedServe((request, info) => target.fetch(request, info));
  }
  if (!served) {
    throw new Error(
      `the function neither called Deno.serve(handler) nor exported default { fetch } (entrypoint ${entrypoint})`,
    );
  }
} catch (error) {
  console.error(`worker boot error: ${describe(error)}`);
  Deno.exit(1);
}
