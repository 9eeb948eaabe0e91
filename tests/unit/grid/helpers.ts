import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../src/clock.js';
import type { Identity, VmDeployment, VmSpec, ZdbDeployment } from '../../../src/grid/port.js';
import { SimGrid, type SimGridOptions } from '../../../src/grid/sim/index.js';

export const T0 = Date.UTC(2026, 0, 1);

export async function tmpDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'grid-sim-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A sleep that resolves at once (the fake for deploy waits). */
export const instant = async (_ms: number): Promise<void> => undefined;

/** A sleep the test releases by hand; `entered` resolves when deploy starts waiting. */
export function gate(): { sleep: (ms: number) => Promise<void>; entered: Promise<number>; release: () => void } {
  let release!: () => void;
  let onEnter!: (ms: number) => void;
  const released = new Promise<void>((r) => (release = r));
  const entered = new Promise<number>((r) => (onEnter = r));
  return {
    sleep: async (ms: number) => {
      onEnter(ms);
      await released;
    },
    entered,
    release,
  };
}

export function who(address: string): Identity {
  return { mnemonic: `mnemonic of ${address}`, address };
}

export function vmSpec(name: string, nodeId: number, over: Partial<VmSpec> = {}): VmSpec {
  return {
    name,
    nodeId,
    cpu: 1,
    memoryMb: 1024,
    rootfsGb: 2,
    disks: [{ name: 'data', sizeGb: 10, mountpoint: '/data' }],
    flist: 'https://hub.grid.tf/tf-official-apps/base:latest.flist',
    entrypoint: '/sbin/zinit init',
    env: {},
    publicIp: false,
    mycelium: true,
    ...over,
  };
}

export function vmDeployment(name: string, machines: VmSpec[], projectName = `vm/${name}`): VmDeployment {
  return { projectName, name, machines };
}

export function zdbDeployment(name: string, nodeId: number, diskGb = 50, projectName = `zdb/${name}`): ZdbDeployment {
  return {
    projectName,
    name,
    zdbs: [{ name: `${name}0`, nodeId, mode: 'seq', diskGb, password: 'secret', publicNamespace: false }],
  };
}

export interface Harness {
  dir: string;
  clock: ManualClock;
  sim: SimGrid;
  reopen(extra?: Partial<SimGridOptions>): Promise<SimGrid>;
  cleanup(): Promise<void>;
}

/** A sim on a fresh data dir with a manual clock and an instant sleep. */
export async function harness(extra: Partial<SimGridOptions> = {}): Promise<Harness> {
  const dir = await tmpDir();
  const clock = new ManualClock(T0);
  const opened: SimGrid[] = [];
  const open = async (more: Partial<SimGridOptions> = {}): Promise<SimGrid> => {
    const s = await SimGrid.open({ dataDir: dir, clock, sleep: instant, ...extra, ...more });
    opened.push(s);
    return s;
  };
  const h: Harness = {
    dir,
    clock,
    sim: await open(),
    reopen: async (more) => {
      await h.sim.close();
      h.sim = await open(more);
      return h.sim;
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
      await removeDir(dir);
    },
  };
  return h;
}

/** An up node with at least this much free, from the sim itself. */
export async function pickNode(sim: SimGrid, free: { cru?: number; mruMb?: number; sruGb?: number; hruGb?: number }, publicIp = false): Promise<number> {
  const [n] = await sim.findNodes({ free, publicIp, limit: 1 });
  if (!n) throw new Error('no node fits');
  return n.nodeId;
}
