/** Types of scripts/audit.mjs, for its test. */
export declare const FAIL_AT: string[];
export declare function classifyAudit(stdout: string): {
  status: 'clean' | 'vulnerable' | 'unavailable';
  counts?: Record<string, number>;
  packages?: string[];
  why?: string;
};
