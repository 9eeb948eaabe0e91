import { randomBytes } from 'node:crypto';
import type { NodeProfile, ParseResult, ProfileSize } from './types.js';

/*
 * Dash: there is no official grid image. Both profiles use the community flist the original
 * tf_jukebox shipped (start script /start_dash.sh, RPC user and password from the environment).
 *
 * Size: Dash publishes no full-node table, so both use the masternode recommendation (3 cores, 8 GB,
 * 80 GB; a masternode also wants swap, which a grid VM does not have: 8 GB covers the minimum 4 GB + 2 GB).
 * The chain lives on the root filesystem rather than a data disk because the image's data directory
 * is not documented (the legacy sources use /dash, dashd's default is /root/.dashcore): a disk
 * mounted at the wrong one would leave the chain filling a small rootfs.
 *
 * SSH: not claimed. The legacy start scripts (threefoldfoundation/blockchain_partners) start sshd
 * with the key in `pub_key`, not SSH_KEY, and this flist's script is not published.
 */

const FLIST = 'https://hub.grid.tf/ashraf.3bot/arrajput-dash-flist-1.0.flist';
const IMAGE_NOTE = 'community image from the original ThreeFold jukebox (no official grid image exists for Dash)';
const SIZE: ProfileSize = { id: 'default', label: '3 vCPU · 8 GB RAM · 80 GB SSD', cpu: 3, memoryMb: 8192, rootfsGb: 80, disks: [] };

/** the RPC credentials the bot makes for each deployment; the prober reads rpcuser/rpcpassword */
const rpcCredentials = () => ({ rpcuser: 'dash', rpcpassword: randomBytes(18).toString('base64url') });
const rpcEnv = (generated: Record<string, string>) => ({ rpcuser: generated.rpcuser ?? 'dash', rpcpasswd: generated.rpcpassword ?? '' });

export const dashFull: NodeProfile = {
  id: 'dash-full',
  chain: 'Dash',
  title: 'Dash full node',
  summary: '3 vCPU · 8 GB RAM · 80 GB SSD; syncs the Dash chain and serves RPC',
  flist: FLIST,
  imageNote: IMAGE_NOTE,
  entrypoint: '/start_dash.sh',
  sizes: [SIZE],
  // a plain full node works outbound-only and over IPv6
  publicIpv4: false,
  ports: 'P2P 9999, RPC 9998',
  inputs: [],
  env: (_inputs, generated) => rpcEnv(generated),
  generate: rpcCredentials,
  howToReach: (ip) =>
    `RPC on port 9998 of the node's address${ip ? ` (${ip})` : ''} with the RPC user and password below; P2P on 9999.`,
  probe: { kind: 'bitcoin-rpc', port: 9998 },
};

/** BLS12-381's group order: a secret key is a number below it (and not zero). */
const BLS_ORDER = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;

/** The operator's BLS secret key, as `bls generate` prints it ("secret"): 64 hex characters. */
export function parseBlsSecret(text: string): ParseResult {
  const key = text.trim().replace(/^0x/i, '');
  if (/^[0-9a-fA-F]{96}$/.test(key)) {
    return { ok: false, error: 'That is 96 hex characters: the BLS <b>public</b> key. Send the <b>secret</b> one (64 hex characters), the "secret" line of <code>bls generate</code>.' };
  }
  if (!/^[0-9a-fA-F]{64}$/.test(key)) {
    const n = [...key].length;
    return {
      ok: false,
      error: `A BLS secret key is exactly 64 hex characters (0-9, a-f); that was ${n > 200 ? 'much longer' : `${n} characters`}${
        /[^0-9a-fA-F]/.test(key) ? ' with other characters in it' : ''
      }. Make one with <code>bls generate</code> in Dash Core's console and send its "secret".`,
    };
  }
  const v = BigInt(`0x${key}`);
  if (v === 0n || v >= BLS_ORDER) return { ok: false, error: 'That is not a valid BLS secret key (it is zero or too large). Make one with <code>bls generate</code> in Dash Core.' };
  return { ok: true, value: key.toLowerCase() };
}

/** The 1000 DASH collateral output: `<txid>-<index>` or `<txid>:<index>`, kept as `<txid>-<index>`. */
export function parseOutpoint(text: string): ParseResult {
  const t = text.trim();
  const m = /^([^\s:-]*)[-:](\S*)$/.exec(t);
  const example = 'like <code>a1b2…(64 hex characters)…-1</code>; <code>masternode outputs</code> in Dash Core lists it';
  if (!m) {
    if (/^[0-9a-fA-F]{64}$/.test(t)) return { ok: false, error: `That is only the transaction id: add the output index after a dash or a colon, ${example}.` };
    return { ok: false, error: `Send the collateral as its transaction id and output index, ${example}.` };
  }
  const txid = m[1]!;
  const index = m[2]!;
  if (!/^[0-9a-fA-F]*$/.test(txid)) return { ok: false, error: `A transaction id has only hex characters (0-9, a-f). Send it ${example}.` };
  if (txid.length !== 64) return { ok: false, error: `A transaction id is 64 hex characters; that one has ${txid.length > 200 ? 'many more' : txid.length}.` };
  if (!/^(0|[1-9]\d{0,9})$/.test(index) || Number(index) > 0xffffffff) {
    return { ok: false, error: 'The output index after the transaction id is a whole number (0, 1, 2…).' };
  }
  return { ok: true, value: `${txid.toLowerCase()}-${index}` };
}

/** What the owner does in their own wallet: the bot never holds DASH, and the ProTx is theirs to sign. */
const protxSteps = (ip: string) =>
  [
    'The bot runs the server; you register the masternode from your own wallet:',
    '1. Send exactly 1000 DASH to an address of yours, in one output, and wait for 15 confirmations.',
    "2. Register it with a ProTx, in your wallet's masternode (ProTx) screen or in Dash Core's console:",
    `protx register_prepare <collateral_txid> <collateral_index> ${ip}:9999 <owner_address> <BLS_public_key> <voting_address> 0 <payout_address>`,
    'signmessage <collateral_address> <message_it_printed>',
    'protx register_submit <tx> <signature>',
    'The BLS public key is the "public" that bls generate printed next to the secret you gave the bot.',
  ].join('\n');

export const dashMasternode: NodeProfile = {
  id: 'dash-masternode',
  chain: 'Dash',
  title: 'Dash masternode',
  summary: '3 vCPU · 8 GB RAM · 80 GB SSD · public IPv4; needs your 1000 DASH collateral and BLS key',
  flist: FLIST,
  imageNote: IMAGE_NOTE,
  entrypoint: '/start_dash.sh',
  sizes: [SIZE],
  // a ProTx must name an IPv4 address (Dash rejects others) and, on mainnet, port 9999
  publicIpv4: true,
  ports: 'P2P 9999 (the ProTx port), RPC 9998',
  inputs: [
    {
      key: 'masternodeblsprivkey',
      prompt:
        'Send the masternode <b>operator BLS secret key</b> (64 hex characters). It is how the node proves it is your masternode. ' +
        'Make a key pair with <code>bls generate</code> in Dash Core (Window → Console): send its "secret" here and keep its "public" for the registration.',
      secret: true,
      parse: parseBlsSecret,
    },
    {
      key: 'collateralOutpoint',
      prompt:
        'Send the <b>collateral</b>: the transaction id and output index of your 1000 DASH, as <code>txid-index</code> or <code>txid:index</code> ' +
        '(<code>masternode outputs</code> in Dash Core lists it). It needs 15 confirmations before you register.',
      secret: false,
      parse: parseOutpoint,
    },
  ],
  notice:
    'The bot runs the server only. The masternode also needs your 1000 DASH collateral (15 confirmations) and an on-chain ' +
    'registration (ProTx) that you sign in your own wallet with this node\'s public IP and port 9999; the steps come with the node\'s address.',
  env: (inputs, generated) => ({ ...rpcEnv(generated), masternodeblsprivkey: inputs.masternodeblsprivkey ?? '' }),
  generate: rpcCredentials,
  howToReach: (ip) =>
    `${protxSteps(ip ?? '<node_IP>')}\n` +
    `The node's RPC is on port 9998${ip ? ` of ${ip}` : ''} with the RPC user and password below; ` +
    'dash-cli masternode status says READY once the registration is seen.',
  probe: { kind: 'bitcoin-rpc', port: 9998 },
};
