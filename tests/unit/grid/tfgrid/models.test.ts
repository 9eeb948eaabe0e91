import { createRequire } from 'node:module';
import { describe, expect, it, jest } from '@jest/globals';
import { GridError, type GridNode, type VmDeployment, type ZdbDeployment } from '../../../../src/grid/port.js';
import type { NodeInfoShape } from '../../../../src/grid/tfgrid/client-seam.js';
import {
  GRACE_MESSAGE,
  byFreeCpu,
  calculatorResourcesOf,
  hourlyUnits,
  ipRangeOf,
  isDeployable,
  matchesFilter,
  networkNameOf,
  networksOf,
  parseContract,
  selectListed,
  tftToUnits,
  toContractInfo,
  toFilterOptions,
  toGridNode,
  toMachinesModel,
  toVmInfo,
  toVmInfos,
  toZdbInfo,
  toZdbInfos,
  toZdbsModel,
  validateGridName,
  validateProjectName,
  workloadStateOf,
  type ParsedContract,
} from '../../../../src/grid/tfgrid/models.js';

const GB = 1024 ** 3;
const MB = 1024 ** 2;
const FLIST = 'https://hub.grid.tf/tf-official-apps/base:latest.flist';

function vmDeployment(over: Partial<VmDeployment> = {}): VmDeployment {
  return {
    projectName: 'jukebox/u7/d3',
    name: 'btc_0',
    machines: [
      {
        name: 'btc_0',
        nodeId: 42,
        cpu: 2,
        memoryMb: 4096,
        rootfsGb: 2,
        disks: [{ name: 'chain', sizeGb: 500, mountpoint: '/data' }],
        flist: FLIST,
        entrypoint: '/sbin/zinit init',
        env: { SSH_KEY: 'ssh-ed25519 AAAAC3Nz me@laptop', RPC_PASSWORD: 's3cret' },
        publicIp: true,
        mycelium: true,
      },
    ],
    ...over,
  };
}

function zdbDeployment(over: Partial<ZdbDeployment> = {}): ZdbDeployment {
  return {
    projectName: 'jukebox/u7/d4',
    name: 'store0b1',
    zdbs: [{ name: 'store0b1', nodeId: 17, mode: 'seq', diskGb: 50, password: 'zdbpass1', publicNamespace: false }],
    ...over,
  };
}

const invalidOf = (fn: () => unknown): GridError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GridError);
    expect((e as GridError).code).toBe('invalid');
    return e as GridError;
  }
  throw new Error('expected a GridError');
};

describe('toMachinesModel', () => {
  it('builds the MachinesModel grid_client takes, in its units', () => {
    const d = vmDeployment();
    const model = toMachinesModel(d);
    expect(model).toEqual({
      name: 'btc_0',
      network: { name: expect.stringMatching(/^n[0-9a-f]{10}_btc_0$/), ip_range: expect.stringMatching(/^10\.\d{1,3}\.0\.0\/16$/), addAccess: false },
      machines: [
        {
          name: 'btc_0',
          node_id: 42,
          cpu: 2,
          memory: 4096, // MB
          rootfs_size: 2, // GB
          disks: [{ name: 'chain', size: 500, mountpoint: '/data' }], // GB
          flist: FLIST,
          entrypoint: '/sbin/zinit init',
          env: { SSH_KEY: 'ssh-ed25519 AAAAC3Nz me@laptop', RPC_PASSWORD: 's3cret' },
          public_ip: true,
          public_ip6: false,
          planetary: false,
          mycelium: true,
        },
      ],
      description: 'jukebox jukebox/u7/d3',
    });
    expect(model.machines[0]).not.toHaveProperty('solutionProviderId');
    // a copy: editing the model does not edit the deployment
    model.machines[0]!.env.X = '1';
    expect(d.machines[0]!.env).not.toHaveProperty('X');
  });

  it('keeps public IPv4 and mycelium as asked', () => {
    const d = vmDeployment();
    d.machines[0]!.publicIp = false;
    d.machines[0]!.mycelium = false;
    const m = toMachinesModel(d).machines[0]!;
    expect(m.public_ip).toBe(false);
    expect(m.mycelium).toBe(false);
  });

  it('gives every deployment of a twin its own network, the same one each time', () => {
    const a = networkNameOf('jukebox/u7/d3', 'btc_0');
    expect(networkNameOf('jukebox/u7/d3', 'btc_0')).toBe(a);
    expect(networkNameOf('jukebox/u7/d31', 'btc_0')).not.toBe(a);
    expect(networkNameOf('jukebox/u7/d3', 'btc_1')).not.toBe(a);
    expect(ipRangeOf('jukebox/u7/d3', 'btc_0')).toBe(ipRangeOf('jukebox/u7/d3', 'btc_0'));
    const octets = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const name = networkNameOf(`p${i}`, 'a_very_long_deployment_name_that_goes_on');
      expect(name.length).toBeLessThanOrEqual(35);
      expect(name).toMatch(/^[A-Za-z0-9_]+$/);
      const x = Number(/^10\.(\d+)\.0\.0\/16$/.exec(ipRangeOf(`p${i}`, 'x'))![1]);
      expect(x).toBeGreaterThanOrEqual(1);
      expect(x).toBeLessThanOrEqual(250);
      octets.add(x);
    }
    expect(octets.size).toBeGreaterThan(100);
  });

  it('refuses what grid_client would refuse', () => {
    invalidOf(() => toMachinesModel(vmDeployment({ name: 'has-dash' })));
    invalidOf(() => toMachinesModel(vmDeployment({ name: 'x'.repeat(36) })));
    invalidOf(() => toMachinesModel(vmDeployment({ machines: [] })));
    invalidOf(() => toMachinesModel(vmDeployment({ projectName: '' })));
    invalidOf(() => toMachinesModel(vmDeployment({ projectName: 'a"b' })));
    const bad = (edit: (d: VmDeployment) => void) => {
      const d = vmDeployment();
      edit(d);
      return invalidOf(() => toMachinesModel(d));
    };
    expect(bad((d) => (d.machines[0]!.disks[0]!.name = 'chain_data')).message).toBe('disk name "chain_data" must be 1–35 letters or digits');
    bad((d) => (d.machines[0]!.disks[0]!.sizeGb = 0.2));
    bad((d) => d.machines[0]!.disks.push({ name: 'chain', sizeGb: 1, mountpoint: '/x' }));
    bad((d) => (d.machines[0]!.memoryMb = 255));
    bad((d) => (d.machines[0]!.cpu = 1.5));
    bad((d) => (d.machines[0]!.nodeId = 0));
    bad((d) => (d.machines[0]!.flist = ' '));
    bad((d) => d.machines.push({ ...d.machines[0]! }));
  });

  it('builds a model grid_client itself validates', () => {
    // the package's own class-validator rules (what deploy runs first), on the CJS build
    const req = createRequire(import.meta.url);
    const pkgPath = req.resolve('@threefold/grid_client');
    const pkg = req(pkgPath) as { MachinesModel: new () => object; ZDBSModel: new () => object; validateObject(o: object): void };
    const { plainToInstance } = req(req.resolve('class-transformer', { paths: [pkgPath] })) as {
      plainToInstance(cls: new () => object, plain: object, o: object): object;
    };
    const check = (cls: new () => object, plain: object) => pkg.validateObject(plainToInstance(cls, plain, { excludeExtraneousValues: true }));
    expect(() => check(pkg.MachinesModel, toMachinesModel(vmDeployment()))).not.toThrow();
    expect(() => check(pkg.ZDBSModel, toZdbsModel(zdbDeployment()))).not.toThrow();
    // and the check can fail (grid_client console.logs the failed model: keep it out of the test output)
    const quiet = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(() => check(pkg.MachinesModel, { ...toMachinesModel(vmDeployment()), name: 'bad-name' })).toThrow(/Validation failed/);
    } finally {
      quiet.mockRestore();
    }
  });
});

describe('toZdbsModel', () => {
  it('builds the ZDBSModel, disk in GB', () => {
    expect(toZdbsModel(zdbDeployment())).toEqual({
      name: 'store0b1',
      zdbs: [{ name: 'store0b1', node_id: 17, mode: 'seq', disk_size: 50, publicNamespace: false, password: 'zdbpass1' }],
      description: 'jukebox jukebox/u7/d4',
    });
  });

  it('refuses underscores in zdb names and empty passwords', () => {
    invalidOf(() => toZdbsModel(zdbDeployment({ name: 'store_0' })));
    const d = zdbDeployment();
    d.zdbs[0]!.name = 'b_1';
    invalidOf(() => toZdbsModel(d));
    const e = zdbDeployment();
    e.zdbs[0]!.password = '';
    invalidOf(() => toZdbsModel(e));
    const m = zdbDeployment();
    (m.zdbs[0] as { mode: string }).mode = 'other';
    invalidOf(() => toZdbsModel(m));
  });
});

describe('name rules', () => {
  it('follows grid_client: 35 characters, underscore where allowed', () => {
    expect(() => validateGridName('machine name', 'a_b', true)).not.toThrow();
    expect(invalidOf(() => validateGridName('zdb name', 'a_b', false)).message).toBe('zdb name "a_b" must be 1–35 letters or digits');
    expect(invalidOf(() => validateGridName('machine name', '', true)).message).toBe('machine name "" must be 1–35 letters or digits or underscores');
    expect(() => validateGridName('x', 'a'.repeat(35), false)).not.toThrow();
    invalidOf(() => validateGridName('x', 'a'.repeat(36), false));
    invalidOf(() => validateProjectName('with\\backslash'));
    expect(() => validateProjectName('jukebox/u1/d2')).not.toThrow();
  });
});

describe('toFilterOptions', () => {
  it('asks for free GB, public IPs, place, exclusions, the twin and a page', () => {
    const opts = toFilterOptions(
      { free: { cru: 4, mruMb: 6144, sruGb: 100, hruGb: 1000 }, publicIp: true, country: 'Belgium', city: 'Ghent', farmId: 3, excludeNodeIds: [5, 6] },
      { status: 'up', availableFor: 77, page: 2, size: 100 },
    );
    expect(opts).toEqual({
      cru: 4,
      mru: 6, // 6144 MB
      sru: 100,
      hru: 1000,
      publicIPs: true,
      country: 'Belgium',
      city: 'Ghent',
      farmId: 3,
      nodeExclude: [5, 6],
      status: 'up',
      healthy: true,
      availableFor: 77,
      page: 2,
      size: 100,
    });
  });

  it('leaves out what is not asked, and health for nodes that are not up', () => {
    expect(toFilterOptions({ free: { mruMb: 512 } }, { status: 'down', availableFor: 1, page: 1, size: 50 })).toEqual({
      mru: 0.5,
      status: 'down',
      availableFor: 1,
      page: 1,
      size: 50,
    });
  });
});

function rawNode(over: Partial<NodeInfoShape> = {}): NodeInfoShape {
  return {
    nodeId: 11,
    farmId: 2,
    farmName: 'freefarm',
    twinId: 900,
    uptime: 3600,
    status: 'up',
    certificationType: 'Diy',
    total_resources: { cru: 8, mru: 32 * GB, sru: 1000 * GB, hru: 4000 * GB, ipv4u: 0 },
    used_resources: { cru: 2, mru: 8 * GB, sru: 100 * GB, hru: 0, ipv4u: 0 },
    location: { country: 'Belgium', city: 'Ghent' },
    publicIps: { total: 4, used: 1, free: 3 },
    rented: false,
    rentedByTwinId: 0,
    dedicated: false,
    inDedicatedFarm: false,
    ...over,
  };
}

describe('nodes', () => {
  it('maps a gridproxy node, bytes to MB and GB', () => {
    expect(toGridNode(rawNode({ country: 'België', city: 'Gent', certificationType: 'Certified', used_resources: { cru: 2, mru: 512 * MB, sru: 0.5 * GB, hru: 0 } }))).toEqual({
      nodeId: 11,
      farmId: 2,
      farmName: 'freefarm',
      country: 'België',
      city: 'Gent',
      status: 'up',
      certified: true,
      uptimeSec: 3600,
      total: { cru: 8, mruMb: 32768, sruGb: 1000, hruGb: 4000 },
      used: { cru: 2, mruMb: 512, sruGb: 0.5, hruGb: 0 },
      publicIps: { total: 4, free: 3 },
    } satisfies GridNode);
  });

  it('takes the location when there are no top-level country and city, and no uptime unless up', () => {
    const n = toGridNode(rawNode({ status: 'standby', publicIps: undefined }));
    expect(n).toMatchObject({ country: 'Belgium', city: 'Ghent', status: 'standby', uptimeSec: 0, certified: false, publicIps: { total: 0, free: 0 } });
    expect(toGridNode(rawNode({ status: 'weird' })).status).toBe('down');
  });

  it('filters as the simulated grid does', () => {
    const n = toGridNode(rawNode()); // free: 6 cru, 24576 MB, 900 GB SSD, 4000 GB HDD, 3 IPs
    expect(matchesFilter(n, {})).toBe(true);
    expect(matchesFilter(n, { free: { cru: 6, mruMb: 24576, sruGb: 900, hruGb: 4000 } })).toBe(true);
    expect(matchesFilter(n, { free: { cru: 7 } })).toBe(false); // free vCPUs, not total
    expect(matchesFilter(n, { free: { mruMb: 24577 } })).toBe(false);
    expect(matchesFilter(n, { country: 'belgium', city: 'GHENT' })).toBe(true);
    expect(matchesFilter(n, { country: 'Netherlands' })).toBe(false);
    expect(matchesFilter(n, { farmId: 3 })).toBe(false);
    expect(matchesFilter(n, { nodeIds: [12] })).toBe(false);
    expect(matchesFilter(n, { excludeNodeIds: [11] })).toBe(false);
    expect(matchesFilter(n, { status: 'down' })).toBe(false);
    expect(matchesFilter(n, { status: 'any' })).toBe(true);
    expect(matchesFilter(toGridNode(rawNode({ publicIps: { total: 2, used: 2, free: 0 } })), { publicIp: true })).toBe(false);
  });

  it('leaves rented nodes and dedicated farms out of deployment searches', () => {
    expect(isDeployable(rawNode())).toBe(true);
    expect(isDeployable(rawNode({ rented: true }))).toBe(false);
    expect(isDeployable(rawNode({ rentedByTwinId: 5 }))).toBe(false);
    expect(isDeployable(rawNode({ dedicated: true }))).toBe(false);
    expect(isDeployable(rawNode({ inDedicatedFarm: true }))).toBe(false);
  });

  it('orders by free vCPUs, then id', () => {
    const a = toGridNode(rawNode({ nodeId: 1 })); // 6 free
    const b = toGridNode(rawNode({ nodeId: 2, used_resources: { cru: 0, mru: 0, sru: 0, hru: 0 } })); // 8 free
    const c = toGridNode(rawNode({ nodeId: 3 })); // 6 free
    expect([c, a, b].sort(byFreeCpu).map((x) => x.nodeId)).toEqual([2, 1, 3]);
  });
});

describe('workload states', () => {
  it.each([
    ['ok', '', { state: 'ok' }],
    ['unchanged', 'update refused: no capacity', { state: 'ok', message: 'update refused: no capacity' }],
    ['init', '', { state: 'init' }],
    ['', '', { state: 'init' }],
    [undefined, undefined, { state: 'init' }],
    ['error', 'failed to download flist', { state: 'error', message: 'failed to download flist' }],
    ['error', '', { state: 'error', message: 'the workload failed' }],
    ['deleted', '', { state: 'deleted', message: 'the workload was deleted' }],
    ['deleted', 'deleted by user', { state: 'deleted', message: 'deleted by user' }],
    ['paused', '', { state: 'error', message: GRACE_MESSAGE }],
    ['sleeping', 'zzz', { state: 'error', message: 'unknown workload state "sleeping": zzz' }],
  ] as const)('%s', (status, message, expected) => {
    expect(workloadStateOf(status, message)).toEqual(expected);
  });
});

const zmachine = (over: Record<string, unknown> = {}) => ({
  contractId: 501,
  nodeId: '42',
  name: 'btc_0',
  status: 'ok',
  message: '',
  flist: FLIST,
  publicIP: { ip: '185.69.166.12/24', ip6: '2a02:1802:5e::12/64', gateway: '185.69.166.1' },
  planetary: '',
  myceliumIP: '5b4:c4dd:f1d7:ff0f:1:2:3:4',
  interfaces: [{ network: 'n1', ip: '10.20.2.2' }],
  capacity: { cpu: 2, memory: 4096 },
  env: { SSH_KEY: 'ssh-ed25519 AAAA', PORT: 8332 },
  entrypoint: '/sbin/zinit init',
  rootfs_size: 2,
  ...over,
});

describe('vm and zdb infos', () => {
  it('maps ZmachineData to VmInfo', () => {
    expect(toVmInfo(zmachine())).toEqual({
      name: 'btc_0',
      nodeId: 42,
      contractId: 501,
      state: 'ok',
      publicIp: '185.69.166.12/24',
      publicIp6: '2a02:1802:5e::12/64',
      mycelium: '5b4:c4dd:f1d7:ff0f:1:2:3:4',
      privateIp: '10.20.2.2',
      env: { SSH_KEY: 'ssh-ed25519 AAAA', PORT: '8332' },
    });
    expect(toVmInfo(zmachine({ publicIP: null, myceliumIP: '', status: 'init' }))).toEqual({
      name: 'btc_0',
      nodeId: 42,
      contractId: 501,
      state: 'init',
      privateIp: '10.20.2.2',
      env: { SSH_KEY: 'ssh-ed25519 AAAA', PORT: '8332' },
    });
  });

  const listed = (id: number, projectName: string, state = 'Created', nodeID = 42) => ({
    contractID: String(id),
    nodeID,
    state,
    parsedDeploymentData: { type: 'vm', name: 'btc_0', projectName },
  });

  it('keeps the exact project, reads grace as error, and reports a node that did not answer', () => {
    const data = [zmachine({ contractId: 501 }), zmachine({ contractId: 502 }), zmachine({ contractId: 503, status: 'ok' })];
    const infos = toVmInfos(
      data,
      [listed(501, 'jukebox/u7/d3'), listed(502, 'jukebox/u7/d31'), listed(503, 'jukebox/u7/d3', 'GracePeriod'), listed(504, 'jukebox/u7/d3', 'Created', 43)],
      'jukebox/u7/d3',
      'btc_0',
    );
    expect(infos.map((i) => [i.contractId, i.state, i.message])).toEqual([
      [501, 'ok', undefined],
      [503, 'error', GRACE_MESSAGE],
      [504, 'error', 'node 43 did not report the workloads of contract 504 (node unreachable or workloads gone)'],
    ]);
    expect(infos[2]).toEqual({
      name: 'btc_0',
      nodeId: 43,
      contractId: 504,
      state: 'error',
      message: 'node 43 did not report the workloads of contract 504 (node unreachable or workloads gone)',
    });
  });

  it('takes getObj as it is without a contract listing', () => {
    expect(toVmInfos([zmachine()], undefined, 'p', 'btc_0').map((i) => i.contractId)).toEqual([501]);
  });

  it('maps ZdbData to ZdbInfo', () => {
    const z = {
      contractId: 601,
      nodeId: 17,
      name: 'store0b1',
      status: 'ok',
      message: '',
      size: 50,
      mode: 'user',
      publicNamespace: false,
      resData: { Namespace: '7001-601-store0b1', IPs: ['2a02::1', '5b4::2'], Port: 9900 },
    };
    expect(toZdbInfo(z)).toEqual({
      name: 'store0b1',
      nodeId: 17,
      contractId: 601,
      state: 'ok',
      namespace: '7001-601-store0b1',
      ips: ['2a02::1', '5b4::2'],
      port: 9900,
      sizeGb: 50,
      mode: 'user',
    });
    expect(toZdbInfo({ ...z, resData: null, status: 'error', message: 'no space' })).toMatchObject({ state: 'error', message: 'no space', ips: [], port: 0, namespace: '' });
    const missing = toZdbInfos([], [{ contractID: 602, nodeID: 18, state: 'Created', parsedDeploymentData: { name: 'store0b1', projectName: 'p' } }], 'p', 'store0b1');
    expect(missing).toEqual([
      {
        name: 'store0b1',
        nodeId: 18,
        contractId: 602,
        state: 'error',
        message: 'node 18 did not report the workloads of contract 602 (node unreachable or workloads gone)',
        namespace: '',
        ips: [],
        port: 0,
        sizeGb: 0,
        mode: 'seq',
      },
    ]);
  });
});

const gql = (id: number, state: string, meta: object, over: Record<string, unknown> = {}) => ({
  contractID: String(id),
  nodeID: 42,
  state,
  createdAt: '1767225600', // 2026-01-01, seconds
  deploymentData: JSON.stringify({ version: 3, ...meta }),
  numberOfPublicIPs: 1,
  ...over,
});

describe('contracts', () => {
  it('parses GraphQL node contracts and their metadata', () => {
    expect(parseContract(gql(9, 'Created', { type: 'vm', name: 'btc_0', projectName: 'jukebox/u7/d3' }))).toEqual({
      contractId: 9,
      nodeId: 42,
      state: 'created',
      createdAt: Date.UTC(2026, 0, 1),
      kind: 'vm',
      projectName: 'jukebox/u7/d3',
      name: 'btc_0',
      publicIps: 1,
    });
    expect(parseContract(gql(9, 'GracePeriod', { type: 'zdb', name: 'z', projectName: 'p' }))).toMatchObject({ state: 'grace', kind: 'zdb' });
    expect(parseContract(gql(9, 'Deleted', { type: 'vm', name: 'z', projectName: 'p' }))).toMatchObject({ state: 'deleted', deletedCause: 'canceled' });
    expect(parseContract(gql(9, 'OutOfFunds', { type: 'vm', name: 'z', projectName: 'p' }))).toMatchObject({ state: 'deleted', deletedCause: 'out_of_funds' });
    // grid_client's cache of fresh contracts uses seconds too; milliseconds pass through
    expect(parseContract(gql(9, 'Created', { type: 'vm', name: 'z' }, { createdAt: 1767225600000 }))).toMatchObject({ createdAt: Date.UTC(2026, 0, 1), projectName: '' });
    expect(parseContract(gql(9, 'Created', {}, { deploymentData: 'not json' }))).toBeUndefined();
    expect(parseContract(gql(9, 'Created', { name: 'no type' }))).toBeUndefined();
    expect(parseContract(gql(9, 'Weird', { type: 'vm', name: 'z' }))).toBeUndefined();
  });

  it('lists vm and zdb contracts under the prefix, and only lone live networks', () => {
    const P = 'jukebox/u7/d3';
    const net = networkNameOf(P, 'btc_0');
    const all = [
      gql(1, 'Created', { type: 'vm', name: 'btc_0', projectName: P }),
      gql(2, 'Created', { type: 'network-light', name: net, projectName: P }), // its VM lives on node 42: hidden
      gql(3, 'Created', { type: 'network', name: networkNameOf(P, 'btc_1'), projectName: P }), // no VM left: shown
      gql(4, 'Created', { type: 'network-light', name: net, projectName: P }, { nodeID: 43 }), // no VM on node 43: shown
      gql(5, 'Deleted', { type: 'vm', name: 'old_0', projectName: P }),
      gql(6, 'Deleted', { type: 'network-light', name: networkNameOf(P, 'old_0'), projectName: P }),
      gql(7, 'Created', { type: 'zdb', name: 'store0', projectName: 'jukebox/u7/d4' }),
      gql(8, 'Created', { type: 'vm', name: 'x', projectName: 'other/app' }),
      gql(9, 'Created', { type: 'gateway-name', name: 'gw', projectName: P }),
    ]
      .map(parseContract)
      .filter((x): x is ParsedContract => x !== undefined);
    expect(selectListed(all, 'jukebox/u7/', false).map((c) => c.contractId)).toEqual([1, 3, 4, 7]);
    expect(selectListed(all, 'jukebox/u7/', true).map((c) => c.contractId)).toEqual([1, 3, 4, 5, 7]);
    expect(selectListed(all, '', false).map((c) => c.contractId)).toEqual([1, 3, 4, 7, 8]);
    expect(networksOf(all, P, 'btc_0').map((c) => c.contractId)).toEqual([2, 4]);
    expect(networksOf(all, P, 'btc_0', 43).map((c) => c.contractId)).toEqual([4]);
  });

  it('builds ContractInfo', () => {
    const p = parseContract(gql(3, 'GracePeriod', { type: 'network', name: 'nabc_btc_0', projectName: 'p' }))!;
    expect(toContractInfo(p, 1234, 55)).toEqual({
      contractId: 3,
      nodeId: 42,
      state: 'grace',
      createdAt: Date.UTC(2026, 0, 1),
      projectName: 'p',
      deploymentName: 'nabc_btc_0',
      type: 'vm',
      hourlyCost: 1234,
      graceStartedAt: 55,
    });
    const z = parseContract(gql(4, 'OutOfFunds', { type: 'zdb', name: 'z', projectName: 'p' }))!;
    expect(toContractInfo(z, 0)).toEqual({
      contractId: 4,
      nodeId: 42,
      state: 'deleted',
      deletedCause: 'out_of_funds',
      createdAt: Date.UTC(2026, 0, 1),
      projectName: 'p',
      deploymentName: 'z',
      type: 'zdb',
      hourlyCost: 0,
    });
  });
});

describe('prices', () => {
  it('turns USD per 720-hour month into units per hour at the TFT price', () => {
    // 7.2 USD a month = 0.01 USD an hour = 1 TFT an hour at 0.01 USD per TFT
    expect(hourlyUnits(7.2, 0.01)).toBe(10_000_000);
    // 1 USD a month at 0.0123 USD per TFT: 1/720/0.0123 TFT = 1129.1779...×10 units → rounded up
    expect(hourlyUnits(1, 0.0123)).toBe(1_129_178);
    expect(hourlyUnits(0, 0.01)).toBe(0);
    expect(() => hourlyUnits(1, 0)).toThrow(GridError);
    expect(() => hourlyUnits(Number.NaN, 0.01)).toThrow(GridError);
  });

  it('turns billed TFT per hour into units', () => {
    expect(tftToUnits(0.1234567)).toBe(1_234_567);
    expect(tftToUnits(0)).toBe(0);
    expect(tftToUnits(Number.NaN)).toBe(0);
  });

  it('gives the calculator GB from chain bytes', () => {
    expect(calculatorResourcesOf({ cru: 2, mru: 4 * GB, sru: 50 * GB, hru: 0 })).toEqual({ cru: 2, mru: 4, sru: 50, hru: 0 });
    expect(calculatorResourcesOf({})).toEqual({ cru: 0, mru: 0, sru: 0, hru: 0 });
  });
});
