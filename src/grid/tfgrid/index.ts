/**
 * The real ThreeFold Grid behind the Grid port. Importing this loads nothing of grid_client: the
 * package is required on the first client (createGridClient).
 */
export { TfGrid, type TfGridOptions } from './tfgrid.js';
export { createGridClient, loadGridClientPackage, type GridClientLike, type ProjectModules } from './client-seam.js';
export { toGridError, classify, scrubSecrets, isContractGone, type ErrorContext } from './errors.js';
export { GridClientPool, isConnectionLoss, removeGridSignalHandlers, type GridClientPoolOptions } from './client-pool.js';
export { createTwinRegistrar, ChainTwinRegistrar } from './twin-registrar.js';
export { defaultUrls, type ClientPool, type GridNetwork, type GridUrls, type TfGridSettings, type TwinRegistrar } from './seams.js';
export { openTfGrid, type RealGrid } from './open.js';
