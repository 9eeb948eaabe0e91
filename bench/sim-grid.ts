/**
 * Simulated grid micro-benchmark: what a watchdog pass over every live deployment costs the sim.
 *
 *   npx tsx bench/sim-grid.ts [--n 100000] [--nodes 8000] [--farms 800] [--seed 42]
 *
 * 1. open: generates the grid (--nodes, --farms) in a fresh temp data dir, manual clock, deployMs 0.
 *    8,000 nodes by default: vCPU is what runs out first, and a generated node has ~15 vCPU free
 *    on average, so 5,000 nodes fit ~74,700 one-vCPU VMs and 8,000 fit ~119,700 (seed 42).
 * 2. seed, inside one `batch` (one state write at the end): N twins, each funded by the faucet and
 *    with one 1 vCPU / 256 MB / 1 GB VM deployment in its own project, placed round the up nodes
 *    by free capacity (planned once from findNodes, so seeding measures deploys, not searches).
 *    The clock moves 1 h / N after each twin, so creation times, and so bills, are spread over an
 *    hour as they are in production.
 * 3. the watchdog pass, N × (getVms + listContracts(prefix, includeDeleted) + getNode + balance),
 *    awaited one after the other, three times:
 *    A. clock unchanged: no bill is due;
 *    B. the clock moves 1 h / N before each deployment: each one's first bill falls due just as
 *       the pass reaches it (a bill falls due at every step, as with a real clock);
 *    C. after a jump of 1 h: all N bills are due at once (e.g. after the process was paused).
 * 4. close (final write), reopen from the file (indexes rebuilt), close.
 *
 * Prints a table and, on the last line, one JSON object with the same figures. Exits non-zero if
 * the grid is too small for N VMs or a read returns something unexpected.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/clock.js';
import { HOUR_MS, UNITS_PER_TFT } from '../src/domain/money.js';
import type { Identity, VmDeployment } from '../src/grid/port.js';
import { SimGrid, STATE_FILE } from '../src/grid/sim/index.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    nodes: { type: 'string', default: '8000' },
    farms: { type: 'string', default: '800' },
    seed: { type: 'string', default: '42' },
  },
  strict: true,
});
const intArg = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
    process.exit(2);
  }
  return n;
};
const N = intArg('n', args.n, 1);
const NODES = intArg('nodes', args.nodes, 1);
const FARMS = intArg('farms', args.farms, 1);
const SEED = intArg('seed', args.seed, 0);

/** The VM every twin deploys: the smallest grid_client accepts (1 vCPU, 256 MB) with a 1 GB root. */
const VM = { cru: 1, mruMb: 256, sruGb: 1 };

const identity = (i: number): Identity => ({ mnemonic: `bench mnemonic ${i}`, address: `bench-address-${i}` });
const projectOf = (i: number): string => `jukebox/u${i}/d1`;
const nameOf = (i: number): string => `node_u${i}`;

function deployment(i: number, nodeId: number): VmDeployment {
  return {
    projectName: projectOf(i),
    name: nameOf(i),
    machines: [
      {
        name: 'vm',
        nodeId,
        cpu: VM.cru,
        memoryMb: VM.mruMb,
        rootfsGb: VM.sruGb,
        disks: [],
        flist: 'https://hub.grid.tf/tf-official-apps/base:latest.flist',
        entrypoint: '/sbin/zinit init',
        env: {},
        publicIp: false,
        mycelium: true,
      },
    ],
  };
}

const ms = (t0: number): number => performance.now() - t0;
const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
/** rssMb: the process's resident set right after the step (the peak is reported at the end) */
const rows: { step: string; ms: number; rssMb: number; ops?: number }[] = [];
function record(step: string, t: number, ops?: number): void {
  const rssMb = mb(process.memoryUsage().rss);
  rows.push(ops === undefined ? { step, ms: t, rssMb } : { step, ms: t, rssMb, ops });
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-sim-grid-'));
const clock = new ManualClock(Date.UTC(2026, 0, 1));
let failures = 0;
try {
  // ---- 1. open
  let t = performance.now();
  let sim = await SimGrid.open({ dataDir, seed: SEED, nodes: NODES, farms: FARMS, clock, deployMs: 0 });
  record('open (generate + first write)', ms(t));

  // ---- plan placements once: VMs per up node by its free capacity
  const slots: number[] = [];
  for (const n of await sim.findNodes({ free: VM })) {
    const fit = Math.min(
      Math.floor((n.total.cru - n.used.cru) / VM.cru),
      Math.floor((n.total.mruMb - n.used.mruMb) / VM.mruMb),
      Math.floor((n.total.sruGb - n.used.sruGb) / VM.sruGb),
    );
    for (let k = 0; k < fit; k++) slots.push(n.nodeId);
  }
  if (slots.length < N) {
    const perNode = slots.length / NODES;
    console.error(
      `${NODES} nodes fit only ${slots.length} VMs of 1 vCPU / 256 MB (≈ ${perNode.toFixed(1)} per node); ` +
        `--nodes ${Math.ceil((N / perNode) * 1.1)} would fit ${N} with 10 % to spare`,
    );
    process.exit(3);
  }
  const nodeOf = (i: number): number => slots[Math.floor((i * slots.length) / N)] as number;

  // ---- 2. seed
  const step = HOUR_MS / N;
  t = performance.now();
  await sim.batch(async () => {
    for (let i = 0; i < N; i++) {
      const id = identity(i);
      await sim.ensureTwin(id);
      await sim.fund(id.address, 100 * UNITS_PER_TFT);
      await sim.deployVms(id, deployment(i, nodeOf(i)));
      if (i < N - 1) clock.advance(step);
    }
  });
  record(`seed ${N} twins + fund + deploy (batch)`, ms(t), N);

  // ---- 3. the watchdog passes
  const pass = async (label: string, tick = 0): Promise<void> => {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      if (tick > 0) clock.advance(tick);
      const id = identity(i);
      const vms = await sim.getVms(id, projectOf(i), nameOf(i));
      const contracts = await sim.listContracts(id, { projectPrefix: projectOf(i), includeDeleted: true });
      const node = await sim.getNode(vms[0]?.nodeId ?? -1);
      const balance = await sim.balance(id.address);
      if (vms.length !== 1 || vms[0]?.state !== 'ok' || contracts.length !== 1 || !node || !(balance > 0)) failures++;
    }
    record(label, ms(t0), 4 * N);
  };
  await pass(`pass A: ${N} × 4 reads, no bill due`);
  await pass(`pass B: ${N} × 4 reads, a bill falls due at each step`, step);
  clock.advance(HOUR_MS);
  await pass(`pass C: ${N} × 4 reads, +1 h at once (${N} bills due)`);

  // ---- 4. close and reopen from the file
  t = performance.now();
  await sim.close();
  const fileBytes = (await stat(path.join(dataDir, STATE_FILE))).size;
  record(`close (final write, ${mb(fileBytes)} MB)`, ms(t));
  t = performance.now();
  sim = await SimGrid.open({ dataDir, seed: SEED, nodes: NODES, farms: FARMS, clock, deployMs: 0 });
  record('reopen from the file (indexes rebuilt)', ms(t));
  if ((await sim.listContracts(identity(N - 1))).length !== 1) failures++;
  await sim.close();
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024); // maxRSS is in KiB
console.log(`\nsim grid: N = ${N}, ${NODES} nodes, ${FARMS} farms, seed ${SEED}, Node ${process.version}\n`);
console.log('| step | wall s | ops | ops/s | RSS after, MB |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  const ops = r.ops === undefined ? '' : String(r.ops);
  const rate = r.ops === undefined ? '' : String(Math.round((r.ops / r.ms) * 1000));
  console.log(`| ${r.step} | ${(r.ms / 1000).toFixed(2)} | ${ops} | ${rate} | ${r.rssMb} |`);
}
console.log(`\npeak RSS ${peakRssMb} MB; unexpected read results: ${failures}\n`);
console.log(
  JSON.stringify({
    n: N,
    nodes: NODES,
    farms: FARMS,
    peakRssMb,
    failures,
    steps: rows.map((r) => ({
      step: r.step,
      ms: Math.round(r.ms),
      rssMb: r.rssMb,
      ...(r.ops === undefined ? {} : { opsPerSec: Math.round((r.ops / r.ms) * 1000) }),
    })),
  }),
);
process.exit(failures === 0 ? 0 : 1);
