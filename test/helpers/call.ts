/** fetch as a test client, read whole: status, headers and the body as text. */

/** What {@link call} resolves with. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

/** Fetches `base + path` (5 s limit) and reads the whole body as text. */
export async function call(base: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000), ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
