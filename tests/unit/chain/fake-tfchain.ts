/**
 * A scripted TFChain behind the ChainApi seam: blocks with the events a test gives them, a
 * finalized-heads subscription the test drives by hand, accounts, and a submittable transfer
 * whose outcome the test chooses. Everything answers after a microtask, never after a timer.
 */
import { encodeAddress } from '@polkadot/util-crypto';
import type { KeyringPair } from '@polkadot/keyring/types';
import type {
  ChainApiAt,
  CodecLike,
  EventRecordLike,
  HeaderLike,
  SignedBlockLike,
  StructLike,
} from '../../../src/chain/chain-events.js';
import type { AccountDataLike, ChainApi, DispatchErrorLike, ExtrinsicStatusLike, SubmitResultLike, SubmittableLike } from '../../../src/chain/tfchain.js';

export const TFT = 10_000_000;
export const T0 = Date.UTC(2026, 0, 1);

/** A TFChain (prefix 42) address made of one repeated byte. */
export const addr = (byte: number): string => encodeAddress(new Uint8Array(32).fill(byte), 42);

export const codec = (v: string | number | bigint): CodecLike & { toNumber(): number } => ({ toString: () => String(v), toNumber: () => Number(v) });

export function struct(fields: Record<string, string | number | bigint>): StructLike {
  return { toString: () => JSON.stringify(fields, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)), get: (k) => (k in fields ? codec(fields[k]!) : undefined) };
}

type Datum = string | number | bigint | StructLike;

export function ev(section: string, method: string, data: Datum[], extrinsic: number | 'finalization' = 1): EventRecordLike {
  const phase =
    extrinsic === 'finalization'
      ? { isApplyExtrinsic: false, asApplyExtrinsic: { toNumber: (): number => { throw new Error('not an extrinsic phase'); } }, toString: () => 'Finalization' }
      : { isApplyExtrinsic: true, asApplyExtrinsic: { toNumber: () => extrinsic }, toString: () => `{"applyExtrinsic":${extrinsic}}` };
  return { phase, event: { section, method, data: data.map((d) => (typeof d === 'object' ? d : codec(d))) } };
}

export const transferEv = (from: string, to: string, amount: number | bigint, x = 1) => ev('balances', 'Transfer', [from, to, amount], x);
export const depositEv = (who: string, amount: number | bigint, x = 1) => ev('balances', 'Deposit', [who, amount], x);
export const withdrawEv = (who: string, amount: number | bigint, x = 1) => ev('balances', 'Withdraw', [who, amount], x);
export const mintEv = (target: string, amount: number | bigint, x = 1) =>
  ev('tftBridgeModule', 'MintCompleted', [struct({ amount, target, block: 1, votes: 3 }), '0x7478'], x);
export const successEv = (x = 1) => ev('system', 'ExtrinsicSuccess', ['{}'], x);
export const contractEv = (method: string, ...data: number[]) => ev('smartContractModule', method, data, 'finalization');

export interface FakeBlock {
  number: number;
  hash: string;
  records: EventRecordLike[];
  time: number;
  depositFee?: bigint;
  /** the accounts as they were when the block was made */
  accounts: Map<string, Partial<Record<keyof AccountDataLike, bigint>>>;
}

/** What the next signAndSend does. */
export type SubmitScript =
  | { kind: 'ok' }
  | { kind: 'dispatch'; section: string; name: string; docs?: string[] }
  | { kind: 'reject'; message: string }
  | { kind: 'dropped' }
  | { kind: 'hang' };

const hashOf = (n: number, salt = 0) => `0x${salt.toString(16).padStart(8, '0')}${n.toString(16).padStart(56, '0')}`;

function status(type: 'InBlock' | 'Finalized' | 'Dropped', hash = '0x'): ExtrinsicStatusLike {
  return {
    type,
    isInBlock: type === 'InBlock',
    isFinalized: type === 'Finalized',
    asFinalized: codec(hash),
    isDropped: type === 'Dropped',
    isInvalid: false,
    isUsurped: false,
    isFinalityTimeout: false,
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function accountData(a: Partial<Record<keyof AccountDataLike, bigint>> = {}): { data: AccountDataLike } {
  const data: AccountDataLike = { free: codec(a.free ?? 0n) };
  if (a.reserved !== undefined) data.reserved = codec(a.reserved);
  if (a.frozen !== undefined) data.frozen = codec(a.frozen);
  if (a.miscFrozen !== undefined) data.miscFrozen = codec(a.miscFrozen);
  if (a.feeFrozen !== undefined) data.feeFrozen = codec(a.feeFrozen);
  return { data };
}

export class FakeChain implements ChainApi {
  isConnected = true;
  readonly blocks: FakeBlock[] = [];
  finalized = -1;
  /** block numbers whose events were read, in the order the reads started */
  readonly reads: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** block number → failures still to give (a count of generic errors, or one error repeated for ever) */
  readonly failEvents = new Map<number, number | Error>();
  /** called whenever a block's events are read (before any scripted failure) */
  onRead: (n: number) => void = () => undefined;
  subscribeFails = 0;
  readonly subscribers = new Set<(h: HeaderLike) => void>();
  private readonly handlers = new Map<string, Array<(...a: unknown[]) => void>>();
  readonly accounts = new Map<string, Partial<Record<keyof AccountDataLike, bigint>>>();
  fee = 123_000n;
  nextSubmit: SubmitScript = { kind: 'ok' };
  readonly sent: Array<{ from: string; dest: string; value: bigint; nonce: number }> = [];
  readonly feeQueries: Array<{ from: string; dest: string; value: bigint }> = [];

  /** `salt` makes another chain: the same heights, other hashes (a network that was reset) */
  constructor(
    genesisBlocks = 1,
    readonly salt = 0,
  ) {
    for (let i = 0; i < genesisBlocks; i++) this.addBlock();
    this.finalized = genesisBlocks - 1;
  }

  addBlock(records: EventRecordLike[] = [], opts: { depositFee?: bigint } = {}): number {
    const n = this.blocks.length;
    const accounts = new Map([...(this.accounts ?? new Map<string, Partial<Record<keyof AccountDataLike, bigint>>>())].map(([k, v]) => [k, { ...v }]));
    const b: FakeBlock = { number: n, hash: hashOf(n, this.salt), records, time: T0 + n * 6000, accounts };
    if (opts.depositFee !== undefined) b.depositFee = opts.depositFee;
    this.blocks.push(b);
    return n;
  }

  /** Finalizes up to n and tells the subscribers (unless `silent`). */
  finalize(n = this.blocks.length - 1, silent = false): void {
    this.finalized = n;
    if (!silent) for (const cb of [...this.subscribers]) cb(this.header(n));
  }

  emit(type: 'connected' | 'disconnected'): void {
    for (const h of this.handlers.get(type) ?? []) h();
  }

  header(n: number): HeaderLike {
    return { number: codec(n), hash: codec(hashOf(n, this.salt)) };
  }

  private block(hash: string): FakeBlock {
    const b = this.blocks.find((x) => x.hash === hash);
    if (!b) throw new Error(`unknown block ${hash}`);
    return b;
  }

  // ------------------------------------------------------------ ChainApi

  on(type: 'connected' | 'disconnected' | 'error', handler: (...args: unknown[]) => void): this {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
    return this;
  }

  async at(hash: string): Promise<ChainApiAt> {
    const b = this.block(hash);
    return {
      query: {
        system: {
          events: async () => {
            this.reads.push(b.number);
            this.onRead(b.number);
            this.inFlight++;
            this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
            try {
              await tick();
              const f = this.failEvents.get(b.number);
              if (f instanceof Error) throw f;
              if (typeof f === 'number' && f > 0) {
                this.failEvents.set(b.number, f - 1);
                throw new Error(`scripted failure reading block ${b.number}`);
              }
              return b.records;
            } finally {
              this.inFlight--;
            }
          },
          account: async (address: string) => accountData(b.accounts.get(address)),
        },
        tftBridgeModule: {
          depositFee: async () => {
            if (b.depositFee === undefined) throw new Error('no deposit fee scripted');
            return codec(b.depositFee);
          },
        },
      },
    };
  }

  rpc = {
    chain: {
      subscribeFinalizedHeads: async (cb: (h: HeaderLike) => void): Promise<() => void> => {
        await tick();
        if (this.subscribeFails > 0) {
          this.subscribeFails--;
          throw new Error('scripted: cannot subscribe');
        }
        this.subscribers.add(cb);
        // as a node does: the current finalized head first
        void tick().then(() => this.subscribers.has(cb) && cb(this.header(this.finalized)));
        return () => void this.subscribers.delete(cb);
      },
      getFinalizedHead: async (): Promise<CodecLike> => {
        if (!this.isConnected) throw new Error('WebSocket is not connected');
        return codec(hashOf(this.finalized, this.salt));
      },
      getHeader: async (hash?: string): Promise<HeaderLike> => this.header(hash ? this.block(hash).number : this.finalized),
      getBlockHash: async (n: number): Promise<CodecLike> => {
        // a node answers null for a height it does not have, which decodes as the zero hash
        return codec(this.blocks[n] ? hashOf(n, this.salt) : `0x${'0'.repeat(64)}`);
      },
      getBlock: async (hash: string): Promise<SignedBlockLike> => {
        const b = this.block(hash);
        return { block: { extrinsics: [{ method: { section: 'timestamp', method: 'set', args: [codec(b.time)] } }] } };
      },
    },
  };

  query = {
    system: {
      account: async (address: string): Promise<{ data: AccountDataLike }> => accountData(this.accounts.get(address)),
    },
  };

  consts = { balances: { existentialDeposit: codec(500) } };

  registry = {
    /** the fake's module errors carry their decoded name already */
    findMetaError: (e: unknown) => e as { section: string; name: string; docs: string[] },
  };

  tx = {
    balances: {
      transferKeepAlive: (dest: string, value: bigint): SubmittableLike => new FakeTransferTx(this, dest, value),
    },
  };

  /** Puts the transfer in a new finalized block, after two other events of its extrinsic. */
  includeTransfer(from: string, dest: string, value: bigint, failed?: { section: string; name: string; docs?: string[] }): number {
    const records = [
      ev('system', 'ExtrinsicSuccess', ['{}'], 0), // the timestamp inherent
      transferEv(addr(200), addr(201), 5n, 1), // someone else's extrinsic
      withdrawEv(from, this.fee, 2),
      ...(failed ? [ev('system', 'ExtrinsicFailed', ['{}', '{}'], 2)] : [transferEv(from, dest, value, 2), successEv(2)]),
    ];
    const n = this.addBlock(records);
    this.finalize(n);
    return n;
  }
}

class FakeTransferTx implements SubmittableLike {
  constructor(
    private readonly chain: FakeChain,
    private readonly dest: string,
    private readonly value: bigint,
  ) {}

  async paymentInfo(address: string): Promise<{ partialFee: CodecLike }> {
    this.chain.feeQueries.push({ from: address, dest: this.dest, value: this.value });
    return { partialFee: codec(this.chain.fee) };
  }

  async signAndSend(signer: KeyringPair, options: { nonce: number }, cb: (r: SubmitResultLike) => void): Promise<() => void> {
    const script = this.chain.nextSubmit;
    await tick();
    if (script.kind === 'reject') throw new Error(script.message);
    this.chain.sent.push({ from: signer.address, dest: this.dest, value: this.value, nonce: options.nonce });
    void (async () => {
      await tick();
      if (script.kind === 'hang') return;
      if (script.kind === 'dropped') {
        cb({ status: status('Dropped') });
        return;
      }
      const failed = script.kind === 'dispatch' ? { section: script.section, name: script.name, docs: script.docs ?? [] } : undefined;
      const n = this.chain.includeTransfer(signer.address, this.dest, this.value, failed);
      const hash = this.chain.blocks[n]!.hash;
      cb({ status: status('InBlock', hash), txIndex: 2 });
      await tick();
      const r: SubmitResultLike = { status: status('Finalized', hash), txIndex: 2, blockNumber: codec(n) };
      if (failed) {
        const de: DispatchErrorLike = { isModule: true, asModule: failed, type: 'Module', toString: () => `Module(${failed.section}.${failed.name})` };
        r.dispatchError = de;
      }
      cb(r);
    })();
    return () => undefined;
  }
}
