/** Raw Bot API calls over fetch, for protocol-level emulator tests. */
export interface ApiReply { status: number; body: { ok: boolean; result?: any; error_code?: number; description?: string; parameters?: { retry_after?: number } } }

export async function call(apiRoot: string, token: string, method: string, params: Record<string, unknown> = {}): Promise<ApiReply> {
  const res = await fetch(new URL(`./bot${token}/${method}`, apiRoot), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return { status: res.status, body: (await res.json()) as ApiReply['body'] };
}
