/**
 * The per-user rate limit through the real bot: one user flooding the bot cannot hold up another,
 * is told once to slow down, and gets only what the bucket allows handled.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { slowDownText } from '../../src/chat/rate-limit.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const LIMIT = { perMinute: 30, burst: 10 };
const NOT_A_COMMAND = 'I answer commands and buttons';

describe('rate limit on incoming updates', () => {
  it('a flood of 200 messages from one user does not hold up another, and is answered at the limit', async () => {
    h = await startHarness({ rateLimit: LIMIT });
    const flooder = h.emu.user({ id: 701 });
    const other = h.emu.user({ id: 702 });
    for (let i = 0; i < 200; i++) await flooder.sendText(`spam ${i}`);
    await other.sendText('/start');
    const welcome = await other.waitFor(() => true);

    // everything the flood was going to get is out once the other user's next answer is: the limiter
    // drops updates at once, so every update before it has been dealt with
    await other.sendText('/help');
    await other.waitForText('/deploy');
    await h.app.outbox.drain();

    const sends = h.emu.chatState(701).events.filter((e) => e.type === 'send');
    const welcomeSeq = h.emu.chatState(702).events.find((e) => e.type === 'send' && e.message?.message_id === welcome.message_id)!.seq;
    const answered = sends.filter((e) => e.message?.text?.includes(NOT_A_COMMAND));
    const notices = sends.filter((e) => e.message?.text === slowDownText(LIMIT.perMinute));
    // the bucket holds 10; the test is over in well under the 2 s that refill one more
    expect(answered.length).toBeGreaterThanOrEqual(LIMIT.burst);
    expect(answered.length).toBeLessThanOrEqual(LIMIT.burst + 1);
    expect(notices).toHaveLength(1);
    expect(sends).toHaveLength(answered.length + 1);
    // the other user's reply did not wait for the flood's backlog: at most what the bucket let through came first
    expect(sends.filter((e) => e.seq < welcomeSeq).length).toBeLessThanOrEqual(LIMIT.burst + 2);
  }, 30_000);

  it('answers a button pressed over the limit with a toast, so it does not spin', async () => {
    h = await startHarness({ rateLimit: { perMinute: 1, burst: 2 } });
    const u = h.emu.user({ id: 703 });
    await u.sendText('/settings');
    await u.waitForText('SSH key');
    await u.sendText('/help');
    await u.waitForText('/deploy');
    await u.press(/Add an SSH key/);
    const answer = await u.waitForAnswer();
    expect(answer.text).toMatch(/Slow down/);
    await u.waitForText(slowDownText(1));
    // still limited: no second notice within the minute
    await u.sendText('hello');
    await u.press(/Add an SSH key/);
    await u.waitForAnswer();
    await h.app.outbox.drain();
    expect(h.emu.chatState(703).events.filter((e) => e.type === 'send' && e.message?.text === slowDownText(1))).toHaveLength(1);
  }, 30_000);
});
