/** EmulatedUser: waiting, pressing and diagnostics. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { BotApiEmulator, type EmulatedUser } from '../../../src/telegram/emulator/index.js';
import { call } from './helpers.js';

describe('EmulatedUser', () => {
  let emu: BotApiEmulator;
  let ann: EmulatedUser;
  const send = (text: string, reply_markup?: unknown) => call(emu.apiRoot, emu.token, 'sendMessage', { chat_id: ann.id, text, reply_markup });

  beforeAll(async () => {
    emu = await BotApiEmulator.start();
    ann = emu.user({ id: 77, first_name: 'Ann' });
  });
  afterAll(() => emu.stop());

  it('returns the same user object for the same id', () => {
    expect(emu.user({ id: 77 })).toBe(ann);
  });

  it('waitFor sees messages already sent since the last action and future ones, not older ones', async () => {
    await send('before');
    await ann.sendText('hello');
    await send('after 1');
    expect((await ann.waitForText('after')).text).toBe('after 1');
    const later = ann.waitForText(/after 2/);
    await send('after 2');
    expect((await later).text).toBe('after 2');
    await expect(ann.waitForText('before', { timeoutMs: 50 })).rejects.toThrow(/timed out/);
  });

  it('the timeout error lists the bot messages seen since the last action', async () => {
    await ann.sendText('/balance');
    await send('Your balance: 5 TFT', { inline_keyboard: [[{ text: 'Top up', callback_data: 'topup' }]] });
    await send('Anything else?');
    const err = await ann.waitForText('Paid', { timeoutMs: 50 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain('waitForText("Paid") timed out after 50 ms in chat 77');
    expect(msg).toContain('last action: sendText("/balance")');
    expect(msg).toContain('"Your balance: 5 TFT" [Top up]');
    expect(msg).toContain('"Anything else?"');
  });

  it('press() throws a helpful error listing the available buttons', async () => {
    await expect(ann.press('Withdraw')).rejects.toThrow(/no such button.*\n.*"Your balance: 5 TFT" \[Top up\]/);
    await expect(ann.press(/top/i)).resolves.toBeUndefined();
  });

  it('pressData can forge a callback for an unknown message', async () => {
    await ann.pressData(424242, 'forged');
    const updates = (await call(emu.apiRoot, emu.token, 'getUpdates', {})).body.result as { callback_query?: { data: string; message: { message_id: number } } }[];
    expect(updates.at(-1)?.callback_query).toMatchObject({ data: 'forged', message: { message_id: 424242 } });
  });

  it('emits events with increasing seq and sees edits', async () => {
    const seqs: number[] = [];
    emu.on('event', (ev: { seq: number }) => seqs.push(ev.seq));
    await ann.sendText('edit me');
    const sent = (await send('v1')).body.result as { message_id: number };
    await call(emu.apiRoot, emu.token, 'editMessageText', { chat_id: ann.id, message_id: sent.message_id, text: 'v2' });
    const m = await ann.waitFor((x, ev) => ev.type === 'edit');
    expect(m).toMatchObject({ text: 'v2', edits: 1 });
    expect(seqs).toHaveLength(2);
    expect(seqs[1]).toBeGreaterThan(seqs[0]!);
    expect(ann.lastMessage()?.text).toBe('v2');
  });

  it('pending waits are rejected when the emulator stops', async () => {
    const other = await BotApiEmulator.start();
    const zed = other.user({ id: 1 });
    const rejected = expect(zed.waitForText('never')).rejects.toThrow(/emulator stopped/);
    await other.stop();
    await rejected;
  });
});
