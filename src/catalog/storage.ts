import type { NodeProfile } from './types.js';

/**
 * Quantum-safe storage: the backends of a QSFS / zstor setup as native grid 0-db workloads, no VM.
 * k + m seq-mode 0-dbs on k + m distinct nodes hold the erasure-coded data (any k of them rebuild
 * it), and 4 user-mode 0-dbs on 4 distinct nodes hold zstor's metadata (writes need all 4, reads
 * 2). The user mounts it on their own Linux machine with the zstor config the bot sends; see
 * src/storage/ and the reference (node-profiles-and-storage.md, sections 2 to 4).
 */
export const storageProfile: NodeProfile = {
  id: 'storage',
  chain: 'QSFS',
  title: 'Quantum-safe storage',
  kind: 'storage',
  summary: 'erasure-coded 0-db backends on many nodes (16 data + 4 parity by default); you mount it on any Linux machine',
  flist: '',
  imageNote: 'no image: 0-db is a native grid workload (zos zdb)',
  entrypoint: '',
  // a backend is only HDD; its size depends on the order (src/storage/plan.ts), so this one is empty
  sizes: [{ id: 'default', label: '0-db backends (HDD)', cpu: 0, memoryMb: 0, rootfsGb: 0, disks: [] }],
  publicIpv4: false,
  ports: '0-db 9900 (RESP)',
  inputs: [],
  notice:
    'You mount this storage on your own Linux machine with zstor, 0-db and 0-db-fs (FUSE); the bot sends the zstor configuration file once, when the backends are up. Keep it: it holds the passwords and the encryption key, and without it the data cannot be read.',
  env: () => ({}),
  howToReach: () =>
    'Mount it with zstor on any Linux machine, using the zstor configuration file sent when it came up (the backends listen on port 9900 of their IPv6 addresses).',
  probe: { kind: 'zdb', port: 9900 },
  storage: {
    presetsGb: [100, 500, 1000, 4000],
    minGb: 10,
    maxGb: 20_000,
    schemes: [
      { data: 16, parity: 4 },
      { data: 8, parity: 2 },
      { data: 4, parity: 2 },
    ],
    metaGb: 1,
    headroom: 0.1,
  },
};
