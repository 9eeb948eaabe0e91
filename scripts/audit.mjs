#!/usr/bin/env node
/**
 * npm run audit (CI runs it before the tests): `npm audit --omit=dev --audit-level=high --json`,
 * failing on high or critical vulnerabilities in what ships. A registry that cannot audit (a mirror
 * answering the bulk advisory endpoint with 405, no network) gets a clear warning and passes: the
 * JSON then carries an `error` object instead of `metadata.vulnerabilities`, and that is how the two
 * are told apart, not by npm's exit code (1 for both).
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

export const FAIL_AT = ['high', 'critical'];

/**
 * What an `npm audit --json` output says: `vulnerable` (with the packages at high or critical),
 * `clean`, or `unavailable` (the registry could not audit; with why).
 * @param {string} stdout
 * @returns {{ status: 'clean' | 'vulnerable' | 'unavailable', counts?: Record<string, number>, packages?: string[], why?: string }}
 */
export function classifyAudit(stdout) {
  let report;
  try {
    report = JSON.parse(stdout);
  } catch {
    return { status: 'unavailable', why: `npm audit printed no JSON${stdout.trim() ? `: ${stdout.trim().slice(0, 200)}` : ''}` };
  }
  if (report === null || typeof report !== 'object') return { status: 'unavailable', why: 'npm audit printed no report' };
  const counts = report.metadata?.vulnerabilities;
  if (counts && typeof counts === 'object' && !report.error) {
    const bad = FAIL_AT.reduce((n, level) => n + (Number(counts[level]) || 0), 0);
    if (bad === 0) return { status: 'clean', counts };
    const packages = Object.entries(report.vulnerabilities ?? report.advisories ?? {})
      .filter(([, v]) => FAIL_AT.includes(v?.severity))
      .map(([name, v]) => `${v?.name ?? v?.module_name ?? name} (${v.severity})`);
    return { status: 'vulnerable', counts, packages };
  }
  const why = report.error?.summary || report.message || report.error?.code || 'the report has neither vulnerabilities nor an error';
  return { status: 'unavailable', why: String(why) };
}

function main() {
  const r = spawnSync('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) {
    process.stderr.write(`::warning::npm audit could not run (${r.error.message}); dependencies NOT audited\n`);
    return 0;
  }
  const c = classifyAudit(r.stdout ?? '');
  if (c.status === 'clean') {
    const { low = 0, moderate = 0 } = c.counts ?? {};
    process.stdout.write(`npm audit: no high or critical vulnerabilities in production dependencies (low ${low}, moderate ${moderate})\n`);
    return 0;
  }
  if (c.status === 'vulnerable') {
    process.stderr.write(
      `npm audit: ${c.counts.high ?? 0} high and ${c.counts.critical ?? 0} critical vulnerabilities in production dependencies:\n` +
        `${(c.packages ?? []).map((p) => `  - ${p}`).join('\n')}\nRun \`npm audit --omit=dev\` for details and fixes.\n`,
    );
    return 1;
  }
  process.stderr.write(
    `::warning::npm audit is unavailable from this registry (${c.why}); dependencies were NOT audited. ` +
      'Run `npm audit --omit=dev --audit-level=high` against registry.npmjs.org to check them.\n',
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(main());
