/**
 * Provisioning a storage order (called by the provisioning job once the order is paid and the twin
 * exists): every 0-db backend is its own grid zdb deployment under the order's project name,
 * deployed one after the other and journaled like a VM node (jobs/deploy-node.ts): a step begun and
 * not done is first checked against the grid (whole: kept; half-made: removed, then retried), and
 * a backend that fails is retried on another node that keeps the data backends on distinct nodes.
 * If one cannot be placed, the provisioning job rolls the whole order back by sweeping its project
 * name, so a crash or a kill at any moment never leaves a contract behind.
 *
 * When all are up: the deployment becomes active with one NodeInstance per backend, the user gets a
 * summary with the steps to mount the storage, and the zstor configuration file as a document.
 *
 * Later, the same journaled routine replaces one backend (the redeploy job: same role, size and
 * password, next generation's grid name) and adds a group of data backends (the extend job); after
 * either the user gets the whole config again, the only other times the passwords and keys are shown.
 */
import { Buffer } from 'node:buffer';
import { esc, plural } from '../chat/format.js';
import type { OutMessage } from '../chat/types.js';
import { transition, type Deployment, type NodeInstance } from '../domain/deployment.js';
import { formatTft } from '../domain/money.js';
import type { User } from '../domain/user.js';
import { GridError, type Identity, type ZdbInfo } from '../grid/port.js';
import type { PlannedNode } from '../services/planner.js';
import {
  backendGridName,
  backendOrdinal,
  backendSlots,
  backendSpec,
  formatGb,
  groupCount,
  groupOf,
  groupSlots,
  layoutOf,
  MAX_STORAGE_GROUPS,
  planGroup,
  planStorage,
  schemeLabel,
  schemeWords,
  SECRET,
  type BackendSlot,
  type PlansFor,
  type StorageLayout,
} from '../storage/plan.js';
import { FRONTEND_DEFAULTS, isMycelium, zdbAddress, zdbIps, zstorToml, type ZstorBackend } from '../storage/zstor-config.js';
import { ATTEMPTS_PER_NODE, nodesTried, placedNode, updateDeployment } from './deploy-node.js';
import { plainReason, recordFailure } from './grid-failure.js';
import type { JobDeps } from './deps.js';
import type { Journal } from './journal.js';
import { notify } from './notify.js';

/** Grid errors worth another node (the others would fail anywhere). */
const RETRYABLE = new Set(['no_capacity', 'node_down', 'workload_error', 'timeout']);
/** Where zstor's config goes on the machine that mounts the storage (the reference's name for it). */
export const CONFIG_PATH = '/etc/zstor-default.toml';

const STEP = (index: number) => `zdb:${index}`;
const REPLACE_STEP = (index: number) => `zdb:${index}:replace`;
const PLAN_STEP = 'storage-plan';
/** where a replacement backend goes first (the redeploy job's journal) */
const BACKEND_PLAN_STEP = 'backend-plan';
/** the nodes, indexes and group of a group /extend adds (the extend job's journal) */
const GROUP_PLAN_STEP = 'group-plan';

interface GroupPlanRecord {
  nodes: PlannedNode[];
  group: number;
  firstIndex: number;
  firstOrdinal: number;
}

interface StoragePlanRecord {
  data: PlannedNode[];
  meta: PlannedNode[];
}

export { groupCount, layoutOf } from '../storage/plan.js';

function zdbReason(err: unknown): string {
  if (err instanceof GridError && (err.code === 'workload_error' || err.code === 'timeout')) return 'the node could not start the 0-db';
  return plainReason(err);
}

/** The NodeInstance of a backend that is up. */
export function backendInstance(slot: BackendSlot, node: PlannedNode, zdbs: ZdbInfo[], generation = slot.generation ?? 0): NodeInstance {
  const z = zdbs[0]!;
  const mycelium = z.ips.find(isMycelium);
  return {
    ...placedNode({ index: slot.index, gridName: slot.gridName, generation }, node, zdbs.map((x) => x.contractId)),
    ...(mycelium ? { mycelium } : {}),
    zdb: {
      role: slot.role,
      namespace: z.namespace,
      port: z.port,
      ips: [...z.ips],
      sizeGb: z.sizeGb,
      ...(slot.role === 'data' ? { group: slot.group ?? 1 } : {}),
    },
  };
}

/** The slot a backend fills, from its NodeInstance: what its replacement deploys, under `generation`. */
export function slotOf(d: Pick<Deployment, 'name'>, n: NodeInstance, generation = n.generation): BackendSlot {
  const z = n.zdb;
  if (!z) throw new Error(`node ${n.index} of ${d.name} is not a storage backend`);
  const ordinal = backendOrdinal(n.gridName);
  return {
    index: n.index,
    role: z.role,
    ordinal,
    gridName: backendGridName(d.name, z.role, ordinal, generation),
    sizeGb: z.sizeGb,
    mode: z.role === 'data' ? 'seq' : 'user',
    ...(z.role === 'data' ? { group: groupOf(z) } : {}),
    generation,
  };
}

/** The zstor configuration of a storage deployment whose backends are up. */
export function storageConfig(d: Deployment, nodes: NodeInstance[], secrets: Record<string, string>, at: number): string {
  const l = layoutOf(d);
  const entry = (n: NodeInstance): ZstorBackend => {
    const z = n.zdb!;
    const { primary, other } = zdbIps(z.ips);
    const password = secrets[SECRET.password(n.index)];
    if (!primary) throw new Error(`backend ${n.index} of ${d.id} has no address`);
    if (!password) throw new Error(`backend ${n.index} of ${d.id} has no password`);
    return {
      address: zdbAddress(primary, z.port),
      namespace: z.namespace,
      password,
      comment: `${z.role === 'data' ? 'data' : 'metadata'} backend ${n.index}: grid node ${n.nodeId} (${n.city}, ${n.country})${
        other ? `; over mycelium: ${zdbAddress(other, z.port)}` : ''
      }`,
    };
  };
  const live = nodes.filter((n) => n.state === 'ok' && n.zdb).sort((a, b) => a.index - b.index);
  const data = live.filter((n) => n.zdb!.role === 'data');
  const groups = [...new Set(data.map((n) => groupOf(n.zdb!)))].sort((a, b) => a - b);
  const usableGb = l.usableGb * Math.max(1, groups.length);
  return zstorToml({
    minimalShards: l.data,
    expectedShards: l.data + l.parity,
    encryptionKey: secrets[SECRET.key] ?? '',
    metaEncryptionKey: secrets[SECRET.metaKey] ?? '',
    metaPrefix: 'qsfs-meta',
    meta: live.filter((n) => n.zdb!.role === 'meta').map(entry),
    // one zstor group whatever we call a group here: zstor enumerates every spread of the shards over
    // its groups for each object it stores (exponential in the number of groups), and with one group
    // it simply picks k+m of the backends; each of our groups is on distinct nodes of its own
    groups: [data.map(entry)],
    frontend: FRONTEND_DEFAULTS,
    header: [
      `zstor configuration of "${d.name}", made by Jukebox on ${new Date(at).toISOString().slice(0, 10)}.`,
      `${formatGb(usableGb)} usable${groups.length > 1 ? ` on ${groups.length * (l.data + l.parity)} data backends` : ''}, ${schemeLabel(l)}: ${schemeWords(l)}.`,
      'SECRET: it holds the 0-db passwords and the encryption keys; without it the data cannot be read.',
      `Save it as ${CONFIG_PATH} (chmod 600) on the machine that mounts the storage.`,
    ],
  });
}

/** The name the zstor config is sent under, each time. */
export const configFileName = (d: Pick<Deployment, 'name'>): string => `zstor-${d.name}.toml`;

/** The grid name a backend's replacement gets (its next generation). */
export const replacementGridName = (d: Pick<Deployment, 'name'>, n: NodeInstance): string => slotOf(d, n, n.generation + 1).gridName;

/** The steps to mount it, for the chat (HTML). */
export function mountSteps(name: string): string {
  const f = FRONTEND_DEFAULTS;
  return [
    '<b>Mount it on any Linux machine</b> (it needs FUSE, and IPv6 to reach the backends):',
    '1. Install the static binaries: <code>zstor</code> at <code>/bin/zstor</code> (0-stor_v2 releases, linux-musl), ' +
      '<code>zdb</code> (0-db releases), <code>zdbfs</code> (0-db-fs releases, amd64-linux-static) and ' +
      '<code>/usr/local/bin/zdb-hook.sh</code> (quantum-storage, lib/zdb-hook.sh); make them executable.',
    `2. Save the file below as <code>${CONFIG_PATH}</code> (<code>chmod 600</code>), and <code>mkdir -p ${f.zdbfsMountpoint} /data</code>.`,
    '3. Run three services (systemd or zinit), each started after the one before:',
    `<code>zstor -c ${CONFIG_PATH} monitor</code>`,
    '<code>zdb --index /data/index --data /data/data --datasize 67108864 --hook /usr/local/bin/zdb-hook.sh --rotate 900</code>',
    `<code>zdbfs ${f.zdbfsMountpoint} -o autons</code>`,
    `4. Use <code>${f.zdbfsMountpoint}</code>: what you write there is uploaded in 64 MiB segments, at least every 15 minutes. ` +
      `<code>zstor -c ${CONFIG_PATH} status</code> shows every backend.`,
    `The file uses each backend's public IPv6; on a machine without IPv6, run mycelium and use the mycelium address noted in the file above each backend. ` +
      `(quantumd, the other way to run QSFS, deploys and pays for backends of its own from a mnemonic, so it does not use these.)`,
    `Keep a copy of the file somewhere safe: to move the storage to another machine, repeat these steps there with it. /status ${esc(name)} shows the backends.`,
  ].join('\n');
}

export function storageProvisioner(deps: JobDeps) {
  const { grid, store, clock, log, outbox } = deps;
  // the planner's generic placement (planFor); the same object as deps.planner
  const planner: PlansFor = deps.planner;
  const say = (user: User, msg: OutMessage) => notify(outbox, log, user, msg);

  /** Waits for a backend an earlier run started, which the grid may still be bringing up. */
  async function awaitReady(identity: Identity, d: Deployment, gridName: string): Promise<ZdbInfo[]> {
    const deadline = clock.now() + deps.readyTimeoutMs;
    for (;;) {
      const zdbs = await grid.getZdbs(identity, d.projectName, gridName);
      if (zdbs.length === 0 || zdbs.every((z) => z.state === 'ok') || zdbs.some((z) => z.state === 'error')) return zdbs;
      if (clock.now() > deadline) return zdbs;
      await deps.sleep(deps.readyPollMs);
    }
  }

  /**
   * The grid nodes a retry of this backend must avoid. A data backend: every node any data backend
   * was planned on or tried (k + m shards on k + m distinct nodes is what lets m nodes fail). A
   * metadata backend: the other metadata backends' nodes, and the data ones while there is room.
   */
  function avoid(j: Journal, plan: StoragePlanRecord, slot: BackendSlot, slots: BackendSlot[]): { must: number[]; rather: number[] } {
    const steps = (role: BackendSlot['role']) => new Set(slots.filter((s) => s.role === role).map((s) => STEP(s.index)));
    const dataSteps = steps('data');
    const metaSteps = steps('meta');
    const data = [...plan.data.map((n) => n.nodeId), ...nodesTried(j, (step) => dataSteps.has(step))];
    const meta = [...plan.meta.map((n) => n.nodeId), ...nodesTried(j, (step) => metaSteps.has(step))];
    return slot.role === 'data' ? { must: [...new Set(data)], rather: [] } : { must: [...new Set(meta)], rather: [...new Set(data)] };
  }

  /** Brings one backend up (its NodeInstance is the step's done data), or says why it could not. */
  async function deployBackend(
    j: Journal,
    user: User,
    d: Deployment,
    identity: Identity,
    l: StorageLayout,
    slot: BackendSlot,
    first: PlannedNode,
    avoidNodes: () => { must: number[]; rather: number[] },
  ): Promise<{ ok: true; node: NodeInstance } | { ok: false; reason: string }> {
    const step = STEP(slot.index);
    const replaceStep = REPLACE_STEP(slot.index);
    const what = slot.role === 'data' ? `storage backend ${slot.ordinal}` : `metadata backend ${slot.ordinal}`;
    for (;;) {
      const node = j.result<PlannedNode>(replaceStep) ?? first;
      if (j.attempts(step) > 0) {
        // an earlier run began this backend: the grid may have it, half-made or whole
        const zdbs = await awaitReady(identity, d, slot.gridName);
        if (zdbs.length > 0 && zdbs.every((z) => z.state === 'ok')) {
          const made = backendInstance(slot, node, zdbs);
          await j.done(step, made);
          return { ok: true, node: made };
        }
        if (zdbs.length > 0) await grid.deleteDeployment(identity, d.projectName, slot.gridName);
      }
      if (j.attempts(step) >= ATTEMPTS_PER_NODE) return { ok: false, reason: `${what} failed ${ATTEMPTS_PER_NODE} times` };
      await j.begin(step, { nodeId: node.nodeId });
      try {
        const password = deps.deployments.generatedSecrets(d)[SECRET.password(slot.index)];
        if (!password) throw new Error(`no password for backend ${slot.index} of deployment ${d.id}`);
        await grid.deployZdbs(identity, {
          projectName: d.projectName,
          name: slot.gridName,
          zdbs: [{ name: slot.gridName, nodeId: node.nodeId, mode: slot.mode, diskGb: slot.sizeGb, password, publicNamespace: false }],
        });
        const made = backendInstance(slot, node, await grid.getZdbs(identity, d.projectName, slot.gridName));
        await j.done(step, made);
        return { ok: true, node: made };
      } catch (err) {
        log.warn({ err, user: user.id, deployment: d.id, node: node.nodeId, backend: slot.index }, 'storage backend deployment failed');
        await recordFailure(j, step, node.nodeId, err);
        if (!(err instanceof GridError) || !RETRYABLE.has(err.code)) return { ok: false, reason: `${what}: ${zdbReason(err)}` };
        if (j.attempts(step) >= ATTEMPTS_PER_NODE) return { ok: false, reason: `${what}: ${zdbReason(err)}` };
        const { must, rather } = avoidNodes();
        const spec = backendSpec(l, slot.role);
        let again = rather.length ? await planner.planFor(spec, 1, d.placement, [...must, ...rather]) : undefined;
        if (!again?.ok) again = await planner.planFor(spec, 1, d.placement, must);
        if (!again.ok) return { ok: false, reason: `${what}: ${zdbReason(err)}, and ${again.reason}` };
        await j.done(replaceStep, again.nodes[0]);
      }
    }
  }

  /**
   * Plans (once, journaled) and deploys every backend not done yet. `progress` shows how far it got.
   * Returns when all are up, or with the reason the order must be rolled back.
   */
  async function deploy(
    j: Journal,
    user: User,
    d: Deployment,
    identity: Identity,
    progress: (line: string) => Promise<void>,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const l = layoutOf(d);
    let plan = j.result<StoragePlanRecord>(PLAN_STEP);
    if (!plan) {
      const p = await planStorage(planner, l, d.placement);
      if (!p.ok) return { ok: false, reason: p.reason };
      plan = { data: p.data, meta: p.meta };
      await j.done(PLAN_STEP, plan);
    }
    const slots = backendSlots(d.name, l);
    const firsts = [...plan.data, ...plan.meta];
    for (const [k, slot] of slots.entries()) {
      if (j.isDone(STEP(slot.index))) continue;
      await progress(`🔧 Deploying <b>${esc(d.name)}</b>: backend ${slot.index} of ${slots.length}…`);
      const p = plan;
      const r = await deployBackend(j, user, d, identity, l, slot, firsts[k]!, () => avoid(j, p, slot, slots));
      if (!r.ok) return r;
    }
    return { ok: true };
  }

  /** The backends a finished run recorded, in index order. */
  function backendsOf(j: Journal, d: Deployment): NodeInstance[] {
    return backendSlots(d.name, layoutOf(d)).map((s) => j.result<NodeInstance>(STEP(s.index))!);
  }

  /** The order is up: record the backends, then the summary with the mount steps and the config file. */
  async function finish(j: Journal, user: User, d: Deployment): Promise<void> {
    const nodes = backendsOf(j, d);
    const hourlyCost = nodes.reduce((sum, n) => sum + n.hourlyCost, 0);
    const now = clock.now();
    const active = (await updateDeployment(store, user.id, d.id, (x) =>
      x.state === 'provisioning' ? transition({ ...x, nodes, hourlyCost }, 'active', now, 'job') : x,
    ))!;
    const l = layoutOf(active);
    const n = l.data + l.parity;
    const distinct = new Set(nodes.map((x) => x.nodeId)).size;
    const file = configFileName(active);
    const summary = [
      `✅ <b>${esc(active.name)}</b> is up: ${formatGb(l.usableGb)} of quantum-safe storage, ${formatTft(active.hourlyCost)}/h.`,
      `${plural(n, 'data backend')} of ${formatGb(l.backendGb)} (${schemeLabel(l)}: ${schemeWords(l)}) and 4 metadata 0-dbs, on ${plural(distinct, 'grid node')}.`,
      '',
      `The file below, <code>${esc(file)}</code>, is its zstor configuration: every backend's namespace, address and password, and the encryption keys. ` +
        'Keep it safe and secret: this is the only time I send it, and without it the data cannot be read.',
      '',
      mountSteps(active.name),
    ].join('\n');
    await say(user, { text: summary });
    const config = storageConfig(active, nodes, deps.deployments.generatedSecrets(active), now);
    await say(user, {
      text: `🔐 <b>${esc(file)}</b>: the zstor configuration of <b>${esc(active.name)}</b>, with its passwords and keys. Save it as <code>${CONFIG_PATH}</code>.`,
      document: { filename: file, bytes: Buffer.from(config, 'utf8') },
    });
    log.info({ user: user.id, deployment: d.id, backends: nodes.map((x) => x.nodeId) }, 'storage deployment active');
  }

  /** The zstor config as a document, with `caption` (the file name is the one the order's came under). */
  async function sendConfig(user: User, d: Deployment, caption: string): Promise<void> {
    const config = storageConfig(d, d.nodes, deps.deployments.generatedSecrets(d), clock.now());
    await say(user, { text: caption, document: { filename: configFileName(d), bytes: Buffer.from(config, 'utf8') } });
  }

  /**
   * The redeploy job's step for a backend: a 0-db of the same role, mode and size, with the same
   * password, on a node away from the deployment's other backends of that role (and from the other
   * role's while the grid has room), under the backend's next-generation grid name. Where it goes
   * first is planned once (journaled); the deployment itself is the redeploy job's to change.
   */
  async function replace(
    j: Journal,
    user: User,
    d: Deployment,
    old: NodeInstance,
  ): Promise<{ ok: true; node: NodeInstance } | { ok: false; reason: string }> {
    const l = layoutOf(d);
    const slot = slotOf(d, old, old.generation + 1);
    const live = d.nodes.filter((n) => n.state === 'ok' && n.zdb);
    const same = live.filter((n) => n.zdb!.role === slot.role).map((n) => n.nodeId);
    const other = live.filter((n) => n.zdb!.role !== slot.role).map((n) => n.nodeId);
    const steps = new Set([STEP(slot.index), REPLACE_STEP(slot.index), BACKEND_PLAN_STEP]);
    const avoidNodes = () => ({ must: [...new Set([...same, old.nodeId, ...nodesTried(j, (s) => steps.has(s))])], rather: other });
    let first = j.result<PlannedNode>(BACKEND_PLAN_STEP);
    if (!first) {
      const spec = backendSpec(l, slot.role);
      const { must, rather } = avoidNodes();
      let p = await planner.planFor(spec, 1, d.placement, [...must, ...rather]);
      if (!p.ok) p = await planner.planFor(spec, 1, d.placement, must);
      if (!p.ok) return { ok: false, reason: p.reason };
      first = p.nodes[0]!;
      await j.done(BACKEND_PLAN_STEP, first);
    }
    return deployBackend(j, user, d, deps.users.identityOf(user), l, slot, first, avoidNodes);
  }

  /** A backend was replaced (`d` is the deployment after the swap): what moved, and the updated config. */
  async function replaced(user: User, d: Deployment, old: NodeInstance, fresh: NodeInstance): Promise<void> {
    const data = fresh.zdb?.role === 'data';
    const what = `${data ? 'Data' : 'Metadata'} backend ${fresh.index}`;
    await say(user, {
      text: [
        `🔁 ${what} of <b>${esc(d.name)}</b> moved: it now runs on grid node ${fresh.nodeId} (${esc(fresh.city)}, ${esc(fresh.country)}); the old one on grid node ${old.nodeId} is cancelled.`,
        `It starts empty, with the same password: zstor's repair rebuilds what it held from the other ${data ? 'shards' : 'metadata backends'}.`,
        `<b>Update your machine</b>: replace <code>${CONFIG_PATH}</code> with the file below, then run <code>kill -USR1 $(pidof zstor)</code> so zstor reloads it.`,
      ].join('\n'),
    });
    await sendConfig(
      user,
      d,
      `🔐 <b>${esc(configFileName(d))}</b>: the updated zstor configuration of <b>${esc(d.name)}</b> (${esc(what.toLowerCase())} moved). Save it as <code>${CONFIG_PATH}</code>.`,
    );
  }

  /**
   * The extend job's step for more storage: one more group of k + m data backends like the first,
   * on distinct nodes away from the ones the deployment uses where the grid has room. Planned once
   * (journaled, after the new backends' passwords are sealed into the deployment), then deployed
   * one by one like an order's. On failure, the grid names of every new backend, to remove.
   */
  async function grow(
    j: Journal,
    user: User,
    d0: Deployment,
  ): Promise<{ ok: true; nodes: NodeInstance[] } | { ok: false; reason: string; gridNames: string[] }> {
    let d = d0;
    const l = layoutOf(d);
    const used = [...new Set(d.nodes.filter((n) => n.state === 'ok').map((n) => n.nodeId))];
    let plan = j.result<GroupPlanRecord>(GROUP_PLAN_STEP);
    if (!plan) {
      const group = groupCount(d.nodes) + 1;
      if (group > MAX_STORAGE_GROUPS) return { ok: false, reason: `a storage deployment can have at most ${MAX_STORAGE_GROUPS} groups of backends`, gridNames: [] };
      const p = await planGroup(planner, l, d.placement, used);
      if (!p.ok) return { ok: false, reason: p.reason, gridNames: [] };
      const firstIndex = Math.max(0, ...d.nodes.map((n) => n.index)) + 1;
      const firstOrdinal = Math.max(0, ...d.nodes.filter((n) => n.zdb?.role === 'data').map((n) => backendOrdinal(n.gridName))) + 1;
      const indexes = p.nodes.map((_, k) => firstIndex + k);
      // the passwords are sealed in the deployment before anything is deployed with them
      const sealed = await deps.deployments.addBackendPasswords(user.id, d.id, indexes);
      if (!sealed) return { ok: false, reason: 'it no longer exists', gridNames: [] };
      d = sealed;
      plan = { nodes: p.nodes, group, firstIndex, firstOrdinal };
      await j.done(GROUP_PLAN_STEP, plan);
    }
    const p = plan;
    const slots = groupSlots(d.name, l, p.group, p.firstIndex, p.firstOrdinal);
    const names = slots.map((s) => s.gridName);
    const steps = new Set(slots.flatMap((s) => [STEP(s.index), REPLACE_STEP(s.index)]));
    const identity = deps.users.identityOf(user);
    const made: NodeInstance[] = [];
    for (const [k, slot] of slots.entries()) {
      const before = j.result<NodeInstance>(STEP(slot.index));
      if (before) {
        made.push(before);
        continue;
      }
      const r = await deployBackend(j, user, d, identity, l, slot, p.nodes[k]!, () => ({
        must: [...new Set([...p.nodes.map((n) => n.nodeId), ...nodesTried(j, (s) => steps.has(s))])],
        rather: used,
      }));
      if (!r.ok) return { ok: false, reason: r.reason, gridNames: names };
      made.push(r.node);
    }
    return { ok: true, nodes: made };
  }

  /** A group was added (`d` is the deployment with it): how much it holds now, and the updated config. */
  async function grown(user: User, d: Deployment, added: NodeInstance[]): Promise<void> {
    const l = layoutOf(d);
    const groups = groupCount(d.nodes);
    const distinct = new Set(added.map((n) => n.nodeId)).size;
    await say(user, {
      text: [
        `💾 Added ${formatGb(l.usableGb)} to <b>${esc(d.name)}</b>: ${plural(added.length, 'data backend')} of ${formatGb(l.backendGb)} on ${plural(distinct, 'grid node')}, ` +
          `a new group beside the ${groups - 1 === 1 ? 'first' : `other ${groups - 1}`}. It now holds ${formatGb(l.usableGb * groups)} usable, ${formatTft(d.hourlyCost)}/h in all.`,
        `zstor writes new data over every group; what is stored stays where it is.`,
        `<b>Update your machine</b>: replace <code>${CONFIG_PATH}</code> with the file below, then run <code>kill -USR1 $(pidof zstor)</code> so zstor reloads it.`,
      ].join('\n'),
    });
    await sendConfig(
      user,
      d,
      `🔐 <b>${esc(configFileName(d))}</b>: the updated zstor configuration of <b>${esc(d.name)}</b>, with ${groups * (l.data + l.parity)} data backends. Save it as <code>${CONFIG_PATH}</code>.`,
    );
  }

  return { deploy, finish, replace, replaced, grow, grown };
}
