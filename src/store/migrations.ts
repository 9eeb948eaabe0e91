/**
 * Migrations of user files, from the version in the file to the current one. Each entry takes a
 * raw object of version N and returns one of version N+1; the result is validated by the schema.
 */
import { USER_SCHEMA_VERSION } from '../domain/user.js';

type Raw = Record<string, unknown>;
export const MIGRATIONS: Record<number, (raw: Raw) => Raw> = {
  // 1: (raw) => ({ ...raw, schema: 2, newField: default }),
};

export function migrate(raw: Raw): Raw {
  let v = typeof raw.schema === 'number' ? raw.schema : 0;
  if (v > USER_SCHEMA_VERSION) {
    throw new Error(`user file has schema ${v}, newer than this build (${USER_SCHEMA_VERSION}); refusing to downgrade it`);
  }
  let out = raw;
  while (v < USER_SCHEMA_VERSION) {
    const step = MIGRATIONS[v];
    if (!step) throw new Error(`no migration from user schema ${v}`);
    out = step(out);
    v += 1;
  }
  return out;
}
