/**
 * The Grid port on the real ThreeFold Grid, through grid_client (client-seam.ts). It keeps the
 * simulated grid's semantics (a shared contract suite runs both):
 * - node search and prices use the operator's client (its twin exists); everything about a user's
 *   deployments uses that user's client from the pool, with modules bound to the deployment's
 *   project name (see client-seam.ts for why a module per call and not a shared setting);
 * - grid_client matches project names by prefix ("jukebox/u1/d1" also finds "jukebox/u1/d12");
 *   reads keep only the exact project, and a deploy checks the exact name is free first;
 * - a failed deploy reports in GridError.rolledBack every contract it created, checked on chain:
 *   cancelled by grid_client's rollback, or by us when the rollback left one alive;
 * - GraphQL lags the chain by seconds (longer when the indexer is behind): whatever it lists as
 *   live is confirmed on chain before it decides anything (a name taken, a contract to cancel or
 *   to list), and the contracts found gone are handed to grid_client (forgetContracts) so its own
 *   checks agree;
 * - deletes cancel by contract id (grid_client's module delete asks the KYC service first, so an
 *   outage or a lapsed verification would leave contracts billing), several in one batch extrinsic;
 *   a deployment this process made is also looked for on chain (GraphQL may not list it yet);
 * - every failure becomes a GridError (errors.ts), with no secret in its message.
 */
import { systemClock, type Clock } from '../../clock.js';
import { DAY_MS, HOUR_MS, type Units } from '../../domain/money.js';
import type { Logger } from '../../log.js';
import { Lru } from '../../store/lru.js';
import {
  GridError,
  type ContractInfo,
  type Grid,
  type GridNode,
  type Identity,
  type NodeFilter,
  type NodeStatus,
  type Resources,
  type VerificationStatus,
  type VmDeployment,
  type VmInfo,
  type ZdbDeployment,
  type ZdbInfo,
} from '../port.js';
import type {
  ChainContractShape,
  DeploymentResultShape,
  GqlContractState,
  GridClientLike,
  NodeInfoShape,
  ProjectModules,
} from './client-seam.js';
import { forgetContracts } from './client-seam.js';
import { isContractGone, toGridError } from './errors.js';
import { kycFactory, Verifications, type KycFactory } from './kyc.js';
import {
  byFreeCpu,
  calculatorResourcesOf,
  hourlyUnits,
  isDeployable,
  matchesFilter,
  networkNameOf,
  networksOf,
  parseContract,
  parseMetadata,
  selectListed,
  tftToUnits,
  toContractInfo,
  toFilterOptions,
  toGridNode,
  toMachinesModel,
  toVmInfos,
  toZdbInfos,
  toZdbsModel,
  validateProjectName,
  type ParsedContract,
} from './models.js';
import type { ClientPool, TfGridSettings, TwinRegistrar } from './seams.js';

export interface TfGridOptions {
  settings: TfGridSettings;
  pool: ClientPool<GridClientLike>;
  registrar: TwinRegistrar;
  /** the operator's identity: its client searches nodes and prices */
  operator: Identity;
  /**
   * Where the operator's client lives: a pool of its own (open.ts: one client, never evicted), so
   * node search and pricing, which run inside chat handlers, never wait for a slot of the users'
   * pool. Default: the users' pool.
   */
  operatorPool?: ClientPool<GridClientLike>;
  log: Logger;
  /** ages the cost cache; default the system clock */
  clock?: Clock;
  /** the grid's identity verification (KYC) per identity; default grid_client's KYC client */
  kyc?: KycFactory;
}

const LIVE: GqlContractState[] = ['Created', 'GracePeriod'];
const ALL: GqlContractState[] = ['Created', 'GracePeriod', 'Deleted', 'OutOfFunds'];
/** TFChain's grace period: getDeletionTime is its start plus this. */
const GRACE_MS = 14 * DAY_MS;
/** filterNodes pages; the search stops at a short page, or after this many */
const PAGE_SIZE = 100;
const MAX_PAGES = 20;
/**
 * Nodes grid_client drops from a page by itself, after gridproxy answered: on a proxy URL with
 * "dev" in it, node 259 (primitives/nodes.js TMP_EXCLUDED_NODES). A page that short is still full.
 */
const DEV_DROPPED = 1;
/** contract cost lookups in flight at once per listing */
const LOOKUPS = 6;
/** a billed contract's hourly cost changes with prices only; a fresh one's estimate gives way to its first bill */
const BILLED_COST_TTL_MS = HOUR_MS;
const ESTIMATE_TTL_MS = 10 * 60_000;
/** deployments this process made, remembered for deleteDeployment (see Made) */
const MADE_MAX = 10_000;

/**
 * What one successful deploy of this process made: its contracts, its nodes, and the chain's last
 * contract id before it (its network contracts, which deploy does not return, are above it on
 * those nodes). GraphQL lags the chain: a delete right after the deploy finds them through this.
 */
interface Made {
  contractIds: number[];
  nodes: number[];
  floor: number | undefined;
}
const madeKey = (twinId: number, projectName: string, name: string): string => JSON.stringify([twinId, projectName, name]);

const isDeleted = (c: ChainContractShape | null | undefined): boolean =>
  c === null || c === undefined || (c.state !== null && typeof c.state === 'object' && 'deleted' in c.state);
const isDeploymentContract = (x: ParsedContract): boolean => x.kind === 'vm' || x.kind === 'zdb';

/** Runs fn over items with at most `limit` calls in flight, results in order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function checkPriced(r: Resources & { publicIps: number }): void {
  for (const k of ['cru', 'mruMb', 'sruGb', 'hruGb'] as const) {
    if (!Number.isFinite(r[k]) || r[k] < 0) throw new GridError('invalid', `${k} must be a non-negative number, got ${r[k]}`);
  }
  if (!Number.isSafeInteger(r.publicIps) || r.publicIps < 0) {
    throw new GridError('invalid', `publicIps must be a non-negative integer, got ${r.publicIps}`);
  }
}

export class TfGrid implements Grid {
  readonly kind = 'tfgrid' as const;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** hourly cost per contract id: a deleted contract's never changes */
  private readonly costs = new Lru<number, { units: Units; until: number }>(50_000);
  /** per (twin, exact project, name): what a deploy of this process made (see Made) */
  private readonly made = new Lru<string, Made>(MADE_MAX);

  private readonly verifications: Verifications;

  constructor(private readonly o: TfGridOptions) {
    this.clock = o.clock ?? systemClock;
    this.log = o.log;
    this.verifications = new Verifications(o.kyc ?? kycFactory(o.settings), o.log);
  }

  // ---------------------------------------------------------------- twins and nodes

  verification(id: Identity): Promise<VerificationStatus> {
    return this.verifications.status(id);
  }

  verificationLink(id: Identity): Promise<string> {
    return this.verifications.link(id);
  }

  async ensureTwin(id: Identity): Promise<number> {
    return this.guard(`create the twin of ${id.address}`, [id.mnemonic], () => this.o.registrar.ensureTwin(id));
  }

  async findNodes(filter: NodeFilter): Promise<GridNode[]> {
    if (filter.limit !== undefined && (!Number.isSafeInteger(filter.limit) || filter.limit < 0)) {
      throw new GridError('invalid', `limit must be a non-negative integer, got ${filter.limit}`);
    }
    if (filter.limit === 0) return [];
    return this.asOperator('find nodes', async (c) => {
      const found = filter.nodeIds ? await this.nodesById(c, filter) : await this.searchNodes(c, filter);
      found.sort(byFreeCpu);
      return filter.limit !== undefined ? found.slice(0, filter.limit) : found;
    });
  }

  async getNode(nodeId: number): Promise<GridNode | undefined> {
    return this.asOperator(`get node ${nodeId}`, async (c) => {
      const raw = await c.capacity.nodes.getNode(nodeId);
      return raw ? toGridNode(raw) : undefined;
    });
  }

  /** Appends the nodes of `raw` that pass the filter (and that anyone may deploy on), once each. */
  private keep(raw: NodeInfoShape[], filter: NodeFilter, out: GridNode[], seen: Set<number>): void {
    for (const n of raw) {
      if (seen.has(n.nodeId) || !isDeployable(n)) continue;
      seen.add(n.nodeId);
      const node = toGridNode(n);
      if (matchesFilter(node, filter)) out.push(node);
    }
  }

  private async nodesById(c: GridClientLike, filter: NodeFilter): Promise<GridNode[]> {
    const raw = await Promise.all([...new Set(filter.nodeIds)].map((id) => c.capacity.nodes.getNode(id)));
    const out: GridNode[] = [];
    this.keep(raw.filter((n): n is NodeInfoShape => n !== undefined), filter, out, new Set());
    return out;
  }

  /**
   * Pages through filterNodes per status until a page comes back short or enough nodes matched.
   * Excluded nodes are not sent: grid_client drops them from each page after gridproxy answered,
   * so a full page would come back short and end the search early; keep() leaves them out.
   */
  private async searchNodes(c: GridClientLike, filter: NodeFilter): Promise<GridNode[]> {
    const want = filter.status ?? 'up';
    const statuses: NodeStatus[] = want === 'any' ? ['up', 'standby', 'down'] : [want];
    const out: GridNode[] = [];
    const seen = new Set<number>();
    const { excludeNodeIds: _excluded, ...paged } = filter;
    const full = PAGE_SIZE - (this.o.settings.urls.proxy.includes('dev') ? DEV_DROPPED : 0);
    for (const status of statuses) {
      for (let page = 1; page <= MAX_PAGES; page++) {
        const opts = toFilterOptions(paged, { status, availableFor: c.twinId, page, size: PAGE_SIZE });
        const raw = await c.capacity.filterNodes(opts);
        this.keep(raw, filter, out, seen);
        if (raw.length < full || (filter.limit !== undefined && out.length >= filter.limit)) break;
      }
      if (filter.limit !== undefined && out.length >= filter.limit) break;
    }
    return out;
  }

  // ---------------------------------------------------------------- deployments

  async deployVms(id: Identity, d: VmDeployment): Promise<{ contractIds: number[] }> {
    const model = toMachinesModel(d);
    const secrets = d.machines.flatMap((m) => Object.values(m.env));
    const nodes = d.machines.map((m) => m.nodeId);
    return this.deploy(id, d, 'vm', nodes, secrets, (mods) => ({ module: mods.machines, run: () => mods.machines.deploy(model) }));
  }

  async deployZdbs(id: Identity, d: ZdbDeployment): Promise<{ contractIds: number[] }> {
    const model = toZdbsModel(d);
    const secrets = d.zdbs.map((z) => z.password);
    const nodes = d.zdbs.map((z) => z.nodeId);
    return this.deploy(id, d, 'zdb', nodes, secrets, (mods) => ({ module: mods.zdbs, run: () => mods.zdbs.deploy(model) }));
  }

  async getVms(id: Identity, projectName: string, name: string): Promise<VmInfo[]> {
    validateProjectName(projectName);
    return noneWithoutTwin(
      this.asUser(id, `read vm deployment "${name}" of project "${projectName}"`, async (c) => {
        const m = c.forProject(projectName).machines;
        const data = await m.getObj(name);
        return toVmInfos(data, m.contracts, projectName, name);
      }),
      [],
    );
  }

  async getZdbs(id: Identity, projectName: string, name: string): Promise<ZdbInfo[]> {
    validateProjectName(projectName);
    return noneWithoutTwin(
      this.asUser(id, `read zdb deployment "${name}" of project "${projectName}"`, async (c) => {
        const m = c.forProject(projectName).zdbs;
        const data = await m.getObj(name);
        return toZdbInfos(data, m.contracts, projectName, name);
      }),
      [],
    );
  }

  /**
   * Cancels, by contract id, the deployment's VM or zdb contracts and its network contracts: those
   * GraphQL lists live in the exact project, confirmed on chain, and, when this process deployed
   * it, those its deploy made, found on chain (GraphQL may not list a contract made seconds ago):
   * the deploy's contracts and those of this twin above its floor on its nodes, whose metadata
   * names this project and deployment (or its network). Not grid_client's module delete:
   * it asks the KYC service first (twinDeploymentHandler.handle), so a KYC outage or a user no
   * longer verified could never stop paying; a cancel needs no KYC, and zos removes the workloads
   * of a cancelled contract. Returns the ids cancelled now; unknown names (or contracts gone
   * already) return [].
   */
  async deleteDeployment(id: Identity, projectName: string, name: string): Promise<number[]> {
    validateProjectName(projectName);
    const cancelled = this.asUser(id, `delete deployment "${name}" of project "${projectName}"`, async (c) => {
      const live = (await this.parsed(c, LIVE)).filter((x) => x.projectName === projectName);
      const listed = [...live.filter((x) => x.name === name && isDeploymentContract(x)), ...networksOf(live, projectName, name)];
      const key = madeKey(c.twinId, projectName, name);
      const made = this.made.get(key);
      const net = networkNameOf(projectName, name);
      const fresh = made ? await this.madeOnNodes(c, made.nodes, made.floor, (p, n) => p === projectName && (n === name || n === net), made.contractIds) : [];
      const { alive } = await this.confirm(c, listed);
      const { cancelled: done, failed } = await this.cancelMany(c, [...alive.map((x) => x.contractId), ...fresh]);
      const [first] = failed.values();
      if (first !== undefined) throw first;
      this.made.delete(key);
      return done.sort((a, b) => a - b);
    });
    return noneWithoutTwin(cancelled, []);
  }

  async listContracts(id: Identity, opts: { projectPrefix?: string; includeDeleted?: boolean } = {}): Promise<ContractInfo[]> {
    const listed = this.asUser(id, `list the contracts of ${id.address}`, async (c) => {
      const rows = selectListed(await this.parsed(c, opts.includeDeleted ? ALL : LIVE), opts.projectPrefix ?? '', opts.includeDeleted === true);
      // the chain's state, not GraphQL's: a contract it still lists live may be gone a while already
      const checked = await mapLimit(rows, LOOKUPS, (p) => (p.state === 'deleted' ? Promise.resolve(p) : this.withChainState(c, p)));
      const shown = checked.filter((p) => opts.includeDeleted === true || p.state !== 'deleted');
      return mapLimit(shown, LOOKUPS, async (p) => {
        const [cost, graceStartedAt] = await Promise.all([this.costOf(c, p), p.state === 'grace' ? this.graceStart(c, p.contractId) : undefined]);
        return toContractInfo(p, cost, graceStartedAt);
      });
    });
    return noneWithoutTwin(listed, []);
  }

  /** Not yours (or unknown) → not_found; already deleted → nothing to do. Cancelling a VM also cancels its network when no VM of it is left on that node. */
  async cancelContract(id: Identity, contractId: number): Promise<void> {
    const notFound = () => new GridError('not_found', `contract ${contractId} not found among your contracts`);
    const done = this.asUser(id, `cancel contract ${contractId}`, async (c) => {
      const onChain = await c.contracts.get({ id: contractId });
      if (onChain && !isDeleted(onChain)) {
        if (onChain.twinId !== c.twinId) throw notFound();
        await this.cancelOnChain(c, contractId, true);
        forgetContracts([contractId]);
        await this.cancelNetworksOf(c, onChain, this.secrets(id));
        return;
      }
      // gone from the chain: a contract of ours cancelled before, or none of ours at all
      if (!(await this.parsed(c, ALL)).some((x) => x.contractId === contractId)) throw notFound();
    });
    // no twin, no contracts
    return done.catch((err: unknown) => {
      throw err instanceof GridError && err.code === 'no_twin' ? notFound() : err;
    });
  }

  // ---------------------------------------------------------------- prices

  /**
   * The calculator's shared-node price, without discount, in units per hour (see hourlyUnits).
   * The calculator takes one public IPv4 as a flag and prices linearly, so n IPs cost n times the
   * price of one alone.
   */
  async hourlyCost(r: Resources & { publicIps: number; certified: boolean }): Promise<Units> {
    checkPriced(r);
    return this.asOperator('price resources', (c) =>
      this.priceOf(c, { cru: r.cru, mru: r.mruMb / 1024, sru: r.sruGb, hru: r.hruGb, publicIps: r.publicIps, certified: r.certified }),
    );
  }

  private async priceOf(
    c: GridClientLike,
    r: { cru: number; mru: number; sru: number; hru: number; publicIps: number; certified: boolean },
  ): Promise<Units> {
    const none = { sharedPrice: 0, dedicatedPrice: 0 };
    const [plain, oneIp, usdPerTft] = await Promise.all([
      c.calculator.calculate({ cru: r.cru, mru: r.mru, sru: r.sru, hru: r.hru, ipv4u: false, certified: r.certified }),
      r.publicIps > 0 ? c.calculator.calculate({ cru: 0, mru: 0, sru: 0, hru: 0, ipv4u: true, certified: r.certified }) : Promise.resolve(none),
      c.calculator.tftPrice(),
    ]);
    return hourlyUnits(plain.sharedPrice + r.publicIps * oneIp.sharedPrice, usdPerTft);
  }

  /**
   * What the contract is billed per hour: its latest bills (discounts included); before its first
   * bill, the calculator's price for what it reserves on chain. Cached (see the TTLs); a lookup
   * that fails falls back on a stale value when there is one.
   */
  private async costOf(c: GridClientLike, p: ParsedContract): Promise<Units> {
    const now = this.clock.now();
    const hit = this.costs.get(p.contractId);
    if (hit && hit.until > now) return hit.units;
    try {
      let units = tftToUnits((await c.contracts.getConsumption({ id: p.contractId })).amountBilled);
      let ttl = p.state === 'deleted' ? Infinity : BILLED_COST_TTL_MS;
      if (units === 0 && p.state !== 'deleted' && (p.kind === 'vm' || p.kind === 'zdb')) {
        units = await this.estimate(c, p);
        ttl = ESTIMATE_TTL_MS;
      }
      this.costs.set(p.contractId, { units, until: now + ttl });
      return units;
    } catch (err) {
      if (hit) return hit.units;
      throw err;
    }
  }

  private async estimate(c: GridClientLike, p: ParsedContract): Promise<Units> {
    const query = c.tfclient.api.query['smartContractModule']?.['nodeContractResources'];
    if (!query) return 0;
    const codec = (await query(p.contractId)) as { toPrimitive?: () => unknown } | undefined;
    const used = (codec?.toPrimitive?.() as { used?: { cru?: number; mru?: number; sru?: number; hru?: number } } | undefined)?.used ?? {};
    const node = await c.capacity.nodes.getNode(p.nodeId);
    return this.priceOf(c, { ...calculatorResourcesOf(used), publicIps: p.publicIps, certified: node?.certificationType === 'Certified' });
  }

  private async graceStart(c: GridClientLike, contractId: number): Promise<number | undefined> {
    const deletion = await c.contracts.getDeletionTime({ id: contractId });
    return deletion > 0 ? deletion - GRACE_MS : undefined;
  }

  // ---------------------------------------------------------------- internals

  /**
   * One deploy: the exact name must be free in the project (clearName); on failure every contract
   * the deploy created is accounted for (settleFailedDeploy) and reported in the GridError.
   */
  private async deploy(
    id: Identity,
    d: { projectName: string; name: string },
    kind: 'vm' | 'zdb',
    nodes: number[],
    secrets: string[],
    pick: (mods: ProjectModules) => { module: { twinDeploymentHandler: ProjectModules['machines']['twinDeploymentHandler'] }; run: () => Promise<{ contracts: DeploymentResultShape }> },
  ): Promise<{ contractIds: number[] }> {
    const what = `deploy ${kind} deployment "${d.name}" of project "${d.projectName}"`;
    return this.asUser(
      id,
      what,
      async (c) => {
        const before = (await this.parsed(c, ALL)).filter((x) => x.projectName === d.projectName);
        await this.clearName(c, d, before, this.secrets(id, secrets));
        // contracts made from here on have higher ids: what a failure left on chain is found by it
        const floor = await this.lastContractId(c);
        const { module, run } = pick(c.forProject(d.projectName));
        const created = recordRollback(module.twinDeploymentHandler);
        try {
          const result = await run();
          const contractIds = result.contracts.created.map((x) => Number(x.contractId));
          this.made.set(madeKey(c.twinId, d.projectName, d.name), { contractIds, nodes, floor });
          return { contractIds };
        } catch (err) {
          const hidden = this.secrets(id, secrets);
          const rolledBack = await this.settleFailedDeploy(c, d, kind, { before: new Set(before.map((x) => x.contractId)), floor, nodes }, created, hidden);
          throw toGridError(err, { what, secrets: hidden, fallback: 'workload_error' }, rolledBack);
        }
      },
      secrets,
    );
  }

  /**
   * Throws name_taken when a VM or zdb contract of this name in the exact project is alive on
   * chain. What GraphQL still lists but the chain no longer has (a failed attempt rolled back a
   * moment ago: the product's retry redeploys under the same name on another node) is handed to
   * grid_client, whose deploy checks the name again from GraphQL. Network contracts of this
   * deployment alive without it are a failed attempt's leftovers: they are cancelled, or
   * grid_client would load the network from them and ask their node (maybe the one that failed).
   */
  private async clearName(c: GridClientLike, d: { projectName: string; name: string }, before: ParsedContract[], hidden: string[]): Promise<void> {
    const listed = before.filter((x) => x.state !== 'deleted');
    const holders = listed.filter((x) => x.name === d.name && isDeploymentContract(x));
    const { alive } = await this.confirm(c, [...holders, ...networksOf(listed, d.projectName, d.name)]);
    if (alive.some(isDeploymentContract)) {
      throw new GridError('name_taken', `a deployment named "${d.name}" already exists in project "${d.projectName}"`);
    }
    if (alive.length === 0) return;
    const { cancelled, failed } = await this.cancelMany(c, alive.map((x) => x.contractId));
    if (cancelled.length > 0) this.log.warn({ project: d.projectName, deployment: d.name, contracts: cancelled }, 'cancelled network contracts a failed deployment left');
    for (const [contract, err] of failed) {
      this.log.warn({ project: d.projectName, deployment: d.name, contract, err: this.scrubbed(err, hidden) }, 'could not cancel a network contract a failed deployment left');
    }
  }

  /**
   * The contracts a failed deploy created: those grid_client handed to its rollback, those of this
   * deployment (or its network) that GraphQL lists since the deploy began, and those the chain
   * holds on the deployment's nodes with ids above `floor` (grid_client never rolls back a failure
   * inside the contract-creating extrinsic, and GraphQL lags). Each is checked on chain: gone means
   * rolled back; alive means the rollback failed (or never ran), and we cancel it. One we cannot
   * cancel is logged as an error and left out: it is still billed.
   */
  private async settleFailedDeploy(
    c: GridClientLike,
    d: { projectName: string; name: string },
    kind: 'vm' | 'zdb',
    seen: { before: Set<number>; floor: number | undefined; nodes: number[] },
    rolledBackByGrid: number[],
    hidden: string[],
  ): Promise<number[]> {
    const ids = new Set(rolledBackByGrid);
    const net = kind === 'vm' ? networkNameOf(d.projectName, d.name) : undefined;
    const ours = (projectName: string, name: string) => projectName === d.projectName && (name === d.name || name === net);
    try {
      for (const x of await this.parsed(c, ALL)) {
        if (!seen.before.has(x.contractId) && ours(x.projectName, x.name)) ids.add(x.contractId);
      }
    } catch (err) {
      this.log.warn({ project: d.projectName, deployment: d.name, err: this.scrubbed(err, hidden) }, 'could not list contracts after a failed deployment');
    }
    try {
      for (const contractId of await this.madeOnNodes(c, seen.nodes, seen.floor, ours)) ids.add(contractId);
    } catch (err) {
      this.log.warn({ project: d.projectName, deployment: d.name, err: this.scrubbed(err, hidden) }, 'could not read the chain after a failed deployment');
    }
    const sorted = [...ids].sort((a, b) => a - b);
    const alive = new Set<number>();
    const unknown = new Map<number, unknown>();
    await mapLimit(sorted, LOOKUPS, async (contractId) => {
      try {
        if (!isDeleted(await c.contracts.get({ id: contractId }))) alive.add(contractId);
      } catch (err) {
        unknown.set(contractId, err);
      }
    });
    const { cancelled, failed } = await this.cancelMany(c, [...alive]);
    for (const contractId of cancelled) {
      this.log.warn({ project: d.projectName, deployment: d.name, contract: contractId }, 'cancelled a contract the failed deployment left alive');
    }
    for (const [contractId, err] of [...unknown, ...failed]) {
      this.log.error(
        { project: d.projectName, deployment: d.name, contract: contractId, err: this.scrubbed(err, hidden) },
        'could not cancel a contract of a failed deployment: it is still billed',
      );
    }
    const rolledBack = sorted.filter((x) => !unknown.has(x) && !failed.has(x));
    forgetContracts(rolledBack);
    return rolledBack;
  }

  /** TFChain's last contract id (smartContractModule.contractID); undefined when it cannot be read. */
  private async lastContractId(c: GridClientLike): Promise<number | undefined> {
    try {
      const query = c.tfclient.api.query['smartContractModule']?.['contractID'];
      if (!query) return undefined;
      const id = Number(((await query()) as { toPrimitive?: () => unknown } | undefined)?.toPrimitive?.());
      return Number.isSafeInteger(id) && id >= 0 ? id : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Contracts of this client's twin alive on chain on these nodes (activeNodeContracts), with ids
   * above `floor` (none without a floor), or among `known`, whose metadata passes `ours`.
   */
  private async madeOnNodes(
    c: GridClientLike,
    nodes: number[],
    floor: number | undefined,
    ours: (projectName: string, name: string) => boolean,
    known: number[] = [],
  ): Promise<number[]> {
    const query = c.tfclient.api.query['smartContractModule']?.['activeNodeContracts'];
    const fresh: number[] = [...known];
    if (query && floor !== undefined) {
      for (const node of new Set(nodes)) {
        const listed = ((await query(node)) as { toPrimitive?: () => unknown } | undefined)?.toPrimitive?.();
        if (Array.isArray(listed)) for (const x of listed) if (Number(x) > floor) fresh.push(Number(x));
      }
    }
    const found = await mapLimit([...new Set(fresh)], LOOKUPS, async (contractId) => {
      const x = await c.contracts.get({ id: contractId });
      if (isDeleted(x) || x!.twinId !== c.twinId) return undefined;
      const meta = parseMetadata(x!.contractType.nodeContract?.deploymentData);
      return meta && ours(meta.projectName, meta.name) ? contractId : undefined;
    });
    return found.filter((x): x is number => x !== undefined);
  }

  /**
   * Splits contracts GraphQL lists as live by what the chain says: alive (still there, and this
   * twin's) or gone (removed, or deleted). The gone ones are handed to grid_client (forgetContracts).
   */
  private async confirm(c: GridClientLike, listed: ParsedContract[]): Promise<{ alive: ParsedContract[]; gone: ParsedContract[] }> {
    const unique = [...new Map(listed.map((x) => [x.contractId, x])).values()];
    const onChain = await mapLimit(unique, LOOKUPS, (x) => c.contracts.get({ id: x.contractId }));
    const alive: ParsedContract[] = [];
    const gone: ParsedContract[] = [];
    unique.forEach((x, i) => {
      const chain = onChain[i];
      if (isDeleted(chain)) gone.push(x);
      else if (chain!.twinId === c.twinId) alive.push(x);
    });
    forgetContracts(gone.map((x) => x.contractId));
    return { alive, gone };
  }

  /** A listed contract with its state as the chain has it now (gone: deleted). */
  private async withChainState(c: GridClientLike, p: ParsedContract): Promise<ParsedContract> {
    const chain = await c.contracts.get({ id: p.contractId });
    if (isDeleted(chain)) {
      forgetContracts([p.contractId]);
      const cause = (chain?.state as { deleted?: unknown } | undefined)?.deleted;
      return { ...p, state: 'deleted', deletedCause: cause === 'OutOfFunds' ? 'out_of_funds' : 'canceled' };
    }
    const state = chain!.state && 'gracePeriod' in chain!.state ? 'grace' : 'created';
    return state === p.state ? p : { ...p, state };
  }

  /**
   * Cancels contracts of this client's twin. Several go in one batch extrinsic (tfchain_client
   * signs one extrinsic at a time for the whole process, so one per contract would queue every
   * other user's behind them); when the batch fails (all or none: one contract gone since, say),
   * one by one. `cancelled`: those gone now; `failed`: those we could not cancel, with why.
   */
  private async cancelMany(c: GridClientLike, ids: number[]): Promise<{ cancelled: number[]; failed: Map<number, unknown> }> {
    const failed = new Map<number, unknown>();
    const todo = [...new Set(ids)];
    if (todo.length > 1) {
      try {
        await c.contracts.batchCancelContracts({ ids: todo });
        forgetContracts(todo);
        return { cancelled: todo, failed };
      } catch (err) {
        this.log.debug({ contracts: todo, err: this.scrubbed(err, this.secrets(undefined)) }, 'batch cancel failed; cancelling one by one');
      }
    }
    const cancelled: number[] = [];
    for (const contractId of todo) {
      try {
        await this.cancelOnChain(c, contractId);
        cancelled.push(contractId);
      } catch (err) {
        failed.set(contractId, err);
      }
    }
    forgetContracts(cancelled);
    return { cancelled, failed };
  }

  /**
   * Cancels one contract on chain; one the chain no longer has counts as cancelled. Looks first
   * (`known`: the caller just did): grid_client's cancel of a gone contract fails with a TypeError
   * (tfchain_client returns no extrinsic for it). A cancel that fails is looked at again, in case
   * the contract went meanwhile.
   */
  private async cancelOnChain(c: GridClientLike, contractId: number, known = false): Promise<void> {
    if (!known && isDeleted(await c.contracts.get({ id: contractId }))) return;
    try {
      await c.contracts.cancel({ id: contractId });
    } catch (err) {
      if (isContractGone(err)) return;
      const after = await c.contracts.get({ id: contractId }).then(
        (x) => x,
        () => undefined,
      );
      if (after !== undefined && isDeleted(after)) return;
      throw err;
    }
  }

  /** After a VM contract is cancelled: its deployment's network contract on that node, unless a VM of it remains there. */
  private async cancelNetworksOf(c: GridClientLike, vm: ChainContractShape, hidden: string[]): Promise<void> {
    const nodeContract = vm.contractType.nodeContract;
    const meta = parseMetadata(nodeContract?.deploymentData);
    if (!nodeContract || meta?.type !== 'vm') return;
    try {
      const live = await this.parsed(c, LIVE);
      const others = live.filter(
        (x) => x.kind === 'vm' && x.projectName === meta.projectName && x.name === meta.name && x.nodeId === nodeContract.nodeId && x.contractId !== vm.contractId,
      );
      if ((await this.confirm(c, others)).alive.length > 0) return;
      const { failed } = await this.cancelMany(
        c,
        networksOf(live, meta.projectName, meta.name, nodeContract.nodeId).map((n) => n.contractId),
      );
      const [first] = failed.values();
      if (first !== undefined) throw first;
    } catch (err) {
      // the VM is cancelled; a network left behind is listed alone, and the next sweep cancels it
      this.log.warn({ contract: vm.contractId, err: this.scrubbed(err, hidden) }, 'could not cancel the network of a cancelled vm contract');
    }
  }

  private async parsed(c: GridClientLike, states: GqlContractState[]): Promise<ParsedContract[]> {
    const res = await c.contracts.listMyContracts({ state: states });
    return (res.nodeContracts ?? []).map(parseContract).filter((x): x is ParsedContract => x !== undefined);
  }

  private secrets(id: Identity | undefined, extra: readonly string[] = []): string[] {
    return [this.o.operator.mnemonic, ...(id ? [id.mnemonic] : []), ...extra];
  }

  /** An error as a log string, without secrets. */
  private scrubbed(err: unknown, hidden: string[]): string {
    return toGridError(err, { what: 'grid', secrets: hidden }).message;
  }

  /** Runs fn; any failure leaves as a GridError (one made inside, with its rolledBack, passes through). */
  private async guard<T>(what: string, secrets: string[], fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toGridError(err, { what, secrets: [...this.secrets(undefined), ...secrets] });
    }
  }

  private async asUser<T>(id: Identity, what: string, fn: (c: GridClientLike) => Promise<T>, secrets: string[] = []): Promise<T> {
    if (!id || typeof id.address !== 'string' || id.address.trim() === '') throw new GridError('invalid', 'identity has no address');
    return this.guard(what, [id.mnemonic, ...secrets], () => this.o.pool.use(id, fn));
  }

  private asOperator<T>(what: string, fn: (c: GridClientLike) => Promise<T>): Promise<T> {
    return this.guard(what, [], () => (this.o.operatorPool ?? this.o.pool).use(this.o.operator, fn));
  }
}

/**
 * What the simulated grid answers about an identity without a twin: it has no deployments and no
 * contracts. (Its client cannot even connect: grid_client's connect throws TwinNotExistError.)
 */
async function noneWithoutTwin<T>(p: Promise<T>, none: T): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof GridError && err.code === 'no_twin') return none;
    throw err;
  }
}

/**
 * Wraps this module's (per-call, see client-seam.ts) rollback to note the contracts grid_client
 * created before the deploy failed; returns the list it fills.
 */
function recordRollback(handler: { rollback(contracts: DeploymentResultShape): Promise<void> }): number[] {
  const created: number[] = [];
  const original = handler.rollback.bind(handler);
  handler.rollback = async (contracts) => {
    for (const x of contracts.created) created.push(Number(x.contractId));
    return original(contracts);
  };
  return created;
}
