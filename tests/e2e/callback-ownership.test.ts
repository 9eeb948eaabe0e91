/**
 * Every identifier in callback data is checked against the presser. For every action the bot has
 * (ACTIONS, so a new one is covered the day it is added) and every shape of argument they take, a
 * forged button naming another user's real deployments must change nothing of theirs and show
 * nothing of theirs; so must the other user's conversation buttons (their flow token).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ACTIONS } from '../../flows/index.js';
import type { User } from '../../src/domain/user.js';
import { confirmOrder, deploy, fillOrder } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const VICTIM = 811;
const ATTACKER = 812;
const userFile = async (id: number): Promise<User> => (await h.app.store.get(id))!;

/** What of the victim a forged button could change: deployments (states, payments, extensions, nodes), credits, wallet. */
const victimState = async () => {
  const u = await userFile(VICTIM);
  const flow = await h.app.flows.get(VICTIM);
  return {
    deployments: u.deployments.map(({ updatedAt: _u, ...d }) => d),
    credits: u.credits,
    balance: await h.grid.balance(u.identity.address),
    contracts: (await h.grid.contractsOf(u.identity.address)).map((c) => `${c.contractId}:${c.state}`).sort(),
    flow: flow && { step: flow.step, token: flow.token, choices: flow.choices },
  };
};

describe('callback data is checked against the presser', () => {
  it('no action, and no conversation button, reaches another user’s deployments', async () => {
    h = await startHarness();
    const victim = h.emu.user({ id: VICTIM, first_name: 'Victim' });
    const attacker = h.emu.user({ id: ATTACKER, first_name: 'Attacker' });

    // the victim: one deployment up with a top-up waiting for its payment, one order waiting for its payment
    await deploy(victim, { name: 'victimup' });
    await h.app.worker.idle();
    await victim.sendText('/extend victimup');
    await victim.waitForText('What would you like to do?');
    await victim.press('💰 Top up the wallet');
    await victim.waitForText('How much longer');
    await victim.press(/^1 week/);
    await victim.waitFor((m) => m.kind === 'photo');
    await fillOrder(victim, { name: 'victimwait', count: '3' }); // more than the wallet covers
    await confirmOrder(victim);
    // and a conversation open on a question naming their deployments
    await victim.sendText('/delete');
    const question = await victim.waitForText('Which deployment should I delete?');
    const flowButtons = question.reply_markup!.inline_keyboard.flat().map((b) => b.callback_data!);

    const v = await userFile(VICTIM);
    const [up, waiting] = v.deployments;
    expect(up!.state).toBe('active');
    expect(up!.extension?.payment).toBeDefined();
    expect(waiting!.state).toBe('awaiting_payment');
    const secretsOfVictim = [
      'victimup',
      'victimwait',
      v.identity.address,
      up!.extension!.payment!.uri,
      waiting!.payment!.uri,
      ...up!.nodes.flatMap((n) => [n.publicIp, n.gridName].filter((x): x is string => !!x)),
    ];

    // the attacker has a wallet with money in it (so a payment button has something to spend) and no deployments
    await attacker.sendText('/start');
    const target = await attacker.waitFor(() => true);
    await h.grid.fund((await userFile(ATTACKER)).identity.address, 10_000 * 10_000_000);
    const before = await victimState();

    const args = (id: string) => [id, `${id}.0`, `${id}.1`, `${id}.on`, `${id}.off`, `${id}.`, ` ${id}`, `${id}:0`];
    const forged = [
      ...Object.keys(ACTIONS).flatMap((name) => v.deployments.flatMap((d) => args(d.id).map((a) => `a:${name}:${a}`))),
      ...flowButtons,
    ];
    for (const data of forged) {
      await attacker.pressData(target.message_id, data);
      const answer = await attacker.waitForAnswer();
      for (const s of secretsOfVictim) expect(answer.text ?? '').not.toContain(s);
    }
    await h.app.outbox.drain();
    await h.app.worker.idle();

    expect(await victimState()).toEqual(before);
    const seen = h.emu
      .chatState(ATTACKER)
      .events.flatMap((e) => [e.message?.text, e.message?.caption, e.callbackAnswer?.text])
      .filter((x): x is string => !!x)
      .join('\n');
    for (const s of secretsOfVictim) expect(seen).not.toContain(s);
    expect((await userFile(ATTACKER)).deployments).toEqual([]);

    // the same data pressed by its owner does act: the forged buttons were well-formed
    await victim.pressData(question.message_id, `a:auto:${up!.id}.off`);
    await victim.waitForText('Auto-redeploy is <b>off</b>');
    await victim.pressData(question.message_id, `a:cancelorder:${waiting!.id}`);
    expect((await victim.waitForAnswer()).text).toMatch(/Cancelling/);
  }, 60_000);
});
