/** The embedded, simulated ThreeFold Grid: the default grid in local mode and in every test. */
export {
  SimGrid,
  FAUCET_ADDRESS,
  GRACE_MESSAGE,
  GRACE_PERIOD_MS,
  MIN_DEPLOY_BALANCE,
  NODE_DOWN_MESSAGE,
  SIM_FAULT,
  STATE_FILE,
  ZDB_PORT,
  type BillingEntry,
  type SimContract,
  type SimGridOptions,
  type SimStats,
} from './sim-grid.js';
export {
  COUNTRIES,
  DEFAULT_FARMS,
  DEFAULT_NODES,
  Rng,
  generateGrid,
  mixSeed,
  mulberry32,
  type GenerateOptions,
  type GeneratedGrid,
  type SimFarm,
  type SimNode,
  type SimPublicIp,
} from './generate.js';
export { SIM_PRICES, hourlyCostOf, type PricedResources } from './prices.js';
