/** CI's dependency audit: real high vulnerabilities fail it, a registry that cannot audit does not. */
import { describe, expect, it } from '@jest/globals';
import { classifyAudit } from '../../../scripts/audit.mjs';

const counts = (c: Partial<Record<'info' | 'low' | 'moderate' | 'high' | 'critical', number>>) => ({
  info: 0, low: 0, moderate: 0, high: 0, critical: 0, total: Object.values(c).reduce((a, b) => a + b, 0), ...c,
});
const report = (c: Parameters<typeof counts>[0], vulnerabilities: Record<string, unknown> = {}) =>
  JSON.stringify({ auditReportVersion: 2, vulnerabilities, metadata: { vulnerabilities: counts(c), dependencies: { prod: 200, total: 200 } } });

describe('classifyAudit', () => {
  it('passes a clean report, and one with only low or moderate findings', () => {
    expect(classifyAudit(report({})).status).toBe('clean');
    expect(classifyAudit(report({ low: 2, moderate: 1 }, { qs: { name: 'qs', severity: 'moderate' } })).status).toBe('clean');
  });

  it('fails on high or critical findings, naming the packages', () => {
    const r = classifyAudit(
      report({ high: 1, critical: 1, low: 1 }, {
        axios: { name: 'axios', severity: 'high' },
        'form-data': { name: 'form-data', severity: 'critical' },
        ms: { name: 'ms', severity: 'low' },
      }),
    );
    expect(r.status).toBe('vulnerable');
    expect(r.packages).toEqual(['axios (high)', 'form-data (critical)']);
  });

  it('calls a registry that cannot audit unavailable (the 405 this machine and CI get), not vulnerable', () => {
    const r405 = JSON.stringify({
      message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
      method: 'POST',
      statusCode: 405,
      body: '',
      error: { summary: '', detail: '' },
    });
    expect(classifyAudit(r405)).toEqual({ status: 'unavailable', why: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk' });
    expect(classifyAudit(JSON.stringify({ error: { code: 'ENOTFOUND', summary: 'getaddrinfo ENOTFOUND registry.npmjs.org' } })).why).toMatch(/ENOTFOUND/);
    expect(classifyAudit('').status).toBe('unavailable');
    expect(classifyAudit('npm ERR! something').status).toBe('unavailable');
  });
});
