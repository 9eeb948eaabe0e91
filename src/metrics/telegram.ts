/**
 * Watches every Bot API call the bot's own client makes (polling and the outbox both use it): each
 * successful getUpdates (the polling loop is alive) and each 429 Telegram answers. telegraf builds
 * everything on `callApi`, so wrapping that one method of the instance sees them all.
 */
import type { Telegram } from 'telegraf';

export interface TelegramHooks {
  polled?(): void;
  tooManyRequests?(method: string): void;
}

type CallApi = (method: string, payload: unknown, opts?: unknown) => Promise<unknown>;

function errorCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; response?: { error_code?: unknown } };
  const code = e?.response?.error_code ?? e?.code;
  return typeof code === 'number' ? code : undefined;
}

export function instrumentTelegram(telegram: Telegram, hooks: TelegramHooks): void {
  const t = telegram as unknown as { callApi: CallApi };
  const call = t.callApi.bind(telegram);
  t.callApi = async (method, payload, opts) => {
    try {
      const result = await call(method, payload, opts);
      if (method === 'getUpdates') hooks.polled?.();
      return result;
    } catch (err) {
      if (errorCode(err) === 429) hooks.tooManyRequests?.(method);
      throw err;
    }
  };
}
