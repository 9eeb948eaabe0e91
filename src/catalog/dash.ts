import { randomBytes } from 'node:crypto';
import type { NodeProfile } from './types.js';

/**
 * Dash full node. There is no official grid image for Dash: this uses the community flist the
 * original tf_jukebox shipped (start script /start_dash.sh, RPC credentials from the environment).
 */
export const dashFull: NodeProfile = {
  id: 'dash-full',
  chain: 'Dash',
  title: 'Dash full node',
  summary: '4 vCPU · 8 GB RAM · 100 GB SSD; syncs the Dash chain and serves RPC',
  flist: 'https://hub.grid.tf/ashraf.3bot/arrajput-dash-flist-1.0.flist',
  imageNote: 'community image from the original ThreeFold jukebox (no official grid image exists for Dash)',
  entrypoint: '/start_dash.sh',
  sizes: [{ id: 'default', label: '4 vCPU · 8 GB RAM · 100 GB SSD', cpu: 4, memoryMb: 8192, rootfsGb: 2, disks: [{ name: 'dashdata', sizeGb: 100, mountpoint: '/root/.dashcore' }] }],
  publicIpv4: false,
  ports: 'P2P 9999, RPC 9998',
  inputs: [],
  env: (_inputs, generated) => ({ rpcuser: generated.rpcuser ?? 'dash', rpcpasswd: generated.rpcpassword ?? '' }),
  generate: () => ({ rpcuser: 'dash', rpcpassword: randomBytes(18).toString('base64url') }),
  howToReach: (ip) =>
    `RPC on port 9998 of the node's address${ip ? ` (${ip})` : ''} with the RPC user and password below; P2P on 9999.`,
};
