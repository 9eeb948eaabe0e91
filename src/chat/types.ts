/** What flows and the chat layer exchange: outgoing messages and the shape of a conversation. */
import type { User } from '../domain/user.js';
import type { Services } from '../services/index.js';

/** A button that calls back with `data` (at most 64 bytes), or one that opens a web page. */
export type Button = { label: string; data: string } | { label: string; url: string };

export interface OutMessage {
  /** HTML (parse_mode HTML); escape anything a user typed with `esc` */
  text: string;
  buttons?: Button[][];
  /** a PNG; `text` becomes its caption (at most 1024 characters) */
  photo?: Buffer;
  /** a file, sent as a document; `text` becomes its caption (at most 1024 characters) */
  document?: { filename: string; bytes: Buffer };
}

export interface Choice {
  label: string;
  value: string;
}

export interface Question {
  text: string;
  choices?: Choice[];
  /** buttons per row; 1 by default */
  columns?: number;
}

/** What a step's answer leads to. */
export type Outcome =
  | { goto: string; say?: OutMessage[] }
  | { retry: string }
  | { done: OutMessage[] };

export interface FlowContext<D> {
  readonly user: User;
  /** the conversation's own data: JSON-safe, persisted after every step */
  data: D;
  readonly services: Services;
  readonly now: number;
}

export interface Step<D> {
  ask(c: FlowContext<D>): Question | Promise<Question>;
  /** a typed answer; a step without it asks the user to use the buttons */
  onText?(c: FlowContext<D>, text: string): Outcome | Promise<Outcome>;
  /** the value of the button the user pressed */
  onChoice?(c: FlowContext<D>, value: string): Outcome | Promise<Outcome>;
}

export interface Flow<D extends object = Record<string, unknown>> {
  /** the command that starts it, without the slash */
  command: string;
  /** one line for /help and the Telegram command menu */
  description: string;
  /** only shows things: starting another command over it needs no "was cancelled" notice */
  browsing?: boolean;
  /**
   * Who may use it; everyone when absent. Checked at the command and at every answer and button:
   * to anyone else the command is unknown, it is not in their /help or menu, and its buttons are stale.
   */
  allowed?(user: User, services: Services): boolean;
  /** bump when the steps or the data change: a conversation saved by another version restarts politely */
  version: number;
  newData(): D;
  /** runs at the command; `args` is what followed it */
  begin(c: FlowContext<D>, args: string): Outcome | Promise<Outcome>;
  steps: Record<string, Step<D>>;
}

/** What the chat layer does with an answer: messages to send, a message to edit, a callback toast. */
export interface EngineReply {
  send: OutMessage[];
  /** replaces the message whose button was pressed (paging) */
  edit?: OutMessage;
  toast?: string;
}

/** A button outside any conversation (pay, check payment…); its handler checks ownership itself. */
export type Action = (user: User, arg: string, services: Services) => Promise<EngineReply>;

// Flows are stored by name with heterogeneous data; the engine treats their data as opaque.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFlow = Flow<any>;
