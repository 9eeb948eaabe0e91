/** Bot API behaviour of the emulator at the HTTP level (plain fetch, no telegraf). */
import { once } from 'node:events';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { BotApiEmulator, type EmulatedUser } from '../../../src/telegram/emulator/index.js';
import { call, type ApiReply } from './helpers.js';

describe('emulator protocol', () => {
  let emu: BotApiEmulator;
  let bob: EmulatedUser;
  const api = (method: string, params?: Record<string, unknown>): Promise<ApiReply> => call(emu.apiRoot, emu.token, method, params);
  const badRequest = (description: string) => ({ status: 400, body: { ok: false, error_code: 400, description } });

  beforeAll(async () => {
    emu = await BotApiEmulator.start();
    bob = emu.user({ id: 2002, first_name: 'Bob' });
  });
  afterAll(() => emu.stop());

  it('rejects a wrong token with 401 and unknown methods with 404', async () => {
    expect(await call(emu.apiRoot, '1:WRONG', 'getMe')).toEqual({ status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } });
    expect(await api('sendTelepathy')).toEqual({ status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } });
    expect((await api('getMe')).body.result).toMatchObject({ is_bot: true, username: 'jukebox_bot' });
  });

  it('long poll returns the update as soon as it is injected, and a second poller gets 409', async () => {
    const waiting = once(emu, 'longpoll');
    const first = api('getUpdates', { timeout: 30 });
    await waiting;
    const second = await api('getUpdates', { timeout: 30 });
    expect(second.status).toBe(409);
    expect(second.body.description).toBe('Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
    await bob.sendText('/help me');
    const got = await first;
    expect(got.body.result).toHaveLength(1);
    const update = got.body.result[0];
    expect(update.message).toMatchObject({
      text: '/help me', chat: { id: 2002, type: 'private' }, from: { id: 2002, is_bot: false, first_name: 'Bob' },
      entities: [{ offset: 0, length: 5, type: 'bot_command' }],
    });
    // confirming by offset drops it; timeout 0 answers at once
    expect((await api('getUpdates', { offset: update.update_id + 1, timeout: 0 })).body.result).toEqual([]);
  });

  it('validates text length like Telegram (4096 passes, 4097 fails) and empty text', async () => {
    expect((await api('sendMessage', { chat_id: bob.id, text: 'x'.repeat(4096) })).body.ok).toBe(true);
    expect(await api('sendMessage', { chat_id: bob.id, text: 'x'.repeat(4097) })).toEqual(badRequest('Bad Request: message is too long'));
    expect(await api('sendMessage', { chat_id: bob.id, text: '   ' })).toEqual(badRequest('Bad Request: message text is empty'));
    expect(await api('sendPhoto', { chat_id: bob.id, photo: 'file-id', caption: 'c'.repeat(1025) })).toEqual(badRequest('Bad Request: message caption is too long'));
    expect((await api('sendMessage', { chat_id: bob.id, text: '<b>5</b> TFT &lt; 6', parse_mode: 'HTML' })).body.ok).toBe(true);
    expect(await api('sendMessage', { chat_id: bob.id, text: 'price < 6', parse_mode: 'HTML' }))
      .toEqual(badRequest('Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 6'));
  });

  it('rejects callback_data over 64 bytes, empty button text and unknown chats', async () => {
    const kb = (data: string) => ({ inline_keyboard: [[{ text: 'Go', callback_data: data }]] });
    expect((await api('sendMessage', { chat_id: bob.id, text: 'ok', reply_markup: kb('é'.repeat(32)) })).body.ok).toBe(true); // 64 bytes
    expect(await api('sendMessage', { chat_id: bob.id, text: 'no', reply_markup: kb('a'.repeat(65)) })).toEqual(badRequest('Bad Request: BUTTON_DATA_INVALID'));
    expect(await api('sendMessage', { chat_id: bob.id, text: 'no', reply_markup: { inline_keyboard: [[{ text: '', callback_data: 'x' }]] } }))
      .toEqual(badRequest('Bad Request: text buttons are unallowed in the inline keyboard'));
    expect(await api('sendMessage', { chat_id: 999999, text: 'hi' })).toEqual(badRequest('Bad Request: chat not found'));
  });

  it('edit errors: not found, not modified, no text in a photo', async () => {
    const sent = (await api('sendMessage', { chat_id: bob.id, text: 'same' })).body.result;
    expect(await api('editMessageText', { chat_id: bob.id, message_id: sent.message_id, text: 'same' }))
      .toEqual(badRequest('Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message'));
    expect(await api('editMessageText', { chat_id: bob.id, message_id: 9999, text: 'x' })).toEqual(badRequest('Bad Request: message to edit not found'));
    const photo = (await api('sendPhoto', { chat_id: bob.id, photo: 'some-file-id' })).body.result;
    expect(photo.photo[0]).toMatchObject({ file_id: 'some-file-id' });
    expect(await api('editMessageText', { chat_id: bob.id, message_id: photo.message_id, text: 'x' })).toEqual(badRequest('Bad Request: there is no text in the message to edit'));
    expect((await api('deleteMessage', { chat_id: bob.id, message_id: sent.message_id })).body.result).toBe(true);
    expect(emu.messages(bob.id).some((m) => m.message_id === sent.message_id)).toBe(false);
    expect(await api('editMessageText', { chat_id: bob.id, message_id: sent.message_id, text: 'y' })).toEqual(badRequest('Bad Request: message to edit not found'));
  });

  it('answerCallbackQuery: unknown id, too long text, answered once', async () => {
    const sent = (await api('sendMessage', { chat_id: bob.id, text: 'menu', reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] } })).body.result;
    await bob.press('A');
    const updates = (await api('getUpdates', { timeout: 0 })).body.result;
    const cq = updates.at(-1).callback_query;
    expect(cq).toMatchObject({ data: 'a', from: { id: bob.id }, message: { message_id: sent.message_id, text: 'menu' } });
    expect(await api('answerCallbackQuery', { callback_query_id: 'nope' }))
      .toEqual(badRequest('Bad Request: query is too old and response timeout expired or query ID is invalid'));
    expect(await api('answerCallbackQuery', { callback_query_id: cq.id, text: 'x'.repeat(201) })).toEqual(badRequest('Bad Request: MESSAGE_TOO_LONG'));
    expect((await api('answerCallbackQuery', { callback_query_id: cq.id, text: 'ok', show_alert: true })).body.ok).toBe(true);
    expect(await bob.waitForAnswer()).toEqual({ text: 'ok', show_alert: true });
  });

  it('parses multipart and urlencoded bodies', async () => {
    const form = new FormData();
    form.append('chat_id', String(bob.id));
    form.append('caption', 'invoice');
    form.append('reply_markup', JSON.stringify({ inline_keyboard: [[{ text: 'Paid', callback_data: 'paid' }]] }));
    form.append('document', new Blob([Buffer.from('a,b\n1,2\n')]), 'invoice.csv');
    const res = await fetch(new URL(`./bot${emu.token}/sendDocument`, emu.apiRoot), { method: 'POST', body: form });
    expect(((await res.json()) as ApiReply['body']).result.document).toMatchObject({ file_name: 'invoice.csv', file_size: 8 });
    const doc = bob.lastMessage()!;
    expect(doc).toMatchObject({ kind: 'document', caption: 'invoice', document: { filename: 'invoice.csv' } });
    expect(doc.document!.bytes.toString()).toBe('a,b\n1,2\n');
    expect(doc.reply_markup?.inline_keyboard[0]![0]!.callback_data).toBe('paid');
    const url = await fetch(new URL(`./bot${emu.token}/sendMessage`, emu.apiRoot), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ chat_id: String(bob.id), text: 'form' }),
    });
    expect(((await url.json()) as ApiReply['body']).result.text).toBe('form');
  });

  it('failNext applies `times` times and only to the given chat', async () => {
    const carol = emu.user({ id: 3003 });
    emu.failNext('sendMessage', { error_code: 400, description: 'Bad Request: injected' }, { chatId: carol.id, times: 2 });
    expect((await api('sendMessage', { chat_id: bob.id, text: 'bob ok' })).body.ok).toBe(true);
    expect((await api('sendMessage', { chat_id: carol.id, text: '1' })).body.description).toBe('Bad Request: injected');
    expect((await api('sendMessage', { chat_id: carol.id, text: '2' })).body.description).toBe('Bad Request: injected');
    expect((await api('sendMessage', { chat_id: carol.id, text: '3' })).body.ok).toBe(true);
  });

  it('setMyCommands validates names', async () => {
    expect(await api('setMyCommands', { commands: [{ command: 'Start', description: 'x' }] })).toEqual(badRequest('Bad Request: BOT_COMMAND_INVALID'));
    expect((await api('setMyCommands', { commands: [{ command: 'help', description: 'Help' }] })).body.ok).toBe(true);
    expect((await api('getMyCommands')).body.result).toEqual([{ command: 'help', description: 'Help' }]);
  });
});

describe('emulator flood limits', () => {
  it('a burst to one chat beyond the burst size gets 429 with retry_after', async () => {
    const emu = await BotApiEmulator.start({ limits: { globalPerSecond: 30, perChatPerSecond: 1, burst: 3 } });
    try {
      const dan = emu.user({ id: 4004 });
      const eve = emu.user({ id: 5005 });
      const replies = [];
      for (let i = 0; i < 5; i++) replies.push(await call(emu.apiRoot, emu.token, 'sendMessage', { chat_id: dan.id, text: `m${i}` }));
      expect(replies.slice(0, 3).every((r) => r.status === 200)).toBe(true);
      expect(replies[3]).toMatchObject({ status: 429, body: { error_code: 429, parameters: { retry_after: 1 } } });
      expect(replies[3]!.body.description).toBe('Too Many Requests: retry after 1');
      // another chat is not affected
      expect((await call(emu.apiRoot, emu.token, 'sendMessage', { chat_id: eve.id, text: 'hi' })).status).toBe(200);
      expect(emu.stats().rejected429).toBe(2);
      expect(emu.messages(dan.id)).toHaveLength(3);
    } finally {
      await emu.stop();
    }
  });
});
