/** Users: created on first contact with their own intermediate identity, whose mnemonic is sealed at rest. */
import type { Clock } from '../clock.js';
import { createIdentity } from '../chain/identity.js';
import type { SecretBox } from '../chain/secret-box.js';
import type { User } from '../domain/user.js';
import type { Identity } from '../grid/port.js';
import type { UserStore } from '../store/user-store.js';

export interface TelegramPerson {
  id: number;
  first_name?: string;
}

export class UserService {
  constructor(
    private readonly store: UserStore,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  /** The user as stored now (a flow's copy is from the start of the update). */
  current(userId: number): Promise<User | undefined> {
    return this.store.get(userId);
  }

  /** The user, created with a fresh identity on first contact. */
  async ensure(from: TelegramPerson, chatId: number): Promise<{ user: User; created: boolean }> {
    const existing = await this.store.get(from.id);
    if (existing) {
      if (existing.unreachableSince !== undefined || existing.chatId !== chatId) {
        // they wrote to us again, so they can be reached again (and from this chat)
        const user = (await this.store.update(from.id, (u) => {
          delete u.unreachableSince;
          u.chatId = chatId;
          return u;
        }))!;
        return { user, created: false };
      }
      return { user: existing, created: false };
    }
    let created = false;
    const user = await this.store.create(from.id, async () => {
      created = true;
      const id = await createIdentity();
      return {
        schema: 1,
        id: from.id,
        chatId,
        ...(from.first_name ? { firstName: from.first_name.slice(0, 64) } : {}),
        createdAt: this.clock.now(),
        identity: { address: id.address, mnemonicSealed: this.box.seal(id.mnemonic) },
        settings: {},
        credits: [],
        deployments: [],
        nextDeploymentId: 1,
        reminders: { epoch: 0, sent: [] },
        sealedWith: this.box.keyId,
      };
    });
    return { user, created };
  }

  /** The signing identity: only jobs and the wallet need it, and it never leaves the process. */
  identityOf(user: User): Identity {
    return { address: user.identity.address, mnemonic: this.box.open(user.identity.mnemonicSealed) };
  }

  /** Sets (a key already checked with parseSshKey) or removes the SSH key new VMs get. */
  async setSshKey(userId: number, key: string | undefined): Promise<User | undefined> {
    return this.store.update(userId, (u) => {
      if (key === undefined) delete u.settings.sshKey;
      else u.settings.sshKey = key;
      return u;
    });
  }

  async markUnreachable(userId: number): Promise<void> {
    await this.store.update(userId, (u) => {
      u.unreachableSince ??= this.clock.now();
    });
  }
}
