/** /help: every command with one line each. */
import type { OutMessage } from '../src/chat/types.js';

export function helpMessage(commands: { command: string; description: string }[]): OutMessage {
  return {
    text: [
      '<b>What I can do</b>',
      ...commands.map((c) => `/${c.command} — ${c.description}`),
      '',
      'Buttons answer my questions; you can also type the answer. /cancel leaves any question.',
    ].join('\n'),
  };
}

export const BUILTIN_COMMANDS = [
  { command: 'help', description: 'This list' },
  { command: 'cancel', description: 'Stop what we are doing; nothing is charged' },
];
