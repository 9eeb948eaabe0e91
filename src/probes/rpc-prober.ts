/**
 * Probes a real node over the network, each with a short timeout: Dash and DigiByte by Bitcoin-style
 * JSON-RPC `getblockchaininfo`, Polygon by Bor's `eth_syncing` and Heimdall's `/status`, a 0-db by
 * `PING` in RESP. Anything that does not answer in time is `unreachable`, never an error.
 */
import { Socket } from 'node:net';
import { z } from 'zod';
import type { ProbeSpec } from '../catalog/types.js';
import type { Prober, ProbeResult, ProbeTarget } from './prober.js';

const UNREACHABLE: ProbeResult = { state: 'unreachable' };

const BlockchainInfo = z.object({
  result: z.object({
    blocks: z.number(),
    headers: z.number(),
    verificationprogress: z.number(),
    initialblockdownload: z.boolean().optional(),
  }),
});
const EthSyncing = z.object({
  result: z.union([z.literal(false), z.object({ currentBlock: z.string(), highestBlock: z.string() })]),
});
const EthBlockNumber = z.object({ result: z.string() });
const HeimdallStatus = z.object({
  result: z.object({ sync_info: z.object({ catching_up: z.boolean(), latest_block_height: z.string() }) }),
});

/** IPv6 (Mycelium) hosts go in brackets in a URL. */
const hostOf = (t: ProbeTarget): string | undefined => t.publicIp ?? (t.mycelium ? `[${t.mycelium}]` : undefined);

export class RpcProber implements Prober {
  /** hosts that did not answer, and until when they are not asked again */
  private readonly quiet = new Map<string, number>();

  constructor(
    private readonly timeoutMs = 3000,
    /** a node the bot cannot reach (normal over Mycelium) would cost a timeout per pass: ask it again only after this */
    private readonly quietMs = 30 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async probe(spec: ProbeSpec, target: ProbeTarget): Promise<ProbeResult> {
    const host = hostOf(target);
    if (!host || spec.kind === 'none') return UNREACHABLE;
    const key = `${host}:${spec.kind === 'polygon' ? spec.borPort : spec.port}`;
    if ((this.quiet.get(key) ?? 0) > this.now()) return UNREACHABLE;
    const r = await this.ask(spec, target, host);
    if (r.state === 'unreachable') this.quiet.set(key, this.now() + this.quietMs);
    else this.quiet.delete(key);
    return r;
  }

  private async ask(spec: ProbeSpec, target: ProbeTarget, host: string): Promise<ProbeResult> {
    try {
      switch (spec.kind) {
        case 'bitcoin-rpc':
          return await this.bitcoin(`http://${host}:${spec.port}/`, target.secrets);
        case 'polygon':
          return await this.polygon(host, spec.borPort, spec.heimdallPort);
        case 'zdb':
          return (await this.ping(target.publicIp ?? target.mycelium!, spec.port)) ? { state: 'synced' } : UNREACHABLE;
      }
    } catch {
      return UNREACHABLE;
    }
    return UNREACHABLE;
  }

  private async bitcoin(url: string, secrets: Record<string, string>): Promise<ProbeResult> {
    const auth = Buffer.from(`${secrets.rpcuser ?? ''}:${secrets.rpcpassword ?? ''}`).toString('base64');
    const body = await this.post(url, { jsonrpc: '1.0', id: 'jukebox', method: 'getblockchaininfo', params: [] }, { authorization: `Basic ${auth}` });
    const { result: r } = BlockchainInfo.parse(body);
    const synced = r.initialblockdownload === false || (r.blocks === r.headers && r.verificationprogress > 0.9999);
    // headers come first and blocks wait meanwhile: the marker of progress is both together
    return synced ? { state: 'synced', progress: 1, height: r.blocks } : { state: 'syncing', progress: r.verificationprogress, height: r.blocks + r.headers };
  }

  private async polygon(host: string, borPort: number, heimdallPort: number): Promise<ProbeResult> {
    const bor = `http://${host}:${borPort}/`;
    const syncing = EthSyncing.parse(await this.post(bor, { jsonrpc: '2.0', id: 1, method: 'eth_syncing', params: [] })).result;
    const heimdall = HeimdallStatus.parse(await this.get(`http://${host}:${heimdallPort}/status`)).result.sync_info;
    if (syncing === false) {
      const height = Number.parseInt(EthBlockNumber.parse(await this.post(bor, { jsonrpc: '2.0', id: 2, method: 'eth_blockNumber', params: [] })).result, 16);
      // Bor waits while Heimdall catches up (days, from a snapshot): Heimdall's height is the progress then
      return heimdall.catching_up
        ? { state: 'syncing', progress: 0, height: Number(heimdall.latest_block_height), detail: 'Heimdall is catching up' }
        : { state: 'synced', progress: 1, height };
    }
    const current = Number.parseInt(syncing.currentBlock, 16);
    const highest = Number.parseInt(syncing.highestBlock, 16);
    return { state: 'syncing', progress: highest > 0 ? Math.min(1, current / highest) : 0, height: current };
  }

  private async post(url: string, payload: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return res.json();
  }

  private async get(url: string): Promise<unknown> {
    const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    return res.json();
  }

  /** RESP `PING` → `+PONG`. */
  private ping(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = new Socket();
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(this.timeoutMs, () => done(false));
      socket.once('error', () => done(false));
      let reply = '';
      socket.on('data', (d) => {
        reply += d.toString('latin1');
        if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
      });
      socket.connect(port, host, () => socket.write('*1\r\n$4\r\nPING\r\n'));
    });
  }
}
