/** A real telegraf 4.16 bot, long-polling the emulator over HTTP. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import QRCode from 'qrcode';
import { Markup, Telegraf, TelegramError } from 'telegraf';
import { BotApiEmulator, type EmulatedUser } from '../../../src/telegram/emulator/index.js';

describe('telegraf bot against the emulator', () => {
  let emu: BotApiEmulator;
  let bot: Telegraf;
  let launched: Promise<void>;
  let alice: EmulatedUser;
  let qr: Buffer;
  const handlerErrors: unknown[] = [];

  beforeAll(async () => {
    qr = await QRCode.toBuffer('ton://transfer/abc?amount=5');
    emu = await BotApiEmulator.start();
    alice = emu.user({ id: 1001, first_name: 'Alice', username: 'alice' });
    bot = new Telegraf(emu.token, { telegram: { apiRoot: emu.apiRoot } });
    bot.start((ctx) => ctx.reply(`Hi ${ctx.from.first_name}!`, Markup.inlineKeyboard([
      [Markup.button.callback('Basic plan', 'plan:basic'), Markup.button.callback('Pro plan', 'plan:pro')],
      [Markup.button.url('Docs', 'https://example.com')],
    ])));
    bot.command('pay', (ctx) => ctx.replyWithPhoto({ source: qr, filename: 'qr.png' }, { caption: 'Scan to pay' }));
    bot.command('whoami', (ctx) => ctx.reply(`you are @${ctx.from.username} in chat ${ctx.chat.id}`));
    bot.action(/^plan:(\w+)$/, async (ctx) => {
      await ctx.answerCbQuery(`Chosen: ${ctx.match[1]}`);
      await ctx.editMessageText(`You chose ${ctx.match[1]}`);
    });
    bot.catch((err) => { handlerErrors.push(err); });
    await new Promise<void>((resolve) => { launched = bot.launch(() => resolve()); });
    await bot.telegram.setMyCommands([{ command: 'start', description: 'Start' }, { command: 'pay', description: 'Pay by QR' }]);
  });

  afterAll(async () => {
    bot.stop('test end');
    await launched;
    await emu.stop();
  });

  it('answers /start with a keyboard', async () => {
    await alice.sendText('/start');
    const m = await alice.waitForText('Hi Alice!');
    expect(m.reply_markup?.inline_keyboard.flat().map((b) => b.text)).toEqual(['Basic plan', 'Pro plan', 'Docs']);
    expect(emu.commands().map((c) => c.command)).toEqual(['start', 'pay']);
  });

  it('accepts /cmd@bot_username like Telegram', async () => {
    await alice.sendText('/whoami@jukebox_bot');
    await alice.waitForText('you are @alice in chat 1001');
  });

  it('receives a multipart photo with the exact bytes', async () => {
    await alice.sendText('/pay');
    const m = await alice.waitFor((x) => x.kind === 'photo');
    expect(m.caption).toBe('Scan to pay');
    expect(Buffer.isBuffer(m.photo)).toBe(true);
    expect(m.photo!.equals(qr)).toBe(true);
  });

  it('button press → callback → answerCbQuery + editMessageText', async () => {
    await alice.sendText('/start');
    const menu = await alice.waitForText('Hi Alice!');
    await alice.press('Pro plan');
    expect(await alice.waitForAnswer()).toEqual({ text: 'Chosen: pro' });
    const edited = await alice.waitFor((m, ev) => ev.type === 'edit' && m.message_id === menu.message_id);
    expect(edited.text).toBe('You chose pro');
    expect(edited.reply_markup).toBeUndefined(); // editMessageText without reply_markup drops the keyboard
    expect(edited.edits).toBe(1);
    expect(emu.messages(alice.id).find((m) => m.message_id === menu.message_id)?.text).toBe('You chose pro');
  });

  it('an injected 429 reaches telegraf as TelegramError with retry_after', async () => {
    emu.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 7', retry_after: 7 }, { chatId: alice.id });
    const err = await bot.telegram.sendMessage(alice.id, 'hello').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelegramError);
    expect((err as TelegramError).code).toBe(429);
    expect((err as TelegramError).parameters?.retry_after).toBe(7);
    await expect(bot.telegram.sendMessage(alice.id, 'hello')).resolves.toMatchObject({ text: 'hello' }); // only once
    expect(emu.stats().rejected429).toBe(1);
  });

  it('blockBot makes sends fail with 403 until unblocked', async () => {
    emu.blockBot(alice.id);
    await expect(bot.telegram.sendMessage(alice.id, 'x')).rejects.toMatchObject({
      code: 403, description: 'Forbidden: bot was blocked by the user',
    });
    emu.blockBot(alice.id, false);
    await expect(bot.telegram.sendMessage(alice.id, 'back')).resolves.toMatchObject({ text: 'back' });
  });

  it('counts calls and delivered updates; no handler errors', () => {
    const s = emu.stats();
    expect(s.calls.getMe).toBe(1);
    expect(s.calls.sendPhoto).toBe(1);
    expect(s.updatesDelivered).toBe(5); // 4 commands + 1 callback
    expect(handlerErrors).toEqual([]);
  });
});
