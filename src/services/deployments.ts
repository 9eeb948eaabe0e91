/**
 * Deployments: the product's rules for ordering, looking at and deleting a user's nodes. Only the
 * owner's own file is ever read, so a deployment id from anyone else simply does not exist here.
 * Anything slow or with side effects on the grid is handed to a journaled job.
 */
import type { Clock } from '../clock.js';
import { profileById, type NodeProfile } from '../catalog/index.js';
import type { SecretBox } from '../chain/secret-box.js';
import { isBilled, isDeletable, isLive, isWatched, STATE_LABEL, transition, type Deployment, extensionClaim, type Extension, type Payment, type Placement } from '../domain/deployment.js';
import { ceilToTft, HOURS_PER_MONTH, mul, runwayMs, type Units } from '../domain/money.js';
import type { User } from '../domain/user.js';
import type { Grid, VmInfo } from '../grid/port.js';
import type { ZdbBackend } from '../domain/deployment.js';
import { backendCount, groupCount, MAX_STORAGE_GROUPS, newPassword, planStorage, SECRET, storageLayout, storageSecrets, type StorageLayout } from '../storage/plan.js';
import { RESHAPING_JOBS } from '../jobs/job-store.js';
import type { JobQueue } from '../jobs/worker.js';
import { probeTargetOf, syncLabel, type Prober } from '../probes/prober.js';
import type { UserStore } from '../store/user-store.js';
import type { Plan, PlannedNode, Planner } from './planner.js';
import type { UserService } from './users.js';
import type { WalletService } from './wallet.js';

export const NAME_RULE = 'letters, digits and _, 3 to 20 characters, starting with a letter';
export const MAX_NODES = 50;

export interface Draft {
  profileId: string;
  /** the nodes the user accepted at the summary; provisioning starts there (and moves on if one is gone) */
  plan?: PlannedNode[];
  /** they are the "Certified only" suggestion: retries and replacements keep to certified nodes */
  certifiedOnly?: boolean;
  /** the profile's size id; absent: its default */
  size?: string;
  count: number;
  placement: Placement;
  name: string;
  inputs: Record<string, string>;
  /** a storage profile's order: usable GB and k data + m parity (its `count` is then the backends' number) */
  storage?: { usableGb: number; data: number; parity: number };
}

export interface OrderResult {
  deployment: Deployment;
  /** what the wallet lacks; 0 when provisioning starts at once */
  due: Units;
  balance: Units;
}

export interface NodeStatus {
  index: number;
  nodeId: number;
  country: string;
  city: string;
  contractIds: number[];
  publicIp?: string;
  mycelium?: string;
  hourlyCost: Units;
  state: string;
  message?: string;
  /** the chain's own view: "syncing 63%", "synced", "sync stalled at 63%" */
  chainSync?: string;
  /** a storage backend: its role, namespace, addresses and size */
  zdb?: ZdbBackend;
}

/** The user's wallet as it stands: what it holds, what the grid takes from it, how long that lasts. */
export interface WalletView {
  address: string;
  balance: Units;
  /** hourly cost of all the user's billed deployments, which the same wallet pays */
  hourlyBurn: Units;
  /** how long the balance lasts at that burn, in whole hours as the grid bills; Infinity with no burn */
  runwayMs: number;
}

export interface StatusView extends WalletView {
  deployment: Deployment;
  profile: NodeProfile | undefined;
  nodes: NodeStatus[];
  /** the user has an SSH key in /settings (new VMs get it) */
  sshKey: boolean;
}

/** A request the rules refuse, with the reason in words for the user. */
class Refusal extends Error {}

export function normalizeName(text: string): { ok: true; name: string } | { ok: false; error: string } {
  const name = text.trim().toLowerCase();
  if (name.length > 20) return { ok: false, error: `That name is too long (${[...name].length} characters). Use ${NAME_RULE}.` };
  if (!/^[a-z][a-z0-9_]{2,19}$/.test(name)) return { ok: false, error: `A name can only have ${NAME_RULE}.` };
  return { ok: true, name };
}

export class DeploymentService {
  constructor(
    private readonly store: UserStore,
    private readonly users: UserService,
    private readonly planner: Planner,
    private readonly wallet: WalletService,
    private readonly grid: Grid,
    private readonly jobs: JobQueue,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly paymentTimeoutMs: number,
    private readonly prober: Prober,
  ) {}

  /** The user's deployments that still matter (not deleted), newest first. */
  list(user: User): Deployment[] {
    return user.deployments.filter((d) => d.state !== 'deleted').reverse();
  }

  /** By id or name, among the user's own deployments only. */
  find(user: User, ref: string): Deployment | undefined {
    const r = ref.trim().toLowerCase().replace(/^#/, '');
    return this.list(user).find((d) => d.id === r || d.name === r);
  }

  isNameTaken(user: User, name: string): boolean {
    return user.deployments.some((d) => d.name === name && d.state !== 'deleted');
  }

  quote(draft: Omit<Draft, 'name' | 'inputs'>): Promise<Plan> {
    const profile = profileById(draft.profileId);
    if (!profile) return Promise.resolve({ ok: false, reason: 'that node type does not exist' });
    if (profile.kind === 'storage') return this.quoteStorage(profile, draft);
    return this.planner.plan(profile, draft.count, draft.placement, [], draft.size);
  }

  /** A storage order's layout (backend sizes), from what the user chose; throws on a choice the profile does not offer. */
  storageLayout(profile: NodeProfile, storage: NonNullable<Draft['storage']>): StorageLayout {
    if (!profile.storage) throw new Error(`${profile.id} is not a storage profile`);
    return storageLayout(profile.storage, storage.usableGb, storage);
  }

  /** Where a storage order's backends would go and what they cost: the data backends first, then the metadata ones. */
  private async quoteStorage(profile: NodeProfile, draft: Omit<Draft, 'name' | 'inputs'>): Promise<Plan> {
    if (!draft.storage) return { ok: false, reason: 'the storage size and redundancy are missing' };
    const p = await planStorage(this.planner, this.storageLayout(profile, draft.storage), draft.placement);
    return p.ok ? { ok: true, nodes: [...p.data, ...p.meta], hourlyCost: p.hourlyCost } : p;
  }

  /**
   * Places an order: the deployment is recorded, and a job either starts provisioning (the wallet
   * holds a month of its cost) or waits for the payment, then provisions.
   */
  async order(userId: number, draft: Draft, hourlyCost: Units): Promise<OrderResult> {
    const profile = profileById(draft.profileId);
    if (!profile) throw new Error(`unknown profile ${draft.profileId}`);
    const user = await this.store.get(userId);
    if (!user) throw new Error('unknown user');
    const balance = await this.wallet.balance(user);
    const required = mul(hourlyCost, HOURS_PER_MONTH);
    const due = Math.max(0, required - balance);
    const now = this.clock.now();
    // secret inputs arrive sealed (sealInput); the bot's own secrets are sealed here
    const inputs = Object.fromEntries(profile.inputs.map((i) => [i.key, draft.inputs[i.key] ?? '']));
    // a storage order: its layout, and the 0-db passwords and encryption keys made here, shown once
    const layout = profile.kind === 'storage' && draft.storage ? this.storageLayout(profile, draft.storage) : undefined;
    if (profile.kind === 'storage' && !layout) throw new Error('a storage order needs its size and redundancy');
    const generated = layout ? storageSecrets(layout) : profile.generate?.();
    if (generated) inputs._generated = this.box.seal(JSON.stringify(generated));
    const id = (await this.store.update(userId, (u) => String(u.nextDeploymentId++)))!;
    const state = due > 0 ? 'awaiting_payment' : 'provisioning';
    const deployment: Deployment = {
      id,
      name: draft.name,
      profileId: profile.id,
      ...(draft.size ? { size: draft.size } : {}),
      ...(draft.plan ? { plan: draft.plan } : {}),
      ...(draft.certifiedOnly ? { certifiedOnly: true } : {}),
      count: layout ? backendCount(layout) : draft.count,
      placement: draft.placement,
      inputs,
      ...(layout
        ? { storage: { usableGb: layout.usableGb, data: layout.data, parity: layout.parity, backendGb: layout.backendGb, metaGb: layout.metaGb } }
        : {}),
      state,
      projectName: `jukebox/u${userId}/d${id}`,
      hourlyCost,
      ...(due > 0
        ? {
            payment: {
              required,
              due: ceilToTft(due),
              requestedAt: now,
              expiresAt: now + this.paymentTimeoutMs,
              uri: this.wallet.paymentUri(user.identity.address, due),
            },
          }
        : {}),
      nodes: [],
      autoRedeploy: true,
      createdAt: now,
      updatedAt: now,
      audit: [{ at: now, by: 'user', to: state, note: 'ordered' }],
    };
    await this.jobs.enqueue('provision', userId, id, () =>
      this.store.update(userId, (u) => {
        if (this.isNameTaken(u, draft.name)) throw new Error(`name ${draft.name} is taken`);
        u.deployments.push(deployment);
      }),
    );
    return { deployment, due, balance };
  }

  /** Seals what the user typed for a secret input as soon as it is parsed; other inputs pass as they are. */
  sealInput(profileId: string, key: string, value: string): string {
    return profileById(profileId)?.inputs.find((i) => i.key === key)?.secret ? this.box.seal(value) : value;
  }

  /** The secrets the bot generated for a deployment (RPC passwords…), for the one message that shows them. */
  generatedSecrets(d: Deployment): Record<string, string> {
    const sealed = d.inputs._generated;
    return sealed ? (JSON.parse(this.box.open(sealed)) as Record<string, string>) : {};
  }

  /**
   * Seals a 0-db password for each of these backend indexes that has none yet, into the deployment's
   * generated secrets (a storage group /extend adds); the others are kept as they are.
   */
  async addBackendPasswords(userId: number, deploymentId: string, indexes: number[]): Promise<Deployment | undefined> {
    return this.store.update(userId, (u) => {
      const d = u.deployments.find((x) => x.id === deploymentId && x.state !== 'deleted');
      if (!d) return undefined;
      const secrets = this.generatedSecrets(d);
      const missing = indexes.filter((i) => !secrets[SECRET.password(i)]);
      if (missing.length === 0) return d;
      for (const i of missing) secrets[SECRET.password(i)] = newPassword();
      d.inputs._generated = this.box.seal(JSON.stringify(secrets));
      return d;
    });
  }

  /** A user's input in clear text, for the job that builds the VM's environment. */
  inputsOf(d: Deployment): Record<string, string> {
    const profile = profileById(d.profileId);
    return Object.fromEntries(
      Object.entries(d.inputs)
        .filter(([k]) => k !== '_generated')
        .map(([k, v]) => [k, profile?.inputs.find((i) => i.key === k)?.secret ? this.box.open(v) : v]),
    );
  }

  /** Which deployments /delete may act on now; a provisioning one must finish (or fail) first. */
  deletable(user: User): Deployment[] {
    return this.list(user).filter((d) => isDeletable(d.state));
  }

  /** Deletes at the user's request, or with `why` when the bot does it (the grid deleted its contracts for lack of funds). */
  async requestDelete(userId: number, deploymentId: string, why?: string): Promise<{ ok: true; deployment: Deployment } | { ok: false; reason: string }> {
    try {
      const deployment = await this.jobs.enqueue('teardown', userId, deploymentId, async () => {
        const changed = await this.store.update(userId, (u) => {
          const i = u.deployments.findIndex((d) => d.id === deploymentId && d.state !== 'deleted');
          const d = u.deployments[i];
          if (!d) throw new Refusal('That deployment does not exist (any more).');
          if (!isDeletable(d.state)) throw new Refusal(`${d.name} is ${d.state.replace('_', ' ')}; try again when that is finished.`);
          u.deployments[i] = why ? transition(d, 'deleting', this.clock.now(), 'system', why) : transition(d, 'deleting', this.clock.now(), 'user', 'delete requested');
          return u.deployments[i];
        });
        if (!changed) throw new Refusal('Unknown user.');
        return changed;
      });
      return { ok: true, deployment };
    } catch (e) {
      if (e instanceof Refusal) return { ok: false, reason: e.message };
      throw e;
    }
  }

  /** Deployments /redeploy can act on: up (healthy or not) and not being changed by another job. */
  redeployable(user: User): Deployment[] {
    return this.list(user).filter((d) => isWatched(d.state) && !this.jobs.hasActive(user.id, d.id, RESHAPING_JOBS));
  }

  /**
   * Replaces one node of a deployment with a new one elsewhere. `by: 'user'` (the /redeploy command
   * or the Redeploy button) also clears a recovery the watchdog gave up on.
   */
  async requestRedeploy(userId: number, deploymentId: string, index: number, by: 'user' | 'system'): Promise<{ ok: true; deployment: Deployment } | { ok: false; reason: string }> {
    if (this.jobs.hasActive(userId, deploymentId, RESHAPING_JOBS)) {
      return { ok: false, reason: 'That deployment is already being changed; wait for the message saying it is done.' };
    }
    try {
      const deployment = await this.jobs.enqueue(
        'redeploy',
        userId,
        deploymentId,
        async () => {
          const changed = await this.store.update(userId, (u) => {
            const d = u.deployments.find((x) => x.id === deploymentId && x.state !== 'deleted');
            if (!d) throw new Refusal('That deployment does not exist (any more).');
            if (!isWatched(d.state)) throw new Refusal(`${d.name} is ${STATE_LABEL[d.state]}; a node can be replaced when it is up.`);
            const n = d.nodes.find((x) => x.index === index && x.state === 'ok');
            if (!n) throw new Refusal(`${d.name} has no node ${index}.`);
            if (by === 'user') delete n.recovery;
            return d;
          });
          if (!changed) throw new Refusal('Unknown user.');
          return changed;
        },
        { index, by },
      );
      return { ok: true, deployment };
    } catch (e) {
      if (e instanceof Refusal) return { ok: false, reason: e.message };
      throw e;
    }
  }

  /** Turns the replacement of failed nodes by the bot on or off for one deployment. */
  async setAutoRedeploy(userId: number, deploymentId: string, on: boolean): Promise<Deployment | undefined> {
    return this.store.update(userId, (u) => {
      const d = u.deployments.find((x) => x.id === deploymentId && x.state !== 'deleted');
      if (d) d.autoRedeploy = on;
      return d;
    });
  }

  /** Deployments /extend can act on: up, with no other extension under way. */
  extendable(user: User): Deployment[] {
    return this.list(user).filter((d) => isWatched(d.state) && !d.extension);
  }

  /**
   * A top-up that buys `hours` more: the hourly cost of everything the wallet pays, times the hours.
   * The wallet pays all the user's deployments, so that is what a period of runway costs.
   */
  async topUpQuote(user: User, hours: number): Promise<{ amount: Units; view: WalletView; runwayAfterMs: number }> {
    const view = await this.walletView(user);
    const amount = ceilToTft(Math.max(1, mul(view.hourlyBurn, hours)));
    const runwayAfterMs = runwayMs(view.balance + amount, view.hourlyBurn);
    return { amount, view, runwayAfterMs };
  }

  /**
   * Starts an extension: a top-up (always paid by a deposit), more nodes, or more storage (a storage
   * deployment's groups of data backends); those two are paid first when the wallet lacks a month of
   * their cost. A job waits for the payment and does the rest.
   */
  async requestExtension(
    userId: number,
    deploymentId: string,
    ext:
      | { kind: 'topup'; hours: number }
      | { kind: 'grow'; count: number; placement: Placement; hourlyCost: Units }
      | { kind: 'storage'; groups: number; hourlyCost: Units },
  ): Promise<{ ok: true; deployment: Deployment; due: Units } | { ok: false; reason: string }> {
    const user = await this.store.get(userId);
    if (!user) return { ok: false, reason: 'Unknown user.' };
    const now = this.clock.now();
    const prompt = (due: Units, required: Units): Payment => ({
      required,
      due: ceilToTft(due),
      requestedAt: now,
      expiresAt: now + this.paymentTimeoutMs,
      uri: this.wallet.paymentUri(user.identity.address, due),
    });
    let extension: Extension;
    if (ext.kind === 'topup') {
      // only a deposit pays a top-up: no balance, however large, stands in for it
      extension = { kind: 'topup', hours: ext.hours, payment: prompt((await this.topUpQuote(user, ext.hours)).amount, Number.MAX_SAFE_INTEGER) };
    } else {
      const required = mul(ext.hourlyCost, HOURS_PER_MONTH);
      const due = Math.max(0, required - (await this.wallet.balance(user)));
      extension = { ...ext, ...(due > 0 ? { payment: prompt(due, required) } : {}) };
    }
    try {
      const deployment = await this.jobs.enqueue('extend', userId, deploymentId, async () => {
        const changed = await this.store.update(userId, (u) => {
          const d = u.deployments.find((x) => x.id === deploymentId && x.state !== 'deleted');
          if (!d) throw new Refusal('That deployment does not exist (any more).');
          if (!isWatched(d.state)) throw new Refusal(`${d.name} is ${STATE_LABEL[d.state]}; it can be extended when it is up.`);
          if (d.extension) throw new Refusal(`${d.name} already has an extension under way; finish or cancel it first.`);
          if (ext.kind === 'grow' && d.storage) throw new Refusal(`${d.name} is storage: /extend adds storage to it, not nodes.`);
          if (ext.kind === 'grow' && d.count + ext.count > MAX_NODES) throw new Refusal(`A deployment can have at most ${MAX_NODES} nodes.`);
          if (ext.kind === 'storage') {
            if (!d.storage) throw new Refusal(`${d.name} is not a storage deployment.`);
            const groups = groupCount(d.nodes);
            if (groups + ext.groups > MAX_STORAGE_GROUPS) throw new Refusal(`A storage deployment can have at most ${MAX_STORAGE_GROUPS} groups of backends; ${d.name} has ${groups}.`);
          }
          d.extension = extension;
          return d;
        });
        if (!changed) throw new Refusal('Unknown user.');
        return changed;
      });
      return { ok: true, deployment, due: extension.payment?.due ?? 0 };
    } catch (e) {
      if (e instanceof Refusal) return { ok: false, reason: e.message };
      throw e;
    }
  }

  /** Withdraws an extension still waiting for its payment; once paid it goes through. */
  async cancelExtension(userId: number, deploymentId: string): Promise<{ ok: boolean; reason?: string }> {
    const r = await this.store.update(userId, (u) => {
      const d = u.deployments.find((x) => x.id === deploymentId);
      if (!d?.extension?.payment) return d?.extension ? 'It is paid already and under way; I will report when it is done.' : 'Nothing is waiting for a payment.';
      delete d.extension;
      return undefined;
    });
    if (r) return { ok: false, reason: r };
    this.jobs.nudge(userId, deploymentId);
    return { ok: true };
  }

  /** "I have paid" for an extension: credits deposits and wakes its job. */
  async checkExtensionPayment(user: User, deploymentId: string): Promise<{ paid: boolean; balance: Units }> {
    await this.wallet.syncDeposits(user.id);
    const x = user.deployments.find((d) => d.id === deploymentId)?.extension;
    const paid = x?.payment ? await this.wallet.isPaid(user.id, extensionClaim(deploymentId, x.payment), x.payment) : true;
    if (paid) this.jobs.nudge(user.id, deploymentId);
    return { paid, balance: await this.wallet.balance(user) };
  }

  /** Payment check on demand ("I have paid"): credits deposits and wakes the order's job if it is paid. */
  async checkPayment(user: User, deploymentId: string): Promise<{ paid: boolean; balance: Units }> {
    await this.wallet.syncDeposits(user.id);
    const d = user.deployments.find((x) => x.id === deploymentId);
    const paid = d ? await this.wallet.isOrderPaid(user.id, d) : false;
    if (paid) this.jobs.nudge(user.id, deploymentId);
    return { paid, balance: await this.wallet.balance(user) };
  }

  async status(user: User, d: Deployment): Promise<StatusView> {
    const identity = this.users.identityOf(user);
    const live = isLive(d.state) && d.nodes.length > 0;
    const vms = new Map<number, Pick<VmInfo, 'state' | 'message'>>(); // by contract id
    if (live) {
      const infos = await Promise.all(
        d.nodes.map((n) =>
          (n.zdb ? this.grid.getZdbs(identity, d.projectName, n.gridName) : this.grid.getVms(identity, d.projectName, n.gridName)).catch(() => []),
        ),
      );
      infos.flat().forEach((v) => vms.set(v.contractId, v));
    }
    const nodes: NodeStatus[] = d.nodes.map((n) => {
      const vm = n.contractIds[0] === undefined ? undefined : vms.get(n.contractIds[0]);
      return {
        index: n.index,
        nodeId: n.nodeId,
        country: n.country,
        city: n.city,
        contractIds: n.contractIds,
        ...(n.publicIp ? { publicIp: n.publicIp } : {}),
        ...(n.mycelium ? { mycelium: n.mycelium } : {}),
        hourlyCost: n.hourlyCost,
        state: n.state === 'deleted' ? 'deleted' : vm ? vm.state : live ? 'missing' : n.state,
        ...(vm?.message ? { message: vm.message } : {}),
        ...(n.zdb ? { zdb: n.zdb } : {}),
      };
    });
    await this.addSync(d, nodes);
    return { deployment: d, profile: profileById(d.profileId), nodes, sshKey: user.settings.sshKey !== undefined, ...(await this.walletView(user)) };
  }

  /**
   * The chain's own view of each running node, asked live so a node deployed a minute ago shows its
   * progress; a stall is what the watchdog recorded (it needs the height over time).
   */
  private async addSync(d: Deployment, nodes: NodeStatus[]): Promise<void> {
    const spec = profileById(d.profileId)?.probe;
    if (!spec || spec.kind === 'none') return;
    const secrets = () => this.generatedSecrets(d);
    await Promise.all(
      nodes.map(async (s) => {
        const n = d.nodes.find((x) => x.index === s.index);
        if (!n || s.state !== 'ok') return;
        if (n.problem?.kind === 'sync_stalled') {
          s.chainSync = syncLabel({ state: 'syncing', progress: n.sync?.progress ?? 0, stalledSince: n.sync?.since ?? 0 });
          return;
        }
        const r = await this.prober.probe(spec, probeTargetOf(spec, n, secrets));
        if (r.state !== 'unreachable') s.chainSync = syncLabel(r);
      }),
    );
  }

  async walletView(user: User): Promise<WalletView> {
    const balance = await this.wallet.balance(user);
    const hourlyBurn = user.deployments.filter((x) => isBilled(x.state)).reduce((s, x) => s + x.hourlyCost, 0);
    return {
      address: user.identity.address,
      balance,
      hourlyBurn,
      runwayMs: runwayMs(balance, hourlyBurn),
    };
  }
}
