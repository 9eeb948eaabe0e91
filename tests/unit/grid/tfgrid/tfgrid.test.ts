import { beforeEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../../src/clock.js';
import type { Logger } from '../../../../src/log.js';
import { GridError, type Identity, type VmDeployment, type ZdbDeployment } from '../../../../src/grid/port.js';
import type { GridClientLike, ZmachineDataShape } from '../../../../src/grid/tfgrid/client-seam.js';
import { DEV_SETTINGS, GB, GridWorld, T, fakeGridClient, gridNode, isLive, metaOf, type FakeGridClient } from '../../../helpers/fake-grid-client.js';
import { GRACE_MESSAGE, networkNameOf } from '../../../../src/grid/tfgrid/models.js';
import type { ClientPool, TwinRegistrar } from '../../../../src/grid/tfgrid/seams.js';
import { TfGrid } from '../../../../src/grid/tfgrid/tfgrid.js';

const HOUR = 3_600_000;
const OPERATOR: Identity = { mnemonic: 'operator words that must stay secret always', address: 'op-addr' };
const ALICE: Identity = { mnemonic: 'alice words that must stay secret always', address: 'alice-addr' };
const OP_TWIN = 1;
const ALICE_TWIN = 7001;
const P = 'jukebox/u7/d3';
const FLIST = 'https://hub.grid.tf/tf-official-apps/base:latest.flist';

const settings = DEV_SETTINGS;

interface LogLine {
  level: 'warn' | 'error' | 'debug' | 'info';
  obj: Record<string, unknown>;
  msg: string;
}

function fakeLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg });
  return { lines, log: { warn: at('warn'), error: at('error'), debug: at('debug'), info: at('info') } as unknown as Logger };
}

let world: GridWorld;
let op: FakeGridClient;
let alice: FakeGridClient;
let used: string[];
let grid: TfGrid;
let lines: LogLine[];
let clock: ManualClock;
let registrar: TwinRegistrar & { seen: Identity[] };

function build(reg?: TwinRegistrar['ensureTwin']): void {
  used = [];
  const clients = new Map<string, GridClientLike>([
    [OPERATOR.address, op],
    [ALICE.address, alice],
  ]);
  const pool: ClientPool<GridClientLike> = {
    size: 0,
    close: async () => undefined,
    use: async (id, fn) => {
      used.push(id.address);
      const c = clients.get(id.address);
      // what grid_client's connect throws for an account without a twin
      if (!c) throw new T.TwinNotExistError(`Couldn't find a user for the provided mnemonic ${id.mnemonic} on dev network.`);
      return fn(c);
    },
  };
  const seen: Identity[] = [];
  registrar = {
    seen,
    ensureTwin: reg ?? (async (id) => (seen.push(id), ALICE_TWIN)),
  };
  const l = fakeLog();
  lines = l.lines;
  clock = new ManualClock(Date.UTC(2026, 0, 2));
  grid = new TfGrid({ settings, pool, registrar, operator: OPERATOR, log: l.log, clock });
}

beforeEach(() => {
  world = new GridWorld();
  op = fakeGridClient(world, OP_TWIN);
  alice = fakeGridClient(world, ALICE_TWIN);
  build();
});

function vmDeployment(name = 'btc_0', over: Partial<VmDeployment['machines'][number]> = {}): VmDeployment {
  return {
    projectName: P,
    name,
    machines: [
      {
        name,
        nodeId: 42,
        cpu: 2,
        memoryMb: 4096,
        rootfsGb: 2,
        disks: [{ name: 'chain', sizeGb: 500, mountpoint: '/data' }],
        flist: FLIST,
        entrypoint: '/sbin/zinit init',
        env: { SSH_KEY: 'ssh-ed25519 AAAAC3Nz me@laptop', RPC_PASSWORD: 'rpc-pass-123' },
        publicIp: true,
        mycelium: true,
        ...over,
      },
    ],
  };
}

const zdbDeployment = (): ZdbDeployment => ({
  projectName: 'jukebox/u7/d4',
  name: 'store0b1',
  zdbs: [
    { name: 'store0b1', nodeId: 17, mode: 'seq', diskGb: 50, password: 'zdb-pass-123', publicNamespace: false },
    { name: 'store0b2', nodeId: 18, mode: 'user', diskGb: 1, password: 'zdb-pass-123', publicNamespace: false },
  ],
});

async function gridError(p: Promise<unknown>): Promise<GridError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GridError);
    return e as GridError;
  }
  throw new Error('expected a GridError');
}

const live = (id: number) => isLive(world.row(id)!);

// ------------------------------------------------------------------ deployments

describe('deployVms', () => {
  it("deploys the machines model on a module of the deployment's project, with the user's client", async () => {
    const out = await grid.deployVms(ALICE, vmDeployment());
    expect(used).toEqual([ALICE.address]);
    expect(alice.calls.projects).toEqual([P]);
    expect(world.deployed).toHaveLength(1);
    const { projectName, type, model } = world.deployed[0]!;
    expect(projectName).toBe(P);
    expect(type).toBe('vm');
    expect(model).toEqual({
      name: 'btc_0',
      network: { name: networkNameOf(P, 'btc_0'), ip_range: expect.stringMatching(/^10\.\d+\.0\.0\/16$/), addAccess: false },
      machines: [
        {
          name: 'btc_0',
          node_id: 42,
          cpu: 2,
          memory: 4096,
          rootfs_size: 2,
          disks: [{ name: 'chain', size: 500, mountpoint: '/data' }],
          flist: FLIST,
          entrypoint: '/sbin/zinit init',
          env: { SSH_KEY: 'ssh-ed25519 AAAAC3Nz me@laptop', RPC_PASSWORD: 'rpc-pass-123' },
          public_ip: true,
          public_ip6: false,
          planetary: false,
          mycelium: true,
        },
      ],
      description: `jukebox ${P}`,
    });
    // the VM contract, not the network contract grid_client made next to it
    const vmRow = world.rows.find((r) => metaOf(r).type === 'vm')!;
    expect(world.rows.some((r) => metaOf(r).type === 'network-light' && metaOf(r).name === networkNameOf(P, 'btc_0'))).toBe(true);
    expect(out).toEqual({ contractIds: [vmRow.contractID] });
  });

  it('refuses a name taken in the exact project, not a name in a project it prefixes', async () => {
    world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: `${P}1` }, 40);
    await expect(grid.deployVms(ALICE, vmDeployment())).resolves.toEqual({ contractIds: [expect.any(Number)] });
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.code).toBe('name_taken');
    expect(e.message).toBe(`a deployment named "btc_0" already exists in project "${P}"`);
    expect(world.deployed).toHaveLength(1);
  });

  it('a deleted deployment of that name does not take it', async () => {
    world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 40, { state: 'Deleted' });
    await expect(grid.deployVms(ALICE, vmDeployment())).resolves.toBeDefined();
  });

  it('reports the contracts grid_client rolled back', async () => {
    world.failure = { error: new T.TimeoutError('Deployment with contract_id: 1001 failed to be ready after 10 minutes.'), afterCreate: true, rollback: true };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.code).toBe('timeout');
    const ids = world.rows.map((r) => r.contractID);
    expect(ids).toHaveLength(2); // the network and the VM
    expect(e.rolledBack).toEqual(ids);
    expect(world.rollbacks).toBe(1);
    expect(ids.every((id) => !live(id))).toBe(true);
    expect(world.cancelled).toEqual([]); // nothing left for the adapter to cancel
    expect(e.message).toBe(`deploy vm deployment "btc_0" of project "${P}": Deployment with contract_id: 1001 failed to be ready after 10 minutes.`);
  });

  it("relies on grid_client's rollback list while GraphQL has not seen the new contracts", async () => {
    world.rollbackLeaves.add(1001);
    world.failure = { error: new T.TimeoutError('failed to be ready'), afterCreate: true, rollback: true, unindexed: true };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.rolledBack).toEqual([1000, 1001]);
    expect(world.cancelled).toEqual([1001]);
  });

  it('cancels a contract the rollback left alive, and reports it', async () => {
    world.rollbackLeaves.add(1001); // the VM contract (the network is 1000)
    world.failure = {
      error: new T.GridClientErrors.Workloads.WorkloadDeployError('Failed to deploy zmachine with name btc_0 on node 42 due to: flist not found.'),
      afterCreate: true,
      rollback: true,
    };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.code).toBe('workload_error');
    expect(e.rolledBack).toEqual([1000, 1001]);
    expect(world.cancelled).toEqual([1001]);
    expect(live(1001)).toBe(false);
    expect(lines.filter((l) => l.level === 'warn').map((l) => [l.msg, l.obj.contract])).toEqual([['cancelled a contract the failed deployment left alive', 1001]]);
  });

  it('finds the contracts of a failure that never reached the rollback, and cancels them', async () => {
    world.failure = { error: new Error('EACCES: permission denied, open contracts.json'), afterCreate: true, rollback: false };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(world.rollbacks).toBe(0);
    expect(e.rolledBack).toEqual([1000, 1001]);
    expect(world.cancelled).toEqual([1000, 1001]);
    expect(e.code).toBe('workload_error'); // a deploy that failed for no known reason
  });

  it('does not take older contracts of the project for this failure', async () => {
    const old = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 40, { state: 'Deleted' });
    const other = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_1', projectName: P }, 41);
    world.failure = { error: new Error('boom'), afterCreate: true, rollback: false };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.rolledBack).not.toContain(old.contractID);
    expect(e.rolledBack).not.toContain(other.contractID);
    expect(live(other.contractID)).toBe(true);
  });

  it('leaves out, and logs as an error, a contract it could not cancel', async () => {
    world.rollbackLeaves.add(1001);
    world.cancelFails.add(1001);
    world.failure = { error: new T.TimeoutError('failed to be ready'), afterCreate: true, rollback: true };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.rolledBack).toEqual([1000]);
    expect(live(1001)).toBe(true);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.obj.contract).toBe(1001);
    expect(errors[0]!.msg).toBe('could not cancel a contract of a failed deployment: it is still billed');
  });

  it('reports nothing rolled back when it failed before creating anything', async () => {
    world.failure = { error: new T.ValidationError('Balance is not enough to apply an extrinsic.'), afterCreate: false, rollback: false };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.code).toBe('insufficient_funds');
    expect(e.rolledBack).toEqual([]);
    expect(world.rows).toEqual([]);
  });

  it('never puts a mnemonic or an env value in the message', async () => {
    world.failure = {
      error: new Error(`bad input ${ALICE.mnemonic} with RPC_PASSWORD=rpc-pass-123 and ${OPERATOR.mnemonic}`),
      afterCreate: false,
      rollback: false,
    };
    const e = await gridError(grid.deployVms(ALICE, vmDeployment()));
    expect(e.message).not.toContain(ALICE.mnemonic);
    expect(e.message).not.toContain(OPERATOR.mnemonic);
    expect(e.message).not.toContain('rpc-pass-123');
    expect(e.message).toContain('RPC_PASSWORD=<secret>');
  });

  it('refuses an invalid deployment before reaching the grid', async () => {
    const e = await gridError(grid.deployVms(ALICE, vmDeployment('bad-name')));
    expect(e.code).toBe('invalid');
    expect(used).toEqual([]);
  });
});

describe('deployZdbs', () => {
  it('deploys the zdbs model and returns every zdb contract', async () => {
    const out = await grid.deployZdbs(ALICE, zdbDeployment());
    expect(world.deployed[0]).toEqual({
      projectName: 'jukebox/u7/d4',
      type: 'zdb',
      model: {
        name: 'store0b1',
        zdbs: [
          { name: 'store0b1', node_id: 17, mode: 'seq', disk_size: 50, publicNamespace: false, password: 'zdb-pass-123' },
          { name: 'store0b2', node_id: 18, mode: 'user', disk_size: 1, publicNamespace: false, password: 'zdb-pass-123' },
        ],
        description: 'jukebox jukebox/u7/d4',
      },
    });
    expect(out.contractIds).toEqual(world.rows.map((r) => r.contractID));
    expect(out.contractIds).toHaveLength(2);
  });

  it('rolls back a failed zdb deployment too', async () => {
    world.failure = { error: new T.GridClientErrors.Nodes.InvalidResourcesError("Node 17 doesn't have enough resources: hru=50 ."), afterCreate: true, rollback: true };
    const e = await gridError(grid.deployZdbs(ALICE, zdbDeployment()));
    expect(e.code).toBe('no_capacity');
    expect(e.rolledBack).toEqual([1000, 1001]);
  });
});

// ------------------------------------------------------------------ reads

describe('getVms and getZdbs', () => {
  const zm = (contractId: number, over: Partial<ZmachineDataShape> = {}): ZmachineDataShape => ({
    contractId,
    nodeId: '42',
    name: 'btc_0',
    status: 'ok',
    message: '',
    publicIP: { ip: '185.69.166.12/24', ip6: '', gateway: '185.69.166.1' },
    myceliumIP: '5b4::1',
    interfaces: [{ network: 'n', ip: '10.20.2.2' }],
    env: { SSH_KEY: 'k' },
    ...over,
  });

  it('reads the exact project through a module of that project', async () => {
    const mine = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 42);
    const longer = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: `${P}1` }, 42);
    world.zmachines.set(mine.contractID, zm(mine.contractID));
    world.zmachines.set(longer.contractID, zm(longer.contractID));
    const vms = await grid.getVms(ALICE, P, 'btc_0');
    expect(alice.calls.projects).toEqual([P]);
    expect(vms).toEqual([
      {
        name: 'btc_0',
        nodeId: 42,
        contractId: mine.contractID,
        state: 'ok',
        publicIp: '185.69.166.12/24',
        mycelium: '5b4::1',
        privateIp: '10.20.2.2',
        env: { SSH_KEY: 'k' },
      },
    ]);
  });

  it('reads grace as error and a silent node as error, never as gone', async () => {
    const grace = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 42, { state: 'GracePeriod' });
    const silent = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 43);
    world.zmachines.set(grace.contractID, zm(grace.contractID));
    world.zmachines.set(silent.contractID, zm(silent.contractID));
    world.unreachable.add(43);
    const vms = await grid.getVms(ALICE, P, 'btc_0');
    expect(vms.map((v) => [v.contractId, v.state, v.message])).toEqual([
      [grace.contractID, 'error', GRACE_MESSAGE],
      [silent.contractID, 'error', `node 43 did not report the workloads of contract ${silent.contractID} (node unreachable or workloads gone)`],
    ]);
  });

  it('returns [] for an unknown name, and refuses an empty project', async () => {
    await expect(grid.getVms(ALICE, P, 'nothing')).resolves.toEqual([]);
    expect((await gridError(grid.getVms(ALICE, '', 'x'))).code).toBe('invalid');
  });

  it('reads zdbs', async () => {
    const z = world.add(ALICE_TWIN, { type: 'zdb', name: 'store0b1', projectName: 'jukebox/u7/d4' }, 17);
    world.zdbData.set(z.contractID, {
      contractId: z.contractID,
      nodeId: 17,
      name: 'store0b1',
      status: 'init',
      message: '',
      size: 50,
      mode: 'seq',
      resData: { Namespace: 'ns', IPs: ['2a02::1'], Port: 9900 },
    });
    await expect(grid.getZdbs(ALICE, 'jukebox/u7/d4', 'store0b1')).resolves.toEqual([
      { name: 'store0b1', nodeId: 17, contractId: z.contractID, state: 'init', namespace: 'ns', ips: ['2a02::1'], port: 9900, sizeGb: 50, mode: 'seq' },
    ]);
  });
});

describe('deleteDeployment', () => {
  it('returns [] for a name nobody has, deleting nothing', async () => {
    world.add(ALICE_TWIN, { type: 'vm', name: 'btc_1', projectName: P }, 42);
    await expect(grid.deleteDeployment(ALICE, P, 'btc_0')).resolves.toEqual([]);
    expect(world.moduleDeletes).toEqual([]);
    expect(alice.calls.cancelAttempts).toEqual([]);
  });

  it('deletes a vm deployment by cancelling its contracts, network included, without grid_client\'s delete (which asks KYC)', async () => {
    await grid.deployVms(ALICE, vmDeployment());
    const ids = world.rows.map((r) => r.contractID);
    await expect(grid.deleteDeployment(ALICE, P, 'btc_0')).resolves.toEqual(ids);
    expect(world.moduleDeletes).toEqual([]);
    expect(world.cancelled.sort()).toEqual(ids);
    expect(ids.every((id) => !live(id))).toBe(true);
  });

  it('cancels on chain what grid_client skipped (a node that does not answer)', async () => {
    await grid.deployVms(ALICE, vmDeployment());
    world.unreachable.add(42);
    await expect(grid.deleteDeployment(ALICE, P, 'btc_0')).resolves.toEqual([1000, 1001]);
    expect(world.cancelled.sort()).toEqual([1000, 1001]);
  });

  it('does not let grid_client take a same-named deployment of a longer project', async () => {
    const mine = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 42);
    const theirs = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: `${P}1` }, 42);
    await expect(grid.deleteDeployment(ALICE, P, 'btc_0')).resolves.toEqual([mine.contractID]);
    expect(world.moduleDeletes).toEqual([]);
    expect(live(theirs.contractID)).toBe(true);
  });

  it('deletes zdb deployments by cancelling their contracts', async () => {
    const out = await grid.deployZdbs(ALICE, zdbDeployment());
    await expect(grid.deleteDeployment(ALICE, 'jukebox/u7/d4', 'store0b1')).resolves.toEqual(out.contractIds);
    expect(world.moduleDeletes).toEqual([]);
    expect(world.cancelled.sort()).toEqual(out.contractIds);
  });
});

// ------------------------------------------------------------------ contracts

describe('listContracts', () => {
  it('lists under the prefix with costs, states and grace', async () => {
    const vm = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 42, { numberOfPublicIPs: 1 });
    world.add(ALICE_TWIN, { type: 'network-light', name: networkNameOf(P, 'btc_0'), projectName: P }, 42);
    const grace = world.add(ALICE_TWIN, { type: 'zdb', name: 'store0b1', projectName: 'jukebox/u7/d4' }, 17, { state: 'GracePeriod' });
    const gone = world.add(ALICE_TWIN, { type: 'vm', name: 'old_0', projectName: P }, 42, { state: 'OutOfFunds' });
    world.add(ALICE_TWIN, { type: 'vm', name: 'x', projectName: 'jukebox/u8/d1' }, 42);
    world.add(OP_TWIN, { type: 'vm', name: 'y', projectName: P }, 42);
    world.consumption.set(vm.contractID, 0.1234567); // TFT per hour
    world.consumption.set(grace.contractID, 0.01);
    world.consumption.set(gone.contractID, 0.5);
    world.deletionTime.set(grace.contractID, Date.UTC(2026, 0, 20));

    const created = Date.UTC(2026, 0, 1);
    expect(await grid.listContracts(ALICE, { projectPrefix: 'jukebox/u7/' })).toEqual([
      { contractId: vm.contractID, nodeId: 42, state: 'created', createdAt: created, projectName: P, deploymentName: 'btc_0', type: 'vm', hourlyCost: 1_234_567 },
      {
        contractId: grace.contractID,
        nodeId: 17,
        state: 'grace',
        createdAt: created,
        projectName: 'jukebox/u7/d4',
        deploymentName: 'store0b1',
        type: 'zdb',
        hourlyCost: 100_000,
        graceStartedAt: Date.UTC(2026, 0, 6),
      },
    ]);
    const withDeleted = await grid.listContracts(ALICE, { projectPrefix: 'jukebox/u7/', includeDeleted: true });
    expect(withDeleted.map((c) => [c.contractId, c.state, c.deletedCause, c.hourlyCost])).toEqual([
      [vm.contractID, 'created', undefined, 1_234_567],
      [grace.contractID, 'grace', undefined, 100_000],
      [gone.contractID, 'deleted', 'out_of_funds', 5_000_000],
    ]);
    expect((await grid.listContracts(ALICE)).map((c) => c.projectName)).toEqual([P, 'jukebox/u7/d4', 'jukebox/u8/d1']);
  });

  it('estimates a contract not billed yet from what it reserves on chain', async () => {
    const vm = world.add(ALICE_TWIN, { type: 'vm', name: 'btc_0', projectName: P }, 42, { numberOfPublicIPs: 1 });
    world.resources.set(vm.contractID, { cru: 2, mru: 4 * GB, sru: 50 * GB, hru: 0 });
    world.nodes.push(node(42, { certificationType: 'Certified' }));
    const [c] = await grid.listContracts(ALICE);
    // (2×1 + 4×0.5 + 50×0.01) × 1.25 = 5.625 USD, one IP 3 × 1.25 = 3.75 USD a month; 9.375/720/0.01 TFT an hour
    expect(c!.hourlyCost).toBe(13_020_834);
    expect(alice.calls.calculate).toEqual([
      { cru: 2, mru: 4, sru: 50, hru: 0, ipv4u: false, certified: true },
      { cru: 0, mru: 0, sru: 0, hru: 0, ipv4u: true, certified: true },
    ]);
  });

  it('caches costs: a deleted contract for good, a billed one for an hour', async () => {
    const vm = world.add(ALICE_TWIN, { type: 'vm', name: 'a', projectName: P }, 42);
    const old = world.add(ALICE_TWIN, { type: 'vm', name: 'b', projectName: P }, 42, { state: 'Deleted' });
    world.consumption.set(vm.contractID, 0.2);
    world.consumption.set(old.contractID, 0.3);
    await grid.listContracts(ALICE, { includeDeleted: true });
    expect(world.consumptionCalls).toBe(2);
    world.consumption.set(vm.contractID, 0.4);
    expect((await grid.listContracts(ALICE))[0]!.hourlyCost).toBe(2_000_000);
    expect(world.consumptionCalls).toBe(2);
    clock.advance(HOUR + 1);
    expect((await grid.listContracts(ALICE, { includeDeleted: true })).map((c) => c.hourlyCost)).toEqual([4_000_000, 3_000_000]);
    expect(world.consumptionCalls).toBe(3);
  });

  it('shows a network contract once its VM is gone, so sweeps cancel it', async () => {
    const net = world.add(ALICE_TWIN, { type: 'network-light', name: networkNameOf(P, 'btc_0'), projectName: P }, 42);
    const [c] = await grid.listContracts(ALICE, { projectPrefix: P });
    expect(c).toMatchObject({ contractId: net.contractID, type: 'vm', deploymentName: networkNameOf(P, 'btc_0') });
  });
});

describe('cancelContract', () => {
  it('cancels a contract of ours, and its network when no VM of it is left on that node', async () => {
    await grid.deployVms(ALICE, vmDeployment());
    await grid.cancelContract(ALICE, 1001);
    expect(world.cancelled).toEqual([1001, 1000]);
  });

  it('keeps the network while another VM of the deployment runs on that node', async () => {
    const d = vmDeployment();
    d.machines.push({ ...d.machines[0]!, name: 'btc_0b' });
    await grid.deployVms(ALICE, d); // network 1000, VMs 1001 and 1002 on node 42
    await grid.cancelContract(ALICE, 1001);
    expect(world.cancelled).toEqual([1001]);
    expect(live(1000)).toBe(true);
  });

  it("refuses someone else's contract and an unknown one", async () => {
    const theirs = world.add(OP_TWIN, { type: 'vm', name: 'x', projectName: P }, 42);
    expect((await gridError(grid.cancelContract(ALICE, theirs.contractID))).code).toBe('not_found');
    expect(live(theirs.contractID)).toBe(true);
    const e = await gridError(grid.cancelContract(ALICE, 424242));
    expect(e.code).toBe('not_found');
    expect(e.message).toBe('contract 424242 not found among your contracts');
  });

  it('does nothing for a contract of ours already deleted', async () => {
    const old = world.add(ALICE_TWIN, { type: 'vm', name: 'x', projectName: P }, 42, { state: 'Deleted' });
    await grid.cancelContract(ALICE, old.contractID);
    expect(alice.calls.cancelAttempts).toEqual([]);
  });
});

// ------------------------------------------------------------------ prices and nodes

describe('hourlyCost', () => {
  it("prices with the operator's calculator, IPs one by one, in units per hour", async () => {
    world.usdPerTft = 0.02;
    const units = await grid.hourlyCost({ cru: 2, mruMb: 2048, sruGb: 100, hruGb: 1000, publicIps: 2, certified: false });
    expect(used).toEqual([OPERATOR.address]);
    expect(op.calls.calculate).toEqual([
      { cru: 2, mru: 2, sru: 100, hru: 1000, ipv4u: false, certified: false },
      { cru: 0, mru: 0, sru: 0, hru: 0, ipv4u: true, certified: false },
    ]);
    // 2 + 1 + 1 + 1 = 5 USD, plus 2 × 3 USD = 11 USD a month → 11/720 USD an hour → /0.02 TFT → ×1e7 units
    expect(units).toBe(Math.ceil(((11 / 720) * 1e7) / 0.02));
    expect(units).toBe(7_638_889);
  });

  it('asks once without public IPs', async () => {
    await grid.hourlyCost({ cru: 1, mruMb: 1024, sruGb: 0, hruGb: 0, publicIps: 0, certified: true });
    expect(op.calls.calculate).toEqual([{ cru: 1, mru: 1, sru: 0, hru: 0, ipv4u: false, certified: true }]);
  });

  it('refuses negative or fractional inputs without asking the grid', async () => {
    expect((await gridError(grid.hourlyCost({ cru: -1, mruMb: 0, sruGb: 0, hruGb: 0, publicIps: 0, certified: false }))).code).toBe('invalid');
    expect((await gridError(grid.hourlyCost({ cru: 1, mruMb: 0, sruGb: 0, hruGb: 0, publicIps: 0.5, certified: false }))).code).toBe('invalid');
    expect(used).toEqual([]);
  });
});

const node = gridNode;

describe('findNodes and getNode', () => {
  it("searches with the operator's client, in filterNodes units, then applies the sim's rules", async () => {
    world.nodes.push(
      node(1),
      node(2, { used_resources: { cru: 14, mru: 0, sru: 0, hru: 0 } }), // 2 free vCPUs: too few
      node(3, { rented: true }),
      node(4, { used_resources: { cru: 0, mru: 0, sru: 0, hru: 0 } }), // 16 free: first
      node(5, { inDedicatedFarm: true }),
    );
    const found = await grid.findNodes({ free: { cru: 4, mruMb: 8192, sruGb: 500 }, publicIp: true, country: 'Belgium', excludeNodeIds: [9] });
    expect(used).toEqual([OPERATOR.address]);
    expect(op.calls.filterNodes).toEqual([
      { cru: 4, mru: 8, sru: 500, publicIPs: true, country: 'Belgium', status: 'up', healthy: true, availableFor: OP_TWIN, page: 1, size: 100 },
    ]);
    expect(found.map((n) => n.nodeId)).toEqual([4, 1]);
    expect(found[1]).toEqual({
      nodeId: 1,
      farmId: 1,
      farmName: 'farm1',
      country: 'Belgium',
      city: 'Ghent',
      status: 'up',
      certified: false,
      uptimeSec: 1000,
      total: { cru: 16, mruMb: 65536, sruGb: 2000, hruGb: 8000 },
      used: { cru: 4, mruMb: 8192, sruGb: 100, hruGb: 0 },
      publicIps: { total: 2, free: 2 },
    });
  });

  it('pages until a short page, or until the limit is met', async () => {
    for (let i = 1; i <= 150; i++) world.nodes.push(node(i));
    expect(await grid.findNodes({})).toHaveLength(150);
    expect(op.calls.filterNodes.map((o) => o.page)).toEqual([1, 2]);
    op.calls.filterNodes.length = 0;
    expect((await grid.findNodes({ limit: 10 })).map((n) => n.nodeId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(op.calls.filterNodes.map((o) => o.page)).toEqual([1]);
  });

  it("asks for each status when any will do, and uptime counts only for nodes up", async () => {
    world.nodes.push(node(1), node(2, { status: 'down' }), node(3, { status: 'standby' }));
    const found = await grid.findNodes({ status: 'any' });
    expect(op.calls.filterNodes.map((o) => [o.status, o.healthy])).toEqual([
      ['up', true],
      ['standby', undefined],
      ['down', undefined],
    ]);
    expect(found.map((n) => [n.nodeId, n.status, n.uptimeSec])).toEqual([
      [1, 'up', 1000],
      [2, 'down', 0],
      [3, 'standby', 0],
    ]);
    expect((await grid.findNodes({ status: 'down' })).map((n) => n.nodeId)).toEqual([2]);
  });

  it('looks given nodes up one by one', async () => {
    world.nodes.push(node(1), node(2, { status: 'down' }), node(3));
    expect((await grid.findNodes({ nodeIds: [3, 2, 1, 3, 99] })).map((n) => n.nodeId)).toEqual([1, 3]);
    expect(op.calls.filterNodes).toEqual([]);
    expect(op.calls.getNode.sort()).toEqual([1, 2, 3, 99]);
  });

  it('checks the limit', async () => {
    await expect(grid.findNodes({ limit: 0 })).resolves.toEqual([]);
    expect((await gridError(grid.findNodes({ limit: -1 }))).code).toBe('invalid');
    expect(used).toEqual([]);
  });

  it('gets one node of any status, or undefined', async () => {
    world.nodes.push(node(7, { status: 'down', certificationType: 'Certified' }));
    await expect(grid.getNode(7)).resolves.toMatchObject({ nodeId: 7, status: 'down', certified: true, uptimeSec: 0 });
    await expect(grid.getNode(8)).resolves.toBeUndefined();
  });
});

describe('twins and failures of the client', () => {
  it('delegates ensureTwin to the registrar', async () => {
    await expect(grid.ensureTwin(ALICE)).resolves.toBe(ALICE_TWIN);
    expect(registrar.seen).toEqual([ALICE]);
  });

  it('maps a registrar failure, without the mnemonic', async () => {
    build(async (id) => {
      throw new T.RequestError(`HTTP request failed due to Bad Gateway for ${id.mnemonic}.`);
    });
    const e = await gridError(grid.ensureTwin(ALICE));
    expect(e.code).toBe('unavailable');
    expect(e.message).not.toContain(ALICE.mnemonic);
  });

  it('answers for an identity without a twin as the simulated grid does', async () => {
    // grid_client cannot even connect for it (TwinNotExistError)
    const bob: Identity = { mnemonic: 'bob words that must stay secret always', address: 'bob-addr' };
    const e = await gridError(grid.deployVms(bob, vmDeployment()));
    expect(e.code).toBe('no_twin');
    expect(e.message).toBe(`deploy vm deployment "btc_0" of project "${P}": Couldn't find a user for the provided mnemonic <secret> on dev network.`);
    await expect(grid.getVms(bob, P, 'x')).resolves.toEqual([]);
    await expect(grid.getZdbs(bob, P, 'x')).resolves.toEqual([]);
    await expect(grid.listContracts(bob)).resolves.toEqual([]);
    await expect(grid.deleteDeployment(bob, P, 'x')).resolves.toEqual([]);
    expect((await gridError(grid.cancelContract(bob, 5))).code).toBe('not_found');
    expect(used.filter((a) => a === bob.address)).toHaveLength(6);
  });

  it('refuses an identity without an address', async () => {
    expect((await gridError(grid.listContracts({ mnemonic: 'm', address: '' }))).code).toBe('invalid');
    expect(used).toEqual([]);
  });
});
