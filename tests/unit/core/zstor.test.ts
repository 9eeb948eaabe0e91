/** The storage layout and the zstor configuration file: parsed back with a real TOML parser. */
import { describe, expect, it } from '@jest/globals';
import { parse } from 'smol-toml';
import { storageProfile } from '../../../src/catalog/storage.js';
import type { Deployment, NodeInstance } from '../../../src/domain/deployment.js';
import { backendInstance, layoutOf, slotOf, storageConfig } from '../../../src/jobs/storage.js';
import {
  backendCount,
  backendSlots,
  formatGb,
  groupCount,
  groupSlots,
  parseSizeGb,
  SECRET,
  storageLayout,
  storageSecrets,
} from '../../../src/storage/plan.js';
import { isMycelium, tomlString, zdbAddress, zdbIps, zstorToml, type ZstorBackend } from '../../../src/storage/zstor-config.js';

const spec = storageProfile.storage!;
const HEX64 = /^[0-9a-f]{64}$/;

interface Backend {
  address: string;
  namespace: string;
  password: string;
}
interface Parsed {
  minimal_shards: number;
  expected_shards: number;
  redundant_groups: number;
  redundant_nodes: number;
  zdbfs_mountpoint: string;
  encryption: { algorithm: string; key: string };
  compression: { algorithm: string };
  meta: { type: string; config: { prefix: string; encryption: { algorithm: string; key: string }; backends: Backend[] } };
  groups: { backends: Backend[] }[];
}

const backend = (i: number, prefix: string): ZstorBackend => ({
  address: zdbAddress(`2a02:1802:5e:0:c11:7dff:fe8e:${(0x1000 + i).toString(16)}`, 9900),
  namespace: `7001-${150000 + i}-${prefix}${i}`,
  password: `pw-${prefix}-${i}`,
});

describe('the storage layout', () => {
  it('gives each of k + m backends its share of the usable size plus headroom, and 4 metadata 0-dbs', () => {
    const l = storageLayout(spec, 1000, { data: 16, parity: 4 });
    expect(l.backendGb).toBe(70); // ceil(1000 / 16) = 63, + 10 % = 69.3 → 70
    expect(l.rawGb).toBe(70 * 20 + 4 * 1);
    expect(backendCount(l)).toBe(24);
    expect(storageLayout(spec, 100, { data: 4, parity: 2 }).backendGb).toBe(28); // 25 + 10 %
    expect(() => storageLayout(spec, 1000, { data: 5, parity: 1 })).toThrow(/not offered/);
    expect(() => storageLayout(spec, 5, { data: 16, parity: 4 })).toThrow(RangeError);
  });

  it('names every backend with letters and digits only, data first, then the metadata', () => {
    const slots = backendSlots('my_store1', storageLayout(spec, 1000, { data: 16, parity: 4 }));
    expect(slots).toHaveLength(24);
    expect(slots.map((s) => s.index)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(slots.every((s) => /^[A-Za-z0-9]{1,35}$/.test(s.gridName))).toBe(true);
    expect(new Set(slots.map((s) => s.gridName)).size).toBe(24);
    expect(slots[0]).toMatchObject({ gridName: 'mystore1d1', role: 'data', mode: 'seq', sizeGb: 70 });
    expect(slots[20]).toMatchObject({ gridName: 'mystore1m1', role: 'meta', mode: 'user', sizeGb: 1, index: 21 });
  });

  it('reads typed sizes and refuses the others with a reason', () => {
    const ok = (t: string) => {
      const r = parseSizeGb(t, spec);
      return r.ok ? r.gb : r.error;
    };
    expect(ok('250')).toBe(250);
    expect(ok('250 GB')).toBe(250);
    expect(ok('2TB')).toBe(2000);
    expect(ok('1.5 tb')).toBe(1500);
    expect(ok('1,5 TB')).toBe(1500);
    expect(ok('2,500 GB')).toBe(2500);
    expect(ok('5 GB')).toMatch(/too small/);
    expect(ok('50 TB')).toMatch(/too large/);
    expect(ok('10.5')).toMatch(/whole number of GB/);
    expect(ok('lots')).toMatch(/such as/);
    expect(ok('-3')).toMatch(/such as/);
    expect(formatGb(1000)).toBe('1 TB');
    expect(formatGb(1500)).toBe('1.5 TB');
    expect(formatGb(70)).toBe('70 GB');
  });

  it('makes two 64-hex keys and a password per backend', () => {
    const l = storageLayout(spec, 1000, { data: 16, parity: 4 });
    const s = storageSecrets(l);
    expect(s[SECRET.key]).toMatch(HEX64);
    expect(s[SECRET.metaKey]).toMatch(HEX64);
    expect(s[SECRET.key]).not.toBe(s[SECRET.metaKey]);
    const passwords = Array.from({ length: 24 }, (_, i) => s[SECRET.password(i + 1)]);
    expect(passwords.every((p) => typeof p === 'string' && p.length >= 24)).toBe(true);
    expect(new Set(passwords).size).toBe(24);
  });
});

describe('the zstor configuration', () => {
  const data = Array.from({ length: 20 }, (_, i) => backend(i + 1, 'd'));
  const meta = Array.from({ length: 4 }, (_, i) => backend(i + 1, 'm'));
  const key = 'a'.repeat(64);
  const metaKey = 'b'.repeat(64);

  it('parses as TOML with the shard counts, keys, 4 metadata backends and every data backend once', () => {
    const text = zstorToml({
      minimalShards: 16,
      expectedShards: 20,
      encryptionKey: key,
      metaEncryptionKey: metaKey,
      metaPrefix: 'qsfs-meta',
      meta,
      data,
      header: ['a comment', 'with "quotes" and\nno line break'],
    });
    const c = parse(text) as unknown as Parsed;
    expect(c.minimal_shards).toBe(16);
    expect(c.expected_shards).toBe(20);
    expect(c.redundant_groups).toBe(0);
    expect(c.redundant_nodes).toBe(0);
    expect(c.zdbfs_mountpoint).toBe('/mnt/qsfs');
    expect(c.encryption).toEqual({ algorithm: 'AES', key });
    expect(c.compression).toEqual({ algorithm: 'snappy' });
    expect(c.meta.type).toBe('zdb');
    expect(c.meta.config.prefix).toBe('qsfs-meta');
    expect(c.meta.config.encryption).toEqual({ algorithm: 'AES', key: metaKey });
    expect(c.meta.config.backends).toEqual(meta);
    expect(c.groups).toHaveLength(1);
    expect(c.groups[0]!.backends).toEqual(data);
    expect(c.groups[0]!.backends[0]!.address).toBe('[2a02:1802:5e:0:c11:7dff:fe8e:1001]:9900');
  });

  it('writes one [[groups]] per group of data backends; a single group is the same file either way', () => {
    const base = { minimalShards: 4, expectedShards: 6, encryptionKey: key, metaEncryptionKey: metaKey, metaPrefix: 'qsfs-meta', meta };
    const first = data.slice(0, 6);
    const second = data.slice(6, 12);
    expect(zstorToml({ ...base, groups: [first] })).toBe(zstorToml({ ...base, data: first }));
    const text = zstorToml({ ...base, groups: [first, second] });
    const c = parse(text) as unknown as Parsed;
    expect(c.groups).toHaveLength(2);
    expect(c.groups[0]!.backends).toEqual(first);
    expect(c.groups[1]!.backends).toEqual(second);
    expect(c.meta.config.backends).toEqual(meta);
    expect(text.match(/^\[\[groups\]\]$/gm)).toHaveLength(2);
    expect(() => zstorToml({ ...base, groups: [first, []] })).toThrow(/every group/);
    expect(() => zstorToml({ ...base, groups: [first], data: first })).toThrow(/not both/);
    expect(() => zstorToml({ ...base, groups: [first.slice(0, 3), second.slice(0, 2)] })).toThrow(/only 5/);
  });

  it('escapes what TOML needs escaped', () => {
    for (const s of ['plain', 'with "quotes"', 'back\\slash', 'line\nbreak', 'tab\tand \u0001 control', 'ünïcödé 🔑']) {
      expect((parse(`v = ${tomlString(s)}`) as { v: string }).v).toBe(s);
    }
  });

  it('refuses a config zstor would refuse', () => {
    const base = { minimalShards: 16, expectedShards: 20, encryptionKey: key, metaEncryptionKey: metaKey, metaPrefix: 'p', meta, data };
    expect(() => zstorToml({ ...base, meta: meta.slice(0, 3) })).toThrow(/exactly 4/);
    expect(() => zstorToml({ ...base, data: data.slice(0, 19) })).toThrow(/only 19/);
    expect(() => zstorToml({ ...base, encryptionKey: 'abc' })).toThrow(/64/);
    expect(() => zstorToml({ ...base, minimalShards: 20 })).toThrow(/more than minimal/);
    expect(() => zstorToml({ ...base, data: [{ ...data[0]!, password: '' }, ...data.slice(1)] })).toThrow(/password/);
  });

  it('prefers a backend’s public IPv6 and keeps its mycelium address second', () => {
    expect(isMycelium('4f3:a1b2:c3d4:e5f6:ff0f:1:2:3')).toBe(true);
    expect(isMycelium('2a02:1802:5e::1')).toBe(false);
    expect(zdbIps(['4f3:1::1', '2a02:1::1'])).toEqual({ primary: '2a02:1::1', other: '4f3:1::1' });
    expect(zdbIps(['4f3:1::1'])).toEqual({ primary: '4f3:1::1', other: undefined });
    // Yggdrasil (200::/7), which zos also reports, is reachable from Yggdrasil only: never the address
    expect(zdbIps(['302:db1::7', '4f3:1::1'])).toEqual({ primary: '4f3:1::1', other: undefined });
    expect(zdbIps(['302:db1::7', '2a02:1::1'])).toEqual({ primary: '2a02:1::1', other: undefined });
    expect(zdbAddress('185.1.2.3/24', 9900)).toBe('185.1.2.3:9900');
  });

  it('is written from a storage deployment’s backends and its sealed secrets', () => {
    const l = storageLayout(spec, 1000, { data: 16, parity: 4 });
    const d = {
      id: '1',
      name: 'vault',
      storage: { usableGb: 1000, data: 16, parity: 4, backendGb: l.backendGb, metaGb: l.metaGb },
    } as Deployment;
    expect(layoutOf(d)).toEqual(l);
    const secrets = storageSecrets(l);
    const nodes: NodeInstance[] = backendSlots('vault', l).map((slot) =>
      backendInstance(
        slot,
        { nodeId: 100 + slot.index, farmId: 1, country: 'Belgium', city: 'Ghent', certified: false, hourlyCost: 10 },
        [
          {
            name: slot.gridName,
            nodeId: 100 + slot.index,
            contractId: 5000 + slot.index,
            state: 'ok',
            namespace: `7001-${5000 + slot.index}-${slot.gridName}`,
            ips: [`2a02:1802:5e:${slot.index}::7`, `4f3:${slot.index}:1:2:ff0f:1:2:3`],
            port: 9900,
            sizeGb: slot.sizeGb,
            mode: slot.mode,
          },
        ],
      ),
    );
    expect(nodes[0]!.zdb).toMatchObject({ role: 'data', port: 9900, sizeGb: 70 });
    expect(nodes[0]!.mycelium).toBe('4f3:1:1:2:ff0f:1:2:3');
    const c = parse(storageConfig(d, nodes, secrets, Date.UTC(2026, 0, 2))) as unknown as Parsed;
    expect(c.minimal_shards).toBe(16);
    expect(c.expected_shards).toBe(20);
    expect(c.encryption.key).toMatch(HEX64);
    expect(c.meta.config.encryption.key).toMatch(HEX64);
    expect(c.encryption.key).toBe(secrets[SECRET.key]);
    expect(c.meta.config.backends).toHaveLength(4);
    const listed = c.groups[0]!.backends;
    expect(listed).toHaveLength(20);
    for (const n of nodes) {
      const role = n.zdb!.role;
      const pool = role === 'data' ? listed : c.meta.config.backends;
      const hits = pool.filter((b) => b.namespace === n.zdb!.namespace);
      expect(hits).toEqual([{ address: `[2a02:1802:5e:${n.index}::7]:9900`, namespace: n.zdb!.namespace, password: secrets[SECRET.password(n.index)] }]);
    }
  });

  it('lists the backends /extend added after the first ones, in the same zstor group, with their own passwords', () => {
    const l = storageLayout(spec, 100, { data: 4, parity: 2 });
    const d = { id: '2', name: 'vault', storage: { usableGb: 100, data: 4, parity: 2, backendGb: l.backendGb, metaGb: l.metaGb } } as Deployment;
    const slots = [...backendSlots('vault', l), ...groupSlots('vault', l, 2, 11, 7)];
    const secrets = storageSecrets(l);
    for (const s of slots) secrets[SECRET.password(s.index)] ??= `pw-${s.index}`;
    const nodes = slots.map((slot) =>
      backendInstance(slot, { nodeId: 100 + slot.index, farmId: 1, country: 'Belgium', city: 'Ghent', certified: false, hourlyCost: 10 }, [
        { name: slot.gridName, nodeId: 100 + slot.index, contractId: 5000 + slot.index, state: 'ok', namespace: `ns-${slot.gridName}`, ips: [`2a02:1802:5e:${slot.index}::7`], port: 9900, sizeGb: slot.sizeGb, mode: slot.mode },
      ]),
    );
    expect(groupCount(nodes)).toBe(2);
    expect(nodes.slice(10).map((n) => [n.index, n.gridName, n.zdb!.group])).toEqual([11, 12, 13, 14, 15, 16].map((i) => [i, `vaultd${i - 4}`, 2]));
    const text = storageConfig(d, nodes, secrets, Date.UTC(2026, 0, 2));
    expect(text).toContain('# 200 GB usable on 12 data backends, 4 + 2');
    const c = parse(text) as unknown as Parsed;
    // one zstor group: with several, zstor would enumerate every spread of the shards over them, per object
    expect(c.groups.map((g) => g.backends.map((b) => b.namespace))).toEqual([
      ['vaultd1', 'vaultd2', 'vaultd3', 'vaultd4', 'vaultd5', 'vaultd6', 'vaultd7', 'vaultd8', 'vaultd9', 'vaultd10', 'vaultd11', 'vaultd12'].map((n) => `ns-${n}`),
    ]);
    expect(c.groups[0]!.backends[6]!.password).toBe('pw-11');
    expect(c.meta.config.backends.map((b) => b.namespace)).toEqual(['vaultm1', 'vaultm2', 'vaultm3', 'vaultm4'].map((n) => `ns-${n}`));
    // a replaced backend keeps its ordinal and group under its next generation's grid name
    const moved = slotOf(d, nodes[12]!, 1);
    expect(moved).toMatchObject({ index: 13, role: 'data', ordinal: 9, gridName: 'vaultd9g1', group: 2, generation: 1, mode: 'seq' });
    expect(slotOf(d, { ...nodes[12]!, gridName: 'vaultd9g1', generation: 1 }, 2).gridName).toBe('vaultd9g2');
  });
});
