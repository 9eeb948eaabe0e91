/**
 * A failed grid call, as a job handles it: the reason in words a user understands, and a journal
 * note of what the call cancelled again, so an operator reading a job sees every contract it made
 * and where each one went.
 */
import { GridError } from '../grid/port.js';
import { scrub } from '../log.js';
import type { Journal } from './journal.js';

/** Words a user understands, for what the grid reported. */
export function plainReason(err: unknown): string {
  if (!(err instanceof GridError)) return 'an unexpected error on our side';
  switch (err.code) {
    case 'insufficient_funds':
      return 'the wallet did not have enough TFT for the grid';
    case 'no_capacity':
      return 'the chosen node ran out of room';
    case 'node_down':
      return 'the chosen node went offline';
    case 'no_public_ip':
      return 'the farm ran out of public IPv4 addresses';
    case 'workload_error':
      return 'the node could not start the machine';
    case 'timeout':
      return 'the node did not start the machine in time';
    case 'no_twin':
      return 'your wallet could not be registered on the grid';
    case 'not_verified':
      return 'the grid asks you to verify your identity first: send /verify';
    case 'name_taken':
      return 'the grid already has a deployment of that name';
    case 'unavailable':
      return 'the grid could not be reached';
    case 'not_found':
    case 'invalid':
      return 'the grid refused the deployment';
  }
}

/** The journal's note of a failed attempt at `step`: the node, the grid's code and message, what it rolled back. */
export function recordFailure(j: Journal, step: string, nodeId: number, err: unknown): Promise<void> {
  const e = err instanceof GridError ? err : undefined;
  return j.record(`${step}:failed`, {
    nodeId,
    code: e?.code ?? 'unexpected',
    message: scrub(err instanceof Error ? err.message : String(err)).slice(0, 500),
    rolledBack: e?.rolledBack ?? [],
  });
}
