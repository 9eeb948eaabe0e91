import type { NodeProfile, ParseResult, ProfileInput, ProfileSize } from './types.js';

/*
 * Polygon PoS: sentry, full node and validator, each a Heimdall (consensus) plus a Bor (execution)
 * node. No ThreeFold image exists for Polygon, so these deploy ThreeFold's official base VM (Ubuntu
 * with zinit, which starts sshd with SSH_KEY) and the user starts Polygon's official Docker images in
 * it; the environment names them and the network, for a Polygon flist an operator may set later in
 * the catalog file (CATALOG_FILE). The VM does not start Polygon by itself until then.
 *
 * Sizes are Polygon's minimums (mainnet 8 cores / 32 GB / 4 TB; Amoy 8 cores / 16 GB / 1 TB). Docker
 * gets its own disk as in the official Presearch image: overlay storage does not work on the VM's
 * root filesystem.
 */

export const BASE_VM_FLIST = 'https://hub.grid.tf/tf-official-apps/base:latest.flist';
const HEIMDALL_IMAGE = '0xpolygon/heimdall-v2';
const BOR_IMAGE = '0xpolygon/bor';

const disks = (dataGb: number) => [
  { name: 'docker', sizeGb: 20, mountpoint: '/var/lib/docker' },
  { name: 'data', sizeGb: dataGb, mountpoint: '/data' },
];
const SIZES: ProfileSize[] = [
  {
    id: 'mainnet',
    label: 'Mainnet · 8 vCPU · 32 GB RAM · 4 TB SSD',
    cpu: 8,
    memoryMb: 32 * 1024,
    rootfsGb: 5,
    disks: disks(4000),
    env: { NETWORK: 'mainnet', HEIMDALL_CHAIN_ID: 'heimdallv2-137' },
  },
  {
    id: 'amoy',
    label: 'Amoy testnet · 8 vCPU · 16 GB RAM · 1 TB SSD',
    cpu: 8,
    memoryMb: 16 * 1024,
    rootfsGb: 5,
    disks: disks(1000),
    env: { NETWORK: 'amoy', HEIMDALL_CHAIN_ID: 'heimdallv2-80002' },
  },
];

const IMAGE_NOTE =
  "ThreeFold's official base VM: no ThreeFold image exists for Polygon, so the VM does not start Polygon by itself; you start Polygon's official images in it";
const NOTICE =
  'This VM does not start Polygon by itself (no ThreeFold image exists for Polygon yet): once it is up you log in with SSH ' +
  '(set your key in /settings first) and start the official 0xpolygon/heimdall-v2 and 0xpolygon/bor images; the commands come with the node\'s address. ' +
  'A first sync takes days without a snapshot.';

type Role = 'sentry' | 'full' | 'validator';

/** The commands that start Polygon's official images in the base VM, data under /data. */
function manualSteps(role: Role, ip: string | undefined): string {
  // a validator has no public IPv4: it is reached over Mycelium, whose address /status shows
  const host = ip ?? '<its Mycelium address, in /status>';
  const rpc = role === 'validator' ? '' : ' -p 26657:26657';
  const borRpc = role === 'validator' ? '' : ' -p 8545:8545';
  return [
    `This VM does not run Polygon until you start it. Log in: ssh root@${host} (with the key from /settings), then:`,
    'apt-get update && apt-get install -y docker.io && mkdir -p /data/heimdall /data/bor && docker network create polygon',
    `docker run --rm -v /data/heimdall:/heimdall-home --entrypoint /usr/bin/heimdalld ${HEIMDALL_IMAGE}:<tag> init <name> --home=/heimdall-home --chain-id heimdallv2-137 (Amoy: heimdallv2-80002)`,
    "Put the network's genesis.json in /data/heimdall/config and set seeds and eth_rpc_url (Ethereum RPC) as Polygon's Docker guide says, then:",
    `docker run -d --name heimdall --net polygon --restart unless-stopped -p 26656:26656${rpc} -v /data/heimdall:/heimdall-home --entrypoint /usr/bin/heimdalld ${HEIMDALL_IMAGE}:<tag> start --home=/heimdall-home`,
    `docker run --rm ${BOR_IMAGE}:<tag> dumpconfig > /data/bor/config.toml (set datadir = "/bor-home", chain = mainnet or amoy, [heimdall] url = "http://heimdall:1317")`,
    `docker run -d --name bor --net polygon --restart unless-stopped -p 30303:30303 -p 30303:30303/udp${borRpc} -v /data/bor:/bor-home ${BOR_IMAGE}:<tag> server --config /bor-home/config.toml`,
    "<tag>: the current release on hub.docker.com (0xpolygon/heimdall-v2, 0xpolygon/bor). Guide: docs.polygon.technology, PoS, full node with Docker; a snapshot saves days of sync.",
    ...(role === 'validator'
      ? [
          "Pair it with your sentry: Heimdall's config.toml persistent_peers = \"<sentry's Heimdall node id>@<sentry IP>:26656\" (the id: curl localhost:26657/status on the sentry) and pex = false; " +
            "Bor's static-nodes = your sentry's enode. Publish 26656 and 30303 to the sentry only (iptables, DOCKER-USER chain). " +
            'Make the keys from your signer key: heimdalld generate-validator-key <signer key> and heimdalld generate-keystore <signer key> (Bor keystore, with a password.txt). ' +
            "Staking POL from your owner address and at least 1 ETH on the signer are done in Polygon's staking dashboard, outside the bot.",
        ]
      : role === 'sentry'
        ? [
            "For a validator: keep 26656 and 30303 open to everyone, set private_peer_ids = \"<validator's Heimdall node id>\" and pex = true in Heimdall's config.toml. " +
              'This sentry\'s Bor enode (the validator asks for it): docker exec bor bor attach /bor-home/bor.ipc --exec admin.nodeInfo.enode',
          ]
        : []),
    role === 'validator'
      ? 'Bor RPC and Heimdall status stay closed on a validator, so the bot cannot read its sync state.'
      : 'Ports 8545 (Bor RPC) and 26657 (Heimdall status) let the bot show the sync state in /status.',
  ].join('\n');
}

/** What /status and the end of /deploy say: the manual steps while the base VM is in use. */
function howToReach(role: Role) {
  return function (this: NodeProfile | void, ip: string | undefined): string {
    // an operator who set a Polygon flist (CATALOG_FILE) has an image that starts Polygon itself
    if (this && this.flist !== BASE_VM_FLIST) {
      return `Heimdall P2P 26656, Bor P2P 30303${role === 'validator' ? '' : ', Bor RPC 8545, Heimdall status 26657'}${ip ? ` on ${ip}` : ''}.`;
    }
    return manualSteps(role, ip);
  };
}

const HEX64 = /^(0x)?([0-9a-fA-F]{64})$/;
/** secp256k1's group order: a private key is a number from 1 to n-1. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export function parseEthRpcUrl(text: string): ParseResult {
  const t = text.trim();
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return { ok: false, error: 'That is not a URL. Send your Ethereum (L1) RPC endpoint, like <code>https://eth-mainnet.example.com/v2/your-key</code>.' };
  }
  if (url.protocol === 'http:') return { ok: false, error: 'The Ethereum RPC URL must start with <b>https://</b>: over http:// your node\'s requests (and the key in the URL) travel in the clear.' };
  if (url.protocol !== 'https:') return { ok: false, error: 'The Ethereum RPC URL must be an https:// address (Heimdall speaks JSON-RPC over HTTPS, not WebSocket).' };
  if (t.length > 500 || /\s/.test(t)) return { ok: false, error: 'That URL is too long or has spaces in it.' };
  return { ok: true, value: url.href };
}

export function parseSignerKey(text: string): ParseResult {
  const t = text.trim();
  if (/^(0x)?[0-9a-fA-F]{40}$/.test(t)) return { ok: false, error: 'That is 40 hex characters: an <b>address</b>. Send the signer\'s <b>private key</b>, 64 hex characters.' };
  const m = HEX64.exec(t);
  if (!m) {
    const n = [...t.replace(/^0x/i, '')].length;
    return {
      ok: false,
      error: `A private key is 64 hex characters (0-9, a-f), optionally after 0x; that was ${n > 200 ? 'much longer' : `${n} characters`}${
        /[^0-9a-fA-F]/.test(t.replace(/^0x/i, '')) ? ' with other characters in it' : ''
      }.`,
    };
  }
  const v = BigInt(`0x${m[2]}`);
  if (v === 0n || v >= SECP256K1_N) return { ok: false, error: 'That is not a valid Ethereum private key (it is zero or too large).' };
  return { ok: true, value: m[2]!.toLowerCase() };
}

/** `enode://<128 hex node id>@<IPv4>:<port>`, optionally `?discport=<port>` as Bor prints it. */
export function parseEnode(text: string): ParseResult {
  const t = text.trim();
  const example = 'like <code>enode://6f8a…(128 hex characters)…@203.0.113.7:30303</code>';
  const m = /^enode:\/\/([^@]*)@([^:]*):(\d{1,5})(\?discport=\d{1,5})?$/.exec(t);
  if (!m) return { ok: false, error: `That is not an enode. Send your sentry's Bor enode, ${example}.` };
  const id = m[1]!;
  const host = m[2]!;
  const port = Number(m[3]);
  if (!/^[0-9a-fA-F]*$/.test(id) || id.length !== 128) {
    return { ok: false, error: `The node id between enode:// and @ is 128 hex characters; that one has ${id.length > 999 ? 'many more' : id.length}${/[^0-9a-fA-F]/.test(id) ? ', with other characters' : ''}.` };
  }
  const octets = host.split('.');
  if (octets.length !== 4 || octets.some((o) => !/^(0|[1-9]\d{0,2})$/.test(o) || Number(o) > 255)) {
    return { ok: false, error: `After the @ comes your sentry's IPv4 address, ${example}.` };
  }
  if (octets[0] === '127' || octets[0] === '0') {
    return { ok: false, error: "That enode names a local address (Bor prints 127.0.0.1 when it does not know its public IP): put your sentry's public IPv4 address after the @." };
  }
  if (port < 1 || port > 65535) return { ok: false, error: 'The port after the IP address is a number from 1 to 65535 (Bor uses 30303).' };
  return { ok: true, value: `enode://${id.toLowerCase()}@${host}:${port}${m[4] ?? ''}` };
}

const validatorInputs: ProfileInput[] = [
  {
    key: 'ethRpcUrl',
    prompt:
      'A validator pairs with a <b>sentry</b>: deploy a Polygon sentry first; the validator talks only to it.\n\n' +
      "Send your <b>Ethereum (L1) RPC URL</b>, https://…: Heimdall reads the staking contracts on Ethereum through it (your own node or a provider's endpoint).",
    // provider URLs carry an API key
    secret: true,
    parse: parseEthRpcUrl,
  },
  {
    key: 'signerPrivateKey',
    prompt:
      "Send the validator's <b>signer private key</b> (64 hex characters, 0x optional). Use a dedicated signer, never your owner key: " +
      "it is kept encrypted and goes into the VM's environment. It needs at least 1 ETH for checkpoints, sent outside the bot.",
    secret: true,
    parse: parseSignerKey,
  },
  {
    key: 'sentryEnode',
    prompt:
      "Send your <b>sentry's Bor enode</b>, <code>enode://…@sentry-IP:30303</code>. It is shown in the sentry's /status once its Bor runs, " +
      'or on the sentry: <code>docker exec bor bor attach /bor-home/bor.ipc --exec admin.nodeInfo.enode</code>. ' +
      "This validator's 26656 and 30303 are to be open only to that sentry.",
    secret: false,
    parse: parseEnode,
  },
];

const common = {
  chain: 'Polygon',
  flist: BASE_VM_FLIST,
  imageNote: IMAGE_NOTE,
  // the official base VM runs zinit, which starts sshd with SSH_KEY
  entrypoint: '/sbin/zinit init',
  ssh: true,
  probe: { kind: 'polygon', borPort: 8545, heimdallPort: 26657 },
} as const satisfies Partial<NodeProfile>;
const images = (role: Role) => ({ POLYGON_ROLE: role, HEIMDALL_IMAGE, BOR_IMAGE, POLYGON_DATA: '/data' });

export const polygonSentry: NodeProfile = {
  ...common,
  sizes: [...SIZES],
  id: 'polygon-sentry',
  title: 'Polygon sentry node',
  summary: "Mainnet 8 vCPU · 32 GB RAM · 4 TB SSD, or Amoy testnet · public IPv4; shields a validator; you start Polygon's images",
  // bootnodes and validators dial sentries by IPv4
  publicIpv4: true,
  ports: 'Heimdall P2P 26656, Bor P2P 30303 (public); Bor RPC 8545, Heimdall 26657',
  inputs: [],
  notice: NOTICE,
  env: () => images('sentry'),
  howToReach: howToReach('sentry'),
};

export const polygonFull: NodeProfile = {
  ...common,
  sizes: [...SIZES],
  id: 'polygon-full',
  title: 'Polygon full node',
  summary: "Mainnet 8 vCPU · 32 GB RAM · 4 TB SSD, or Amoy testnet · public IPv4; serves Bor RPC; you start Polygon's images",
  publicIpv4: true,
  ports: 'Heimdall P2P 26656, Bor P2P 30303 (public); Bor RPC 8545, Heimdall 26657',
  inputs: [],
  notice: NOTICE,
  env: () => images('full'),
  howToReach: howToReach('full'),
};

export const polygonValidator: NodeProfile = {
  ...common,
  sizes: [...SIZES],
  id: 'polygon-validator',
  title: 'Polygon validator',
  summary: "Mainnet 8 vCPU · 32 GB RAM · 4 TB SSD, or Amoy testnet; behind your sentry; needs your signer key and staking",
  // a validator talks only to its sentry and should not be public
  publicIpv4: false,
  ports: 'Heimdall 26656 and Bor 30303, open only to its sentry',
  inputs: validatorInputs,
  notice:
    `${NOTICE} A validator pairs with a sentry: deploy the sentry first (its enode is asked for here). ` +
    "Staking POL from your owner address and at least 1 ETH on the signer happen outside the bot, in Polygon's staking dashboard; " +
    'the active set is capped and joining goes through Polygon.',
  env: (inputs) => ({
    ...images('validator'),
    ETH_RPC_URL: inputs.ethRpcUrl ?? '',
    SIGNER_PRIVATE_KEY: inputs.signerPrivateKey ?? '',
    SENTRY_BOR_ENODE: inputs.sentryEnode ?? '',
  }),
  howToReach: howToReach('validator'),
};
