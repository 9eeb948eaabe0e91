/**
 * The zstor configuration file (TOML) for a storage deployment, written by hand: the format is small
 * and fixed (0-stor_v2 `zstor/src/config.rs`; the sample in node-profiles-and-storage.md, section 3),
 * and the test parses the output with a real TOML parser.
 *
 * Layout: the shard counts, the frontend's local settings (the QSFS defaults), `[encryption]` and
 * `[compression]`, `[meta]` with exactly 4 user-mode 0-dbs, and one `[[groups]]` per group of
 * seq-mode data backends (the order's, then one per /extend), each backend with its address
 * "[ip]:9900", namespace and password. zstor spreads an object's shards over all of them.
 */

export interface ZstorBackend {
  /** "[2a02:1802:5e::1]:9900" (see zdbAddress) */
  address: string;
  namespace: string;
  password: string;
  /** a comment line written above the entry (e.g. the backend's other address) */
  comment?: string;
}

/** What the machine that mounts the storage uses locally: the QSFS defaults from the reference. */
export interface ZstorFrontend {
  zdbfsMountpoint: string;
  socket: string;
  prometheusPort: number;
  zdbDataDirPath: string;
  /** MiB of local cache before already-uploaded segments are evicted */
  maxZdbDataDirSizeMib: number;
}

export const FRONTEND_DEFAULTS: ZstorFrontend = {
  zdbfsMountpoint: '/mnt/qsfs',
  socket: '/var/run/zstor.sock',
  prometheusPort: 9100,
  zdbDataDirPath: '/data/data/zdbfs-data',
  maxZdbDataDirSizeMib: 25_600,
};

export interface ZstorConfig {
  /** k: data shards, how many backends an object is rebuilt from */
  minimalShards: number;
  /** k + m: shards written per object */
  expectedShards: number;
  /** AES-256 key of the data, 64 hex */
  encryptionKey: string;
  /** AES-256 key of the metadata, 64 hex */
  metaEncryptionKey: string;
  /** prefix of zstor's keys in the metadata 0-dbs */
  metaPrefix: string;
  /** exactly 4 user-mode 0-dbs */
  meta: ZstorBackend[];
  /** a single group: at least `expectedShards` seq-mode 0-dbs, one per node (or give `groups`) */
  data?: ZstorBackend[];
  /** the data backends group by group, one `[[groups]]` each (instead of `data`) */
  groups?: ZstorBackend[][];
  frontend?: ZstorFrontend;
  /** comment lines at the top of the file */
  header?: string[];
}

const HEX_KEY = /^[0-9a-f]{64}$/;

/** A TOML basic string. */
export function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A comment line: newlines in it would end the comment, so they become spaces. */
const comment = (s: string): string => `# ${s.replace(/[\r\n]+/g, ' ')}`;

/** "[ip]:port", as zstor wants an IPv6 address; an IPv4 stays bare. */
export function zdbAddress(ip: string, port: number): string {
  const bare = ip.replace(/\/\d+$/, '');
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}

/** Mycelium addresses live in 400::/7 (the first hextet is 4xx or 5xx). */
export function isMycelium(ip: string): boolean {
  return /^[45][0-9a-f]{2}:/i.test(ip);
}

/**
 * The address the config uses for a 0-db: its public IPv6 (any machine with IPv6 reaches it), else
 * its mycelium address (the machine must run mycelium); the other one, if any, comes second.
 */
export function zdbIps(ips: readonly string[]): { primary: string | undefined; other: string | undefined } {
  // Yggdrasil (200::/7) addresses, which zos also reports, are reachable only from Yggdrasil
  const plain = ips.filter((ip) => !isMycelium(ip) && !/^[23][0-9a-f]{2}:/i.test(ip));
  const myc = ips.filter(isMycelium);
  const primary = plain[0] ?? myc[0];
  const other = plain[0] !== undefined ? myc[0] : undefined;
  return { primary, other };
}

/** The data backends, group by group. */
function groupsOf(c: ZstorConfig): ZstorBackend[][] {
  if (c.groups && c.data) throw new RangeError('give the data backends either as one group (data) or as groups, not both');
  return c.groups ?? [c.data ?? []];
}

function check(c: ZstorConfig): void {
  if (!Number.isSafeInteger(c.minimalShards) || c.minimalShards < 1) throw new RangeError('minimal_shards must be a whole number ≥ 1');
  if (!Number.isSafeInteger(c.expectedShards) || c.expectedShards <= c.minimalShards || c.expectedShards > 255) {
    throw new RangeError('expected_shards must be more than minimal_shards and at most 255');
  }
  if (c.meta.length !== 4) throw new RangeError(`zstor needs exactly 4 metadata backends, got ${c.meta.length}`);
  const groups = groupsOf(c);
  const data = groups.flat();
  if (groups.length === 0 || groups.some((g) => g.length === 0)) throw new RangeError('every group needs at least one data backend');
  if (data.length < c.expectedShards) throw new RangeError(`expected_shards is ${c.expectedShards} but there are only ${data.length} data backends`);
  if (!HEX_KEY.test(c.encryptionKey) || !HEX_KEY.test(c.metaEncryptionKey)) throw new RangeError('encryption keys must be 64 lowercase hex characters');
  for (const b of [...c.meta, ...data]) {
    if (!b.address || !b.namespace || !b.password) throw new RangeError('every backend needs an address, a namespace and a password');
  }
}

function backend(table: string, b: ZstorBackend): string[] {
  return [
    ...(b.comment ? [comment(b.comment)] : []),
    `[[${table}]]`,
    `address = ${tomlString(b.address)}`,
    `namespace = ${tomlString(b.namespace)}`,
    `password = ${tomlString(b.password)}`,
    '',
  ];
}

/** The config file's text. Throws on a config zstor would refuse (its `validate()` and more). */
export function zstorToml(c: ZstorConfig): string {
  check(c);
  const f = c.frontend ?? FRONTEND_DEFAULTS;
  const lines = [
    ...(c.header ?? []).map(comment),
    ...(c.header?.length ? [''] : []),
    `minimal_shards = ${c.minimalShards}`,
    `expected_shards = ${c.expectedShards}`,
    'redundant_groups = 0',
    'redundant_nodes = 0',
    `zdbfs_mountpoint = ${tomlString(f.zdbfsMountpoint)}`,
    `socket = ${tomlString(f.socket)}`,
    `prometheus_port = ${f.prometheusPort}`,
    `zdb_data_dir_path = ${tomlString(f.zdbDataDirPath)}`,
    `max_zdb_data_dir_size = ${f.maxZdbDataDirSizeMib}`,
    '',
    '[encryption]',
    'algorithm = "AES"',
    `key = ${tomlString(c.encryptionKey)}`,
    '',
    '[compression]',
    'algorithm = "snappy"',
    '',
    '[meta]',
    'type = "zdb"',
    '',
    '[meta.config]',
    `prefix = ${tomlString(c.metaPrefix)}`,
    '',
    '[meta.config.encryption]',
    'algorithm = "AES"',
    `key = ${tomlString(c.metaEncryptionKey)}`,
    '',
    ...c.meta.flatMap((b) => backend('meta.config.backends', b)),
    ...groupsOf(c).flatMap((g) => ['[[groups]]', '', ...g.flatMap((b) => backend('groups.backends', b))]),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}
