/**
 * grid_client, tfchain_client, rmb_direct_client and @threefold/types failures → GridError codes.
 *
 * Matching is by class name along the prototype chain, TFChain's `keyError`, the HTTP status and
 * message patterns, never by instanceof: the errors may come from another copy of the packages,
 * and @threefold/types errors do not even set `name` (it stays "Error"). The first rule that
 * matches wins, so the specific readings (a ValidationError that is really about the balance or a
 * taken name) come before the generic ones.
 *
 * The grid's message is kept for the logs, scrubbed: grid_client puts the mnemonic in some
 * validation messages, the hex seed in others, and whole signed deployments (env included) in RMB
 * errors.
 */
import { mnemonicValidate } from '@polkadot/util-crypto';
import { GridError, type GridErrorCode } from '../port.js';

export interface ErrorContext {
  /** what we were doing, e.g. 'deploy vm deployment "x" of project "p"': the message starts with it */
  what: string;
  /** strings that must never reach a message: the mnemonics in play, env values, passwords */
  secrets?: readonly (string | undefined)[];
  /** the code when no rule matches: workload_error while deploying, unavailable otherwise (the default) */
  fallback?: GridErrorCode;
}

interface Facts {
  classes: string[];
  keyError: string;
  status?: number;
  /** the messages of the error and its causes, with the keyError */
  text: string;
}

const MAX_MESSAGE = 800;

function factsOf(err: unknown): Facts {
  const classes: string[] = [];
  const texts: string[] = [];
  let keyError = '';
  let status: number | undefined;
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    if (typeof e !== 'object') {
      texts.push(String(e));
      break;
    }
    const o = e as { name?: unknown; message?: unknown; keyError?: unknown; statusCode?: unknown; cause?: unknown };
    if (typeof o.name === 'string' && o.name !== 'Error') classes.push(o.name);
    for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      const n = (p as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof n === 'string' && n !== '') classes.push(n);
    }
    if (!keyError && typeof o.keyError === 'string') keyError = o.keyError;
    if (status === undefined && typeof o.statusCode === 'number') status = o.statusCode;
    if (typeof o.message === 'string') texts.push(o.message);
    e = o.cause;
  }
  return { classes, keyError, ...(status !== undefined ? { status } : {}), text: [keyError, ...texts].join(' ') };
}

const is = (f: Facts, ...names: string[]): boolean => names.some((n) => f.classes.includes(n));
const httpServerSide = (f: Facts): boolean =>
  is(f, 'RequestError') && (f.status === undefined || f.status < 0 || f.status >= 500 || f.status === 429);

/** Ordered: the first match wins. */
const RULES: Array<[GridErrorCode, (f: Facts) => boolean]> = [
  ['no_twin', (f) => is(f, 'TwinNotExistError') || f.keyError === 'TwinNotExists' || /couldn't find a user for the provided mnemonic|twin (?:does not|doesn't) exist/i.test(f.text)],
  [
    'insufficient_funds',
    (f) =>
      is(f, 'InsufficientBalanceError') ||
      /FundsUnavailable|BelowMinimum|InsufficientBalance|CannotUpdateContractInGraceState/.test(f.keyError) ||
      /balance is not enough|insufficient balance|inability to pay some fees|not enough funds|insufficient funds/i.test(f.text),
  ],
  // grid_client 2.9 refuses to deploy for an account without KYC: not something a retry fixes
  ['not_verified', (f) => /account is not verified|kyc verification/i.test(f.text)],
  ['unavailable', (f) => is(f, 'TFGridKycError', 'KycBaseError')],
  ['name_taken', (f) => f.keyError === 'NameExists' || /deployment with the same name \S+ already exists|is already reserved/i.test(f.text)],
  [
    'no_public_ip',
    (f) => /^(?:FarmHasNotEnoughPublicIPs|FarmHasNotEnoughPublicIPsFree|FailedToReserveIP)$/.test(f.keyError) || /public ips?\b|ipv4 public config|public ipv4/i.test(f.text),
  ],
  // our own link to the relay, not the node's
  ['unavailable', (f) => is(f, 'RMBError') && /unable to establish a connection with the rmb server|unable to send due to/i.test(f.text)],
  ['node_down', (f) => is(f, 'RMBError', 'AccessNodeError') || f.keyError === 'NodeNotExists' || (is(f, 'TimeoutError') && /didn't get a response/i.test(f.text))],
  ['timeout', (f) => is(f, 'TimeoutError') || /failed to be ready/i.test(f.text)],
  ['workload_error', (f) => is(f, 'WorkloadDeployError', 'WorkloadCreateError') || /failed to deploy \S+ with name/i.test(f.text)],
  [
    'no_capacity',
    (f) =>
      is(f, 'InvalidResourcesError', 'DiskAllocationError', 'UnavailableNodeError', 'NodeSelectionError', 'GPUNotFoundError', 'GPULockedError') ||
      /^(?:NotEnoughResourcesOnNode|NodeNotAvailableToDeploy|NodeHasRentContract)$/.test(f.keyError) ||
      /(?:doesn't|does not) have enough resources|not enough resources|not available for user|rented by another|no space left/i.test(f.text),
  ],
  [
    'node_down',
    (f) =>
      /node:? ?\d+ (?:is )?(?:not up|down|offline|standby)|node is down|couldn't find a node with id|node:? ?\d+ is not found|failed to (?:deploy|update|delete) the deployment on node|failed to send request to twin|didn't get a response/i.test(
        f.text,
      ),
  ],
  [
    'unavailable',
    (f) =>
      is(f, 'ConnectionError') ||
      httpServerSide(f) ||
      f.keyError === 'GenericError' ||
      /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNRESET|socket hang up|websocket|disconnected|network error|service unavailable|bad gateway|gateway time-?out|too many requests|failed to connect|timeout of \d+ ?ms exceeded/i.test(
        f.text,
      ),
  ],
  [
    'not_found',
    (f) =>
      /^(?:ContractNotExists|TwinNotAuthorizedToCancelContract|TwinNotAuthorized)$/.test(f.keyError) ||
      (is(f, 'RequestError') && f.status === 404) ||
      /not found|there (?:is|are) no .+ with (?:the )?name|has been deleted/i.test(f.text),
  ],
  ['invalid', (f) => is(f, 'ValidationError') || (is(f, 'RequestError') && (f.status ?? 0) >= 400) || /validation failed|\binvalid\b/i.test(f.text)],
];

/** The GridError code for a failure of the grid libraries. */
export function classify(err: unknown, fallback: GridErrorCode = 'unavailable'): GridErrorCode {
  if (err instanceof GridError) return err.code;
  const f = factsOf(err);
  for (const [code, test] of RULES) if (test(f)) return code;
  return fallback;
}

/** Whether a cancel failed because the chain no longer has the contract (cancelled already). */
export function isContractGone(err: unknown): boolean {
  const f = factsOf(err);
  return f.keyError === 'ContractNotExists' || /ContractNotExists/.test(f.text);
}

const RUN_OF_WORDS = /\b[a-z]{3,8}(?: [a-z]{3,8}){11,}\b/g;

/** The run with every 12–24 consecutive words that form a valid BIP39 mnemonic (checksum included) masked. */
function maskMnemonics(run: string): string {
  const words = run.split(' ');
  const out: string[] = [];
  for (let i = 0; i < words.length; ) {
    const n = [24, 21, 18, 15, 12].find((k) => i + k <= words.length && mnemonicValidate(words.slice(i, i + k).join(' '), undefined, true));
    if (n === undefined) out.push(words[i++]!);
    else {
      out.push('<mnemonic>');
      i += n;
    }
  }
  return out.join(' ');
}

/**
 * Removes secrets from a message: the given ones verbatim (6 characters or more), RMB request
 * payloads (a signed deployment with its env), 32-byte hex (seeds), and any run of words that
 * holds a valid mnemonic.
 */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => (b?.length ?? 0) - (a?.length ?? 0))) {
    if (s && s.length >= 6) out = out.split(s).join('<secret>');
  }
  out = out.replace(/payload: [\s\S]*? due to /g, 'payload: <omitted> due to ');
  out = out.replace(/\b(?:0x)?[0-9a-fA-F]{64}\b/g, '<secret>');
  return out.replace(RUN_OF_WORDS, maskMnemonics);
}

function describe(err: unknown): string {
  if (err === null || typeof err !== 'object') return String(err);
  const o = err as { message?: unknown; keyError?: unknown };
  const msg = typeof o.message === 'string' ? o.message : String(err);
  const key = typeof o.keyError === 'string' && o.keyError !== 'GenericError' && !msg.includes(o.keyError) ? `${o.keyError}: ` : '';
  return `${key}${msg}`;
}

/**
 * A GridError for this failure: its code (see the rules), a message that starts with what we were
 * doing and carries the grid's words, scrubbed and cut to a log line, and the contracts the failed
 * call cancelled again. A GridError passes through (given rolledBack ids are added to it).
 */
export function toGridError(err: unknown, ctx: ErrorContext, rolledBack: number[] = []): GridError {
  if (err instanceof GridError) {
    return rolledBack.length > 0 && err.rolledBack.length === 0 ? new GridError(err.code, err.message, rolledBack) : err;
  }
  const code = classify(err, ctx.fallback);
  let text = scrubSecrets(`${ctx.what}: ${describe(err)}`.replace(/\s+/g, ' ').trim(), ctx.secrets);
  if (text.length > MAX_MESSAGE) text = `${text.slice(0, MAX_MESSAGE - 1)}…`;
  return new GridError(code, text, rolledBack);
}
