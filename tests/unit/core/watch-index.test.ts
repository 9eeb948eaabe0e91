/** The watch index: the users the watchdog walks, kept in step with the user files, never missing one. */
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Deployment } from '../../../src/domain/deployment.js';
import type { User } from '../../../src/domain/user.js';
import { UserStore } from '../../../src/store/user-store.js';

const user = (id: number): User => ({
  schema: 1,
  id,
  chatId: id,
  createdAt: 0,
  identity: { address: `5Addr${id}`, mnemonicSealed: 'x' },
  settings: {},
  credits: [],
  deployments: [],
  nextDeploymentId: 1,
  reminders: { epoch: 0, sent: [] },
});

const deployment = (state: Deployment['state']): Deployment => ({
  id: '1',
  name: 'n',
  profileId: 'dash-full',
  count: 1,
  placement: { kind: 'random' },
  inputs: {},
  state,
  projectName: 'jukebox/u1/d1',
  hourlyCost: 1,
  nodes: [],
  autoRedeploy: true,
  createdAt: 0,
  updatedAt: 0,
  audit: [],
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-index-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the watch index', () => {
  it('holds exactly the users with a billed deployment, on disk before their file needs it', async () => {
    await withDir(async (dir) => {
      const store = new UserStore(dir);
      for (const id of [1, 2, 3]) await store.create(id, () => user(id));
      await store.update(2, (u) => void u.deployments.push(deployment('active')));
      await store.update(3, (u) => void u.deployments.push(deployment('awaiting_payment')));
      expect(await store.watched.all()).toEqual([2]);
      const onDisk = JSON.parse(await readFile(store.watched.file, 'utf8')) as { users: number[] };
      expect(onDisk.users).toEqual([2]);

      await store.update(2, (u) => void (u.deployments[0]!.state = 'deleted'));
      await store.flush();
      expect(await store.watched.all()).toEqual([]);
      expect((JSON.parse(await readFile(store.watched.file, 'utf8')) as { users: number[] }).users).toEqual([]);
    });
  });

  it('is rebuilt from the user files when its file is missing', async () => {
    await withDir(async (dir) => {
      const first = new UserStore(dir);
      for (const id of [5, 6, 7]) await first.create(id, () => ({ ...user(id), deployments: id === 6 ? [] : [deployment('degraded')] }));
      await first.flush();
      await rm(first.watched.file, { force: true });
      const second = new UserStore(dir);
      expect(await second.watched.all()).toEqual([5, 7]);
    });
  });
});
