/** The RFC 3261 §17 transaction objects. */
export { ClientTransaction, type ClientTransactionState, type TransactionContext } from './client-transaction.ts';
export { ServerTransaction, type ServerTransactionState } from './server-transaction.ts';
