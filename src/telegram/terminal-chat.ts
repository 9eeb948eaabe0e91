/**
 * Local mode's chat: this terminal plays a Telegram user talking to the bot through the emulator.
 * Bot messages are printed with their buttons numbered (type the number to press one), and a
 * payment URI is drawn as a QR code you can scan with ThreeFold Connect.
 */
import readline from 'node:readline';
import QRCode from 'qrcode';
import type { BotApiEmulator, EmuEvent, EmulatedUser, EmuMessage } from './emulator/index.js';

const ANSI = { bold: '\x1b[1m', dim: '\x1b[2m', cyan: '\x1b[36m', reset: '\x1b[0m' };

/** Telegram HTML to terminal text. */
export function toTerminal(html: string, color = true): string {
  const b = color ? ANSI.bold : '';
  const r = color ? ANSI.reset : '';
  return html
    .replace(/<\/?(b|strong)>/g, (t) => (t.startsWith('</') ? r : b))
    .replace(/<\/?(i|em|code|pre|u|s)>/g, '')
    .replace(/<a href="([^"]*)">([^<]*)<\/a>/g, '$2 ($1)')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

const TFT_URI = /TFT:[1-9A-HJ-NP-Za-km-z]{40,60}\?[^\s<]+/;

export interface TerminalChat {
  close(): void;
}

export function startTerminalChat(
  emu: BotApiEmulator,
  user: EmulatedUser,
  io: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream; onExit: () => void },
): TerminalChat {
  const rl = readline.createInterface({ input: io.input, output: io.output, prompt: `${ANSI.cyan}you ›${ANSI.reset} ` });
  let buttons: { messageId: number; label: string }[] = [];

  const print = (text: string) => {
    readline.clearLine(io.output, 0);
    readline.cursorTo(io.output, 0);
    io.output.write(`${text}\n`);
    rl.prompt(true);
  };

  const show = async (m: EmuMessage, edited: boolean) => {
    const body = toTerminal(m.text ?? m.caption ?? '');
    const lines = [`${ANSI.bold}bot${edited ? ' (edited)' : ''} ›${ANSI.reset} ${m.kind === 'photo' ? '[QR code image] ' : ''}${body}`];
    if (m.kind === 'document') lines.push(`${ANSI.dim}[file ${m.document?.filename}]${ANSI.reset}`);
    const kb = m.reply_markup?.inline_keyboard.flat() ?? [];
    if (kb.length) {
      const links = kb.filter((b) => b.url !== undefined);
      buttons = kb.filter((b) => b.url === undefined).map((b) => ({ messageId: m.message_id, label: b.text }));
      lines.push(...buttons.map((b, i) => `  ${ANSI.cyan}[${i + 1}]${ANSI.reset} ${b.label}`));
      lines.push(...links.map((b) => `  ${b.text}: ${ANSI.cyan}${b.url}${ANSI.reset}`));
    }
    const uri = TFT_URI.exec(m.text ?? m.caption ?? '')?.[0];
    if (uri) lines.push(await QRCode.toString(uri, { type: 'terminal', small: true }));
    print(lines.join('\n'));
  };

  const onEvent = (ev: EmuEvent) => {
    if (ev.chatId !== user.id) return;
    if ((ev.type === 'send' || ev.type === 'edit') && ev.message) void show(ev.message, ev.type === 'edit');
    if (ev.type === 'callback_answer' && ev.callbackAnswer?.text) print(`${ANSI.dim}(${ev.callbackAnswer.text})${ANSI.reset}`);
  };
  emu.on('event', onEvent);

  rl.on('line', (line) => {
    const text = line.trim();
    if (!text) return rl.prompt();
    const n = /^\d{1,2}$/.test(text) ? Number(text) : NaN;
    const button = buttons[n - 1];
    const act = button ? user.press(button.label, { messageId: button.messageId }) : user.sendText(text);
    act.catch((err: Error) => print(`${ANSI.dim}(${err.message.split('\n')[0]})${ANSI.reset}`));
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    emu.off('event', onEvent);
    rl.close();
    io.onExit();
  };
  rl.on('SIGINT', close);
  rl.on('close', close);
  rl.prompt();
  return { close };
}
