/** Small async helpers shared by scenarios and peers. */
export { waitFor } from '@conclave/test-peers';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
