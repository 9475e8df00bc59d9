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

/** The request body as JSON, or a 400 naming why it is not. An empty body is `{}`. */
export async function readJsonBody(req: Request): Promise<{ body: unknown } | { response: Response }> {
  const text = await req.text();
  if (text.trim() === '') return { body: {} };
  try {
    return { body: JSON.parse(text) };
  } catch (error) {
    return { response: problem(400, 'invalid_json', `request body: not JSON (${(error as Error).message})`) };
  }
}
