/**
 * /settings: the SSH public key new VMs get, so the user can log in to their nodes (as root, over
 * the public IPv4 or Mycelium). Setting or removing it changes nodes deployed from then on.
 */
import { esc } from '../src/chat/format.js';
import type { Flow } from '../src/chat/types.js';
import { parseSshKey, sshFingerprint } from '../src/domain/ssh-key.js';
import type { User } from '../src/domain/user.js';

const keyLine = (u: User) =>
  u.settings.sshKey
    ? `🔑 SSH key: <code>${esc(u.settings.sshKey.split(' ')[0]!)}</code> ${esc(sshFingerprint(u.settings.sshKey))}`
    : '🔑 SSH key: none. Nodes run without one; you reach them through their own services only.';

export const settingsFlow: Flow = {
  command: 'settings',
  description: 'Your SSH key, to log in to the nodes you deploy',
  version: 1,
  newData: () => ({}),
  begin: () => ({ goto: 'menu' }),
  steps: {
    menu: {
      ask: (c) => ({
        text: ['<b>Your settings</b>', keyLine(c.user), '', 'A key applies to nodes deployed (or replaced) from now on.'].join('\n'),
        choices: [
          { label: c.user.settings.sshKey ? '🔑 Replace the SSH key' : '🔑 Add an SSH key', value: 'set' },
          ...(c.user.settings.sshKey ? [{ label: '🗑 Remove the SSH key', value: 'remove' }] : []),
          { label: 'Done', value: 'done' },
        ],
      }),
      async onChoice(c, value) {
        if (value === 'set') return { goto: 'key' };
        if (value === 'remove') {
          await c.services.users.setSshKey(c.user.id, undefined);
          return { done: [{ text: 'SSH key removed. Nodes deployed from now on get none.' }] };
        }
        return { done: [{ text: 'Settings unchanged.' }] };
      },
      // a key pasted straight away is what most people do
      async onText(c, text) {
        return setKey(c.services.users, c.user.id, text);
      },
    },
    key: {
      ask: () => ({ text: 'Paste your SSH <b>public</b> key: one line like <code>ssh-ed25519 AAAA… you@laptop</code> (the contents of ~/.ssh/id_ed25519.pub).' }),
      onText: (c, text) => setKey(c.services.users, c.user.id, text),
    },
  },
};

async function setKey(users: { setSshKey(id: number, key: string | undefined): Promise<unknown> }, userId: number, text: string) {
  const r = parseSshKey(text);
  if (!r.ok) return { retry: r.error };
  await users.setSshKey(userId, r.key);
  return {
    done: [
      {
        text:
          `🔑 Saved your ${esc(r.type)} key (${esc(r.fingerprint)}). Nodes deployed from now on accept it: ` +
          '<code>ssh root@&lt;their address&gt;</code>, as /status shows. Running nodes keep what they had; /redeploy gives one the key.',
      },
    ],
  };
}
