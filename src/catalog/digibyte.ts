import { randomBytes } from 'node:crypto';
import type { NodeProfile } from './types.js';

/*
 * DigiByte full node. There is no official DigiByte image, Docker or grid: this is the community
 * flist of the original ThreeFold jukebox (start script /start_dgb.sh; RPC user and password from
 * the environment, as the jukebox passed them).
 *
 * Size: DigiByte Core needs at least 5 GB of RAM, so 8 GB (DigiNode's advice); the chain was about
 * 45 GB in late 2022 and DigiNode advises a 250 GB SSD; 2 or more cores. The chain lives on the root
 * filesystem because the image's data directory is not documented (the legacy sources use /dgb).
 *
 * SSH: not claimed; the legacy start script starts sshd with `pub_key`, not SSH_KEY.
 */
export const digibyteFull: NodeProfile = {
  id: 'digibyte-full',
  chain: 'DigiByte',
  title: 'DigiByte full node',
  summary: '2 vCPU · 8 GB RAM · 250 GB SSD; syncs the DigiByte chain and serves RPC',
  flist: 'https://hub.grid.tf/ashraf.3bot/arrajput-digibyte-flist-1.0.flist',
  imageNote: 'community image from the original ThreeFold jukebox (no official image exists for DigiByte)',
  entrypoint: '/start_dgb.sh',
  sizes: [{ id: 'default', label: '2 vCPU · 8 GB RAM · 250 GB SSD', cpu: 2, memoryMb: 8192, rootfsGb: 250, disks: [] }],
  // Bitcoin-derived: it syncs outbound-only and over IPv6
  publicIpv4: false,
  ports: 'P2P 12024, RPC 14022',
  inputs: [],
  env: (_inputs, generated) => ({ rpcuser: generated.rpcuser ?? 'digibyte', rpcpasswd: generated.rpcpassword ?? '' }),
  generate: () => ({ rpcuser: 'digibyte', rpcpassword: randomBytes(18).toString('base64url') }),
  howToReach: (ip) =>
    `RPC on port 14022 of the node's address${ip ? ` (${ip})` : ''} with the RPC user and password below; P2P on 12024.`,
  probe: { kind: 'bitcoin-rpc', port: 14022 },
};
