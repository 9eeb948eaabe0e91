/** Every conversation the bot holds, in the order /help lists them. */
import type { Action, AnyFlow } from '../src/chat/types.js';
import { adminFlow } from './admin.js';
import { deleteFlow } from './delete.js';
import { deployFlow } from './deploy.js';
import { listFlow } from './list.js';
import { extendActions, extendFlow } from './extend.js';
import { paymentActions } from './payment.js';
import { redeployActions, redeployFlow } from './redeploy.js';
import { settingsFlow } from './settings.js';
import { startFlow } from './start.js';
import { statusFlow } from './status.js';
import { verifyFlow } from './verify.js';
import { walletFlow } from './wallet.js';

// adminFlow is `allowed` for ADMIN_IDS only: for anyone else it is not in /help, the menu, or anywhere
export const FLOWS: AnyFlow[] = [startFlow, deployFlow, listFlow, statusFlow, extendFlow, redeployFlow, deleteFlow, walletFlow, verifyFlow, settingsFlow, adminFlow];
export const ACTIONS: Record<string, Action> = { ...paymentActions, ...redeployActions, ...extendActions };
export { BUILTIN_COMMANDS, helpMessage } from './help.js';
