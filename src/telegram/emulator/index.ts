/** In-repo Telegram Bot API emulator: see README.md in this folder. */
export { BotApiEmulator, ApiError } from './server.js';
export { EmulatedUser, type WaitOptions } from './user.js';
export type {
  EmuEvent, EmuEventType, EmuMessage, EmulatorOptions, EmuUserInfo, InjectedError, InlineButton, InlineKeyboardMarkup,
} from './types.js';
