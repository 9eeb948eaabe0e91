/** The node catalog: every profile is sane data, its inputs refuse what a node could not use, and the operator's file changes it or is refused with the place of the mistake. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyCatalogFile, applyCatalogOverrides, PROFILES, profileById, resourcesOf, type NodeProfile } from '../../../src/catalog/index.js';
import { CatalogFileError, parseCatalogOverrides, resourcesText } from '../../../src/catalog/overrides.js';
import { BASE_VM_FLIST } from '../../../src/catalog/polygon.js';
import { ConfigError } from '../../../src/config.js';

const VM_IDS = ['dash-full', 'dash-masternode', 'digibyte-full', 'polygon-sentry', 'polygon-full', 'polygon-validator', 'presearch'];
const ALL_IDS = [...VM_IDS, 'storage'];
const profile = (id: string): NodeProfile => {
  const p = profileById(id);
  if (!p) throw new Error(`no profile ${id}`);
  return p;
};
const input = (id: string, key: string) => {
  const i = profile(id).inputs.find((x) => x.key === key);
  if (!i) throw new Error(`${id} has no input ${key}`);
  return i;
};

const BLS = '1a2b3c4d'.repeat(8);
const TXID = 'ab'.repeat(32);
const NODE_ID = 'a1'.repeat(64);
const ENODE = `enode://${NODE_ID}@185.69.166.10:30303`;
const SIGNER = '4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';

afterEach(() => applyCatalogOverrides({}));

describe('every profile', () => {
  it('is offered, in picker order, with unique ids', () => {
    expect(PROFILES.map((p) => p.id)).toEqual(ALL_IDS);
  });

  it.each(VM_IDS)('%s is sane data', (id) => {
    const p = profile(id);
    expect(p.sizes.length).toBeGreaterThanOrEqual(1);
    expect(new Set(p.sizes.map((s) => s.id)).size).toBe(p.sizes.length);
    for (const s of p.sizes) {
      expect(Number.isInteger(s.cpu) && s.cpu >= 1 && s.cpu <= 32).toBe(true);
      expect(Number.isInteger(s.memoryMb) && s.memoryMb >= 256 && s.memoryMb <= 256 * 1024).toBe(true);
      expect(resourcesOf(p, s.id).sruGb).toBeGreaterThanOrEqual(5);
      expect(new Set(s.disks.map((d) => d.name)).size).toBe(s.disks.length);
      for (const d of s.disks) expect(d.mountpoint).toMatch(/^\/\S+$/);
      // the picker states the real figures: an operator's override rewrites exactly this text
      expect(s.label).toContain(resourcesText(s));
    }
    expect(p.summary).toContain(resourcesText(p.sizes[0]!));
    const url = new URL(p.flist);
    expect(url.protocol).toBe('https:');
    expect(p.flist).toMatch(/\.flist$/);
    expect(p.entrypoint).toMatch(/^\//);
    expect(p.imageNote.trim()).not.toBe('');
    expect(p.probe).toBeDefined();
    expect(new Set(p.inputs.map((i) => i.key)).size).toBe(p.inputs.length);
    for (const i of p.inputs) expect(i.prompt.length).toBeGreaterThan(20);
    // the environment is strings, whatever the user gave
    const env = p.env(Object.fromEntries(p.inputs.map((i) => [i.key, 'x'])), p.generate?.() ?? {});
    for (const v of Object.values(env)) expect(typeof v).toBe('string');
    expect(p.howToReach('185.69.166.10')).toContain('185.69.166.10');
    expect(p.howToReach(undefined).length).toBeGreaterThan(10);
  });

  it('storage runs no VM: no image, its sizes come with the order', () => {
    const p = profile('storage');
    expect(p.kind).toBe('storage');
    expect(p.imageNote.trim()).not.toBe('');
    expect(p.sizes.length).toBeGreaterThanOrEqual(1);
    expect(p.probe?.kind).toBe('zdb');
  });

  it('claims SSH only for the official zinit images', () => {
    const ssh = PROFILES.filter((p) => p.ssh).map((p) => p.id);
    expect(ssh).toEqual(['polygon-sentry', 'polygon-full', 'polygon-validator', 'presearch']);
    for (const id of ssh) expect(profile(id).entrypoint).toBe('/sbin/zinit init');
  });

  it('says where a community image comes from', () => {
    for (const id of ['dash-full', 'dash-masternode', 'digibyte-full']) {
      expect(profile(id).flist).toMatch(/^https:\/\/hub\.grid\.tf\/ashraf\.3bot\//);
      expect(profile(id).imageNote).toMatch(/community image/);
    }
    expect(profile('presearch').imageNote).toMatch(/official ThreeFold image/);
  });
});

describe('the chains', () => {
  it('Dash: full node and masternode on the same image, RPC probed on 9998; only the masternode needs IPv4', () => {
    const full = profile('dash-full');
    const mn = profile('dash-masternode');
    expect(mn.flist).toBe(full.flist);
    expect(mn.entrypoint).toBe('/start_dash.sh');
    expect(full.probe).toEqual({ kind: 'bitcoin-rpc', port: 9998 });
    expect(mn.probe).toEqual({ kind: 'bitcoin-rpc', port: 9998 });
    expect(full.publicIpv4).toBe(false);
    expect(mn.publicIpv4).toBe(true);
    expect(resourcesOf(full)).toEqual({ cru: 3, mruMb: 8192, sruGb: 80, hruGb: 0 });
  });

  it('DigiByte: the jukebox image, 8 GB and 250 GB, RPC probed on 14022, no IPv4 needed', () => {
    const p = profile('digibyte-full');
    expect(p.flist).toBe('https://hub.grid.tf/ashraf.3bot/arrajput-digibyte-flist-1.0.flist');
    expect(p.entrypoint).toBe('/start_dgb.sh');
    expect(p.probe).toEqual({ kind: 'bitcoin-rpc', port: 14022 });
    expect(p.ports).toMatch(/12024/);
    expect(p.publicIpv4).toBe(false);
    const r = resourcesOf(p);
    expect(r.mruMb).toBe(8192);
    expect(r.sruGb).toBeGreaterThanOrEqual(250);
  });

  it('Polygon: the base VM, mainnet and Amoy sizes with their network, IPv4 for sentry and full node only', () => {
    for (const id of ['polygon-sentry', 'polygon-full', 'polygon-validator']) {
      const p = profile(id);
      expect(p.flist).toBe(BASE_VM_FLIST);
      expect(p.entrypoint).toBe('/sbin/zinit init');
      expect(p.probe).toEqual({ kind: 'polygon', borPort: 8545, heimdallPort: 26657 });
      expect(p.sizes.map((s) => [s.id, s.cpu, s.memoryMb, s.env?.NETWORK])).toEqual([
        ['mainnet', 8, 32768, 'mainnet'],
        ['amoy', 8, 16384, 'amoy'],
      ]);
      expect(resourcesOf(p, 'mainnet').sruGb).toBeGreaterThanOrEqual(4000);
      expect(resourcesOf(p, 'amoy').sruGb).toBeGreaterThanOrEqual(1000);
      expect(p.sizes[0]!.label).toMatch(/^Mainnet · /);
      expect(p.sizes[1]!.label).toMatch(/^Amoy testnet · /);
      // it does not pretend: the user learns before paying that they start Polygon themselves
      expect(p.imageNote).toMatch(/does not start Polygon by itself/);
      expect(p.notice).toMatch(/does not start Polygon by itself/);
      const env = p.env({ ethRpcUrl: 'https://x.example', signerPrivateKey: SIGNER, sentryEnode: ENODE }, {});
      expect(env).toMatchObject({ HEIMDALL_IMAGE: '0xpolygon/heimdall-v2', BOR_IMAGE: '0xpolygon/bor' });
      const steps = p.howToReach('185.69.166.10');
      expect(steps).toMatch(/ssh root@185\.69\.166\.10/);
      expect(steps).toMatch(/docker run .*0xpolygon\/heimdall-v2/);
      expect(steps).toMatch(/docker run .*0xpolygon\/bor/);
    }
    expect(profile('polygon-sentry').publicIpv4).toBe(true);
    expect(profile('polygon-full').publicIpv4).toBe(true);
    expect(profile('polygon-validator').publicIpv4).toBe(false);
    expect(profile('polygon-sentry').howToReach('1.2.3.4')).toMatch(/admin\.nodeInfo\.enode/);
    expect(profile('polygon-validator').notice).toMatch(/deploy the sentry first/);
    expect(profile('polygon-validator').notice).toMatch(/1 ETH/);
  });

  it('Presearch: the official image, SSH, no probe, the closure warning', () => {
    const p = profile('presearch');
    expect(p.ssh).toBe(true);
    expect(p.probe).toEqual({ kind: 'none' });
    expect(p.notice).toMatch(/July 2026/);
  });
});

describe('inputs', () => {
  const cases: { id: string; key: string; good: [string, string][]; bad: [string, RegExp][] }[] = [
    {
      id: 'presearch',
      key: 'registrationCode',
      good: [[' ' + 'aB3'.repeat(10) + 'x9 ', 'aB3'.repeat(10) + 'x9']],
      bad: [
        ['a'.repeat(31), /exactly 32 letters and digits; that was 31 characters/],
        ['a'.repeat(33), /that was 33 characters/],
        ['a'.repeat(31) + '!', /had other characters/],
      ],
    },
    {
      id: 'dash-masternode',
      key: 'masternodeblsprivkey',
      good: [
        [BLS, BLS],
        [` 0x${BLS.toUpperCase()} `, BLS],
      ],
      bad: [
        [BLS.slice(1), /exactly 64 hex characters .*that was 63 characters/],
        [`${BLS.slice(1)}g`, /other characters/],
        ['ab'.repeat(48), /BLS <b>public<\/b> key/],
        ['0'.repeat(64), /not a valid BLS secret key/],
        ['f'.repeat(64), /not a valid BLS secret key/],
        ['', /that was 0 characters/],
      ],
    },
    {
      id: 'dash-masternode',
      key: 'collateralOutpoint',
      good: [
        [`${TXID}-1`, `${TXID}-1`],
        [` ${TXID.toUpperCase()}:0 `, `${TXID}-0`],
      ],
      bad: [
        [`${TXID.slice(1)}-1`, /64 hex characters; that one has 63/],
        [`${TXID}0-1`, /that one has 65/],
        [TXID, /only the transaction id/],
        [`${TXID}-x`, /output index .* whole number/],
        [`${TXID}-01`, /whole number/],
        [`${TXID}-4294967296`, /whole number/],
        [`${'zz'.repeat(32)}-1`, /only hex characters/],
        ['hello', /transaction id and output index/],
      ],
    },
    {
      id: 'polygon-validator',
      key: 'ethRpcUrl',
      good: [[' https://eth-mainnet.example.com/v2/KEY ', 'https://eth-mainnet.example.com/v2/KEY']],
      bad: [
        ['http://eth-mainnet.example.com/', /must start with <b>https:\/\/<\/b>/],
        ['wss://eth-mainnet.example.com/', /https:\/\/ address/],
        ['eth-mainnet.example.com', /not a URL/],
        [`https://x.example/${'a'.repeat(600)}`, /too long/],
      ],
    },
    {
      id: 'polygon-validator',
      key: 'signerPrivateKey',
      good: [
        [SIGNER, SIGNER],
        [`0x${SIGNER.toUpperCase()}`, SIGNER],
      ],
      bad: [
        [SIGNER.slice(2), /64 hex characters .*that was 62 characters/],
        ['0x' + 'ab'.repeat(20), /an <b>address<\/b>/],
        ['0'.repeat(64), /not a valid Ethereum private key/],
        ['f'.repeat(64), /not a valid Ethereum private key/],
        [`${SIGNER.slice(1)}z`, /other characters/],
      ],
    },
    {
      id: 'polygon-validator',
      key: 'sentryEnode',
      good: [
        [` ${ENODE} `, ENODE],
        [`enode://${NODE_ID.toUpperCase()}@185.69.166.10:30303?discport=30301`, `${ENODE}?discport=30301`],
      ],
      bad: [
        [`enode://${NODE_ID.slice(2)}@185.69.166.10:30303`, /128 hex characters; that one has 126/],
        [`enode://${NODE_ID}@127.0.0.1:30303`, /local address/],
        [`enode://${NODE_ID}@256.1.1.1:30303`, /IPv4 address/],
        [`enode://${NODE_ID}@sentry.example.com:30303`, /IPv4 address/],
        [`enode://${NODE_ID}@185.69.166.10:70000`, /1 to 65535/],
        [`enode://${NODE_ID}@185.69.166.10`, /not an enode/],
        [NODE_ID, /not an enode/],
      ],
    },
  ];

  describe.each(cases)('$id $key', ({ id, key, good, bad }) => {
    it.each(good)('accepts %j', (text, value) => {
      expect(input(id, key).parse(text)).toEqual({ ok: true, value });
    });
    it.each(bad)('refuses %j', (text, error) => {
      const r = input(id, key).parse(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(error);
    });
  });

  it('keeps the secrets secret and the rest not', () => {
    const secret = PROFILES.flatMap((p) => p.inputs.filter((i) => i.secret).map((i) => `${p.id}.${i.key}`));
    expect(secret).toEqual([
      'dash-masternode.masternodeblsprivkey',
      'polygon-validator.ethRpcUrl',
      'polygon-validator.signerPrivateKey',
      'presearch.registrationCode',
    ]);
  });

  it('explain the masternode and the sentry pairing where they are asked', () => {
    expect(input('dash-masternode', 'masternodeblsprivkey').prompt).toMatch(/bls generate/);
    expect(input('polygon-validator', 'ethRpcUrl').prompt).toMatch(/deploy a Polygon sentry first/);
    expect(input('polygon-validator', 'sentryEnode').prompt).toMatch(/\/status/);
    expect(input('polygon-validator', 'sentryEnode').prompt).toMatch(/open only to that sentry/);
  });
});

describe('env and generated secrets', () => {
  it('Dash and DigiByte get the RPC credentials the bot made, new ones each time', () => {
    for (const id of ['dash-full', 'dash-masternode', 'digibyte-full']) {
      const p = profile(id);
      const a = p.generate!();
      expect(a.rpcpassword).toMatch(/^[\w-]{24}$/);
      expect(p.generate!().rpcpassword).not.toBe(a.rpcpassword);
      expect(p.env({}, a)).toMatchObject({ rpcuser: a.rpcuser, rpcpasswd: a.rpcpassword });
    }
  });

  it('the masternode adds its BLS key', () => {
    expect(profile('dash-masternode').env({ masternodeblsprivkey: BLS, collateralOutpoint: `${TXID}-1` }, { rpcuser: 'dash', rpcpassword: 'pw' })).toEqual({
      rpcuser: 'dash',
      rpcpasswd: 'pw',
      masternodeblsprivkey: BLS,
    });
  });

  it('Presearch gets its registration code', () => {
    expect(profile('presearch').env({ registrationCode: 'c'.repeat(32) }, {})).toEqual({ PRESEARCH_REGISTRATION_CODE: 'c'.repeat(32) });
  });

  it('a Polygon validator gets its Ethereum RPC, signer key and sentry; the size adds the network', () => {
    const p = profile('polygon-validator');
    expect(p.env({ ethRpcUrl: 'https://eth.example/', signerPrivateKey: SIGNER, sentryEnode: ENODE }, {})).toEqual({
      POLYGON_ROLE: 'validator',
      HEIMDALL_IMAGE: '0xpolygon/heimdall-v2',
      BOR_IMAGE: '0xpolygon/bor',
      POLYGON_DATA: '/data',
      ETH_RPC_URL: 'https://eth.example/',
      SIGNER_PRIVATE_KEY: SIGNER,
      SENTRY_BOR_ENODE: ENODE,
    });
    expect(p.sizes.map((s) => s.env)).toEqual([
      { NETWORK: 'mainnet', HEIMDALL_CHAIN_ID: 'heimdallv2-137' },
      { NETWORK: 'amoy', HEIMDALL_CHAIN_ID: 'heimdallv2-80002' },
    ]);
    expect(profile('polygon-sentry').env({}, {})).toMatchObject({ POLYGON_ROLE: 'sentry' });
  });

  it('the masternode tells the user what to do in their wallet, with the node\'s IP and port 9999', () => {
    const p = profile('dash-masternode');
    expect(p.notice).toMatch(/1000 DASH/);
    expect(p.notice).toMatch(/15 confirmations/);
    const how = p.howToReach('185.69.166.10');
    expect(how).toMatch(/protx register_prepare <collateral_txid> <collateral_index> 185\.69\.166\.10:9999 <owner_address> <BLS_public_key>/);
    expect(how).toMatch(/protx register_submit/);
    expect(how).toMatch(/BLS public key/);
    expect(how).toMatch(/15 confirmations/);
  });
});

describe('the catalog file', () => {
  async function file(name: string, content: unknown): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'catalog-'));
    const f = path.join(dir, name);
    await writeFile(f, typeof content === 'string' ? content : JSON.stringify(content));
    return f;
  }

  it('changes images, notices and sizes, and rewrites the figures the picker states', async () => {
    const offered = PROFILES;
    await applyCatalogFile(
      await file('catalog.json', {
        'polygon-sentry': {
          flist: 'https://hub.grid.tf/someone/polygon-sentry.flist',
          entrypoint: '/start.sh',
          imageNote: 'a Polygon image by the operator',
          notice: 'Syncing takes a while.',
          sizes: { mainnet: { cpu: 16, memoryMb: 65536, disks: { data: 6000 } }, amoy: { label: 'Amoy, small' } },
        },
        presearch: { notice: 'The node program is open again.' },
        storage: { notice: 'Keep the zstor file.' },
        'dash-full': { notice: '', sizes: { default: { rootfsGb: 120 } } },
      }),
    );
    const s = profile('polygon-sentry');
    expect(s.flist).toBe('https://hub.grid.tf/someone/polygon-sentry.flist');
    expect(s.entrypoint).toBe('/start.sh');
    expect(s.imageNote).toBe('a Polygon image by the operator');
    expect(s.notice).toBe('Syncing takes a while.');
    expect(s.sizes[0]).toMatchObject({ id: 'mainnet', cpu: 16, memoryMb: 65536, label: 'Mainnet · 16 vCPU · 64 GB RAM · 6 TB SSD' });
    expect(s.sizes[0]!.disks.find((d) => d.name === 'data')!.sizeGb).toBe(6000);
    expect(s.sizes[0]!.env).toEqual({ NETWORK: 'mainnet', HEIMDALL_CHAIN_ID: 'heimdallv2-137' });
    expect(s.sizes[1]).toMatchObject({ id: 'amoy', cpu: 8, label: 'Amoy, small' });
    expect(s.summary).toMatch(/^Mainnet 16 vCPU · 64 GB RAM · 6 TB SSD, or Amoy/);
    // with a Polygon image, the manual steps are no longer what the user is told
    expect(s.howToReach('1.2.3.4')).not.toMatch(/does not run Polygon/);
    expect(profile('polygon-full').howToReach('1.2.3.4')).toMatch(/does not run Polygon/);
    expect(profile('presearch').notice).toBe('The node program is open again.');
    expect(profile('storage').notice).toBe('Keep the zstor file.');
    expect(profile('dash-full').notice).toBeUndefined();
    expect(profile('dash-full').summary).toMatch(/^3 vCPU · 8 GB RAM · 120 GB SSD;/);
    expect(resourcesOf(profile('dash-full')).sruGb).toBe(120);
    // the picker's array is the same one, now holding the changed profiles
    expect(PROFILES).toBe(offered);
    expect(PROFILES.find((p) => p.id === 'polygon-sentry')).toBe(s);

    applyCatalogOverrides({});
    expect(profile('polygon-sentry').flist).toBe(BASE_VM_FLIST);
    expect(profile('presearch').notice).toMatch(/July 2026/);
  });

  it('a disabled profile leaves the picker, and existing deployments still find it', async () => {
    await applyCatalogFile(await file('catalog.json', { presearch: { enabled: false }, 'dash-full': { enabled: true } }));
    expect(PROFILES.map((p) => p.id)).toEqual(ALL_IDS.filter((id) => id !== 'presearch'));
    expect(profileById('presearch')?.title).toBe('Presearch node');
    applyCatalogOverrides({});
    expect(PROFILES.map((p) => p.id)).toEqual(ALL_IDS);
  });

  const bad: [string, unknown, string][] = [
    ['a cpu below 1', { 'polygon-sentry': { sizes: { mainnet: { cpu: 0 } } } }, 'catalog.json: polygon-sentry.sizes.mainnet.cpu must be a whole number ≥ 1'],
    ['a fractional cpu', { 'polygon-sentry': { sizes: { mainnet: { cpu: 2.5 } } } }, 'catalog.json: polygon-sentry.sizes.mainnet.cpu must be a whole number ≥ 1'],
    ['a cpu as text', { 'dash-full': { sizes: { default: { cpu: '4' } } } }, 'catalog.json: dash-full.sizes.default.cpu must be a whole number ≥ 1'],
    ['too little memory', { presearch: { sizes: { default: { memoryMb: 100 } } } }, 'catalog.json: presearch.sizes.default.memoryMb must be a whole number of MB ≥ 256'],
    ['a disk of 0 GB', { 'polygon-full': { sizes: { amoy: { disks: { data: 0 } } } } }, 'catalog.json: polygon-full.sizes.amoy.disks.data must be a whole number of GB ≥ 1'],
    ['an unknown profile', { 'solana-full': { enabled: false } }, 'catalog.json: solana-full is not a profile id (dash-full, dash-masternode, digibyte-full, polygon-sentry, polygon-full, polygon-validator, presearch, storage)'],
    ['an unknown setting', { presearch: { flst: 'x' } }, 'catalog.json: presearch.flst is not a setting (enabled, flist, entrypoint, notice, imageNote, sizes)'],
    ['an unknown size', { 'polygon-sentry': { sizes: { mumbai: { cpu: 4 } } } }, 'catalog.json: polygon-sentry.sizes.mumbai is not a size of polygon-sentry (mainnet, amoy)'],
    ['an unknown disk', { 'polygon-sentry': { sizes: { mainnet: { disks: { chain: 10 } } } } }, 'catalog.json: polygon-sentry.sizes.mainnet.disks.chain is not a disk of this size (docker, data)'],
    ['a disk where there is none', { 'dash-full': { sizes: { default: { disks: { data: 10 } } } } }, 'catalog.json: dash-full.sizes.default.disks.data is not a disk of this size (none)'],
    ['an http flist', { 'dash-full': { flist: 'http://hub.grid.tf/x/dash.flist' } }, 'catalog.json: dash-full.flist must be an https URL of an flist'],
    ['a relative entrypoint', { 'dash-full': { entrypoint: 'start.sh' } }, 'catalog.json: dash-full.entrypoint must be an absolute command'],
    ['enabled as text', { presearch: { enabled: 'no' } }, 'catalog.json: presearch.enabled must be true or false'],
    ['an empty imageNote', { presearch: { imageNote: ' ' } }, 'catalog.json: presearch.imageNote must not be empty'],
    ['a notice that is not text', { presearch: { notice: 42 } }, 'catalog.json: presearch.notice must be a text'],
    ['sizes as a list', { presearch: { sizes: [] } }, 'catalog.json: presearch.sizes must be a JSON object'],
    ['an image for storage', { storage: { flist: 'https://hub.grid.tf/x/zdb.flist' } }, 'catalog.json: storage.flist is not a setting of a storage profile (enabled, notice, imageNote)'],
    ['a list', [], 'catalog.json: must be a JSON object'],
    ['not JSON', '{ "presearch": ', 'catalog.json: is not valid JSON'],
  ];
  it.each(bad)('refuses %s, naming the file, the profile and the field', async (_what, content, message) => {
    const f = await file('catalog.json', content);
    const err = await applyCatalogFile(f).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CatalogFileError);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(message.replace('catalog.json', f));
    // nothing was applied
    expect(PROFILES.map((p) => p.id)).toEqual(ALL_IDS);
  });

  it('names the file as the operator gave it, and every mistake at once', () => {
    let err: unknown;
    try {
      parseCatalogOverrides({ 'dash-full': { sizes: { default: { cpu: 0, memoryMb: 1 } } }, nope: {} }, 'catalog.json', PROFILES);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message.split('\n').sort()).toEqual([
      'catalog.json: dash-full.sizes.default.cpu must be a whole number ≥ 1',
      'catalog.json: dash-full.sizes.default.memoryMb must be a whole number of MB ≥ 256',
      'catalog.json: nope is not a profile id (dash-full, dash-masternode, digibyte-full, polygon-sentry, polygon-full, polygon-validator, presearch, storage)',
    ]);
  });

  it('says when the file cannot be read', async () => {
    await expect(applyCatalogFile('/nonexistent/catalog.json')).rejects.toThrow('/nonexistent/catalog.json: cannot be read (ENOENT)');
  });
});
