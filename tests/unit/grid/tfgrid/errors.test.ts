import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { mnemonicGenerate } from '@polkadot/util-crypto';
import { GridError, type GridErrorCode } from '../../../../src/grid/port.js';
import { classify, isContractGone, scrubSecrets, toGridError } from '../../../../src/grid/tfgrid/errors.js';

type Ctor = new (message: string, status?: number) => Error;
interface TypesPackage {
  ValidationError: Ctor;
  TimeoutError: Ctor;
  ConnectionError: Ctor;
  RMBError: Ctor;
  RequestError: Ctor;
  TwinNotExistError: Ctor;
  InsufficientBalanceError: Ctor;
  GridClientError: Ctor;
  GridClientErrors: {
    Nodes: Record<'InvalidResourcesError' | 'DiskAllocationError' | 'AccessNodeError' | 'UnavailableNodeError', Ctor>;
    Workloads: Record<'WorkloadDeployError' | 'WorkloadCreateError', Ctor>;
    Farms: Record<'InvalidResourcesError' | 'NodeSelectionError', Ctor>;
    KycErrors: Record<'Unverified' | 'RateLimit', Ctor>;
  };
}

// The real error classes (the CJS build, as grid_client throws them)
const T = createRequire(import.meta.url)('@threefold/types') as TypesPackage;

/** What tfchain_client's TFChainError looks like: name set, keyError an own property. */
function chainError(keyError: string, message = `Module Error: Failed to apply 'x' on section 'smartContractModule'`): Error {
  return Object.assign(new Error(message), { name: 'TFChainError', keyError });
}

const ctx = { what: 'deploy vm deployment "node_0" of project "jukebox/u1/d2"' };

describe('classify', () => {
  const cases: Array<[string, unknown, GridErrorCode]> = [
    ['TwinNotExistError', new T.TwinNotExistError("Couldn't find a user for the provided mnemonic on dev network."), 'no_twin'],
    ['TFChain TwinNotExists', chainError('TwinNotExists'), 'no_twin'],
    ['InsufficientBalanceError', new T.InsufficientBalanceError('Insufficient Balance Error: Failed to apply'), 'insufficient_funds'],
    ['checkBalance (a ValidationError)', new T.ValidationError('Balance is not enough to apply an extrinsic.'), 'insufficient_funds'],
    ['token error', chainError('"FundsUnavailable"', 'Token Error: Failed to apply'), 'insufficient_funds'],
    ['fees', new Error('1010: Invalid Transaction: Inability to pay some fees , e.g. account balance too low'), 'insufficient_funds'],
    ['KYC refusal', new T.ValidationError('Your account is not verified. Please sign into Threefold Dashboard or Connect mobile app to complete your KYC verification.'), 'not_verified'],
    ['KYC service down', new T.GridClientErrors.KycErrors.RateLimit('Failed to get authentication status from KYC service.'), 'unavailable'],
    ['name taken (vm)', new T.ValidationError('Another machine deployment with the same name node_0 already exists.'), 'name_taken'],
    ['name taken (zdb)', new T.ValidationError('Another zdb deployment with the same name backend0 already exists.'), 'name_taken'],
    ['duplicate machine in one model is invalid, not taken', new T.ValidationError('Another machine with the same name vm1 already exists.'), 'invalid'],
    ['farm out of IPs', new T.GridClientErrors.Farms.InvalidResourcesError("Farm 12 doesn't have enough public IPs: requested IPs=1, available IPs=0."), 'no_public_ip'],
    ['chain out of IPs', chainError('FarmHasNotEnoughPublicIPsFree'), 'no_public_ip'],
    ['IP reservation', chainError('FailedToReserveIP'), 'no_public_ip'],
    ['RMB to the node', new T.RMBError('Failed to send request to twinId 42 with command: zos.deployment.get, payload: {} due to timeout'), 'node_down'],
    ['RMB to our relay', new T.RMBError('Unable to establish a connection with the RMB server relay.dev.grid.tf. Please check your internet connection'), 'unavailable'],
    ['RMB response timeout', new T.TimeoutError("Didn't get a response after 20 seconds"), 'node_down'],
    ['access node', new T.GridClientErrors.Nodes.AccessNodeError('Node 7 is not an access node.'), 'node_down'],
    ['node not on chain', chainError('NodeNotExists'), 'node_down'],
    ['node lookup', new T.ValidationError("Couldn't find a node with id: 99."), 'node_down'],
    ['send to node', new T.GridClientError("Couldn't handle twin Deployment due to: Error: Failed to deploy the deployment on node 12. socket closed ."), 'node_down'],
    ['deployment timeout', new T.TimeoutError('Deployment with contract_id: 4242 failed to be ready after 10 minutes.'), 'timeout'],
    ['workload failed', new T.GridClientErrors.Workloads.WorkloadDeployError('Failed to deploy zmachine with name node_0 on node 12 due to: failed to download flist.'), 'workload_error'],
    ['workload failed with no space left is still a workload error', new T.GridClientErrors.Workloads.WorkloadDeployError('Failed to deploy zmount with name data on node 12 due to: no space left on device.'), 'workload_error'],
    ['node resources', new T.GridClientErrors.Nodes.InvalidResourcesError("Node 12 doesn't have enough resources: sru=100, mru=4 ."), 'no_capacity'],
    ['disk allocation', new T.GridClientErrors.Nodes.DiskAllocationError('Cannot fit the required SSD disk'), 'no_capacity'],
    ['rented node', new T.GridClientErrors.Nodes.UnavailableNodeError('Node 12 is not available for user with twinId: 7, maybe it is rented by another user'), 'no_capacity'],
    ['chain resources', chainError('NotEnoughResourcesOnNode'), 'no_capacity'],
    ['chain node unavailable', chainError('NodeNotAvailableToDeploy'), 'no_capacity'],
    ['node selection', new T.GridClientErrors.Farms.NodeSelectionError("Couldn't find a suitable node. Please try again."), 'no_capacity'],
    ['connection', new T.ConnectionError('Unable to create websocket connection due to Error'), 'unavailable'],
    ['proxy 502', new T.RequestError('HTTP request failed due to Bad Gateway.', 502), 'unavailable'],
    ['proxy unreachable', new T.RequestError('HTTP request failed due to getaddrinfo ENOTFOUND gridproxy.dev.grid.tf.'), 'unavailable'],
    ['proxy 429', new T.RequestError('HTTP request failed due to rate limit.', 429), 'unavailable'],
    ['proxy 400', new T.RequestError('HTTP request failed due to bad params.', 400), 'invalid'],
    ['chain generic', chainError('GenericError', "Generic Error: Failed to apply 'cancelContract'"), 'unavailable'],
    ['contract gone', chainError('ContractNotExists'), 'not_found'],
    ['not your contract', chainError('TwinNotAuthorizedToCancelContract'), 'not_found'],
    ['no such deployment', new T.ValidationError('There is no machine with the name: vm3'), 'not_found'],
    ['validation', new T.ValidationError('Validation failed. errors: An instance of MachineModel has failed the validation.'), 'invalid'],
    ['private range', new T.ValidationError('Network ip_range should be a private range.'), 'invalid'],
  ];
  it.each(cases)('%s', (_label, err, code) => {
    expect(classify(err)).toBe(code);
  });

  it('matches on the class name, not instanceof: a copy of the class from another package instance counts', () => {
    class TimeoutError extends Error {}
    expect(classify(new TimeoutError('something slow'))).toBe('timeout');
    class TwinNotExistError extends Error {}
    expect(classify(new TwinNotExistError('x'))).toBe('no_twin');
  });

  it('looks into the cause', () => {
    const outer = new Error('wrapped', { cause: new T.TwinNotExistError('no user') });
    expect(classify(outer)).toBe('no_twin');
  });

  it('falls back to the given code, unavailable by default', () => {
    expect(classify(new Error('something odd'))).toBe('unavailable');
    expect(classify(new Error('something odd'), 'workload_error')).toBe('workload_error');
    expect(classify('a string')).toBe('unavailable');
  });

  it('keeps the code of a GridError', () => {
    expect(classify(new GridError('name_taken', 'x'))).toBe('name_taken');
  });
});

describe('toGridError', () => {
  it('prefixes what we were doing and keeps the grid words on one line', () => {
    const e = toGridError(new T.TimeoutError('Deployment with contract_id: 4242 failed\n\t to be ready after 10 minutes.'), ctx);
    expect(e).toBeInstanceOf(GridError);
    expect(e.code).toBe('timeout');
    expect(e.message).toBe('deploy vm deployment "node_0" of project "jukebox/u1/d2": Deployment with contract_id: 4242 failed to be ready after 10 minutes.');
    expect(e.rolledBack).toEqual([]);
  });

  it('carries the rolled back contracts', () => {
    const e = toGridError(new T.TimeoutError('failed to be ready'), ctx, [11, 12]);
    expect(e.rolledBack).toEqual([11, 12]);
  });

  it('names the chain error key', () => {
    expect(toGridError(chainError('NotEnoughResourcesOnNode'), { what: 'deploy' }).message).toBe(
      "deploy: NotEnoughResourcesOnNode: Module Error: Failed to apply 'x' on section 'smartContractModule'",
    );
  });

  it('passes a GridError through, adding rolled back ids it lacks', () => {
    const g = new GridError('name_taken', 'taken');
    expect(toGridError(g, ctx)).toBe(g);
    const withIds = toGridError(g, ctx, [5]);
    expect(withIds.code).toBe('name_taken');
    expect(withIds.message).toBe('taken');
    expect(withIds.rolledBack).toEqual([5]);
    const already = new GridError('timeout', 't', [1]);
    expect(toGridError(already, ctx, [9])).toBe(already);
  });

  it('uses the fallback of the context', () => {
    expect(toGridError(new Error('odd'), { what: 'deploy', fallback: 'workload_error' }).code).toBe('workload_error');
  });

  it('never lets the mnemonic through (grid_client puts it in validation messages)', () => {
    const mnemonic = mnemonicGenerate(12, undefined, true);
    const err = new T.ValidationError(`Expected a valid mnemonic or hexSeed in "createShared" but got "${mnemonic}".`);
    const e = toGridError(err, { what: 'connect', secrets: [mnemonic] });
    expect(e.message).not.toContain(mnemonic);
    expect(e.message).toBe('connect: Expected a valid mnemonic or hexSeed in "createShared" but got "<secret>".');
    // even when nobody told us which mnemonic it was
    const blind = toGridError(err, { what: 'connect' });
    expect(blind.message).not.toContain(mnemonic);
    expect(blind.message).toContain('<mnemonic>');
  });

  it('cuts long messages', () => {
    const e = toGridError(new Error('x'.repeat(5000)), { what: 'w' });
    expect(e.message.length).toBe(800);
    expect(e.message.endsWith('…')).toBe(true);
  });
});

describe('scrubSecrets', () => {
  it('removes given secrets, longest first, and ignores short ones', () => {
    expect(scrubSecrets('pass=hunter22 and hunter2233', ['hunter22', 'hunter2233', 'abc'])).toBe('pass=<secret> and <secret>');
    expect(scrubSecrets('abc stays', ['abc'])).toBe('abc stays');
  });

  it('removes RMB payloads (a signed deployment, env included)', () => {
    const msg = 'Failed to send request to twinId 9 with command: zos.deployment.deploy, payload: {"env":{"RPC_PASSWORD":"p4ss"}} due to timeout';
    expect(scrubSecrets(msg)).toBe('Failed to send request to twinId 9 with command: zos.deployment.deploy, payload: <omitted> due to timeout');
  });

  it('removes hex seeds', () => {
    const seed = `0x${'ab'.repeat(32)}`;
    expect(scrubSecrets(`seed ${seed} used`)).toBe('seed <secret> used');
  });

  it('masks only word runs that hold a valid mnemonic', () => {
    const sentence = 'the node could not start the machine because the flist server did not answer in time';
    expect(scrubSecrets(sentence)).toBe(sentence);
    const words = mnemonicGenerate(24, undefined, true);
    expect(scrubSecrets(`got ${words} here`)).toBe('got <mnemonic> here');
  });
});

describe('isContractGone', () => {
  it('recognises ContractNotExists only', () => {
    expect(isContractGone(chainError('ContractNotExists'))).toBe(true);
    expect(isContractGone(new Error("Module Error: ContractNotExists: Failed to apply 'cancelContract'"))).toBe(true);
    expect(isContractGone(chainError('TwinNotAuthorizedToCancelContract'))).toBe(false);
    expect(isContractGone(new T.ConnectionError('closed'))).toBe(false);
  });
});
