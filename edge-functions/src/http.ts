/** JSON responses with the error shape every supadispatch function answers with. */

export function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** `{ error: { code, message } }`: `code` for programs, `message` for people (names what is wrong). */
export function problem(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

/**
 * The largest request body a supadispatch function reads, in bytes (1 MiB). Every legitimate body
 * (a preview or trigger request, an Auth hook payload, a worker poke) is a few kilobytes; a larger
 * one is answered 413 without being read whole (docs/config.md, "Limits").
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The request body as text, or a 413 once it passes `max` bytes (read as a stream, never whole). */
export async function readBodyText(
  req: Request,
  max = MAX_BODY_BYTES,
): Promise<{ text: string } | { response: Response }> {
  const tooLarge = () => ({
    response: problem(413, 'payload_too_large', `request body: larger than ${max} bytes`),
  });
  if (Number(req.headers.get('content-length') ?? 0) > max) {
    await req.body?.cancel();
    return tooLarge();
  }
  if (!req.body) return { text: '' };
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { text: new TextDecoder().decode(bytes) };
}

/** The request body as JSON, or a 400 naming why it is not (413 when too large). An empty body is `{}`. */
export async function readJsonBody(req: Request): Promise<{ body: unknown } | { response: Response }> {
  const read = await readBodyText(req);
  if ('response' in read) return read;
  const text = read.text;
  if (text.trim() === '') return { body: {} };
  try {
    return { body: JSON.parse(text) };
  } catch (error) {
    return { response: problem(400, 'invalid_json', `request body: not JSON (${(error as Error).message})`) };
  }
}
