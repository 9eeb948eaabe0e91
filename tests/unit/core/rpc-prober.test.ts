/** The real prober against local stand-ins for a Dash node's JSON-RPC, Polygon's Bor and Heimdall, and a 0-db. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { RpcProber } from '../../../src/probes/rpc-prober.js';

const servers: (Server | TcpServer)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function body(req: IncomingMessage): Promise<{ method: string }> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return JSON.parse(raw) as { method: string };
}

/** An HTTP server on loopback answering with `answer(path, rpc method, headers)`; resolves with its port. */
async function http(answer: (path: string, method: string | undefined, auth: string | undefined) => unknown): Promise<number> {
  const s = createServer(async (req, res) => {
    const rpc = req.method === 'POST' ? await body(req) : undefined;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answer(req.url ?? '/', rpc?.method, req.headers.authorization)));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

const target = (secrets: Record<string, string> = {}) => ({ contractId: 1, publicIp: '127.0.0.1', secrets });

describe('RpcProber', () => {
  it('reads a Dash node syncing, with the RPC credentials the bot generated', async () => {
    const expected = `Basic ${Buffer.from('dash:s3cret').toString('base64')}`;
    const port = await http((_p, method, auth) =>
      auth === expected && method === 'getblockchaininfo'
        ? { result: { blocks: 1200, headers: 2000, verificationprogress: 0.634, initialblockdownload: true }, error: null }
        : { result: null, error: { code: -32601 } },
    );
    const r = await new RpcProber().probe({ kind: 'bitcoin-rpc', port }, target({ rpcuser: 'dash', rpcpassword: 's3cret' }));
    // headers and blocks together mark progress: during the headers phase blocks stand still
    expect(r).toEqual({ state: 'syncing', progress: 0.634, height: 3200 });
  });

  it('says synced once the initial block download is over', async () => {
    const port = await http(() => ({ result: { blocks: 2000, headers: 2000, verificationprogress: 0.99999, initialblockdownload: false } }));
    expect(await new RpcProber().probe({ kind: 'bitcoin-rpc', port }, target())).toEqual({ state: 'synced', progress: 1, height: 2000 });
  });

  it('reads Polygon from Bor eth_syncing and Heimdall /status', async () => {
    let synced = false;
    const bor = await http((_p, method) =>
      method === 'eth_syncing' ? { result: synced ? false : { currentBlock: '0x64', highestBlock: '0xc8' } } : { result: '0xc8' },
    );
    const heimdall = await http((path) => (path === '/status' ? { result: { sync_info: { catching_up: false, latest_block_height: '5' } } } : {}));
    const spec = { kind: 'polygon' as const, borPort: bor, heimdallPort: heimdall };
    expect(await new RpcProber().probe(spec, target())).toEqual({ state: 'syncing', progress: 0.5, height: 100 });
    synced = true;
    expect(await new RpcProber().probe(spec, target())).toEqual({ state: 'synced', progress: 1, height: 200 });
  });

  it("takes Heimdall's height while it catches up and Bor waits, so a long catch-up is not a stall", async () => {
    const bor = await http((_p, method) => (method === 'eth_syncing' ? { result: false } : { result: '0x0' }));
    let heimdallHeight = 1000;
    const heimdall = await http(() => ({ result: { sync_info: { catching_up: true, latest_block_height: String(heimdallHeight) } } }));
    const spec = { kind: 'polygon' as const, borPort: bor, heimdallPort: heimdall };
    const first = await new RpcProber().probe(spec, target());
    heimdallHeight = 5000;
    const later = await new RpcProber().probe(spec, target());
    expect(first).toMatchObject({ state: 'syncing', height: 1000 });
    expect(later).toMatchObject({ state: 'syncing', height: 5000 });
  });

  it('does not ask a node that did not answer again for a while, then does', async () => {
    let t = 0;
    let calls = 0;
    const port = await http(() => {
      calls++;
      return { nonsense: true };
    });
    const prober = new RpcProber(500, 60_000, () => t);
    const spec = { kind: 'bitcoin-rpc' as const, port };
    expect((await prober.probe(spec, target())).state).toBe('unreachable');
    expect((await prober.probe(spec, target())).state).toBe('unreachable');
    expect(calls).toBe(1);
    t = 60_001;
    await prober.probe(spec, target());
    expect(calls).toBe(2);
  });

  it('pings a 0-db in RESP', async () => {
    const s = createTcpServer((sock) => sock.on('data', (d) => sock.write(d.toString().includes('PING') ? '+PONG\r\n' : '-ERR\r\n')));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    expect(await new RpcProber().probe({ kind: 'zdb', port }, target())).toEqual({ state: 'synced' });
  });

  it('calls a node that does not answer, or answers nonsense, unreachable', async () => {
    const closed = await http(() => ({}));
    await new Promise((r) => servers.pop()!.close(r));
    expect(await new RpcProber(500).probe({ kind: 'bitcoin-rpc', port: closed }, target())).toEqual({ state: 'unreachable' });
    const nonsense = await http(() => ({ result: { hello: 1 } }));
    expect(await new RpcProber(500).probe({ kind: 'bitcoin-rpc', port: nonsense }, target())).toEqual({ state: 'unreachable' });
    expect(await new RpcProber(500).probe({ kind: 'bitcoin-rpc', port: nonsense }, { contractId: 1, secrets: {} })).toEqual({ state: 'unreachable' });
  });
});
