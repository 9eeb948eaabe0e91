/** Shared types of the in-repo Telegram Bot API emulator (see README.md in this folder). */

export interface InlineButton {
  text: string;
  callback_data?: string;
  url?: string;
}

export interface InlineKeyboardMarkup {
  inline_keyboard: InlineButton[][];
}

/** A bot message as the emulator stores it: its current state (after edits). */
export interface EmuMessage {
  message_id: number;
  chat_id: number;
  date: number;
  kind: 'text' | 'photo' | 'document';
  text?: string;
  caption?: string;
  /** The uploaded bytes (multipart), or undefined if sent by file_id/url. */
  photo?: Buffer;
  document?: { filename: string; bytes: Buffer };
  reply_markup?: InlineKeyboardMarkup;
  parse_mode?: string;
  /** How many successful edits (text, caption or markup) the message has had. */
  edits: number;
}

export type EmuEventType = 'send' | 'edit' | 'delete' | 'callback_answer' | 'chat_action';

/** Everything the bot does to a chat, in order. `seq` increases globally across chats. */
export interface EmuEvent {
  seq: number;
  chatId: number;
  type: EmuEventType;
  /** Snapshot of the message right after this event (send/edit/delete). */
  message?: EmuMessage;
  callbackAnswer?: { callback_query_id: string; text?: string; show_alert?: boolean };
  /** For chat_action: the action string ('typing', 'upload_photo', ...). */
  action?: string;
}

export interface EmulatorOptions {
  /** 0 (default) = random free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default '123456:TEST-TOKEN'; any other token gets 401 Unauthorized. */
  token?: string;
  /** Default 'jukebox_bot'. */
  botUsername?: string;
  /**
   * Optional flood limits (off by default): token buckets, one global and one per chat,
   * counting send* (except sendChatAction) and edit* calls. Over the limit → 429 with
   * parameters.retry_after. `burst` is the per-chat bucket size (default max(1, perChatPerSecond)).
   */
  limits?: { globalPerSecond: number; perChatPerSecond: number; burst?: number };
}

/** A Bot API error, as injected by failNext(). */
export interface InjectedError {
  error_code: number;
  description: string;
  retry_after?: number;
}

export interface EmuUserInfo {
  id: number;
  first_name?: string;
  username?: string;
  language_code?: string;
}
