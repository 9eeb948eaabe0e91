/**
 * npm run chaos -- [--users 20] [--minutes 3] [--seed 1] [--faults 0.05] [--kill-every 3-15] [--deploy-seconds 1] [--keep]
 *
 * Runs the real bot as a child process and many users through deploy, extend and delete, killing
 * the process with SIGKILL at random moments (every 3 to 15 s by default) and restarting it; with
 * --faults the simulated grid fails that share of its calls (timeouts, errors, nodes going down).
 * At the end it checks that the store and the simulated grid agree, prints a summary, and exits 1
 * when they do not. See scripts/chaos-run.ts.
 */
import { parseArgs } from 'node:util';
import { runChaos } from './chaos-run.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20' },
    minutes: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    faults: { type: 'string', default: '0' },
    'kill-every': { type: 'string', default: '3-15' },
    'deploy-seconds': { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write('npm run chaos -- [--users 20] [--minutes 3] [--seed 1] [--faults 0.05] [--kill-every 3-15] [--deploy-seconds 1] [--keep]\n');
  process.exit(0);
}
const num = (name: string, v: string, min: number, max: number) => {
  const n = Number(v);
  if (!(n >= min && n <= max)) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max}, got ${v}\n`);
    process.exit(2);
  }
  return n;
};
const [lo = '', hi = lo] = values['kill-every'].split('-');
const report = await runChaos({
  users: Math.round(num('users', values.users, 1, 500)),
  durationMs: num('minutes', values.minutes, 0.1, 24 * 60) * 60_000,
  seed: Math.round(num('seed', values.seed, 0, 2 ** 31)),
  faultRate: num('faults', values.faults, 0, 1),
  killMinMs: num('kill-every', lo, 0.5, 3600) * 1000,
  killMaxMs: num('kill-every', hi, 0.5, 3600) * 1000,
  deployMs: num('deploy-seconds', values['deploy-seconds'], 0, 60) * 1000,
  keepData: values.keep,
});
process.exit(report.violations.length === 0 ? 0 : 1);
